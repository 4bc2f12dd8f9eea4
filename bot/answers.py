"""Cited answers about procedures: the renderer from catalogue records to a :class:`Reply` (no Rasa imports).

Every figure in a reply comes from a :class:`~bot.catalog.domain.Procedure`;
nothing here types a fee or a processing time by hand. Every answer about a
procedure ends with its code, its source link and the date it was verified.
When the catalogue does not know, the reply says so and points to the portal.
The sentences themselves live in ``bot/wording/citizen.vi.yml`` (``procedure.*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.catalog.domain import Case, Fee, Procedure, SubmissionMethod
from bot.catalog.query import MAX_ASKS, asks_in
from bot.catalog.resolve import CLEAR_SCORE, Decision, Resolution, topic_words
from bot.catalog.search import analyse
from bot.db.clock import to_vn
from bot.replies import Button, Link, Reply, human_button, payload
from bot.settings import settings
from bot.text import expand, fold, nfc
from bot.wording import text

QUESTION_INTENTS = (
    "ask_documents",
    "ask_fee",
    "ask_processing_time",
    "ask_where",
    "ask_how_online",
    "ask_conditions",
    "ask_procedure_info",
)
MAX_CHOICE_BUTTONS = 4
#: Legal documents named under a conditions answer at most.
MAX_BASIS = 3
#: List marks the portal leaves at the start of document and section names ("- Tờ khai", "* Giấy tờ phải nộp:").
BULLETS = "-+*•–· "
PORTAL_HOME = "https://dichvucong.gov.vn"

# Wording keys per catalogue value (literal keys, so tests/test_wording.py sees them used).
METHOD_LABELS = {"online": "procedure.method.online", "direct": "procedure.method.direct",
                 "postal": "procedure.method.postal"}  # fmt: skip
METHOD_SHORT_LABELS = {"online": "procedure.method_short.online", "direct": "procedure.method_short.direct",
                       "postal": "procedure.method_short.postal"}  # fmt: skip
UNIT_LABELS = {"working_day": "procedure.time_unit.working_day", "day": "procedure.time_unit.day",
               "hour": "procedure.time_unit.hour"}  # fmt: skip
LEVEL_LABELS = {"commune": "procedure.level.commune", "province": "procedure.level.province",
                "central": "procedure.level.central"}  # fmt: skip
PORTAL_LABELS = {"dichvucong": "procedure.portal.dichvucong", "vneid": "procedure.portal.vneid",
                 "bocongan": "procedure.portal.bocongan"}  # fmt: skip
QUESTION_BUTTONS = (
    ("ask_documents", "procedure.question.ask_documents"),
    ("ask_fee", "procedure.question.ask_fee"),
    ("ask_processing_time", "procedure.question.ask_processing_time"),
    ("ask_where", "procedure.question.ask_where"),
    ("ask_how_online", "procedure.question.ask_how_online"),
    ("ask_conditions", "procedure.question.ask_conditions"),
)


@dataclass(frozen=True)
class Answer:
    """The reply plus the procedure the conversation is now about (for follow-ups)."""

    reply: Reply
    procedure_code: str | None = None
    resolved: bool = False
    #: The question a "có" (yes) answers next: the documents, after an overview.
    offered_intent: str | None = None
    #: The procedures offered as buttons, for a follow-up typed instead of a click.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Offered:
    """A procedure offered again as a button (the shape of a search candidate)."""

    code: str
    province: str | None
    name: str
    score: float = 0.0


class CandidateLike(Protocol):
    code: str
    province: str | None
    name: str
    score: float


class CatalogLike(Protocol):
    def get(self, code: str, province: str | None = None) -> Procedure | None: ...
    def find(self, text: str, limit: int = 5) -> Sequence[CandidateLike]: ...
    def is_ambiguous(self, candidates: Sequence[CandidateLike]) -> bool: ...


class ResolvingCatalog(CatalogLike, Protocol):
    """A catalogue that also ranks a whole message (:meth:`bot.catalog.service.ProcedureCatalog.resolve`)."""

    def resolve(self, text: str | None, mention: str | None = None, province: str | None = None) -> Resolution: ...


#: With a procedure from the previous turn, a message names another one only this surely (or by its code).
SWITCH_SCORE = 70.0


# ---------------------------------------------------------------- formatting


def method_label(kind: str) -> str:
    """ "Nộp trực tuyến" for ``online``; an unknown kind as it is."""
    return text(METHOD_LABELS[kind]) if kind in METHOD_LABELS else kind


def format_vnd(amount: int) -> str:
    """10000 -> "10.000 đồng" (Vietnamese thousands separator)."""
    return text("procedure.amount_vnd", amount=f"{amount:,}".replace(",", "."))


def format_number(value: float) -> str:
    """7.0 -> "7", 0.5 -> "0,5"."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}".replace(".", ",")


def format_time(method: SubmissionMethod) -> str:
    """Processing time with its unit, e.g. "7 ngày làm việc"; the note when the portal gives one."""
    parts = []
    if method.processing_time is not None and method.time_unit in UNIT_LABELS:
        parts.append(f"{format_number(method.processing_time)} {text(UNIT_LABELS[method.time_unit])}")
    if method.time_note:
        parts.append(method.time_note)
    return "; ".join(parts) if parts else text("common.unknown_value")


def format_fee(fee: Fee) -> str:
    """One fee with its legal basis; says so when the figure comes from the law rather than the portal."""
    if fee.amount is None:
        amount = text("procedure.fee.variable")
    else:
        amount = text("procedure.fee.free") if fee.amount == 0 else format_vnd(fee.amount)
    described = amount + (f" — {fee.description}" if fee.description else "")
    if not fee.legal_basis:
        return described
    if fee.source == "legal_basis":
        return text("procedure.fee.with_basis_from_law", fee=described, basis=fee.legal_basis)
    return text("procedure.fee.with_basis", fee=described, basis=fee.legal_basis)


def source_url(proc: Procedure) -> str:
    """The procedure's own page: the record's link, else the portal's page for its code."""
    return proc.source_url or settings().catalog.portal_procedure_url.format(code=proc.code)


def citation(proc: Procedure) -> str:
    """The trust line that ends every answer about a procedure.

    A curated record gives the date we verified it; an imported one says it is the portal's
    record and gives the portal's update date (a detail record's ``updatedAt``), or, for a
    catalogue-only row, the date the import last changed it.
    """
    url = source_url(proc)
    if proc.origin != "curated":
        if proc.verified_on:
            updated = proc.verified_on.strftime("%d/%m/%Y")
        elif proc.updated_at:
            updated = to_vn(proc.updated_at).strftime("%d/%m/%Y")
        else:
            updated = text("procedure.not_verified")
        return text("procedure.citation_portal", code=proc.code, url=url, updated=updated)
    verified = proc.verified_on.strftime("%d/%m/%Y") if proc.verified_on else text("procedure.not_verified")
    return text("procedure.citation", code=proc.code, url=url, verified=verified)


def _named(proc: Procedure) -> str:
    """The name as it reads after the sentences' own "thủ tục": "Thủ tục đăng ký kết hôn" -> "đăng ký kết hôn".

    The portal starts many names with "Thủ tục"; the wording already says it ("Dạ, thủ tục {name} …").
    """
    words = nfc(proc.name).split(maxsplit=2)
    if len(words) == 3 and fold(f"{words[0]} {words[1]}").lower() == "thu tuc":
        return words[2]
    return " ".join(words)


def _with_citation(proc: Procedure, body: str) -> str:
    return f"{body.rstrip()}\n\n{citation(proc)}"


def agency_label(proc: Procedure) -> str | None:
    """The competent agency with its level ("Công an cấp xã"), else the departments; None when unknown."""
    agency = proc.competent or (proc.implementing[0] if proc.implementing else None)
    if agency is None:
        # A portal record without agencies may still name the departments that carry it out.
        return ", ".join(proc.departments) or None
    level = text(LEVEL_LABELS[agency.level]) if agency.level in LEVEL_LABELS else None
    name = agency.name
    return name if not level or level.split()[-1] in name.lower() else f"{name} ({level})"


# ---------------------------------------------------------------- answers


def _is_section(case: Case) -> bool:
    """A portal "case" that only heads part of one dossier ("* Giấy tờ phải nộp:"), not a situation."""
    return case.name.rstrip().endswith(":")


def _section_title(case: Case) -> str:
    return case.name.strip().lstrip(BULLETS).strip()


def documents(proc: Procedure, case_index: int | None = None) -> Reply:
    """The documents to prepare, for one situation; other situations offered as buttons.

    The portal splits some dossiers into parts that it lists as cases ("* Giấy tờ phải xuất
    trình:", "* Giấy tờ phải nộp:"): those parts are shown together, each under its title.
    """
    if not proc.cases:
        return _unknown_detail(proc, text("procedure.topic.documents"))
    index = case_index if case_index is not None and 0 <= case_index < len(proc.cases) else None
    case = proc.cases[index] if index is not None else proc.common_case
    assert case is not None
    shown = [c for c in proc.cases if _is_section(c)] if _is_section(case) else [case]
    situations = [c for c in proc.cases if not _is_section(c)]
    if len(situations) > 1 and not _is_section(case):
        lines = [text("procedure.documents.intro_case", name=_named(proc), case=case.name)]
    else:
        lines = [text("procedure.documents.intro", name=_named(proc))]
    for part in shown:
        if len(shown) > 1:
            lines.append(_section_title(part))
        lines += [f"• {_document_line(d.name, d.originals, d.copies, d.e_form, d.note)}" for d in part.documents]
    if not any(part.documents for part in shown):
        lines.append(f"• {text('procedure.documents.none_required')}")
    buttons: list[Button] = []
    others = [(i, c) for i, c in enumerate(proc.cases) if c not in shown and not _is_section(c)]
    if others:
        lines.append("")
        lines.append(text("procedure.documents.other_cases", count=len(others)))
        for i, other in others[:MAX_CHOICE_BUTTONS]:
            buttons.append(Button(shorten(other.name), payload("ask_documents", procedure_code=proc.code, case=str(i))))
    return Reply(_with_citation(proc, "\n".join(lines)), tuple(buttons))


def _document_line(name: str, originals: int, copies: int, e_form: bool, note: str | None) -> str:
    counts = []
    if originals:
        counts.append(text("procedure.documents.originals", count=originals))
    if copies:
        counts.append(text("procedure.documents.copies", count=copies))
    line = name.strip().lstrip(BULLETS).strip().rstrip(" .;")
    if counts:
        line += f" ({', '.join(counts)})"
    if e_form:
        line += f" — {text('procedure.documents.e_form')}"
    if note:
        line += f". {note}"
    return line


def fees(proc: Procedure) -> Reply:
    """Fees per submission method with their legal basis; plain words when the procedure is free."""
    methods = [m for m in proc.methods if m.fees or proc.origin == "curated"]
    if not methods:
        return _unknown_detail(proc, text("procedure.topic.fees"))
    if all(m.is_free or not m.fees for m in methods) and proc.origin == "curated":
        return Reply(_with_citation(proc, text("procedure.fees.free", name=_named(proc))))
    lines = [text("procedure.fees.intro", name=_named(proc))]
    # Methods with the same fees share one entry, so a long fee list is not repeated per method.
    groups: dict[tuple[Fee, ...], list[str]] = {}
    for m in methods:
        groups.setdefault(m.fees, []).append(m.kind)
    for group_fees, kinds in groups.items():
        label = _methods_label(kinds)
        if not group_fees:
            lines.append(f"• {text('procedure.fees.method_free', methods=label)}")
        elif len(group_fees) == 1:
            lines.append(f"• {label}: {format_fee(group_fees[0])}")
        else:
            lines.append(f"• {label}:")
            lines += [f"   – {format_fee(f)}" for f in group_fees]
    cheaper = _online_saving(proc)
    if cheaper:
        lines.append(f"\n{text('procedure.fees.online_saving', amount=format_vnd(cheaper))}")
    return Reply(_with_citation(proc, "\n".join(lines)))


def _methods_label(kinds: list[str]) -> str:
    """ "Nộp trực tuyến", or "Nộp trực tuyến, trực tiếp" for methods that share their fees."""
    rest = [text(METHOD_SHORT_LABELS[k]) if k in METHOD_SHORT_LABELS else k.lower() for k in kinds[1:]]
    return method_label(kinds[0]) + "".join(", " + label for label in rest)


def _online_saving(proc: Procedure) -> int | None:
    online, direct = proc.method("online"), proc.method("direct")
    if not online or not direct or len(online.fees) != 1 or len(direct.fees) != 1:
        return None
    a, b = online.fees[0].amount, direct.fees[0].amount
    return b - a if a is not None and b is not None and b > a else None


def processing_time(proc: Procedure) -> Reply:
    """Processing time per submission method, with working days and calendar days told apart."""
    if not proc.methods:
        return _unknown_detail(proc, text("procedure.topic.time"))
    lines = [text("procedure.time.intro", name=_named(proc))]
    lines += [f"• {method_label(m.kind)}: {format_time(m)}" for m in proc.methods]
    if any(m.time_unit == "working_day" for m in proc.methods):
        lines.append(f"\n{text('procedure.time.working_days_note')}")
    return Reply(_with_citation(proc, "\n".join(lines)))


def where(proc: Procedure) -> Reply:
    """The competent agency at its level after the 2025 two-tier reform, and the ways to file."""
    agency = agency_label(proc)
    if not agency:
        return _unknown_detail(proc, text("procedure.topic.agency"))
    lines = [text("procedure.where.agency", name=_named(proc), agency=agency)]
    implementing = [a.name for a in proc.implementing if not proc.competent or a.name != proc.competent.name]
    if implementing:
        lines.append(text("procedure.where.implementing", agencies=", ".join(implementing)))
    kinds = [text(METHOD_SHORT_LABELS[m.kind]) for m in proc.methods if m.kind in METHOD_SHORT_LABELS]
    if kinds:
        lines.append(text("procedure.where.methods", methods=", ".join(kinds)))
    if proc.method("online"):
        lines.append(text("procedure.where.online_no_visit"))
    return Reply(_with_citation(proc, "\n".join(lines)))


def how_online(proc: Procedure) -> Reply:
    """How to file online: where, whether fully online (toàn trình), and the steps."""
    online = proc.method("online")
    if not online and proc.online_level == "none":
        return Reply(_with_citation(proc, text("procedure.online.unsupported", name=_named(proc))))
    portals = [text(PORTAL_LABELS[p]) for p in proc.online_portals if p in PORTAL_LABELS] or [
        text("procedure.portal.dichvucong")
    ]
    level = {"full": "procedure.online.level_full", "partial": "procedure.online.level_partial"}.get(proc.online_level)
    lines = [text("procedure.online.intro", name=_named(proc), portals=f" {text('common.or')} ".join(portals))]
    if level:
        lines.append(text(level))
    lines += [
        text("procedure.online.steps"),
        text("procedure.online.step_login"),
        text("procedure.online.step_find", code=proc.code),
        text("procedure.online.step_fill"),
        text("procedure.online.step_pay"),
    ]
    if online:
        extra = [text("procedure.online.detail_time", time=format_time(online))]
        if online.fees:
            extra.append(text("procedure.online.detail_fee", fees="; ".join(format_fee(f) for f in online.fees)))
        lines.append(f"\n{text('procedure.online.when_online', details=', '.join(extra))}")
    return Reply(_with_citation(proc, "\n".join(lines)))


def overview(proc: Procedure) -> Reply:
    """A short summary with documents, fee, time and place in brief, and buttons to go deeper."""
    if not proc.is_detailed:
        return _unknown_detail(proc, text("procedure.topic.overview"))
    lines = [text("procedure.overview.intro", name=_named(proc))]
    agency = agency_label(proc)
    if agency:
        lines.append(f"• {text('procedure.overview.agency', agency=agency)}")
    case = proc.common_case
    if case and _is_section(case):
        # A dossier the portal lists in parts: count every part, named after the procedure.
        count = sum(len(c.documents) for c in proc.cases if _is_section(c))
        lines.append(f"• {text('procedure.overview.documents', count=count, case=shorten(_named(proc), 80))}")
    elif case:
        described = text("procedure.overview.documents", count=len(case.documents), case=shorten(case.name, 80))
        lines.append(f"• {described}")
    first = proc.method("online") or (proc.methods[0] if proc.methods else None)
    if first:
        method = method_label(first.kind).lower() if first.kind in METHOD_LABELS else ""
        lines.append(f"• {text('procedure.overview.time', time=format_time(first), method=method)}")
        if first.fees:
            lines.append(f"• {text('procedure.overview.fee', fees='; '.join(format_fee(f) for f in first.fees[:2]))}")
        elif proc.origin == "curated":
            lines.append(f"• {text('procedure.overview.fee_free')}")
    online = {"full": "procedure.overview.online_full", "partial": "procedure.overview.online_partial"}
    lines.append(f"• {text(online.get(proc.online_level, 'procedure.overview.online_none'))}")
    lines.append(f"\n{text('procedure.overview.which_detail')}")
    buttons = tuple(
        Button(text(key), payload(intent, procedure_code=proc.code))
        for intent, key in QUESTION_BUTTONS
        if intent != "ask_conditions" or proc.requirements
    )
    return Reply(_with_citation(proc, "\n".join(lines)), buttons)


def conditions(proc: Procedure) -> Reply:
    """Conditions, deadlines, obligations and eligibility: the record's own text with its legal basis.

    Curated records state them in our words (``requirements`` in ``data/catalog``, from the portal's
    ``requirementsAndConditions`` and the law); imported ones carry the portal's text. Without either,
    the reply says plainly that it has no verified answer and offers a person.
    """
    if not proc.requirements:
        return _unknown_detail(proc, text("procedure.topic.conditions"))
    lines = [text("procedure.conditions.intro", name=_named(proc)), proc.requirements.strip()]
    basis = [b.code for b in proc.legal_basis[:MAX_BASIS]]
    if basis:
        lines.append(text("procedure.conditions.basis", basis=", ".join(basis)))
    return Reply(_with_citation(proc, "\n".join(lines)))


def compose(proc: Procedure, intents: Sequence[str], case_index: int | None = None) -> Reply:
    """One reply for several asks about one procedure, in the order asked, with one citation at the end.

    ``intents`` are question intents (:data:`ANSWERERS`); a single one is its own answer. Buttons of
    the parts are kept (at most :data:`MAX_CHOICE_BUTTONS`), without repeats.
    """
    parts = [documents(proc, case_index) if i == "ask_documents" else ANSWERERS[i](proc) for i in intents]
    if len(parts) == 1:
        return parts[0]
    cite = citation(proc)
    bodies = [p.text.rstrip().removesuffix(cite).rstrip() for p in parts]
    buttons = list(dict.fromkeys(b for p in parts for b in p.buttons))[:MAX_CHOICE_BUTTONS]
    links = list(dict.fromkeys(link for p in parts for link in p.links))
    return Reply(_with_citation(proc, "\n\n".join(bodies)), tuple(buttons), tuple(links))


def asks_of(intent: str, message: str | None) -> list[str]:
    """The question intents to answer: those the message names (:func:`~bot.catalog.query.asks_in`), in
    the order typed, with the NLU's ``intent`` after them when the words do not name it; ``[intent]`` alone
    for a message that names no ask (or a button's payload, ``message`` None).
    """
    found = asks_in(expand(message)) if message else []
    if not found:
        return [intent]
    if intent not in found and intent != "ask_procedure_info":
        found = [*found, intent]  # the words come first: the NLU's guess adds to them
    if len(found) > 1 and "ask_procedure_info" in found:
        found.remove("ask_procedure_info")
    return found[:MAX_ASKS]


def catalogue_only(proc: Procedure, intent: str) -> Reply:
    """A procedure the portal lists without its detail record: name, code, agency and the link.

    Whatever was asked, the details (documents, fees, time, place, online filing) are on the
    portal's page; nothing is inferred for a row that does not hold them.
    """
    lines = [text("procedure.catalogue_only.intro", name=_named(proc), code=proc.code)]
    if proc.departments:
        lines.append(f"• {text('procedure.catalogue_only.agency', agency=', '.join(proc.departments))}")
    elif proc.promulgated_by:
        lines.append(f"• {text('procedure.catalogue_only.promulgated_by', agency=proc.promulgated_by)}")
    if proc.field:
        lines.append(f"• {text('procedure.catalogue_only.field', field=proc.field)}")
    topic = text(TOPIC_LABELS.get(intent, "procedure.topic.overview"))
    lines.append(f"\n{text('procedure.catalogue_only.details_on_portal', topic=topic)}")
    link = Link(text("procedure.catalogue_only.link"), source_url(proc))
    return Reply(_with_citation(proc, "\n".join(lines)), (human_button(),), (link,))


def _unknown_detail(proc: Procedure, topic: str) -> Reply:
    body = text("procedure.unknown_detail", topic=topic, name=_named(proc))
    return Reply(_with_citation(proc, body), (human_button(),))


def shorten(value: str, limit: int = 60) -> str:
    """``value`` on one line, cut to ``limit`` characters with "…" (button titles, quoted mentions)."""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


# What a catalogue-only answer says is on the portal, per question.
TOPIC_LABELS = {
    "ask_documents": "procedure.topic.documents",
    "ask_fee": "procedure.topic.fees",
    "ask_processing_time": "procedure.topic.time",
    "ask_where": "procedure.topic.agency",
    "ask_how_online": "procedure.topic.online",
    "ask_conditions": "procedure.topic.conditions",
    "ask_procedure_info": "procedure.topic.overview",
}

ANSWERERS = {
    "ask_documents": documents,
    "ask_fee": fees,
    "ask_processing_time": processing_time,
    "ask_where": where,
    "ask_how_online": how_online,
    "ask_conditions": conditions,
    "ask_procedure_info": overview,
}


# ---------------------------------------------------------------- resolution


def ask_which_procedure() -> Reply:
    """No procedure named and none earlier in the conversation."""
    return Reply(text("procedure.ask_which"))


def unknown_procedure(mention: str) -> Reply:
    """The catalogue does not know the procedure: say so, point to the portal, offer a human."""
    return Reply(text("procedure.unknown", mention=shorten(mention, 80), portal=PORTAL_HOME), (human_button(),))


def not_in_catalogue() -> Reply:
    """A question with a topic that matches no procedure: say so plainly, point to the portal, offer a human."""
    return Reply(text("procedure.not_in_catalogue", portal=PORTAL_HOME), (human_button(),))


def choose_procedure(intent: str, candidates: Sequence[CandidateLike]) -> Reply:
    """Ambiguous mention: at most four candidates as buttons that repeat the question."""
    buttons = tuple(
        Button(shorten(c.name), payload(intent, procedure_code=c.code)) for c in candidates[:MAX_CHOICE_BUTTONS]
    )
    return Reply(text("procedure.choose"), buttons)


def _choices(intent: str, candidates: Sequence[CandidateLike], previous_code: str | None) -> Answer:
    """Offer ``candidates`` as buttons and remember them (a follow-up may be typed instead of a click)."""
    codes = tuple(dict.fromkeys(c.code for c in candidates))[:MAX_CHOICE_BUTTONS]
    return Answer(choose_procedure(intent, candidates), previous_code, choices=codes)


def fetch(catalog: CatalogLike, code: str, province: str | None = None) -> Procedure | None:
    """The record of ``code`` for ``province``, else (with a province that has none) any record of it."""
    return catalog.get(code, province) or (catalog.get(code) if province else None)


def _naming(mention: str | None) -> str | None:
    """The NLU's mention, or None when it holds only filler ("xin", "thủ tục"): it names nothing."""
    return mention if mention and analyse(mention) else None


class ProcedureAdvisor:
    """Resolves which procedure a question is about and answers it from the catalogue."""

    def __init__(self, catalog: CatalogLike) -> None:
        self.catalog = catalog

    def answer(
        self,
        intent: str,
        *,
        mention: str | None = None,
        code: str | None = None,
        previous_code: str | None = None,
        case: str | None = None,
        province: str | None = None,
        message: str | None = None,
        previous_choices: Sequence[str] = (),
    ) -> Answer:
        """Answer ``intent`` about the procedure named by ``code``, ``mention``, ``message`` or the previous turn.

        ``message`` is the citizen's whole text: it is ranked over the whole catalogue
        (:mod:`bot.catalog.resolve`) with the NLU's ``mention`` as a strong signal, so a
        procedure named plainly or by its code is found without an entity. ``previous_choices``
        are the procedures the previous turn offered: a follow-up that names none ("mất bao lâu")
        offers them again, with the new question.
        """
        if intent not in ANSWERERS:
            raise ValueError(f"not a procedure question: {intent}")
        mention = _naming(mention)
        proc = None
        if not code and message and hasattr(self.catalog, "resolve"):
            found = self._from_message(
                intent, message, mention, previous_code, province, earlier=bool(previous_code or previous_choices)
            )
            if isinstance(found, Answer):
                return found
            code = found
        if code:
            proc = fetch(self.catalog, code, province)
        elif mention:
            candidates = list(self.catalog.find(mention, limit=MAX_CHOICE_BUTTONS))
            if not candidates:
                return Answer(unknown_procedure(mention), previous_code)
            if len(candidates) > 1 and self.catalog.is_ambiguous(candidates):
                return _choices(intent, candidates, previous_code)
            proc = self.catalog.get(candidates[0].code, candidates[0].province)
        elif previous_code:
            proc = fetch(self.catalog, previous_code, province)
        elif previous_choices:
            return self._offer_again(intent, previous_choices, province)
        if proc is None:
            return Answer(
                unknown_procedure(code or mention) if (code or mention) else ask_which_procedure(), previous_code
            )
        if not proc.is_detailed:
            return Answer(catalogue_only(proc, intent), proc.code, resolved=True)
        raw = str(case or "")
        # A button's case number: ASCII digits only ("²".isdigit() is True but int("²") fails).
        index = int(raw) if raw.isascii() and raw.isdecimal() and len(raw) <= 3 else None
        asks = asks_of(intent, message)
        offered = "ask_documents" if asks == ["ask_procedure_info"] else None
        return Answer(compose(proc, asks, index), proc.code, resolved=True, offered_intent=offered)

    def rescue(
        self,
        message: str | None,
        *,
        mention: str | None = None,
        previous_code: str | None = None,
        previous_choices: Sequence[str] = (),
        province: str | None = None,
    ) -> Answer | None:
        """A message the NLU did not read as a procedure question (out of scope, unsure) that still is one.

        The whole message (with the NLU's ``mention``, if any) is ranked over the catalogue
        (:mod:`bot.catalog.resolve`): a clear procedure is answered (the asks its words name, else the
        overview); close candidates are offered as buttons; with a procedure from the previous turn and
        an ask in the words ("quá hạn thì sao"), the ask is answered about that procedure, so the topic
        survives a miss; an ask about a topic the catalogue does not hold is told so. None when the
        message names neither a procedure nor an ask: the caller goes on with its own reply.
        """
        if not message or not message.strip() or not hasattr(self.catalog, "resolve"):
            return None
        asks = asks_in(expand(message))
        intent = asks[0] if asks else "ask_procedure_info"
        resolution = self.catalog.resolve(message, mention=_naming(mention), province=province)  # type: ignore[attr-defined]
        if resolution.unknown_code:
            return Answer(unknown_procedure(resolution.unknown_code), previous_code)
        best = resolution.best
        if resolution.decision is Decision.CLEAR and best is not None and (topic_words(message) or resolution.by_code):
            if previous_code and asks and not resolution.by_code and best.score < SWITCH_SCORE:
                return self.answer(intent, code=previous_code, province=province, message=message)
            return self.answer(intent, code=best.code, province=province, message=message)
        strong = best is not None and best.score >= CLEAR_SCORE
        if resolution.decision is Decision.CLOSE and (resolution.by_code or (strong and not previous_code)):
            return _choices(intent, resolution.candidates, previous_code)
        if previous_code and asks:
            return self.answer(intent, code=previous_code, province=province, message=message)
        if previous_choices and asks and resolution.decision is not Decision.CLEAR:
            return self._offer_again(intent, previous_choices, province)
        if asks and topic_words(message):
            # A question about something the catalogue does not hold ("đặt vé tàu ở đâu"): never a guess.
            return Answer(not_in_catalogue(), previous_code)
        return None

    def _offer_again(self, intent: str, codes: Sequence[str], province: str | None) -> Answer:
        """The procedures of the previous turn's buttons, offered again for the new question."""
        procs = [p for p in (fetch(self.catalog, c, province) for c in codes) if p is not None]
        if not procs:
            return Answer(ask_which_procedure())
        offered = [_Offered(p.code, p.province, p.name) for p in procs]
        return _choices(intent, offered, None)

    def _from_message(
        self,
        intent: str,
        message: str,
        mention: str | None,
        previous_code: str | None,
        province: str | None,
        *,
        earlier: bool = False,
    ) -> Answer | str | None:
        """The code the message names, a reply (choices, or nothing found), or None to go on as before.

        ``earlier``: the previous turn gave a topic (a procedure, or buttons to choose from), which a
        follow-up keeps unless the message surely names another procedure.
        """
        resolution = self.catalog.resolve(message, mention=mention, province=province)  # type: ignore[attr-defined]
        if resolution.unknown_code:
            return Answer(unknown_procedure(resolution.unknown_code), previous_code)
        best = resolution.best
        if resolution.decision is Decision.CLEAR and best is not None:
            # A follow-up ("còn lệ phí thì sao?") keeps its topic unless the message surely names another one.
            if earlier and not mention and not resolution.by_code and best.score < SWITCH_SCORE:
                return None
            return best.code
        if resolution.decision is Decision.CLOSE and (resolution.by_code or not earlier):
            return _choices(intent, resolution.candidates, previous_code)
        if resolution.decision is Decision.NONE and mention:
            return Answer(unknown_procedure(mention), previous_code)
        if resolution.decision is Decision.NONE and not earlier and topic_words(message):
            # A topic the catalogue does not hold ("mở thẻ tín dụng cần gì"): never a guess. A bare
            # question ("cần giấy tờ gì") has no topic words and goes on to ask which procedure.
            return Answer(not_in_catalogue(), previous_code)
        return None
