"""Staff accounts of the console: argon2 passwords, lockout after failed logins, roles, session versions.

Blocking (SQLAlchemy): the web app calls these in a worker thread. Times are naive UTC from ``clock``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.console.labels import t
from bot.console.models import UserRow
from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.settings import settings
from bot.text import UNWANTED_CHARS

__all__ = [
    "MIN_PASSWORD_CHARS",
    "ROLES",
    "STAFF_ROLES",
    "AccountError",
    "Accounts",
    "LoginResult",
    "User",
]

#: Every role, from the least to the most trusted.
ROLES = ("agent", "trainer", "supervisor", "admin")
#: Roles that take handoffs (and may receive a transfer).
STAFF_ROLES = ("agent", "supervisor", "admin")
MIN_PASSWORD_CHARS = 10
MAX_USERNAME_CHARS = 100
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
# Unknown user names count failures too (in memory), so "locked" does not tell which accounts exist.
_MAX_GHOSTS = 10_000


class AccountError(ValueError):
    """A refused account change (duplicate user name, weak password, unknown role or user); the message is
    a staff sentence (``errors.account.*``), shown as it is."""


@dataclass(frozen=True)
class User:
    """A console account as the web app sees it (no password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    session_version: int
    locked_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: UserRow) -> User:
        return cls(row.id, row.username, row.display_name or row.username, row.role, bool(row.disabled),
                   row.session_version, row.locked_until, row.created_at)  # fmt: skip

    @property
    def name(self) -> str:
        """How the console shows this user."""
        return self.display_name or self.username


@dataclass(frozen=True)
class LoginResult:
    """``outcome`` is "ok" (``user`` set), "failed" (wrong user or password, disabled) or "locked"."""

    outcome: str
    user: User | None = None


class Accounts(TransactionalStore):
    """Console accounts over ``engine``; ``clock`` gives naive UTC now; ``hasher`` the argon2 parameters."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        hasher: PasswordHasher | None = None,
        max_failed: int | None = None,
        lockout_minutes: float | None = None,
    ) -> None:
        super().__init__(engine)
        self.clock = clock or naive_utc
        self.hasher = hasher or PasswordHasher()
        cfg = settings().console
        self.max_failed = max_failed if max_failed is not None else cfg.max_failed_logins
        self.lockout = timedelta(minutes=lockout_minutes if lockout_minutes is not None else cfg.lockout_minutes)
        self._ghosts: dict[str, tuple[int, datetime | None]] = {}
        self._ghost_lock = threading.Lock()
        self._dummy_hash = ""

    # -- reading -------------------------------------------------------------------------------

    def get(self, user_id: int) -> User | None:
        """The account with id ``user_id``."""
        with self._session() as session:
            row = session.get(UserRow, user_id)
            return User.of(row) if row is not None else None

    def by_name(self, username: str) -> User | None:
        """The account named ``username``."""
        with self._session() as session:
            row = self._row(session, username)
            return User.of(row) if row is not None else None

    def list(self) -> list[User]:
        """Every account, by user name."""
        with self._session() as session:
            return [User.of(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]

    def staff(self) -> list[User]:
        """Enabled accounts that can hold a handoff (agent, supervisor, admin)."""
        return [u for u in self.list() if u.role in STAFF_ROLES and not u.disabled]

    # -- changes ---------------------------------------------------------------------------------

    def create(self, username: str, password: str, role: str, display_name: str = "") -> User:
        """A new account; :class:`AccountError` for a duplicate name, a weak password or an unknown role."""
        username = username.strip().lower()
        # Lower-case letters, digits, "." "_" "-": no look-alikes ("BOSS" beside "boss", zero-width or
        # control characters) in the queue, the transfer list or the audit log.
        if not USERNAME_RE.fullmatch(username) or len(username) > MAX_USERNAME_CHARS:
            raise AccountError(t("errors.account.bad_username", chars=MAX_USERNAME_CHARS))
        display_name = UNWANTED_CHARS.sub("", display_name).strip()
        self._check_role(role)
        self._check_password(password)
        row = UserRow(username=username, display_name=display_name.strip() or username, role=role,
                      password_hash=self.hasher.hash(password), disabled=False, failed_logins=0,
                      session_version=1, created_at=self.clock())  # fmt: skip
        try:
            with self._session() as session:
                if self._row(session, username) is not None:
                    raise AccountError(t("errors.account.taken", username=username))
                session.add(row)
                session.flush()
                return User.of(row)
        except IntegrityError as exc:  # a concurrent create of the same name
            raise AccountError(t("errors.account.taken", username=username)) from exc

    def set_password(self, username: str, password: str) -> User:
        """Change the password (old sessions end, the lockout is lifted)."""
        self._check_password(password)
        return self._change(username, password_hash=self.hasher.hash(password), failed_logins=0,
                            locked_until=None, session_version=UserRow.session_version + 1)  # fmt: skip

    def set_role(self, username: str, role: str) -> User:
        """Give the account another role (its sessions end)."""
        self._check_role(role)
        return self._change(username, role=role, session_version=UserRow.session_version + 1)

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (sessions end at once) or enable an account."""
        return self._change(username, disabled=disabled, session_version=UserRow.session_version + 1)

    def end_sessions(self, user_id: int) -> None:
        """Log out: every cookie issued so far stops working."""
        with self._session() as session:
            session.execute(
                update(UserRow).where(UserRow.id == user_id).values(session_version=UserRow.session_version + 1)
            )

    # -- login -----------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> LoginResult:
        """Check a login; counts failures in a row and locks the account for a while after too many."""
        now = self.clock()
        username = username.strip().lower()[:MAX_USERNAME_CHARS]  # names are lower-case (USERNAME_RE)
        with self._session() as session:
            row = self._row(session, username)
            if row is None:
                self._dummy_hash = self._dummy_hash or self.hasher.hash("not a password of anyone")
                self._verify(self._dummy_hash, password)  # the same time as a real check
                return LoginResult(self._ghost_failure(username, now))
            if row.locked_until is not None and row.locked_until > now:
                return LoginResult("locked")
            if not self._verify(row.password_hash, password) or row.disabled:
                failures = (row.failed_logins or 0) + 1
                if failures >= self.max_failed:
                    row.failed_logins, row.locked_until = 0, now + self.lockout
                    return LoginResult("locked")
                row.failed_logins, row.locked_until = failures, None
                return LoginResult("failed")
            row.failed_logins, row.locked_until = 0, None
            if self.hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self.hasher.hash(password)
            return LoginResult("ok", User.of(row))

    # -- internals -------------------------------------------------------------------------------

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _ghost_failure(self, username: str, now: datetime) -> str:
        key = username.casefold()
        with self._ghost_lock:
            count, until = self._ghosts.get(key, (0, None))
            if until is not None and until > now:
                return "locked"
            count += 1
            if count >= self.max_failed:
                self._ghosts[key] = (0, now + self.lockout)
                return "locked"
            if len(self._ghosts) >= _MAX_GHOSTS:
                self._ghosts.clear()
            self._ghosts[key] = (count, None)
            return "failed"

    @staticmethod
    def _row(session: Session, username: str) -> UserRow | None:
        return session.scalars(select(UserRow).where(UserRow.username == username)).first()

    def _change(self, username: str, **values: object) -> User:
        with self._session() as session:
            changed = session.execute(update(UserRow).where(UserRow.username == username).values(**values)).rowcount
            if not changed:
                raise AccountError(t("errors.account.unknown", username=username))
            row = self._row(session, username)
            assert row is not None
            session.refresh(row)
            return User.of(row)

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise AccountError(t("errors.account.bad_role", role=role, roles=", ".join(ROLES)))

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(t("errors.account.short_password", chars=MIN_PASSWORD_CHARS))
