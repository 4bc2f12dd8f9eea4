"""Procedure catalogue: curated YAML, portal import and sync, and the read API for actions.

Import :class:`bot.catalog.service.ProcedureCatalog` for reads; domain objects live in
:mod:`bot.catalog.domain` (no SQLAlchemy there).
"""
