"""The model registry: trained models, the one live model, promotion through the gate, rejection, rollback.

States: ``candidate`` (registered) -> ``live`` (promoted) -> ``retired`` (another went live); or
``rejected``. Exactly one model is live once one has been promoted: promotion and rollback retire the
previous live model in the same transaction, and the unique ``live_slot`` column makes a second live
row impossible even for two promotions racing (one fails on the constraint).

Loading the model into the running Rasa servers is the caller's :class:`ModelLoader` (the console and
CLI pass one built on :meth:`bot.rasa_client.RasaClient.replace_model`, ``PUT /model``). It is called
inside the promoting transaction, after the rows changed and before the commit: if it raises, nothing
changed in the database (a ``load_failed`` event is audited) and :class:`TrainingError` ``load_failed``
is raised. The transaction stays open while Rasa loads the model (seconds), which is the price of
never recording a live model that Rasa does not run.

Every action is audited in ``training_model_events``; an override of the gate keeps who, which role,
when, why and the failures accepted (:class:`bot.training.gate.Override`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.training.errors import TrainingError
from bot.training.gate import Failure, GateResult, Override, check
from bot.training.models import ModelEventRow, ModelRow

__all__ = ["STATES", "ModelEvent", "ModelLoader", "ModelRecord", "ModelRegistry"]

STATES = ("candidate", "live", "retired", "rejected")


class _LoadFailed(Exception):
    """Raised inside the promoting transaction so that it rolls back; turned into ``load_failed`` outside it."""

    def __init__(self, model_id: int, by: str, error: str) -> None:
        super().__init__(error)
        self.model_id, self.by, self.error = model_id, by, error


class ModelLoader(Protocol):
    """Loads a model file into the running Rasa server(s); raises when it could not."""

    def load(self, model_path: str) -> None: ...


@dataclass(frozen=True)
class ModelRecord:
    """A row of ``training_models`` (times naive UTC)."""

    id: int
    model_file: str
    data_hash: str
    trained_at: datetime
    trained_by: str
    report: dict[str, Any] | None
    state: str
    promoted_at: datetime | None
    promoted_by: str | None
    override_reason: str | None
    rejected_at: datetime | None
    rejected_by: str | None
    rejected_reason: str | None


@dataclass(frozen=True)
class ModelEvent:
    """A row of the registry's audit."""

    model_id: int
    action: str
    by: str
    role: str | None
    at: datetime
    reason: str | None
    detail: dict[str, Any] | None


def _record(row: ModelRow) -> ModelRecord:
    return ModelRecord(
        row.id,
        row.model_file,
        row.data_hash,
        row.trained_at,
        row.trained_by,
        row.report,
        row.state,
        row.promoted_at,
        row.promoted_by,
        row.override_reason,
        row.rejected_at,
        row.rejected_by,
        row.rejected_reason,
    )


class ModelRegistry(TransactionalStore):
    """The registry over one database (``engine``, default the configured one)."""

    # -- reading ---------------------------------------------------------------------------------

    def get(self, model_id: int) -> ModelRecord | None:
        with self._session() as session:
            row = session.get(ModelRow, model_id)
            return None if row is None else _record(row)

    def live(self) -> ModelRecord | None:
        """The live model, or None before the first promotion."""
        with self._session() as session:
            row = session.execute(select(ModelRow).where(ModelRow.state == "live")).scalar_one_or_none()
            return None if row is None else _record(row)

    def history(self, limit: int = 50) -> list[ModelRecord]:
        """Models, newest registered first."""
        with self._session() as session:
            rows = session.execute(select(ModelRow).order_by(ModelRow.id.desc()).limit(limit)).scalars()
            return [_record(row) for row in rows]

    def events(self, model_id: int | None = None) -> list[ModelEvent]:
        """The audit, oldest first (of one model, or all)."""
        query = select(ModelEventRow).order_by(ModelEventRow.id)
        if model_id is not None:
            query = query.where(ModelEventRow.model_id == model_id)
        with self._session() as session:
            return [
                ModelEvent(r.model_id, r.action, r.by, r.role, r.at, r.reason, r.detail)
                for r in session.execute(query).scalars()
            ]

    def find_by_hash(self, data_hash: str) -> ModelRecord | None:
        """The newest model trained on exactly this data (not rejected): reuse it instead of training again."""
        with self._session() as session:
            row = session.execute(
                select(ModelRow)
                .where(ModelRow.data_hash == data_hash, ModelRow.state != "rejected")
                .order_by(ModelRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return None if row is None else _record(row)

    def gate(self, model_id: int) -> GateResult:
        """The gate of ``model_id`` against the live model; a rejected model or a missing report fails it."""
        with self._session() as session:
            row = self._row(session, model_id)
            return self._gate(session, row)

    # -- changing --------------------------------------------------------------------------------

    def register(
        self,
        model_file: str,
        data_hash: str,
        trained_by: str,
        report: dict[str, Any] | None = None,
        trained_at: datetime | None = None,
    ) -> ModelRecord:
        """Record a newly trained model as a candidate."""
        if not model_file or not data_hash:
            raise TrainingError("bad_model", "a model needs its file and its data hash")
        with self._session() as session:
            row = ModelRow(
                model_file=model_file,
                data_hash=data_hash,
                trained_at=naive_utc(trained_at),
                trained_by=trained_by,
                report=report,
                state="candidate",
            )
            session.add(row)
            session.flush()
            self._audit(session, row.id, "register", trained_by)
            return _record(row)

    def promote(
        self, model_id: int, by: str, *, loader: ModelLoader | None = None, override: Override | None = None
    ) -> ModelRecord:
        """Make ``model_id`` live when it passes the gate (:meth:`gate`), or with a supervisor's ``override``.

        :class:`TrainingError` codes: ``unknown_model``, ``already_live``, ``gate_failed`` (``failures``),
        ``load_failed`` (nothing changed).
        """
        try:
            with self._session() as session:
                row = self._row(session, model_id)
                if row.state == "live":
                    raise TrainingError("already_live", "the model is live already", model_id=model_id)
                result = self._gate(session, row)
                if not result.passed and override is None:
                    raise TrainingError("gate_failed", "the candidate fails the gate", failures=result.failures)
                if not result.passed and override is not None:
                    row.override_reason = override.reason
                    self._audit(
                        session, row.id, "override", override.by, override.reason, override.as_dict(), override.role
                    )
                self._make_live(session, row, by, "promote", loader)
                return _record(row)
        except _LoadFailed as failed:
            raise self._load_failed(failed) from failed.__cause__

    def _load_failed(self, failed: _LoadFailed) -> TrainingError:
        """Audit a load that failed (in its own transaction: the promotion's was rolled back) and say so."""
        self._audit_apart(failed.model_id, failed.by, failed.error)
        message = "the model could not be loaded; nothing changed"
        return TrainingError("load_failed", message, model_id=failed.model_id, error=failed.error)

    def rollback(self, to_id: int, by: str, *, loader: ModelLoader | None = None) -> ModelRecord:
        """Make an earlier live model (now retired) live again. :class:`TrainingError` codes: ``unknown_model``,
        ``not_rollback_target`` (never live, rejected or live now), ``load_failed``."""
        try:
            with self._session() as session:
                row = self._row(session, to_id)
                if row.state != "retired" or row.promoted_at is None:
                    raise TrainingError(
                        "not_rollback_target",
                        "only a model that was live can be restored",
                        model_id=to_id,
                        state=row.state,
                    )
                self._make_live(session, row, by, "rollback", loader)
                return _record(row)
        except _LoadFailed as failed:
            raise self._load_failed(failed) from failed.__cause__

    def reject(self, model_id: int, by: str, reason: str) -> ModelRecord:
        """Reject a candidate (or a retired model). :class:`TrainingError` codes: ``unknown_model``, ``is_live``
        (roll back first), ``reason_too_short``."""
        reason = " ".join((reason or "").split())
        if not reason:
            raise TrainingError("reason_too_short", "a rejection needs a reason")
        with self._session() as session:
            row = self._row(session, model_id)
            if row.state == "live":
                raise TrainingError("is_live", "the live model cannot be rejected; roll back first", model_id=model_id)
            row.state, row.rejected_at, row.rejected_by, row.rejected_reason = "rejected", naive_utc(), by, reason
            self._audit(session, row.id, "reject", by, reason)
            return _record(row)

    # -- internals -------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, model_id: int) -> ModelRow:
        row = session.get(ModelRow, model_id)
        if row is None:
            raise TrainingError("unknown_model", "no model with this id", model_id=model_id)
        return row

    @staticmethod
    def _gate(session: Session, row: ModelRow) -> GateResult:
        live = session.execute(select(ModelRow).where(ModelRow.state == "live")).scalar_one_or_none()
        extra: list[Failure] = []
        if row.state == "rejected":
            extra.append(Failure("rejected", row.rejected_reason or "", None, row.state))
        if row.report is None:
            extra.append(Failure("report", "no evaluation report", None, None))
        result = check(row.report or {}, None if live is None or live.id == row.id else live.report or {})
        failures = (*extra, *result.failures)
        return GateResult(not failures, failures)

    def _make_live(self, session: Session, row: ModelRow, by: str, action: str, loader: ModelLoader | None) -> None:
        now = naive_utc()
        previous = session.execute(select(ModelRow).where(ModelRow.state == "live")).scalar_one_or_none()
        if previous is not None:
            previous.state, previous.live_slot = "retired", None
            session.flush()  # free the live slot before taking it (the unique constraint)
            self._audit(session, previous.id, "retire", by, detail={"replaced_by": row.id})
        if action == "promote":
            row.promoted_at, row.promoted_by = now, by
        row.state, row.live_slot = "live", 1
        self._audit(session, row.id, action, by, detail={"previous": previous.id if previous else None})
        session.flush()
        if loader is None:
            return
        try:
            loader.load(row.model_file)
        except Exception as exc:
            raise _LoadFailed(row.id, by, type(exc).__name__) from exc

    @staticmethod
    def _audit(
        session: Session,
        model_id: int,
        action: str,
        by: str,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        role: str | None = None,
    ) -> None:
        session.add(
            ModelEventRow(
                model_id=model_id, action=action, by=by, role=role, at=naive_utc(), reason=reason, detail=detail
            )
        )

    def _audit_apart(self, model_id: int, by: str, error: str) -> None:
        with self._session() as session:
            self._audit(session, model_id, "load_failed", by, detail={"error": error})
