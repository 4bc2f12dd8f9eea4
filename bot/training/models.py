"""SQLAlchemy models of the trainer loop (tables ``training_*``, migrations ``0014_training``, ``0016_training_runs``).

Date-times are naive UTC (:func:`bot.db.clock.naive_utc`). Texts come from the record of
conversations, so they are already masked (:func:`bot.privacy.mask_text`); a text is keyed by
:func:`bot.training.data.text_key` hashed (sha1 hex), so that the same message typed many times
is one review.

``training_models.live_slot`` is 1 on the live model and NULL on every other row: its unique
constraint makes "at most one live model" hold in the database itself (NULLs never collide, in
SQLite and PostgreSQL alike); :mod:`bot.training.registry` keeps it equal to ``state == "live"``.
``training_runs.active_slot`` does the same for "at most one training run at a time"
(:mod:`bot.training.runs`).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, String, Text, UniqueConstraint

from bot.db import Base

__all__ = ["FlagRow", "ModelEventRow", "ModelRow", "ReviewRow", "RunRow"]


class FlagRow(Base):
    """A citizen turn a staff member flagged for the trainer ("flag for trainer" in a transcript)."""

    __tablename__ = "training_flags"

    turn_id = Column(Integer, primary_key=True)  # conv_turns.id (the record can be rebuilt: no foreign key)
    text_key = Column(String(40), nullable=False)
    flagged_by = Column(String(100), nullable=False)
    flagged_at = Column(DateTime, nullable=False)
    note = Column(Text, nullable=True)

    __table_args__ = (Index("ix_training_flags_text_key", "text_key"),)


class ReviewRow(Base):
    """The trainer's decision on one folded text: confirmed, changed to another intent, or ignored."""

    __tablename__ = "training_reviews"

    id = Column(Integer, primary_key=True, autoincrement=True)
    text_key = Column(String(40), nullable=False, unique=True)  # sha1 of the folded text
    text = Column(Text, nullable=False)  # as shown in the inbox (masked, NFC)
    decision = Column(String(10), nullable=False)  # confirmed | changed | ignored
    intent = Column(String(100), nullable=True)  # None when ignored
    predicted_intent = Column(String(100), nullable=True)
    entities = Column(JSON, nullable=False)  # [{"entity", "start", "end", "value"}…] on ``text``
    procedure_code = Column(String(40), nullable=True)  # picked from the catalogue search
    decided_by = Column(String(100), nullable=False)
    decided_at = Column(DateTime, nullable=False)
    written_at = Column(DateTime, nullable=True)  # when the writer put it in data/nlu/reviewed/

    __table_args__ = (Index("ix_training_reviews_decided_at", "decided_at"),)


class ModelRow(Base):
    """A trained model: candidate, then live, retired (was live) or rejected."""

    __tablename__ = "training_models"

    id = Column(Integer, primary_key=True, autoincrement=True)
    model_file = Column(String(255), nullable=False)  # path or name of the .tar.gz
    data_hash = Column(String(64), nullable=False)  # bot.runtime.model.training_fingerprint
    trained_at = Column(DateTime, nullable=False)
    trained_by = Column(String(100), nullable=False)
    report = Column(JSON, nullable=True)  # the evaluation report the gate reads
    state = Column(String(10), nullable=False)  # candidate | live | retired | rejected
    live_slot = Column(Integer, nullable=True)  # 1 when live, else NULL (unique: one live model)
    promoted_at = Column(DateTime, nullable=True)
    promoted_by = Column(String(100), nullable=True)
    override_reason = Column(Text, nullable=True)
    rejected_at = Column(DateTime, nullable=True)
    rejected_by = Column(String(100), nullable=True)
    rejected_reason = Column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("live_slot", name="uq_training_models_live_slot"),
        Index("ix_training_models_data_hash", "data_hash"),
    )


class ModelEventRow(Base):
    """The audit of the registry: every register, promote (with its override), reject and rollback."""

    __tablename__ = "training_model_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    model_id = Column(Integer, nullable=False)
    action = Column(String(20), nullable=False)  # register | promote | retire | reject | rollback | load_failed
    by = Column(String(100), nullable=False)
    role = Column(String(20), nullable=True)  # the overriding supervisor's role
    at = Column(DateTime, nullable=False)
    reason = Column(Text, nullable=True)
    detail = Column(JSON, nullable=True)  # the gate's failures an override accepted, the previous live id…

    __table_args__ = (Index("ix_training_model_events_model", "model_id", "id"),)


class RunRow(Base):
    """A background training run (:mod:`bot.training.runs`): validate, train (or reuse), evaluate, register."""

    __tablename__ = "training_runs"

    id = Column(Integer, primary_key=True, autoincrement=True)
    kind = Column(String(12), nullable=False)  # full | incremental (as asked)
    state = Column(String(10), nullable=False)  # running | done | failed | reused
    phase = Column(String(12), nullable=False)  # validating | training | evaluating | done | failed
    progress = Column(Float, nullable=False)  # 0..1
    log_tail = Column(Text, nullable=False)  # last lines of the log, personal data masked
    started_by = Column(String(100), nullable=False)
    started_at = Column(DateTime, nullable=False)
    finished_at = Column(DateTime, nullable=True)
    heartbeat_at = Column(DateTime, nullable=False)  # the job's last sign of life
    root = Column(Text, nullable=False)  # the project tree trained
    data_hash = Column(String(64), nullable=True)
    labels = Column(String(64), nullable=True)  # bot.training.project.label_signature (incremental retrains)
    model_id = Column(Integer, nullable=True)  # training_models.id once registered (or reused)
    error = Column(Text, nullable=True)
    active_slot = Column(Integer, nullable=True)  # 1 while running, else NULL (unique: one run at a time)

    __table_args__ = (
        UniqueConstraint("active_slot", name="uq_training_runs_active_slot"),
        Index("ix_training_runs_model", "model_id"),
    )
