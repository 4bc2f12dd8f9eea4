"""The help desk as the actions and the console use it (no Rasa or web imports).

:class:`CitizenDesk` is the citizen's side, called by the actions: ask for a person (queue, or say
when staff are back and offer a call-back), leave the queue, leave a phone number.
:class:`StaffDesk` is the staff's side, called by the console: claim, reply, transfer, close,
presence. Staff replies reach the citizen through Rasa's HTTP API (:mod:`bot.rasa_client`):
``append_events`` with a bot event and ``execute_side_effects``, on the channel the conversation
came from; closing resumes the bot and triggers ``EXTERNAL_handoff_closed`` so that the dialogue
tells the citizen and asks for a rating. Every state lives in the database (the handoff queue,
presence) or in Rasa's tracker (paused), so several Rasa replicas and console workers agree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot import dialogue
from bot.conversations.query import ConversationRecord
from bot.db import TransactionalStore, engine_for
from bot.db.clock import naive_utc, utcnow
from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.callbacks import CallbackBook, CallbackError
from bot.helpdesk.handoff import REASONS, WAITING, Handoff, HandoffConflict, HandoffDesk, HandoffError
from bot.helpdesk.hours import office_calendar
from bot.helpdesk.models import PresenceRow
from bot.privacy import mask_phone
from bot.rasa_client import RasaClient, RasaClientError, RasaRejected
from bot.replies import Button, Reply, payload
from bot.settings import settings
from bot.text import UNWANTED_CHARS, nfc, strip_diacritics
from bot.wording import text

__all__ = [
    "CLOSED_INTENT",
    "PUSH_CHANNELS",
    "CitizenDesk",
    "Delivery",
    "HandoffOutcome",
    "NoticeNotSent",
    "StaffDesk",
    "channel_of",
    "is_leave_request",
]

logger = logging.getLogger(__name__)

#: Channels whose connector can push a message Rasa did not answer to (a staff reply): the widget's
#: socket.io, Telegram and Zalo. Rasa's REST channel answers only inside the HTTP request.
PUSH_CHANNELS = frozenset({"socketio", "telegram_ptb", "zalo"})
ZALO = "zalo"
#: Triggered after a staff member closes: the dialogue tells the citizen and asks for a rating.
CLOSED_INTENT = "EXTERNAL_handoff_closed"
MAX_REPLY_CHARS = 2000
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: The replies a staff member can pick in the console, in the order offered (citizen.vi.yml, staff.canned).
CANNED_REPLIES = (
    "staff.canned.greeting",
    "staff.canned.check",
    "staff.canned.portal",
    "staff.canned.office",
    "staff.canned.anything_else",
    "staff.canned.goodbye",
)
# Withdrawing a request for a person: a short message starts with one of these words, or any holds one of these
# phrases. Typed with diacritics they must match with them ("thời gian" is not "thôi", "Huy" is not
# "hủy"); a message typed without any diacritic is compared without them.
_LEAVE_FIRST_WORDS = frozenset({"thôi", "hủy", "huỷ", "khỏi"})
_LEAVE_PHRASES = ("không chờ nữa", "không cần nữa", "không muốn chờ", "rời hàng chờ", "hủy yêu cầu", "huỷ yêu cầu",
                  "không gặp nữa", "ko chờ nữa", "k chờ nữa")  # fmt: skip
_WORD = re.compile(r"\w+")


def is_leave_request(message: str | None) -> bool:
    """True for a message that withdraws a request for a person: it starts with "thôi", "hủy" or
    "khỏi", or says "không chờ nữa", "hủy yêu cầu"… ("thoi ko cho nua" typed without diacritics too).

    Read by the Rasa process while a conversation is paused, where the NLU's intent is not used; a
    question such as "thời gian chờ bao lâu" or a name such as "Huy" does not leave the queue.
    """
    typed = nfc(message or "").lower()
    words = _WORD.findall(typed)
    if not words or len(words) > 12:
        return False
    if strip_diacritics(typed) == typed:  # typed without diacritics: compare folded forms
        first_words = {strip_diacritics(w) for w in _LEAVE_FIRST_WORDS}
        phrases = tuple(strip_diacritics(p) for p in _LEAVE_PHRASES)
    else:
        first_words, phrases = set(_LEAVE_FIRST_WORDS), _LEAVE_PHRASES
    joined = " ".join(words)
    # A short message only ("thôi", "hủy nhé"): "hủy đăng ký thường trú cần gì" is a question for the staff.
    return (len(words) <= 4 and words[0] in first_words) or any(f" {p} " in f" {joined} " for p in phrases)


def channel_of(sender_id: str) -> str:
    """The channel a conversation id belongs to: its prefix (``"zalo:123"`` -> ``"zalo"``), else ``"rest"``."""
    prefix, sep, _ = sender_id.partition(":")
    return prefix if sep and prefix else "rest"


class NoticeNotSent(HandoffError):
    """The handoff was closed, but Rasa could not be told: the bot resumes on the citizen's next message
    (the Rasa process sees no open handoff), the closing notice and the rating were not sent."""


@dataclass(frozen=True)
class HandoffOutcome:
    """What the bot says when a person is asked for, and whether the conversation is now paused."""

    reply: Reply
    paused: bool
    handoff: Handoff | None = None


@dataclass(frozen=True)
class Delivery:
    """Whether a staff message reached the citizen; ``problem`` says why not: ``rest_no_push``,
    ``zalo_window`` (outside Zalo's 7-day messaging window), ``zalo_free_window`` (past the free 48 hours,
    paid messages off), ``rasa_unavailable`` or ``rasa_rejected``."""

    sent: bool
    problem: str | None = None


class _Presence(TransactionalStore):
    """Who is online: the console records each agent's polls (table ``helpdesk_presence``)."""

    def seen(self, agent: str, at: datetime | None = None) -> None:
        when = naive_utc(at)
        with self._session() as session:
            row = session.get(PresenceRow, agent)
            if row is None:
                session.add(PresenceRow(agent=agent, last_seen=when))
            elif row.last_seen < when:
                row.last_seen = when

    def online(self, at: datetime | None = None) -> list[str]:
        since = naive_utc(at) - timedelta(seconds=settings().helpdesk.presence_seconds)
        with self._session() as session:
            rows = session.scalars(select(PresenceRow.agent).where(PresenceRow.last_seen >= since)).all()
            return sorted(rows)


class CitizenDesk:
    """The citizen's side of the help desk, for the actions (blocking: call it in a worker thread)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or engine_for()
        self.desk = HandoffDesk(self.engine)
        self.callbacks = CallbackBook(self.engine)
        self._presence = _Presence(self.engine)
        self._days = CalendarDays(self.engine)

    def request(self, sender_id: str, reason: str = "asked", now: datetime | None = None) -> HandoffOutcome:
        """Ask for a person: queue the conversation (the caller then pauses the bot) when the desk is
        open and someone is online; otherwise say when staff are back, or that no one is online, and
        offer a call-back. :class:`bot.helpdesk.handoff.HandoffError` for an unknown ``reason``."""
        if reason not in REASONS:
            raise HandoffError(f"unknown handoff reason {reason!r}; expected one of {', '.join(REASONS)}")
        hd = settings().helpdesk
        channel = channel_of(sender_id)
        if channel not in PUSH_CHANNELS:
            hotline = text("dialogue.no_push_channel", hotline=hd.hotline, office_hours=hd.office_hours)
            return HandoffOutcome(Reply(hotline), False)
        current = self.desk.current(sender_id)
        if current is not None:
            position = self.desk.position(current.id)
            if position is not None:
                again = Reply(text("dialogue.queued_again", position=position), (self._leave_button(),))
                return HandoffOutcome(again, True, current)
            return HandoffOutcome(Reply(text("dialogue.staff_joined")), True, current)
        now = now or utcnow()
        calendar = office_calendar(self._days.split())
        if not calendar.is_open(now):
            closed = dialogue.closed_hours(calendar, now)
            return HandoffOutcome(self._with_callback(closed.text), False)
        if not self._presence.online(now):
            return HandoffOutcome(self.after_giving_up(), False)
        handoff = self.desk.open(sender_id, channel, reason)
        position = self.desk.position(handoff.id) or 1
        minutes = max(1, round(position * hd.minutes_per_citizen))
        reply = Reply(text("dialogue.queued", position=position, minutes=minutes), (self._leave_button(),))
        return HandoffOutcome(reply, True, handoff)

    def leave(self, sender_id: str) -> bool:
        """The citizen takes back a waiting request; False when none was waiting (a person already has it)."""
        return self.desk.leave(sender_id) is not None

    def give_up_if_unstaffed(self, sender_id: str) -> bool:
        """A waiting citizen writes and no agent is online any more (the last one left): the handoff
        closes as ``no_answer`` so that the bot can say so and offer a call-back, instead of leaving the
        citizen in a silent queue. False when an agent is online or the handoff is not waiting."""
        if self._presence.online():
            return False
        return self.desk.leave(sender_id, end_reason="no_answer") is not None

    def after_leaving(self) -> Reply:
        """What the bot says when the citizen took back a waiting request."""
        return Reply(text("dialogue.left_queue"))

    def after_giving_up(self) -> Reply:
        """No agent online (asked for a person, or the queue was given up): the hotline and a call-back offer."""
        hd = settings().helpdesk
        return self._with_callback(text("dialogue.no_staff", hotline=hd.hotline, office_hours=hd.office_hours))

    def left_reply(self, sender_id: str) -> Reply:
        """The reply after the conversation left the queue: :meth:`after_giving_up` when nobody was
        online, else :meth:`after_leaving`."""
        last = self.desk.last(sender_id)
        return self.after_giving_up() if last is not None and last.end_reason == "no_answer" else self.after_leaving()

    def still_open(self, sender_id: str) -> bool:
        """Whether the conversation has a handoff that is not closed (the bot must stay silent)."""
        return self.desk.current(sender_id) is not None

    def leave_call_back(self, sender_id: str, message: str) -> Reply | None:
        """Record the phone number in ``message`` for a call-back: the confirmation, or None when the
        message holds no Vietnamese phone number (ask again)."""
        try:
            callback = self.callbacks.add(sender_id, channel_of(sender_id), message)
        except CallbackError:
            return None
        logger.info("call-back request %s recorded", callback.id)
        return Reply(text("dialogue.callback_saved", phone=mask_phone(callback.phone)))

    @staticmethod
    def _leave_button() -> Button:
        return Button(text("button.leave_queue"), payload("cancel"))

    @staticmethod
    def _with_callback(first: str) -> Reply:
        button = Button(text("button.callback"), payload("request_callback"))
        return Reply(f"{first}\n{text('dialogue.callback_offer')}", (button,))


class StaffDesk:
    """The staff's side of the help desk, for the console (blocking calls).

    ``last_message_at(channel, platform_user_id)`` tells when a user last wrote, as the channel recorded
    it on receipt (the console passes :meth:`bot.channels.store.ChannelStore.last_user_message`); Zalo's
    messaging window is counted from it or from the record of conversations, whichever is later.
    """

    def __init__(
        self,
        desk: HandoffDesk | None = None,
        rasa: RasaClient | None = None,
        record: ConversationRecord | None = None,
        engine: Engine | None = None,
        last_message_at: Callable[[str, str], datetime | None] | None = None,
    ) -> None:
        self.engine = engine or (desk.engine if desk is not None else engine_for())
        self.desk = desk or HandoffDesk(self.engine)
        self.rasa = rasa or RasaClient()
        self.record = record or ConversationRecord(self.engine)
        self._presence = _Presence(self.engine)
        # (channel, platform user id) -> when the user last wrote, as the channel itself recorded it on
        # receipt (bot.channels.store); the record of conversations lags by a turn, so both are read.
        self._last_message_at = last_message_at

    # -- presence -------------------------------------------------------------------------------

    def seen(self, agent: str) -> None:
        """The console heard from ``agent`` now (each queue poll): online for ``HELPDESK_PRESENCE_SECONDS``."""
        self._presence.seen(agent)

    def online(self) -> list[str]:
        """Agents the console heard from recently, by name."""
        return self._presence.online()

    @staticmethod
    def canned_replies() -> list[tuple[str, str]]:
        """(key, text) of the canned replies (:data:`CANNED_REPLIES`, sentences of the wording file)."""
        return [(key, text(key)) for key in CANNED_REPLIES]

    # -- the handoff ----------------------------------------------------------------------------

    def claim(self, handoff_id: int, agent: str) -> Handoff:
        """``agent`` takes a waiting handoff (:class:`HandoffConflict` when someone else was first) and the
        citizen is told a person has joined (a failed notice is logged, the claim stands)."""
        handoff = self.desk.claim(handoff_id, agent)
        self._push(handoff, text("dialogue.staff_joined"), agent)
        return handoff

    def reply(self, handoff_id: int, agent: str, message: str) -> Delivery:
        """Send ``message`` from ``agent`` (who must hold the handoff) to the citizen on their channel.

        :class:`HandoffError` for an empty or over-long message (``MAX_REPLY_CHARS``),
        :class:`HandoffConflict` when the handoff is not active or held by someone else.
        """
        # What the citizen's app would render oddly or not at all: control characters, bidi overrides.
        message = _BIDI_CONTROLS.sub("", UNWANTED_CHARS.sub("", message or "")).strip()
        if not message:
            raise HandoffError("the reply is empty")
        if len(message) > MAX_REPLY_CHARS:
            raise HandoffError(f"the reply is longer than {MAX_REPLY_CHARS} characters")
        handoff = self._held(handoff_id, agent)
        return self._push(handoff, message, agent)

    def take_over(self, handoff_id: int, agent: str) -> Handoff:
        """A supervisor or admin takes an active handoff held by someone else (the console checks the role);
        :class:`HandoffConflict` unless it is active."""
        return self.desk.take_over(handoff_id, agent)

    def transfer(self, handoff_id: int, from_agent: str, to_agent: str) -> Handoff:
        """Hand an active handoff to a colleague (:class:`HandoffConflict` unless ``from_agent`` holds it)."""
        if not to_agent or to_agent == from_agent:
            raise HandoffError("choose another staff member to transfer to")
        return self.desk.transfer(handoff_id, from_agent, to_agent)

    def close(self, handoff_id: int, agent: str, end_reason: str) -> Handoff:
        """Close the handoff, resume the bot and let the dialogue tell the citizen (and ask for a rating).

        The handoff is closed first, so the citizen's next message is answered by the bot even if Rasa
        cannot be reached now (the Rasa process resumes a paused conversation that has no open
        handoff); :class:`HandoffError` then says the notice was not sent.
        """
        handoff = self.desk.close(handoff_id, agent, end_reason)
        try:
            self.resume(handoff, agent)
        except RasaClientError as exc:
            logger.warning("handoff %s closed but Rasa was not told: %s", handoff.id, exc)
            raise NoticeNotSent(f"handoff {handoff.id} closed; Rasa did not answer, the citizen was not told") from None
        return handoff

    def resume(self, handoff: Handoff, agent: str) -> None:
        """Resume the bot in the handoff's conversation (``resume`` then ``action_listen``) and trigger
        :data:`CLOSED_INTENT`. Raises :class:`RasaClientError`."""
        # action_listen: the dialogue is back at "waiting for the citizen", so the rules apply again.
        self.rasa.append_events(handoff.sender_id, [{"event": "resume"}, {"event": "action", "name": "action_listen"}])
        channel = handoff.channel if handoff.channel in PUSH_CHANNELS else None
        self.rasa.trigger_intent(handoff.sender_id, CLOSED_INTENT, {"agent": agent}, output_channel=channel)

    # -- internals ------------------------------------------------------------------------------

    def _held(self, handoff_id: int, agent: str) -> Handoff:
        for handoff in self.desk.queue():
            if handoff.id == handoff_id:
                if handoff.state == WAITING or handoff.agent != agent:
                    break
                return handoff
        raise HandoffConflict(f"handoff {handoff_id} is not active with {agent}: claim it first")

    def _push(self, handoff: Handoff, message: str, agent: str) -> Delivery:
        if handoff.channel not in PUSH_CHANNELS:
            return Delivery(False, "rest_no_push")
        if handoff.channel == ZALO:
            problem = self._zalo_window_problem(handoff.sender_id)
            if problem is not None:
                logger.warning("staff message for handoff %s not sent: %s", handoff.id, problem)
                return Delivery(False, problem)
        event = {"event": "bot", "text": message, "timestamp": utcnow().timestamp(), "metadata": {"agent": agent}}
        try:
            self.rasa.append_events(
                handoff.sender_id, [event], output_channel=handoff.channel, execute_side_effects=True
            )
        except RasaRejected as exc:
            logger.warning("staff message for handoff %s refused by Rasa: %s", handoff.id, exc)
            return Delivery(False, "rasa_rejected")
        except RasaClientError as exc:
            logger.warning("staff message for handoff %s not delivered: %s", handoff.id, exc)
            return Delivery(False, "rasa_unavailable")
        return Delivery(True)

    def _zalo_window_problem(self, sender_id: str) -> str | None:
        """Why Zalo would refuse a staff message now (``zalo_window``, ``zalo_free_window``), or None."""
        seen = [self.record.last_citizen_at(sender_id)]
        if self._last_message_at is not None:
            seen.append(self._last_message_at(ZALO, sender_id.partition(":")[2]))
        last = max((naive_utc(t) for t in seen if t is not None), default=None)
        channels = settings().channels
        window = "closed" if last is None else channels.zalo_window(naive_utc() - naive_utc(last))
        if window == "closed":
            return "zalo_window"
        if window == "paid" and not channels.zalo_paid_messages:
            return "zalo_free_window"
        return None
