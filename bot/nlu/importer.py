"""Training-data importer that adds Vietnamese variants, lookup tables and synonyms.

Configured in ``config.yml`` under ``importers``. It reads the project's files
like Rasa's own importer, then, for NLU data only:

* derives diacritic-free and teencode variants of every example
  (:mod:`bot.nlu.variants`), so data files hold only natural examples;
* adds a ``procedure`` lookup table and synonyms from the curated catalogue's
  names and aliases (``data/catalog/*.yml``), so mentions map to the
  procedure's official name, which the catalogue search then resolves.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import yaml
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.variants import Entity, Example, variants
from bot.settings import settings
from bot.text import fold

logger = logging.getLogger(__name__)


def catalogue_mentions(catalog_dir: Path | None = None) -> dict[str, list[str]]:
    """Official name -> the aliases citizens use for it, from the curated YAML files."""
    catalog_dir = catalog_dir or settings().catalog.catalog_dir
    mentions: dict[str, list[str]] = {}
    for path in sorted(catalog_dir.glob("*.yml")):
        record = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = str(record.get("name", "")).strip()
        if name:
            mentions[name] = [str(a).strip() for a in record.get("aliases") or [] if str(a).strip()]
    return mentions


def lookup_elements(mentions: dict[str, list[str]]) -> list[str]:
    """Aliases in their written and diacritic-free forms (lower-case, unique, sorted)."""
    elements = {form for aliases in mentions.values() for a in aliases for form in (a.lower(), fold(a))}
    return sorted(e for e in elements if len(e) >= 2)


def synonyms(mentions: dict[str, list[str]]) -> dict[str, str]:
    """Alias (written and folded) -> official name, for aliases that name exactly one procedure."""
    owners: dict[str, set[str]] = defaultdict(set)
    for name, aliases in mentions.items():
        for alias in aliases:
            owners[fold(alias)].add(name)
    table: dict[str, str] = {}
    for name, aliases in mentions.items():
        for alias in aliases:
            if len(owners[fold(alias)]) == 1:
                table[alias.lower()] = name
                table[fold(alias)] = name
    return table


def _to_example(message: Message) -> Example:
    text = message.get(TEXT)
    ents = []
    for e in message.get(ENTITIES) or []:
        extra = {k: v for k, v in e.items() if k not in {"start", "end", "entity"}}
        # A value equal to the annotated words is literal and must follow the rewritten text;
        # any other value is an explicit synonym and is kept.
        if extra.get("value") == text[e["start"] : e["end"]]:
            extra.pop("value")
        ents.append(Entity(e["start"], e["end"], e["entity"], extra))
    return Example(text, tuple(ents))


def _to_message(example: Example, template: Message) -> Message:
    entities = [
        {"start": e.start, "end": e.end, "entity": e.entity, "value": example.text[e.start : e.end], **e.extra}
        for e in example.entities
    ]
    data = {k: v for k, v in template.data.items() if k not in (TEXT, ENTITIES)}
    data[TEXT] = example.text
    if entities:
        data[ENTITIES] = entities
    return Message(data=data)


def augment(training_data: TrainingData, catalog_dir: Path | None = None) -> TrainingData:
    """Return ``training_data`` plus derived variants, the procedure lookup table and synonyms."""
    seen = {m.get(TEXT) for m in training_data.intent_examples}
    extra: list[Message] = []
    for message in training_data.intent_examples:
        for variant in variants(_to_example(message)):
            if variant.text not in seen:
                seen.add(variant.text)
                extra.append(_to_message(variant, message))
    mentions = catalogue_mentions(catalog_dir)
    elements = lookup_elements(mentions)
    lookup = [{"name": "procedure", "elements": elements}] if elements else []
    derived = TrainingData(training_examples=extra, entity_synonyms=synonyms(mentions), lookup_tables=lookup)
    logger.info(
        "Derived %d variants, %d lookup entries, %d synonyms", len(extra), len(elements), len(derived.entity_synonyms)
    )
    return training_data.merge(derived)


class VietnameseDataImporter(RasaFileImporter):
    """Rasa's file importer plus :func:`augment` on the NLU data."""

    def get_nlu_data(self, language: str | None = "vi") -> TrainingData:
        """Load NLU files and add the derived Vietnamese data."""
        return augment(super().get_nlu_data(language))
