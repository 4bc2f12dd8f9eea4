"""Channel state kept in the database: OAuth tokens, seen webhook events, users' last message time.

Several Rasa replicas may serve the same Zalo OA. A Zalo refresh token works
once, so exactly one replica may spend it: :meth:`ChannelStore.try_lease`
is a compare-and-swap on the token row's ``version`` that grants a short
lease; the winner calls the OAuth endpoint and stores the new pair with
:meth:`ChannelStore.save_refreshed` (again conditional on the version), the
others wait for the version to move and then use the new access token.
Portable to SQLite and PostgreSQL because it needs no ``SELECT ... FOR UPDATE``.

All methods are blocking; async callers wrap them in ``asyncio.to_thread``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, String, Text, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db import Base, engine_for


def utcnow() -> datetime:
    """Timezone-naive UTC now (what SQLite stores)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class OAuthToken(Base):
    """The current access/refresh token pair of one provider account (e.g. ``zalo:<app_id>``)."""

    __tablename__ = "channel_oauth_tokens"

    provider = Column(String(100), primary_key=True)
    access_token = Column(Text, nullable=False)
    refresh_token = Column(Text, nullable=False)
    access_expires_at = Column(DateTime, nullable=True)
    version = Column(Integer, nullable=False, default=1)
    lease_until = Column(DateTime, nullable=True)
    updated_at = Column(DateTime, nullable=False, default=utcnow)


class SeenEvent(Base):
    """Webhook events already accepted, to reject replays across replicas."""

    __tablename__ = "channel_seen_events"

    event_key = Column(String(200), primary_key=True)
    seen_at = Column(DateTime, nullable=False, default=utcnow)


class UserActivity(Base):
    """When a user last wrote to us on a channel (Zalo only lets the OA answer within a window)."""

    __tablename__ = "channel_user_activity"

    channel = Column(String(40), primary_key=True)
    user_id = Column(String(100), primary_key=True)
    last_user_message_at = Column(DateTime, nullable=False)


TABLES = [OAuthToken.__table__, SeenEvent.__table__, UserActivity.__table__]


@dataclass(frozen=True)
class TokenState:
    """A snapshot of a token row."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime | None
    version: int


class Lease(enum.Enum):
    """Outcome of :meth:`ChannelStore.try_lease`."""

    WON = "won"  # this caller must refresh now
    CHANGED = "changed"  # someone already refreshed: reload and use the new token
    BUSY = "busy"  # someone is refreshing right now: wait and retry


class ChannelStore:
    """Blocking data access for channel state."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or engine_for()
        self._ready = False

    def ensure_tables(self) -> None:
        """Create the channel tables if missing (idempotent; a migration may also create them)."""
        if not self._ready:
            Base.metadata.create_all(self.engine, tables=TABLES, checkfirst=True)
            self._ready = True

    # -- tokens ---------------------------------------------------------------------------------------------
    def load_token(self, provider: str) -> TokenState | None:
        """The stored token pair, or ``None``."""
        self.ensure_tables()
        with self.engine.connect() as conn:
            row = conn.execute(select(OAuthToken.__table__).where(OAuthToken.provider == provider)).first()
        if row is None:
            return None
        return TokenState(row.access_token, row.refresh_token, row.access_expires_at, row.version)

    def seed_token(self, provider: str, access_token: str, refresh_token: str) -> TokenState | None:
        """Store the initial pair from configuration unless a (newer) pair is already stored."""
        self.ensure_tables()
        if refresh_token:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(OAuthToken.__table__).values(
                            provider=provider,
                            access_token=access_token,
                            refresh_token=refresh_token,
                            access_expires_at=None,
                            version=1,
                            updated_at=utcnow(),
                        )
                    )
            except IntegrityError:
                pass  # the database already holds a pair: it is newer than the configured seed
        return self.load_token(provider)

    def replace_token(self, provider: str, access_token: str, refresh_token: str) -> TokenState:
        """Store a pair obtained by re-authorising the app (the old pair is dead); bumps the version."""
        self.ensure_tables()
        t = OAuthToken.__table__
        values = {"access_token": access_token, "refresh_token": refresh_token, "access_expires_at": None}
        with self.engine.begin() as conn:
            updated = conn.execute(
                update(t)
                .where(t.c.provider == provider)
                .values(**values, version=t.c.version + 1, lease_until=None, updated_at=utcnow())
            ).rowcount
            if not updated:
                conn.execute(insert(t).values(provider=provider, **values, version=1, updated_at=utcnow()))
        state = self.load_token(provider)
        assert state is not None
        return state

    def try_lease(self, provider: str, seen_version: int, seconds: float = 30.0) -> Lease:
        """Claim the right to spend the refresh token of ``seen_version`` (compare-and-swap)."""
        now = utcnow()
        t = OAuthToken.__table__
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.provider == provider, t.c.version == seen_version)
                .where((t.c.lease_until.is_(None)) | (t.c.lease_until < now))
                .values(lease_until=now + timedelta(seconds=seconds))
            )
            if result.rowcount == 1:
                return Lease.WON
            current = conn.execute(select(t.c.version).where(t.c.provider == provider)).scalar_one_or_none()
        return Lease.BUSY if current == seen_version else Lease.CHANGED

    def save_refreshed(
        self, provider: str, seen_version: int, access_token: str, refresh_token: str, expires_in: float | None
    ) -> bool:
        """Store the new pair if the row is still at ``seen_version``; returns whether it was stored."""
        t = OAuthToken.__table__
        now = utcnow()
        expires = now + timedelta(seconds=expires_in) if expires_in else None
        with self.engine.begin() as conn:
            result = conn.execute(
                update(t)
                .where(t.c.provider == provider, t.c.version == seen_version)
                .values(
                    access_token=access_token,
                    refresh_token=refresh_token,
                    access_expires_at=expires,
                    version=seen_version + 1,
                    lease_until=None,
                    updated_at=now,
                )
            )
        return result.rowcount == 1

    def release_lease(self, provider: str, seen_version: int) -> None:
        """Give the lease back after a failed refresh so another attempt can be made."""
        t = OAuthToken.__table__
        with self.engine.begin() as conn:
            conn.execute(
                update(t).where(t.c.provider == provider, t.c.version == seen_version).values(lease_until=None)
            )

    # -- replay protection ----------------------------------------------------------------------------------
    def remember_event(self, event_key: str, keep_seconds: float) -> bool:
        """Record an event; ``False`` when it was already seen (a replay or a retry)."""
        self.ensure_tables()
        now = utcnow()
        t = SeenEvent.__table__
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(t).where(t.c.seen_at < now - timedelta(seconds=keep_seconds)))
                conn.execute(insert(t).values(event_key=event_key[:200], seen_at=now))
        except IntegrityError:
            return False
        return True

    # -- messaging window -----------------------------------------------------------------------------------
    def touch_user(self, channel: str, user_id: str, when: datetime | None = None) -> None:
        """Record that ``user_id`` just wrote to us."""
        self.ensure_tables()
        when = when or utcnow()
        t = UserActivity.__table__
        where = (t.c.channel == channel, t.c.user_id == user_id)
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(*where).values(last_user_message_at=when)).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t).values(channel=channel, user_id=user_id, last_user_message_at=when))
        except IntegrityError:  # another replica inserted it meanwhile
            with self.engine.begin() as conn:
                conn.execute(update(t).where(*where).values(last_user_message_at=when))

    def last_user_message(self, channel: str, user_id: str) -> datetime | None:
        """When ``user_id`` last wrote to us, or ``None``."""
        self.ensure_tables()
        t = UserActivity.__table__
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.c.last_user_message_at).where(t.c.channel == channel, t.c.user_id == user_id)
            ).scalar_one_or_none()
