"""Import boundaries, checked on the source (``ast``) of every module under ``bot/`` and ``actions/``.

The layering is written once, here, as data; docs/ARCHITECTURE.md ("Layers") shows the same
table, and a test compares the two:

    foundation < services < adapters < runtime < actions

A module may import its own layer and the layers below it, never one above. On top of that:
only ``bot.nlu``, ``bot.channels`` and ``bot.runtime`` import Rasa (``rasa`` or ``rasa_sdk``);
``actions/`` imports ``rasa_sdk`` (never ``rasa``) and, from ``bot``, only :data:`ACTION_IMPORTS`.
Imports inside functions and under ``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

# Layer of every module, by its longest matching name; lower index = lower layer. A name covers
# itself and everything under it, except the names in EXACT, which cover only themselves.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "bot",  # the package's own __init__ (its version), nothing under it: see EXACT
            "bot.settings",
            "bot.db",  # engine, clock, the Alembic chain
            "bot.text",
            "bot.privacy",
            "bot.replies",
            "bot.wording",
        ),
    ),
    (
        "services",
        (
            "bot.catalog",
            "bot.dossiers",
            "bot.answers",
            "bot.english",  # answers to questions written in English (glossary, no translation service)
            "bot.dialogue",
            "bot.helpdesk",  # office hours, handoff queue, staff replies; no Rasa or web imports
            "bot.conversations",  # the record of conversations (read model fed by Rasa's events)
            "bot.analytics",  # daily roll-ups of the record, the dashboard's figures, the monthly report
            "bot.training",  # the trainer loop: NLU inbox, training-data writer, gate, model registry
            "bot.rasa_client",
        ),
    ),
    ("adapters", ("bot.nlu", "bot.channels")),
    ("runtime", ("bot.runtime", "bot.console", "bot.cli", "bot.__main__")),
    ("actions", ("actions",)),
)
# `bot` as a prefix would put every new bot.<package> into the foundation, so none could go unplaced.
EXACT = frozenset({"bot"})
RASA_ALLOWED = ("bot.nlu", "bot.channels", "bot.runtime")
# What an action may use from bot: the services' public modules and the foundation they speak in.
ACTION_IMPORTS = frozenset(
    {
        "bot.answers",
        "bot.english",
        "bot.dialogue",
        "bot.catalog.service",
        "bot.dossiers.codes",
        "bot.dossiers.render",
        "bot.dossiers.service",
        "bot.dossiers.status",
        "bot.helpdesk.service",
        "bot.replies",
        "bot.wording",
        "bot.text",
        "bot.settings",
        "bot.privacy",
    }
)
# Known exception, by design: bot.db.schema imports every models module by name (MODEL_MODULES, a
# string list, so not seen here) because the one migration chain must see every table.


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = PROJECT_ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _sources() -> list[Path]:
    return sorted(p for top in ("bot", "actions") for p in (PROJECT_ROOT / top).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in ``path``; ``from a import b`` yields ``a.b`` when b is a module."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield node.lineno, full if _is_module(full) else base


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            covers = module == prefix or (prefix not in EXACT and module.startswith(prefix + "."))
            if covers and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def _within(module: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _ours(name: str) -> bool:
    return name.split(".")[0] in ("bot", "actions")


def _rasa(name: str) -> bool:
    return name.split(".")[0] in ("rasa", "rasa_sdk")


SOURCES = _sources()


def test_the_scan_sees_the_code() -> None:
    names = {_module_name(p) for p in SOURCES}
    assert {"bot.answers", "bot.channels.telegram", "bot.runtime.action_server", "actions.common"} <= names
    assert any(name == "rasa_sdk" or name.startswith("rasa_sdk.") for p in SOURCES for _, name in _imports(p))


def test_every_module_has_a_layer() -> None:
    """A new package must be placed in LAYERS (and in docs/ARCHITECTURE.md) before it can be imported."""
    assert [_module_name(p) for p in SOURCES if _layer(_module_name(p)) is None] == []


def test_no_layer_imports_a_higher_one() -> None:
    names = [name for name, _ in LAYERS]
    problems = []
    for path in SOURCES:
        module = _module_name(path)
        own = _layer(module)
        for line, imported in _imports(path):
            if not _ours(imported):
                continue
            theirs = _layer(imported)
            if own is not None and theirs is not None and theirs > own:
                problems.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {names[own]} {module} imports "
                                f"{names[theirs]} {imported}")  # fmt: skip
    assert problems == []


def test_only_nlu_channels_and_runtime_import_rasa() -> None:
    problems = []
    for path in SOURCES:
        module = _module_name(path)
        for line, imported in _imports(path):
            if not _rasa(imported):
                continue
            if module.startswith("actions"):
                allowed = imported.split(".")[0] == "rasa_sdk"  # actions are rasa-sdk code, never Rasa itself
            else:
                allowed = _within(module, RASA_ALLOWED)
            if not allowed:
                problems.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {module} imports {imported}")
    assert problems == []


def test_actions_use_only_the_public_modules_of_the_services() -> None:
    problems = []
    for path in SOURCES:
        if not _module_name(path).startswith("actions"):
            continue
        for line, imported in _imports(path):
            if imported.split(".")[0] == "bot" and imported not in ACTION_IMPORTS:
                problems.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {imported}")
    assert problems == []


@pytest.mark.parametrize(
    ("module", "imported", "allowed"),
    [
        ("bot.catalog.service", "bot.db", True),
        ("bot.catalog.service", "bot.channels.inbound", False),
        ("bot.text", "bot.catalog.search", False),
        ("bot.channels.onedoor", "bot.dossiers.watcher", True),
        ("bot.dossiers.watcher", "bot.runtime.runner", False),
        ("bot.runtime.runner", "actions.common", False),
        ("actions.common", "bot.answers", True),
    ],
)
def test_the_layer_rule_itself(module: str, imported: str, allowed: bool) -> None:
    own, theirs = _layer(module), _layer(imported)
    assert own is not None and theirs is not None
    assert (theirs <= own) is allowed


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("bot", "foundation"),
        ("bot.wording", "foundation"),  # a package (bot/wording/__init__.py) or a module alike
        ("bot.db.schema", "foundation"),
        ("bot.catalog.codes", "services"),
        ("bot.channels.telegram", "adapters"),
        ("bot.__main__", "runtime"),
        ("actions.dossiers", "actions"),
        # Not placed: a new package has no layer until LAYERS (and the doc) name it. Made-up names,
        # so that placing a real package (bot.helpdesk, bot.console) does not break this test.
        ("bot.not_placed_yet", None),
        ("bot.not_placed_yet.service", None),
        ("botany", None),
    ],
)
def test_which_layer(module: str, layer: str | None) -> None:
    index = _layer(module)
    assert (None if index is None else LAYERS[index][0]) == layer


def _documented_layers() -> list[tuple[str, tuple[str, ...], str]]:
    """(layer, modules, may import Rasa) for each row of the "Layers" table in docs/ARCHITECTURE.md."""
    text = (PROJECT_ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.fullmatch(r"\| \d+\. (\w+) \| (.+) \| (.+) \|", line.strip())
        if match:
            names = re.sub(r"\([^)]*\)", "", match[2])  # remarks in parentheses are not modules
            modules = tuple(name.rstrip("/") for name in re.findall(r"`([^`]+)`", names))
            rows.append((match[1], modules, match[3]))
    return rows


def test_the_documented_layers_are_these() -> None:
    documented = _documented_layers()
    assert [(name, set(modules)) for name, modules, _ in documented] == [
        (name, set(prefixes)) for name, prefixes in LAYERS
    ], "docs/ARCHITECTURE.md (Layers) and LAYERS differ"
    for name, modules, rasa in documented:
        if name == "actions":  # `rasa_sdk` only: test_only_nlu_channels_and_runtime_import_rasa
            continue
        allowed = {m for m in modules if _within(m, RASA_ALLOWED)}
        # "yes", "no", or the modules that may ("`bot.runtime` only").
        expected = set(modules) if rasa == "yes" else set() if rasa == "no" else set(re.findall(r"`([^`]+)`", rasa))
        assert allowed == expected, f"{name}: the doc says {rasa!r}, RASA_ALLOWED says {sorted(allowed)}"
