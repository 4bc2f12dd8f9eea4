"""SQLAlchemy models of the conversation record (tables ``conv_*``, migration ``0008_conversations``).

A read model fed by Rasa's event stream (:mod:`bot.conversations.recorder`); nothing here is the
source of truth: :func:`bot.conversations.rebuild.rebuild` remakes every row from the tracker store.
Date-times are naive UTC (see :func:`bot.db.clock.naive_utc`). Texts are masked
(:func:`bot.privacy.mask_text`) before they are written.

Child tables (procedures, intents, search terms) key on the conversation's integer ``id`` (small
rows, cheap index probes); turns carry the ``sender_id`` the console polls with.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, PrimaryKeyConstraint, String, Text

from bot.db import Base

__all__ = ["ConversationRow", "EventSeenRow", "IntentRow", "ProcedureRow", "TermRow", "TurnRow"]


class ConversationRow(Base):
    """One conversation (Rasa sender id): its summary and the recorder's state (``open_turn_id``)."""

    __tablename__ = "conv_conversations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(255), nullable=False, unique=True)
    channel = Column(String(40), nullable=False)  # "socketio", "telegram_ptb", "zalo", "rest"…
    started_at = Column(DateTime, nullable=False)
    last_at = Column(DateTime, nullable=False)
    last_citizen_at = Column(DateTime, nullable=True)
    turns = Column(Integer, nullable=False)  # citizen messages
    fallbacks = Column(Integer, nullable=False)  # turns that fell back
    lowest_confidence = Column(Float, nullable=True)  # min intent confidence over citizen turns
    handed_off = Column(Boolean, nullable=False)  # a pause event was seen
    paused = Column(Boolean, nullable=False)  # paused now (pause without a later resume)
    rating = Column(Integer, nullable=True)  # CSAT 1-5
    rating_comment = Column(Text, nullable=True)
    rating_target = Column(String(120), nullable=True)  # "bot" or "staff:<agent>"
    model_id = Column(String(100), nullable=True)  # latest seen
    open_turn_id = Column(Integer, nullable=True)  # the turn that bot messages and actions attach to

    __table_args__ = (
        Index("ix_conv_conversations_last", "last_at", "id"),
        Index("ix_conv_conversations_channel_last", "channel", "last_at", "id"),
    )


class TurnRow(Base):
    """One turn: a citizen (or system) message with what the bot did after it, a staff reply or a push."""

    __tablename__ = "conv_turns"

    id = Column(Integer, primary_key=True, autoincrement=True)  # monotonic: the console polls "after id N"
    sender_id = Column(String(255), nullable=False)
    at = Column(DateTime, nullable=False)
    author = Column(String(10), nullable=False)  # citizen | bot | staff | system
    text = Column(Text, nullable=False)  # masked
    sealed = Column(Text, nullable=True)  # encrypted original from the channel, stored as received
    intent = Column(String(100), nullable=True)
    confidence = Column(Float, nullable=True)
    entities = Column(JSON, nullable=True)  # [{"entity", "value" (masked), "start", "end"}…]
    actions = Column(JSON, nullable=True)  # action names run after the message, without action_listen
    reply = Column(Text, nullable=True)  # the bot messages that followed, joined with "\n", masked
    procedure_code = Column(String(40), nullable=True)
    agent = Column(String(100), nullable=True)  # staff turns
    model_id = Column(String(100), nullable=True)
    fallback = Column(Boolean, nullable=False)  # nlu_fallback, or a fallback action ran

    __table_args__ = (
        Index("ix_conv_turns_sender_id", "sender_id", "id"),
        Index("ix_conv_turns_at", "at"),  # the analytics roll-up of a day, the retention purge
    )


class ProcedureRow(Base):
    """A procedure code cited in a conversation (slot ``procedure_code``)."""

    __tablename__ = "conv_procedures"

    conversation_id = Column(Integer, nullable=False)
    code = Column(String(40), nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("conversation_id", "code"),
        Index("ix_conv_procedures_code", "code", "conversation_id"),
    )


class IntentRow(Base):
    """An intent recognised in a conversation's citizen or system messages."""

    __tablename__ = "conv_intents"

    conversation_id = Column(Integer, nullable=False)
    intent = Column(String(100), nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("conversation_id", "intent"),
        Index("ix_conv_intents_intent", "intent", "conversation_id"),
    )


class TermRow(Base):
    """A folded word (:func:`bot.text.words`) of a conversation's turn texts and replies: the text search index."""

    __tablename__ = "conv_terms"

    term = Column(String(40), nullable=False)
    conversation_id = Column(Integer, nullable=False)

    __table_args__ = (PrimaryKeyConstraint("term", "conversation_id"),)


class EventSeenRow(Base):
    """Key of an event already applied (sha1 hex), so that redelivered events change nothing."""

    __tablename__ = "conv_events_seen"

    event_key = Column(String(40), primary_key=True)
