"""Errors of the catalogue service; the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class CatalogError(Exception):
    """Base class: something in the catalogue data or its sources is wrong."""


class CatalogValidationError(CatalogError):
    """A curated YAML file breaks docs/CATALOG_FORMAT.md; the message names the file and the field path."""

    def __init__(self, path: str, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        super().__init__(f"{path}: {field}: {problem}" if field else f"{path}: {problem}")


class CatalogErrors(CatalogError):
    """Several validation errors at once (all files are checked before anything is written)."""

    def __init__(self, errors: list[CatalogValidationError]) -> None:
        self.errors = errors
        first = str(errors[0]) if errors else "no errors"
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        super().__init__(first + more)


class PortalDataError(CatalogError):
    """A portal JSON file cannot be read or mapped; the message names the file and the field."""

    def __init__(self, path: str, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        super().__init__(f"{path}: {field}: {problem}" if field else f"{path}: {problem}")


class PortalSyncError(CatalogError):
    """The portal API could not be reached or answered something unexpected."""
