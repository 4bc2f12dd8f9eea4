"""The wording catalogues (bot/wording/*.vi.yml): every key used, every used key defined, each sentence once.

Code names a sentence by a literal key (``text("dossier.ask_phone_digits")``, or a literal in a
table of keys), so these checks read the code's string literals: a key that no module names is
dead, a dotted literal under a catalogue section that is not a key is a typo, and a call's
keyword values must match the sentence's placeholders. Each namespace of ``bot.wording.FILES``
is checked on its own: a literal passed to ``catalogue("staff").text(...)`` (or to ``.text`` of
a name assigned ``catalogue("staff")``) belongs to ``staff``. A module under ``bot/console/``
(:data:`MODULE_NAMESPACES`) speaks to staff: its ``t("key")`` calls and its literals that are no
call's first argument (tables of keys) belong to ``staff``; every other literal belongs to ``citizen``.
The web widget's script and page name citizen keys too (``t("key")``, ``{{key}}``), and the
console's templates staff keys (``{{ t("key", name=value) }}``, read with Jinja's own parser).
domain.yml's responses must repeat their catalogue sentence verbatim. No Vietnamese sentence may
stay in Python code (citizen text or staff text alike), in the widget's files or in the console's templates.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2 import nodes

from bot.channels.widget import PAGE_MARKER, WIDGET_KEYS
from bot.dossiers.codes import code_spans
from bot.wording import (
    DEFAULT_NAMESPACE,
    DOMAIN_RESPONSES,
    FILES,
    PlaceholderMismatch,
    UnknownWordingKey,
    WordingFileError,
    catalogue,
    load,
    text,
)

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = (ROOT / "bot", ROOT / "actions")
WEB_DIR = ROOT / "bot" / "channels" / "web"
CONSOLE_TEMPLATES = ROOT / "bot" / "console" / "templates"
NAMESPACES = sorted(FILES)
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log", "warn"}
# Methods of a Wording that take a key first.
WORDING_METHODS = {"text", "placeholders"}
# widget.js reads a sentence with t("key").
SCRIPT_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*\)""")
# Modules (by path prefix) that speak to another audience than citizens, and the namespace they read
# with their helper t("key") (bot.console.labels.t).
MODULE_NAMESPACES: dict[str, str] = {"bot/console/": "staff", "bot/analytics/labels.py": "staff"}
# How a namespace's sentences are read, for the message of a test that finds one typed in code.
READERS: dict[str, str] = {DEFAULT_NAMESPACE: "text(key)", "staff": "t(key) (bot.console.labels.t, templates too)"}

# Vietnamese literals that are data or operator text, not replies to a citizen: a module (None:
# all of it) or the names of its top-level definitions (constants, functions) that hold them.
NOT_REPLIES: dict[str, frozenset[str] | None] = {
    "bot/catalog/search.py": None,  # search vocabulary: synonyms, filler words, chat-only phrases
    "bot/catalog/query.py": None,  # question words, polite particles, chat-only phrases
    "bot/catalog/provinces.py": None,  # province names
    "bot/dossiers/demo.py": None,  # demo records
    "bot/settings.py": None,  # defaults: the hotline and office hours are configuration
    "bot/catalog/importer.py": frozenset({"UNIT_NOTES", "_STEP_LABEL", "_STEP_BREAK"}),  # the portal's words
    "bot/catalog/service.py": frozenset({"resolve_province"}),  # "tỉnh <name>" to match a province
    "bot/catalog/loader.py": frozenset({"validate_data"}),  # record errors for the operator
    "bot/catalog/cli.py": frozenset({"render"}),  # the operator's view of a procedure
    "bot/dossiers/status.py": frozenset({"PORTAL_LABELS"}),  # labels other systems send
    "bot/runtime/runner.py": frozenset({"run"}),  # the startup banner for the operator
    "bot/runtime/production.py": frozenset({"run"}),  # the production profile's startup banner
    "bot/text.py": frozenset({"_D_TABLE"}),  # the letter đ
    "bot/helpdesk/service.py": frozenset({"_LEAVE_FIRST_WORDS", "_LEAVE_PHRASES"}),  # what citizens type to leave
}


@dataclass(frozen=True)
class Literal:
    path: str
    line: int
    value: str


@dataclass(frozen=True)
class KeyUse:
    """A string literal that may name a key of ``namespace``; ``names`` are a call's keywords.

    ``names`` is None when the literal is not a call's first argument, or the call passes
    ``**values`` (not checkable statically). ``call`` says the literal is the key of a call that
    reads ``namespace`` (``catalogue("staff").text``, a staff module's or template's ``t``).
    """

    namespace: str
    path: str
    line: int
    key: str
    names: frozenset[str] | None = None
    call: bool = False


def python_files() -> Iterator[Path]:
    for folder in CODE_DIRS:
        yield from sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def web_files() -> list[Path]:
    return sorted([*WEB_DIR.glob("*.js"), *WEB_DIR.glob("*.html")])


def console_templates() -> list[Path]:
    return sorted(CONSOLE_TEMPLATES.glob("*.html"))


def module_namespace(rel: str) -> str:
    """The namespace the module at ``rel`` speaks in (:data:`MODULE_NAMESPACES`; else citizen)."""
    return next((ns for prefix, ns in MODULE_NAMESPACES.items() if rel.startswith(prefix)), DEFAULT_NAMESPACE)


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            ids.add(id(node.value))
    return ids


def _log_call_ids(tree: ast.AST) -> set[int]:
    """Constants inside logging calls and argparse help texts (operator-facing)."""
    ids = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in LOG_METHODS:
            ids.update(id(n) for arg in node.args for n in ast.walk(arg))
        for kw in node.keywords:
            if kw.arg in ("help", "description"):
                ids.update(id(n) for n in ast.walk(kw.value))
    return ids


def _defined_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement defines (``X = ...``, ``X: T = ...``, ``def X``, ``class X``)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return {t.id for t in targets if isinstance(t, ast.Name)}


def literals(path: Path, *, skip_operator_text: bool = False) -> list[Literal]:
    """Every string constant in ``path`` except docstrings (and, if asked, log and help texts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstring_ids(tree)
    if skip_operator_text:
        skip |= _log_call_ids(tree)
    rel = path.relative_to(ROOT).as_posix()
    return [
        Literal(rel, node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def _namespace_of(call: ast.Call, aliases: dict[str, str]) -> str | None:
    """``ns`` for ``catalogue("ns").text(...)`` or ``alias.text(...)`` (alias = catalogue("ns")); else None."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in WORDING_METHODS):
        return None
    receiver = func.value
    if isinstance(receiver, ast.Name):
        return aliases.get(receiver.id)
    return _catalogue_call(receiver)


def _catalogue_call(node: ast.AST) -> str | None:
    """``ns`` when ``node`` is ``catalogue("ns")`` (or ``catalogue()``: the default namespace)."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name != "catalogue":
        return None
    if not node.args:
        return DEFAULT_NAMESPACE
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def key_uses(source: str, rel: str) -> list[KeyUse]:
    """Every string literal of ``source`` (docstrings aside) with the namespace it may name a key of."""
    tree = ast.parse(source)
    own = module_namespace(rel)
    aliases = {
        target.id: ns
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and (ns := _catalogue_call(node.value))
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    skip = _docstring_ids(tree)
    uses: list[KeyUse] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        first = node.args[0]
        if not isinstance(first.value, str) or id(first) in skip:
            continue
        names = None if any(kw.arg is None for kw in node.keywords) else frozenset(str(kw.arg) for kw in node.keywords)
        namespace = _namespace_of(node, aliases)
        if namespace is None and own != DEFAULT_NAMESPACE and isinstance(node.func, ast.Name) and node.func.id == "t":
            namespace = own
        known = namespace is not None
        uses.append(KeyUse(namespace or DEFAULT_NAMESPACE, rel, first.lineno, first.value, names, known))
        skip.add(id(first))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            uses.append(KeyUse(own, rel, node.lineno, node.value))
    return uses


def template_key_uses() -> list[KeyUse]:
    """Staff keys the console's templates name: ``t("key", name=value)`` calls, found by Jinja's parser."""
    env = jinja2.Environment()
    uses = []
    for path in console_templates():
        for call in env.parse(path.read_text(encoding="utf-8")).find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == "t" and call.args):
                continue
            first = call.args[0]
            if isinstance(first, nodes.Const) and isinstance(first.value, str):
                names = None if call.dyn_kwargs is not None else frozenset(kw.key for kw in call.kwargs)
                uses.append(KeyUse("staff", _rel(path), call.lineno, first.value, names, True))
    return uses


def web_key_uses() -> list[KeyUse]:
    """Citizen keys the widget names: ``t("key")`` in its script, ``{{key}}`` in its page."""
    uses = []
    for path in web_files():
        rel = path.relative_to(ROOT).as_posix()
        pattern = SCRIPT_KEY if path.suffix == ".js" else PAGE_MARKER
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            uses.extend(KeyUse(DEFAULT_NAMESPACE, rel, number, m.group(1)) for m in pattern.finditer(line))
    return uses


@pytest.fixture(scope="module")
def all_uses() -> list[KeyUse]:
    uses = [use for path in python_files() for use in key_uses(path.read_text(encoding="utf-8"), _rel(path))]
    return uses + web_key_uses() + template_key_uses()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_key_uses_are_attributed_to_their_namespace() -> None:
    source = (
        "staff = catalogue('staff')\n"
        "a = catalogue('staff').text('desk.hello', name=n)\n"
        "b = staff.text('desk.bye')\n"
        "c = text('chat.greet')\n"
        "d = catalogue().text('chat.thank')\n"
        "KEYS = ('dossier.ask_code',)\n"
    )
    found = {(u.namespace, u.key, u.names) for u in key_uses(source, "x.py")}
    assert ("staff", "desk.hello", frozenset({"name"})) in found
    assert ("staff", "desk.bye", frozenset()) in found
    assert ("citizen", "chat.greet", frozenset()) in found
    assert ("citizen", "chat.thank", frozenset()) in found
    assert ("citizen", "dossier.ask_code", None) in found
    assert not {key for ns, key, _ in found if ns == "citizen"} & {"desk.hello", "desk.bye"}
    console = (
        "KEYS = {'agent': 'labels.role.agent'}\n"
        "a = t('queue.online', names=n)\n"
        "b = ctx.render('queue.html', {})\n"
        "c = text('chat.greet')\n"
    )
    found = {(u.namespace, u.key, u.names) for u in key_uses(console, "bot/console/views.py")}
    assert ("staff", "labels.role.agent", None) in found
    assert ("staff", "queue.online", frozenset({"names"})) in found
    assert ("citizen", "queue.html", frozenset()) in found
    assert ("citizen", "chat.greet", frozenset()) in found
    elsewhere = {(u.namespace, u.key, u.names) for u in key_uses(console, "x.py")}
    assert ("citizen", "queue.online", frozenset({"names"})) in elsewhere


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_key_is_used_by_the_code(namespace: str, all_uses: list[KeyUse]) -> None:
    used = {use.key for use in all_uses if use.namespace == namespace}
    if namespace == DEFAULT_NAMESPACE:  # domain.yml's responses use theirs (the trainer loop's trained.* among them)
        used |= set(DOMAIN_RESPONSES.values())
    unused = sorted(set(catalogue(namespace).sentences) - used)
    assert not unused, f"{namespace} keys no module names (remove them, or use them as literal strings): {unused}"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_key_the_code_names_exists(namespace: str, all_uses: list[KeyUse]) -> None:
    keys = catalogue(namespace).sentences
    sections = {key.split(".")[0] for key in keys}
    key_like = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
    missing = sorted(
        f"{use.path}:{use.line}: {use.key}"
        for use in all_uses
        if use.namespace == namespace
        and key_like.fullmatch(use.key)
        and (use.key.split(".")[0] in sections or (namespace != DEFAULT_NAMESPACE and use.call))
        and use.key not in keys
        and use.key not in FILES.values()  # "staff.vi.yml" names a file, not a key of the citizen section staff
    )
    assert not missing, f"keys named in the code but missing from bot/wording/{FILES[namespace]}: {missing}"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_no_sentence_appears_under_two_keys(namespace: str) -> None:
    seen: dict[str, str] = {}
    twice = []
    for key, sentence in catalogue(namespace).sentences.items():
        normal = unicodedata.normalize("NFC", " ".join(sentence.split()))
        if normal in seen:
            twice.append(f"{seen[normal]} = {key}: {sentence!r}")
        seen.setdefault(normal, key)
    assert not twice, f"one sentence, one key: {twice}"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_calls_give_exactly_the_sentence_placeholders(namespace: str, all_uses: list[KeyUse]) -> None:
    words = catalogue(namespace)
    wrong = [
        f"{use.path}:{use.line}: {use.key} takes {sorted(expected)}, the call gives {sorted(use.names)}"
        for use in all_uses
        if use.namespace == namespace and use.names is not None and use.key in words.sentences
        if use.names != (expected := words.placeholders(use.key))
    ]
    assert not wrong, "\n".join(wrong)


def test_domain_responses_repeat_the_catalogue() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    responses = domain.get("responses") or {}
    assert set(responses) == set(DOMAIN_RESPONSES), "bot.wording.DOMAIN_RESPONSES must map every domain response"
    for name, variants in responses.items():
        for variant in variants:
            assert set(variant) == {"text"}, f"{name}: only text responses are checked against the catalogue"
            assert variant["text"] == text(DOMAIN_RESPONSES[name]), (
                f"domain.yml {name} differs from bot/wording/{FILES[DEFAULT_NAMESPACE]} {DOMAIN_RESPONSES[name]}"
            )


def _digit_runs(sentence: str) -> list[str]:
    """Runs of 4+ digits in ``sentence`` outside dossier codes (a code's own digits are its example)."""
    spans = code_spans(sentence)
    blanked = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(sentence))
    return re.findall(r"\d{4,}", blanked)


def test_dossier_sentences_hold_no_example_phone_digits() -> None:
    # "(ví dụ: 6789)" in the phone-digits prompt was the demo dossier's own second factor; Rasa then kept it in
    # the tracker. No dossier sentence or domain response may carry digits that could be someone's phone digits.
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    sentences = [
        (f"{ns}:{key}", sentence)
        for ns in NAMESPACES
        for key, sentence in catalogue(ns).sentences.items()
        if key.startswith("dossier.")
    ]
    sentences += [
        (f"domain.yml:{name}", variant.get("text") or "")
        for name, variants in (domain.get("responses") or {}).items()
        for variant in variants
    ]
    found = [f"{where}: {runs}" for where, sentence in sentences if (runs := _digit_runs(sentence))]
    assert not found, "digits in a dossier sentence (use words, or a dossier-code example):\n" + "\n".join(found)
    assert _digit_runs("ví dụ: 6789") == ["6789"] and _digit_runs("mã 000.00.12.H61-240831-0001 ạ") == []


def test_no_citizen_sentence_is_typed_in_python_code() -> None:
    # Staff text too: a module under MODULE_NAMESPACES moves its sentences to that namespace's file.
    found: dict[str, list[str]] = {}
    for path in python_files():
        rel = _rel(path)
        exempt = NOT_REPLIES.get(rel, frozenset())
        if exempt is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        gone = exempt - {name for stmt in tree.body for name in _defined_names(stmt)}
        assert not gone, f"NOT_REPLIES names definitions {sorted(gone)} that {rel} no longer has"
        for lit in literals(path, skip_operator_text=True):
            value = unicodedata.normalize("NFC", lit.value).lower()
            if VIETNAMESE.search(value) and not _inside(tree, lit, exempt):
                found.setdefault(module_namespace(rel), []).append(f"{lit.path}:{lit.line}: {lit.value[:60]!r}")
    assert not found, "\n".join(
        f"move these sentences to bot/wording/{FILES[ns]} and read them with {READERS[ns]}:\n" + "\n".join(lines)
        for ns, lines in sorted(found.items())
    )


def _inside(tree: ast.Module, lit: Literal, names: frozenset[str]) -> bool:
    """Whether ``lit`` stands within one of the top-level definitions called ``names``."""
    return any(
        _defined_names(stmt) & names and stmt.lineno <= lit.line <= (stmt.end_lineno or stmt.lineno)
        for stmt in tree.body
    )


def test_no_citizen_sentence_is_typed_in_the_widget() -> None:
    found = [
        f"{_rel(path)}:{number}: {line.strip()[:80]}"
        for path in web_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if VIETNAMESE.search(unicodedata.normalize("NFC", line).lower())
    ]
    target = f"bot/wording/{FILES[DEFAULT_NAMESPACE]}"
    assert not found, f"move these to {target} (channel.widget.*) and serve them from bot/channels/widget.py:\n" + (
        "\n".join(found)
    )


def test_no_staff_sentence_is_typed_in_the_console_templates() -> None:
    found = [
        f"{_rel(path)}:{number}: {line.strip()[:80]}"
        for path in console_templates()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if VIETNAMESE.search(unicodedata.normalize("NFC", line).lower())
    ]
    assert console_templates(), f"no templates in {CONSOLE_TEMPLATES}"
    assert not found, f'move these to bot/wording/{FILES["staff"]} and write {{{{ t("key") }}}}:\n' + "\n".join(found)


def test_the_widget_script_names_exactly_the_keys_it_is_served() -> None:
    script = (WEB_DIR / "widget.js").read_text(encoding="utf-8")
    assert set(SCRIPT_KEY.findall(script)) == set(WIDGET_KEYS)
    # The script has no format step: its sentences must be whole.
    assert all(not catalogue().placeholders(key) for key in WIDGET_KEYS)


def test_the_phone_digits_prompt_is_one_sentence() -> None:
    # The prompt once had three wordings (domain.yml, the form action, the service).
    prompts = [s for s in catalogue().sentences.values() if "chữ số cuối" in s or "cho em xin 4 số" in s]
    assert prompts == [text("dossier.ask_phone_digits")]


def test_unknown_key_and_wrong_placeholders_raise_clear_errors() -> None:
    with pytest.raises(UnknownWordingKey, match=r"dossier\.no_such_key") as err:
        text("dossier.no_such_key")
    assert isinstance(err.value, KeyError) and FILES[DEFAULT_NAMESPACE] in str(err.value)
    with pytest.raises(PlaceholderMismatch, match="missing value for code"):
        text("dossier.not_found")
    with pytest.raises(PlaceholderMismatch, match="no placeholder for typo"):
        text("dossier.not_found", code="x", typo="y")
    assert "000.00.12.H61-240831-0001" in text("dossier.not_found", code="000.00.12.H61-240831-0001")


def test_malformed_files_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("a:\n  b: 3\n", encoding="utf-8")
    with pytest.raises(WordingFileError, match=r"'a\.b'"):
        load(bad)
    bad.write_text("a:\n  B: x\n", encoding="utf-8")
    with pytest.raises(WordingFileError, match="snake_case"):
        load(bad)
    bad.write_text("a: 'x {'\n", encoding="utf-8")
    with pytest.raises(WordingFileError, match="placeholder"):
        load(bad)
