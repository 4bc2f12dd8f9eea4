"""Dossier tracking: status by code with verification, lockouts, audit, subscriptions (no Rasa imports).

Entry points: :func:`bot.dossiers.service.build_lookup` (citizen lookups),
:func:`bot.dossiers.watcher.build_watcher` (push notifications), :func:`bot.dossiers.demo.seed_demo`.
"""
