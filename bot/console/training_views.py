"""The trainer's pages: the NLU inbox, new intents, writing the reviewed data, training runs, the model registry.

Every page calls :class:`bot.console.training.TrainingDesk` (the inbox, the registry, the catalogue, the
background runs, the loader, the evaluation comparison). Who may call which view is decided in
:data:`bot.console.app.ROUTES`. A refused action (:class:`bot.training.errors.TrainingError`) is worded for
staff by its ``code`` (:func:`bot.console.labels.training_error`); htmx requests get the row or panel back,
plain form posts the whole page.

No personal data goes into training data: confirming or changing a text that still holds some (a phone,
an ID number, an e-mail, a dossier code, a dossier owner's name, or what masking left of one) is
refused with the findings by kind, and offered again with each finding replaced by its placeholder
(:func:`bot.training.pii.placeholder`). The original text is then recorded as ignored and the
placeheld one carries the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from bot.console import labels
from bot.console.labels import t, training_error
from bot.console.training import TrainingDesk
from bot.console.web import Ctx
from bot.training.data import INTENT_NAME, key_hash
from bot.training.errors import TrainingError
from bot.training.inbox import InboxFilter, InboxItem
from bot.training.pii import Finding, find_personal_data, placeholder

__all__ = [
    "change",
    "confirm",
    "export_page",
    "export_write",
    "flag_turn",
    "ignore",
    "inbox_page",
    "intent_create",
    "intent_page",
    "mark_procedure",
    "model_compare",
    "models_page",
    "override",
    "procedure_search",
    "promote",
    "reject",
    "rollback",
    "run_page",
    "run_progress",
    "runs_page",
    "start_run",
]

PAGE_SIZE = 100
LOOKUP_LIMIT = 500  # Inbox.list's largest page: an action finds its row among these
FILTER_FIELDS = ("fallback", "confidence_below", "intent", "channel", "flagged", "low_rating")
MAX_REASON_CHARS = 1000
MAX_EXAMPLES = 200
NEW_INTENT = "__new__"


def _desk(ctx: Ctx) -> TrainingDesk:
    desk = ctx.console.training
    assert desk is not None
    return desk


def _hx(response: Response, target: str) -> Response:
    """Tell htmx to load ``target`` as a whole page; a plain form post is redirected there."""
    response.headers["HX-Redirect"] = target
    return response


def _go(ctx: Ctx, target: str) -> Response:
    if ctx.htmx:
        return _hx(Response(status_code=204), target)
    return RedirectResponse(target, status_code=303)


# -- findings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Findings:
    """Personal data found in one text: the findings by kind (labelled) and the text with placeholders."""

    text: str
    kinds: tuple[tuple[str, tuple[str, ...]], ...]  # (label of the kind, masked excerpts)
    replaced: str


def _findings(
    desk: TrainingDesk, text: str, names: Sequence[str] | None = None
) -> tuple[list[Finding], Findings | None]:
    found = find_personal_data(text, desk.names() if names is None else names)
    if not found:
        return [], None
    by_kind: dict[str, list[str]] = {}
    for f in found:
        by_kind.setdefault(labels.pii_kind_label(f.kind), []).append(f.excerpt)
    return found, Findings(text, tuple((k, tuple(v)) for k, v in by_kind.items()), placeholder(text, found))


# -- the inbox ---------------------------------------------------------------------------------


def _filters(ctx: Ctx) -> tuple[InboxFilter, dict[str, str], list[str]]:
    params = {name: ctx.query(name)[:100] for name in FILTER_FIELDS}
    problems: list[str] = []
    confidence = None
    if params["confidence_below"]:
        try:
            confidence = float(params["confidence_below"].replace(",", "."))
            if not 0 <= confidence <= 1:
                raise ValueError
        except ValueError:
            problems.append(t("conversations.bad_confidence"))
            confidence = None
    fallback = {"1": True, "0": False}.get(params["fallback"])
    flt = InboxFilter(
        fallback=fallback,
        confidence_below=confidence,
        intent=params["intent"] or None,
        channel=params["channel"] or None,
        flagged=True if params["flagged"] == "1" else None,
        rating_at_most=2 if params["low_rating"] == "1" else None,
    )
    return flt, params, problems


def _inbox_context(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    desk = _desk(ctx)
    flt, params, problems = _filters(ctx)
    data: dict[str, Any] = {
        "items": desk.inbox.list(flt, limit=PAGE_SIZE),
        "params": params,
        "problems": problems,
        "intents": desk.intents(),
        "channels": {code: labels.channel_label(code) for code in labels.CHANNELS},
        "message": "",
        "kind": "",
        "new_intent": NEW_INTENT,
    }
    data.update(extra)
    return data


def inbox_page(ctx: Ctx) -> Response:
    """Hộp thư huấn luyện: citizen messages not in the training data, newest first, one row per text."""
    return ctx.render("training_inbox.html", _inbox_context(ctx))


def _item(ctx: Ctx) -> InboxItem | None:
    key = ctx.request.path_params["key"]
    items = _desk(ctx).inbox.list(InboxFilter(), limit=LOOKUP_LIMIT)
    return next((i for i in items if i.key == key), None)


def _row(ctx: Ctx, item: InboxItem | None, status: int = 200, **extra: Any) -> Response:
    """The row of ``item`` after an action: htmx gets the row, a plain post the inbox page."""
    data: dict[str, Any] = {"item": item, "key": ctx.request.path_params["key"], "intents": _desk(ctx).intents(),
                            "message": "", "kind": "", "done": None, "findings": None, "retry": None,
                            "new_intent": NEW_INTENT}  # fmt: skip
    data.update(extra)
    if ctx.htmx:
        return ctx.render("_training_row.html", data, status)
    return ctx.render("training_inbox.html", _inbox_context(ctx, message=data["message"] or _done_message(data),
                                                           kind=data["kind"] or "ok"), status)  # fmt: skip


def _done_message(data: Mapping[str, Any]) -> str:
    done = data.get("done")
    if done is None:
        return ""
    return labels.decision_label(done.decision) + (f": {done.intent}" if done.intent else "")


def _gone(ctx: Ctx) -> Response:
    return _row(ctx, None, 409, message=t("training.inbox.gone"), kind="error")


def _span(ctx: Ctx) -> tuple[int, int] | None:
    """The procedure mention selected in the text: (start, end) code-point offsets, or None."""
    start, end = ctx.field("start").strip(), ctx.field("end").strip()
    if not start and not end:
        return None
    if not (start.isdigit() and end.isdigit()) or len(start) > 6 or len(end) > 6:
        raise TrainingError("bad_span", "the span is not two offsets")
    return int(start), int(end)


def _code(ctx: Ctx) -> str | None:
    return ctx.field("procedure_code").strip()[:40] or None


def _decide(ctx: Ctx, item: InboxItem, decision: str, intent: str | None) -> Response:
    """Confirm or change ``item`` to ``intent``; refused while the text holds personal data, unless the
    trainer asked for placeholders (``use_placeholder``)."""
    desk, me = _desk(ctx), ctx.me.username
    found, report = _findings(desk, item.text)
    retry = {"action": decision, "intent": intent or ""}
    try:
        mention, code = _span(ctx), _code(ctx)
        if report is None:
            if decision == "confirm":
                review = desk.inbox.confirm(item, me, mention=mention, procedure_code=code)
            else:
                review = desk.inbox.change(item, intent or "", me, mention=mention, procedure_code=code)
        elif ctx.field("use_placeholder") != "1":
            return _row(ctx, item, 400, findings=report, retry=retry, message=t("training.pii.refused"), kind="error")
        else:
            text = report.replaced
            if find_personal_data(text, desk.names()):  # a placeholder never is personal data; be sure anyway
                return _row(ctx, item, 400, findings=report, message=t("training.pii.refused"), kind="error")
            moved = None
            if mention is not None:
                words = item.text[mention[0] : mention[1]]
                at = text.find(words) if words.strip() else -1
                moved = (at, at + len(words)) if at >= 0 and text.count(words) == 1 else None
            review = desk.inbox.decide(text, "confirmed" if intent == item.intent else "changed", me,
                                       intent=intent, predicted_intent=item.intent, mention=moved,
                                       procedure_code=code)  # fmt: skip
            desk.inbox.ignore(item, me)
            ctx.audit("training_placeholder", f"text:{item.key[:12]}", ", ".join(sorted({f.kind for f in found})))
    except TrainingError as exc:
        return _row(ctx, item, 400, message=training_error(exc), kind="error")
    ctx.audit(f"training_{review.decision}", f"text:{review.key[:12]}", review.intent)
    return _row(ctx, item, done=review, message=_done_message({"done": review}), kind="ok")


def confirm(ctx: Ctx) -> Response:
    """Xác nhận: the predicted intent is right (with the procedure mention, when one was marked)."""
    item = _item(ctx)
    if item is None:
        return _gone(ctx)
    if not item.intent or item.intent not in _desk(ctx).intents():  # none, or nlu_fallback and the like
        return _row(ctx, item, 400, message=t("training.inbox.no_prediction"), kind="error")
    return _decide(ctx, item, "confirm", item.intent)


def change(ctx: Ctx) -> Response:
    """Đổi ý định: the text means another intent; a new one goes to the new-intent form with this row."""
    item = _item(ctx)
    if item is None:
        return _gone(ctx)
    intent = ctx.field("intent").strip()
    if intent == NEW_INTENT or (intent and intent not in _desk(ctx).intents() and INTENT_NAME.fullmatch(intent)):
        query = urlencode([("key", item.key), *([("name", intent)] if intent != NEW_INTENT else [])])
        return _go(ctx, f"/training/intents/new?{query}")
    if not intent:
        return _row(ctx, item, 400, message=t("training.inbox.choose_intent"), kind="error")
    return _decide(ctx, item, "change", intent)


def ignore(ctx: Ctx) -> Response:
    """Bỏ qua: not for training; the text leaves the inbox."""
    item = _item(ctx)
    if item is None:
        return _gone(ctx)
    review = _desk(ctx).inbox.ignore(item, ctx.me.username)
    ctx.audit("training_ignored", f"text:{item.key[:12]}")
    return _row(ctx, item, done=review, message=_done_message({"done": review}), kind="ok")


def mark_procedure(ctx: Ctx) -> Response:
    """Đánh dấu thủ tục: the words naming the procedure, or a procedure picked in the catalogue search, on a
    text already confirmed or changed."""
    key = ctx.request.path_params["key"]
    inbox = _desk(ctx).inbox
    try:
        mention, code = _span(ctx), _code(ctx)
        if mention is None and code is None:
            raise TrainingError("no_mention", "neither a span nor a procedure code")
        review = inbox.mark_procedure(key, ctx.me.username, mention=mention, procedure_code=code)
    except TrainingError as exc:
        message = t("training.inbox.choose_procedure") if exc.code == "no_mention" else training_error(exc)
        decided = next((r for r in inbox.reviews() if r.key == key), None)
        if decided is not None:  # the decided row again, with its form and the reason
            return _row(ctx, None, 400, done=decided, message=message, kind="error")
        return _row(ctx, _item(ctx), 400, message=message, kind="error")
    ctx.audit("training_procedure", f"text:{key[:12]}", code)
    return _row(ctx, None, done=review, message=t("training.inbox.procedure_marked"), kind="ok")


def procedure_search(ctx: Ctx) -> Response:
    """The catalogue search box's results (``ProcedureCatalog.find``) as a choice of procedure codes."""
    query = ctx.query("q")[:200]
    found = _desk(ctx).catalog.find(query, limit=8) if len(query) >= 2 else []
    return ctx.render("_training_procedures.html", {"found": found, "q": query})


def flag_turn(ctx: Ctx) -> Response:
    """Gửi người huấn luyện: flag a citizen turn of a transcript for the trainer's inbox."""
    sender_id = ctx.request.path_params["sender_id"]
    raw = ctx.field("turn_id").strip()
    if not raw.isdigit():
        return ctx.error(400, t("training.flag.bad_turn"))
    turn_id = int(raw)
    try:
        _desk(ctx).inbox.flag(turn_id, ctx.me.username)
    except TrainingError as exc:
        return ctx.error(400, training_error(exc))
    ctx.audit("training_flag", sender_id, f"turn {turn_id}")
    if ctx.htmx:
        return ctx.render("_message.html", {"message": t("training.flag.done"), "kind": "ok"})
    return RedirectResponse(f"/conversations/{sender_id}#turn-{turn_id}", status_code=303)


# -- new intents -------------------------------------------------------------------------------


def _lines(value: str) -> list[str]:
    return [" ".join(line.split()) for line in value.splitlines() if line.strip()][:MAX_EXAMPLES]


def _intent_context(ctx: Ctx, keys: Iterable[str], **extra: Any) -> dict[str, Any]:
    wanted = list(dict.fromkeys(keys))
    items = [i for i in _desk(ctx).inbox.list(InboxFilter(), limit=LOOKUP_LIMIT) if i.key in wanted] if wanted else []
    data: dict[str, Any] = {
        "items": items,
        "form": {
            "name": ctx.field("name") or ctx.query("name"),
            "response": ctx.field("response"),
            "examples": ctx.field("examples"),
        },
        "findings": [],
        "written": [],
        "message": "",
        "kind": "",
    }
    data.update(extra)
    return data


def intent_page(ctx: Ctx) -> Response:
    """Ý định mới: a name, the text the bot answers, and examples (from inbox rows and typed lines)."""
    return ctx.render("training_intent.html", _intent_context(ctx, ctx.request.query_params.getlist("key")))


def intent_create(ctx: Ctx) -> Response:
    """Add the intent (its examples, rule, domain entry and response) and record the chosen rows as changed to it."""
    from bot.training.writer import Example, add_intent

    desk, me = _desk(ctx), ctx.me.username
    keys = [k for k in (ctx.form.getlist("key") if ctx.form is not None else []) if isinstance(k, str)]
    context = _intent_context(ctx, keys)
    items: list[InboxItem] = context["items"]
    name = ctx.field("name").strip()
    typed = _lines(ctx.field("examples"))
    names = desk.names()
    use_placeholder = ctx.field("use_placeholder") == "1"
    reports: list[Findings] = []
    texts: dict[str, str] = {}  # original -> text to train on
    for text in [*(i.text for i in items), *typed]:
        _, report = _findings(desk, text, names)
        if report is not None:
            reports.append(report)
        texts[text] = report.replaced if report is not None and use_placeholder else text
    response_report = _findings(desk, ctx.field("response"), names)[1]
    if response_report is not None:
        reports.append(response_report)
    if reports and (not use_placeholder or response_report is not None):
        context.update(findings=reports, message=t("training.pii.refused"), kind="error")
        return ctx.render("training_intent.html", context, 400)
    examples = [Example(text) for text in dict.fromkeys(texts.values())]
    try:
        written = add_intent(name, examples, ctx.field("response"), root=desk.root)
    except TrainingError as exc:
        context.update(message=training_error(exc), kind="error")
        return ctx.render("training_intent.html", context, 400)
    done_keys = []
    for item in items:
        text = texts[item.text]
        if text == item.text:
            desk.inbox.change(item, name, me)
        else:
            desk.inbox.decide(text, "changed", me, intent=name, predicted_intent=item.intent)
            desk.inbox.ignore(item, me)
        done_keys.append(key_hash(text))
    desk.inbox.mark_written(done_keys)
    ctx.audit("training_new_intent", name, f"{len(examples)} examples")
    paths = [str(p.relative_to(desk.root)) if p.is_relative_to(desk.root) else str(p) for p in written]
    context = _intent_context(ctx, [], written=paths, kind="ok",
                              message=t("training.intent.created", intent=name, count=len(examples)))  # fmt: skip
    context["form"] = {"name": "", "response": "", "examples": ""}
    return ctx.render("training_intent.html", context)


# -- writing the reviewed data -----------------------------------------------------------------


def _pending(desk: TrainingDesk) -> tuple[dict[str, list[Any]], list[str]]:
    """Unwritten decisions by intent, and the intents among them the domain does not have yet."""
    by_intent: dict[str, list[Any]] = {}
    for review in desk.inbox.reviews(unwritten=True):
        if review.intent:
            by_intent.setdefault(review.intent, []).append(review)
    known = set(desk.intents())
    return dict(sorted(by_intent.items())), sorted(i for i in by_intent if i not in known)


def _export_context(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    pending, unknown = _pending(_desk(ctx))
    data: dict[str, Any] = {"pending": pending, "unknown": unknown, "results": [], "refused": [], "message": "",
                            "kind": ""}  # fmt: skip
    data.update(extra)
    return data


def export_page(ctx: Ctx) -> Response:
    """Ghi dữ liệu huấn luyện: the decisions not yet in ``data/nlu/reviewed``, by intent."""
    return ctx.render("training_export.html", _export_context(ctx))


def export_write(ctx: Ctx) -> Response:
    """Write every pending decision of a known intent to ``data/nlu/reviewed/<intent>.yml`` and mark it written;
    a text still holding personal data is left out and listed."""
    from bot.training.writer import Example, write_examples

    desk = _desk(ctx)
    pending, unknown = _pending(desk)
    names = desk.names()
    results: list[tuple[str, int]] = []
    refused: list[Findings] = []
    problems: list[str] = []
    for intent, reviews in pending.items():
        if intent in unknown:
            continue
        clean = []
        for review in reviews:
            report = _findings(desk, review.text, names)[1]
            if report is None:
                clean.append(review)
            else:
                refused.append(report)
        if not clean:
            continue
        examples = [Example(r.text, tuple(dict(e) for e in r.entities)) for r in clean]
        try:
            write_examples(intent, examples, root=desk.root)
        except TrainingError as exc:
            problems.append(f"{intent}: {training_error(exc)}")
            continue
        desk.inbox.mark_written([r.key for r in clean])
        results.append((intent, len(clean)))
    total = sum(n for _, n in results)
    ctx.audit("training_export", None, f"{total} examples")
    message = t("training.export.written", count=total, intents=len(results))
    if problems:
        message = " ".join([message, *problems])
    context = _export_context(ctx, results=results, refused=refused, message=message,
                              kind="error" if problems else "ok")  # fmt: skip
    return ctx.render("training_export.html", context)


# -- training runs -----------------------------------------------------------------------------


def _runs_context(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    runs = _desk(ctx).runs()
    data: dict[str, Any] = {
        "available": runs is not None,
        "runs": runs.recent(20) if runs is not None else [],
        "active": runs.active() if runs is not None else None,
        "message": "" if runs is not None else t("training.runs.unavailable"),
        "kind": "" if runs is not None else "error",
    }
    data.update(extra)
    return data


def runs_page(ctx: Ctx) -> Response:
    """Huấn luyện: start a training (full or incremental) and the recent runs."""
    return ctx.render("training_runs.html", _runs_context(ctx))


def start_run(ctx: Ctx) -> Response:
    """Start a training in the background, then follow it on its page."""
    runs = _desk(ctx).runs()
    if runs is None:
        return ctx.render("training_runs.html", _runs_context(ctx), 400)
    incremental = ctx.field("kind") == "incremental"
    try:
        run = runs.start(ctx.me.username, incremental=incremental, root=_desk(ctx).root)
    except TrainingError as exc:
        return ctx.render("training_runs.html", _runs_context(ctx, message=training_error(exc), kind="error"), 409)
    ctx.audit("training_run", f"run:{run.id}", run.kind)
    return _go(ctx, f"/training/runs/{run.id}")


def _run_or_404(ctx: Ctx) -> Any:
    runs = _desk(ctx).runs()
    run = runs.get(int(ctx.request.path_params["run_id"])) if runs is not None else None
    return run if run is not None else ctx.error(404, t("training.runs.not_found"))


def run_page(ctx: Ctx) -> Response:
    """One run: its phase, a progress bar and the log's tail, refreshed every 2 s while it runs."""
    run = _run_or_404(ctx)
    if isinstance(run, Response):
        return run
    return ctx.render("training_run.html", {"run": run})


def run_progress(ctx: Ctx) -> Response:
    """The run's progress panel (htmx polls it every 2 s while the run is running)."""
    run = _run_or_404(ctx)
    if isinstance(run, Response):
        return run
    return ctx.render("_training_progress.html", {"run": run})


# -- the model registry ------------------------------------------------------------------------


def _model_id(ctx: Ctx) -> int:
    return int(ctx.request.path_params["model_id"])


def _models_context(ctx: Ctx, **extra: Any) -> dict[str, Any]:
    desk = _desk(ctx)
    history = desk.registry.history(100)
    live = next((m for m in history if m.state == "live"), None) or desk.registry.live()
    data: dict[str, Any] = {"models": history, "live": live, "message": "", "kind": "", "failures": [],
                            "failed_id": None, "can_override": ctx.me.role in ("supervisor", "admin"),
                            "reason": ""}  # fmt: skip
    data.update(extra)
    return data


def models_page(ctx: Ctx) -> Response:
    """Mô hình: every model with its data hash, who trained it and when, its state; promote, reject, roll back."""
    return ctx.render("training_models.html", _models_context(ctx))


def _after_model_action(ctx: Ctx, status: int = 200, **extra: Any) -> Response:
    if ctx.field("back") == "compare":
        return _compare(ctx, status, **extra)
    return ctx.render("training_models.html", _models_context(ctx, **extra), status)


def _failures(failures: Iterable[Any]) -> list[str]:
    return [labels.gate_failure(f) for f in failures]


def promote(ctx: Ctx) -> Response:
    """Đưa vào sử dụng: the model goes live when it passes the gate, and is loaded into Rasa."""
    desk, model_id = _desk(ctx), _model_id(ctx)
    loader = desk.loader()
    if loader is None:
        return _after_model_action(ctx, 400, message=t("training.models.no_loader"), kind="error")
    try:
        desk.registry.promote(model_id, ctx.me.username, loader=loader)
    except TrainingError as exc:
        failures = _failures(exc.fields.get("failures") or ()) if exc.code == "gate_failed" else []
        return _after_model_action(ctx, 409, message=training_error(exc), kind="error", failures=failures,
                                   failed_id=model_id)  # fmt: skip
    ctx.audit("model_promote", f"model:{model_id}")
    return _after_model_action(ctx, message=t("training.models.promoted", model=model_id), kind="ok")


def override(ctx: Ctx) -> Response:
    """A supervisor promotes a model that failed the gate, with a written reason (audited)."""
    from bot.training.gate import override as gate_override

    desk, model_id = _desk(ctx), _model_id(ctx)
    reason = " ".join(ctx.field("reason").split())[:MAX_REASON_CHARS]
    loader = desk.loader()
    if loader is None:
        return _after_model_action(ctx, 400, message=t("training.models.no_loader"), kind="error")
    try:
        result = desk.registry.gate(model_id)
        decision = gate_override(result, ctx.me.username, ctx.me.role, reason)
        desk.registry.promote(model_id, ctx.me.username, loader=loader, override=decision)
    except TrainingError as exc:
        failures = []
        if exc.code not in ("unknown_model", "load_failed"):
            failures = _failures(desk.registry.gate(model_id).failures)
        return _after_model_action(ctx, 400, message=training_error(exc), kind="error", failures=failures,
                                   failed_id=model_id, reason=reason)  # fmt: skip
    ctx.audit("model_override", f"model:{model_id}", reason)
    return _after_model_action(ctx, message=t("training.models.overridden", model=model_id), kind="ok")


def reject(ctx: Ctx) -> Response:
    """Loại bỏ: a candidate (or an old model) will never go live; the reason is kept."""
    model_id = _model_id(ctx)
    reason = " ".join(ctx.field("reason").split())[:MAX_REASON_CHARS]
    try:
        _desk(ctx).registry.reject(model_id, ctx.me.username, reason)
    except TrainingError as exc:
        return _after_model_action(ctx, 400, message=training_error(exc), kind="error")
    ctx.audit("model_reject", f"model:{model_id}", reason)
    return _after_model_action(ctx, message=t("training.models.rejected", model=model_id), kind="ok")


def rollback(ctx: Ctx) -> Response:
    """Quay lại: an earlier live model goes live again (one click)."""
    desk, model_id = _desk(ctx), _model_id(ctx)
    loader = desk.loader()
    if loader is None:
        return _after_model_action(ctx, 400, message=t("training.models.no_loader"), kind="error")
    try:
        desk.registry.rollback(model_id, ctx.me.username, loader=loader)
    except TrainingError as exc:
        return _after_model_action(ctx, 400, message=training_error(exc), kind="error")
    ctx.audit("model_rollback", f"model:{model_id}")
    return _after_model_action(ctx, message=t("training.models.rolled_back", model=model_id), kind="ok")


# -- the comparison ----------------------------------------------------------------------------


HEAT_LEVELS = 5


def _confusion(data: Any) -> dict[str, Any] | None:
    """The confusion matrix (rows: expected, columns: predicted) with a heat level 0..5 per cell (its share of
    the row), or None."""
    if not isinstance(data, Mapping):
        return None
    names, matrix = list(data.get("labels") or []), list(data.get("matrix") or [])
    if not names or len(matrix) != len(names):
        return None
    rows = []
    for i, (name, counts) in enumerate(zip(names, matrix, strict=True)):
        total = sum(int(c) for c in counts) or 1
        cells = [(int(c), (0 if not c else max(1, round(HEAT_LEVELS * int(c) / total))), i == j)
                 for j, c in enumerate(counts)]  # fmt: skip
        rows.append((name, cells))
    return {"labels": names, "rows": rows}


def _stories(report: Mapping[str, Any] | None) -> tuple[bool | None, list[str]]:
    stories = (report or {}).get("stories")
    if isinstance(stories, Mapping):
        return stories.get("passed"), [str(s) for s in stories.get("failed") or ()]
    passed = (report or {}).get("stories_passed")
    return (passed if isinstance(passed, bool) else None), []


def _compare(ctx: Ctx, status: int = 200, **extra: Any) -> Response:
    desk, model_id = _desk(ctx), _model_id(ctx)
    model = desk.registry.get(model_id)
    if model is None:
        return ctx.error(404, t("training.models.not_found"))
    live = desk.registry.live()
    baseline = None if live is None or live.id == model.id else live
    compare = desk.compare()
    headline: list[dict[str, Any]] = []
    intents: list[dict[str, Any]] = []
    confusion = (model.report or {}).get("confusion")
    if compare is not None and model.report is not None:
        result = compare(model.report, baseline.report if baseline is not None else None)
        for row in result.headline:
            values = asdict(row)
            values["label"] = labels.metric_label(row.name)
            if values["name"] == "stories":  # 1.0 / 0.0: shown as yes / no
                for side in ("live", "candidate"):
                    values[side] = None if values[side] is None else bool(values[side])
                values["delta"] = None
            headline.append(values)
        intents = [asdict(row) for row in result.per_intent]
        confusion = result.confusion or confusion
    passed, failed_stories = _stories(model.report)
    gate = desk.registry.gate(model_id) if model.state != "live" else None
    data: dict[str, Any] = {
        "model": model,
        "live": live,
        "baseline": baseline,
        "available": compare is not None,
        "headline": headline,
        "intents": intents,
        "confusion": _confusion(confusion),
        "stories_passed": passed,
        "failed_stories": failed_stories,
        "gate": gate,
        "gate_failures": _failures(gate.failures) if gate is not None else [],
        "can_override": ctx.me.role in ("supervisor", "admin"),
        "message": "",
        "kind": "",
        "failures": [],
        "reason": "",
    }
    data.update(extra)
    return ctx.render("training_compare.html", data, status)


def model_compare(ctx: Ctx) -> Response:
    """One model beside the live one: headline figures, per-intent P/R/F1 with coloured differences, the confusion
    matrix, the failed stories and the gate."""
    return _compare(ctx)
