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
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.channels.models import OAuthToken, SeenEvent, UserActivity
from bot.db import engine_for
from bot.db.clock import naive_utc
from bot.db.schema import ensure_schema


@dataclass(frozen=True)
class TokenState:
    """A snapshot of a token row."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime | None
    version: int
    updated_at: datetime | None = None  # when the pair was stored: a refresh token lasts about 3 months


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

    def _ensure_schema(self) -> None:
        """Bring the database to the newest schema once per store (:func:`bot.db.schema.ensure_schema`)."""
        if not self._ready:
            ensure_schema(self.engine)
            self._ready = True

    # -- tokens ---------------------------------------------------------------------------------------------
    def load_token(self, provider: str) -> TokenState | None:
        """The stored token pair, or ``None``."""
        self._ensure_schema()
        with self.engine.connect() as conn:
            row = conn.execute(select(OAuthToken.__table__).where(OAuthToken.provider == provider)).first()
        if row is None:
            return None
        return TokenState(row.access_token, row.refresh_token, row.access_expires_at, row.version, row.updated_at)

    def seed_token(self, provider: str, access_token: str, refresh_token: str) -> TokenState | None:
        """Store the initial pair from configuration unless a (newer) pair is already stored."""
        self._ensure_schema()
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
                            updated_at=naive_utc(),
                        )
                    )
            except IntegrityError:
                pass  # the database already holds a pair: it is newer than the configured seed
        return self.load_token(provider)

    def replace_token(self, provider: str, access_token: str, refresh_token: str) -> TokenState:
        """Store a pair obtained by re-authorising the app (the old pair is dead); bumps the version."""
        self._ensure_schema()
        t = OAuthToken.__table__
        values = {"access_token": access_token, "refresh_token": refresh_token, "access_expires_at": None}
        with self.engine.begin() as conn:
            updated = conn.execute(
                update(t)
                .where(t.c.provider == provider)
                .values(**values, version=t.c.version + 1, lease_until=None, updated_at=naive_utc())
            ).rowcount
            if not updated:
                conn.execute(insert(t).values(provider=provider, **values, version=1, updated_at=naive_utc()))
        state = self.load_token(provider)
        assert state is not None
        return state

    def try_lease(self, provider: str, seen_version: int, seconds: float = 30.0) -> Lease:
        """Claim the right to spend the refresh token of ``seen_version`` (compare-and-swap)."""
        now = naive_utc()
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
        now = naive_utc()
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
        self._ensure_schema()
        now = naive_utc()
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
        """Record that ``user_id`` wrote to us at ``when`` (default now); an older time (an event retried
        late, after a newer one) never moves the last message back."""
        self._ensure_schema()
        when = when or naive_utc()
        t = UserActivity.__table__
        where = (t.c.channel == channel, t.c.user_id == user_id)
        newer = update(t).where(*where, t.c.last_user_message_at < when).values(last_user_message_at=when)
        with self.engine.begin() as conn:
            if conn.execute(newer).rowcount or conn.execute(select(t.c.user_id).where(*where)).first():
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t).values(channel=channel, user_id=user_id, last_user_message_at=when))
        except IntegrityError:  # another replica inserted it meanwhile
            with self.engine.begin() as conn:
                conn.execute(newer)

    def last_user_message(self, channel: str, user_id: str) -> datetime | None:
        """When ``user_id`` last wrote to us, or ``None``."""
        self._ensure_schema()
        t = UserActivity.__table__
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.c.last_user_message_at).where(t.c.channel == channel, t.c.user_id == user_id)
            ).scalar_one_or_none()
