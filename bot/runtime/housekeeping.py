"""Housekeeping: the analytics roll-up on a schedule, the Zalo token keep-alive and the daily retention purge.

``python -m bot housekeeping`` (``make run`` starts it as its fifth process) rolls up the open days
(:meth:`bot.analytics.rollup.Rollup.pending`) and keeps the Zalo OA's token pair alive
(:meth:`bot.channels.zalo.ZaloClient.keep_alive`) at start and every ``ANALYTICS_ROLLUP_MINUTES``, and
purges (:func:`purge`) at start and every day at ``PRIVACY_PURGE_TIME`` (Vietnam time). Both are
idempotent, so a restart, a missed run or a second housekeeper (one per deployment is enough) does
no harm. The purge is wired here, once, for the command line and the schedule alike: Rasa's
conversation lock around each deletion, the analytics roll-ups closed before a day's transcripts
go, and the roll-ups' own retention rules.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.analytics.rollup import Rollup
from bot.db import engine_for
from bot.db.clock import VN_TZ, utcnow
from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.hours import office_calendar
from bot.privacy.lifecycle import DataLifecycle, ErasureReport, PurgeReport, RetentionRule
from bot.privacy.subjects import Subject
from bot.settings import settings

__all__ = ["ANALYTICS_RETENTION", "Housekeeper", "analytics_rollup", "erase", "purge"]

logger = logging.getLogger(__name__)

#: The roll-ups' retention: anonymous figures RETENTION_ROLLUP_DAYS; unanswered messages (citizens'
#: words, masked) as long as the transcripts they come from.
ANALYTICS_RETENTION = (
    RetentionRule("analytics_daily", "day", "rollup"),
    RetentionRule("analytics_durations", "day", "rollup"),
    RetentionRule("analytics_days", "day", "rollup"),
    RetentionRule("analytics_unanswered", "day", "transcript"),
)


def _engine() -> Engine:
    # By URL, not engine_for(): its cache would keep the first DATABASE_URL a process saw.
    return engine_for(settings().core.database_url)


def analytics_rollup() -> Rollup:
    """The roll-up over the configured database, with the help desk's office calendar (admin's days included)."""
    engine = _engine()
    return Rollup(engine, calendar=office_calendar(CalendarDays(engine).split()))


def purge(
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: Callable[[int, int], object] | None = None,
    endpoints: Path | str | None = None,
    now: datetime | None = None,
    lifecycle: DataLifecycle | None = None,
) -> PurgeReport:
    """Erase expired conversations from every store (see :meth:`bot.privacy.lifecycle.DataLifecycle.purge`),
    holding Rasa's conversation lock (``endpoints``: the endpoints file Rasa runs with) and rolling up
    each batch's days first; then the age rules, the roll-ups' own included. ``lifecycle`` replaces the
    default one (``python -m bot privacy purge`` passes its own, with ``--tracker-url``)."""
    from bot.runtime.conversation_lock import conversation_lock, tracker_url

    if lifecycle is None:
        lifecycle = DataLifecycle(
            _engine(),
            tracker_engine=engine_for(tracker_url(endpoints)),
            lock=lambda sender_id: conversation_lock(sender_id, endpoints),
        )
    rollup = analytics_rollup()
    if not dry_run:
        # Every past day rolled up (and so closed) before anything goes: a batch deleting one week's
        # transcripts must not leave a later roll-up of that week counting what is left.
        rollup.pending()
    return lifecycle.purge(
        now,
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        before_delete=rollup.ensure_closed,
        rules=ANALYTICS_RETENTION,
    )


def erase(
    lifecycle: DataLifecycle, subject: Subject, *, reference: str, requested_by: str, override_hold: bool = False
) -> ErasureReport:
    """:meth:`DataLifecycle.erase`, then the dashboard's unanswered messages of the days the person wrote
    recomputed without their words (the console and ``python -m bot privacy erase`` both come here)."""
    rollup = Rollup(lifecycle.engine)
    senders = set(lifecycle.resolve(subject).sender_ids) | ({subject.value} if subject.kind == "sender" else set())
    days = rollup.unanswered_days(senders)
    report = lifecycle.erase(subject, reference=reference, requested_by=requested_by, override_hold=override_hold)
    rollup.refresh_unanswered(days)
    return report


def _next_purge(after: datetime, at: time) -> datetime:
    """The first ``at`` (Vietnam wall clock) strictly after ``after`` (aware)."""
    local = after.astimezone(VN_TZ)
    candidate = datetime.combine(local.date(), at, VN_TZ)
    return candidate if candidate > local else datetime.combine(local.date() + timedelta(days=1), at, VN_TZ)


class Housekeeper:
    """Runs the roll-up every ``rollup_every`` and the purge daily at ``purge_at`` until :meth:`stop`."""

    def __init__(
        self,
        *,
        rollup_every: timedelta | None = None,
        purge_at: time | None = None,
        clock: Callable[[], datetime] = utcnow,
        endpoints: Path | str | None = None,
    ) -> None:
        cfg = settings()
        self.rollup_every = rollup_every or timedelta(minutes=cfg.analytics.rollup_minutes)
        self.purge_at = purge_at or time.fromisoformat(cfg.privacy.purge_time)
        self.clock = clock
        self.endpoints = endpoints
        self._stop = threading.Event()

    def stop(self) -> None:
        """Finish the current step and return from :meth:`run`."""
        self._stop.set()

    def rollup_once(self) -> list[date]:
        """Roll up the open days; errors are logged, not raised (the next round tries again)."""
        try:
            days = analytics_rollup().pending()
            logger.info("housekeeping: rolled up %d day(s)", len(days))
            return days
        except Exception:
            logger.exception("housekeeping: the roll-up failed")
            return []

    def zalo_keep_alive_once(self) -> bool:
        """Keep the Zalo OA's token pair alive when the channel is configured (an OA that sends nothing for
        3 months would lose it); errors are logged, not raised (the next round tries again)."""
        cfg = settings().channels
        if not (cfg.zalo_app_id and cfg.zalo_app_secret and cfg.zalo_refresh_token):
            return False
        try:
            from bot.channels.zalo import ZaloClient

            client = ZaloClient(app_id=cfg.zalo_app_id, app_secret=cfg.zalo_app_secret,
                                access_token=cfg.zalo_access_token, refresh_token=cfg.zalo_refresh_token,
                                api_base=cfg.zalo_api_base, oauth_base=cfg.zalo_oauth_base)  # fmt: skip
            refreshed = asyncio.run(client.keep_alive())
            if refreshed:
                logger.info("housekeeping: Zalo token pair refreshed ahead of expiry")
            return refreshed
        except Exception:
            logger.exception("housekeeping: the Zalo token keep-alive failed")
            return False

    def purge_once(self) -> PurgeReport | None:
        """Purge expired data; errors are logged, not raised (tomorrow's purge tries again)."""
        try:
            report = purge(endpoints=self.endpoints)
            logger.info("housekeeping: purged %d conversation(s), rows %s", report.conversations, report.rows)
            return report
        except Exception:
            logger.exception("housekeeping: the purge failed")
            return None

    def run(self) -> None:
        """Roll up and purge now, then on schedule, until :meth:`stop` (or SIGTERM in :func:`main`)."""
        self.rollup_once()
        self.zalo_keep_alive_once()
        self.purge_once()
        next_rollup = self.clock() + self.rollup_every
        next_purge = _next_purge(self.clock(), self.purge_at)
        while not self._stop.is_set():
            now = self.clock()
            if now >= next_purge:
                self.purge_once()
                next_purge = _next_purge(self.clock(), self.purge_at)
            if now >= next_rollup:
                self.rollup_once()
                self.zalo_keep_alive_once()
                next_rollup = self.clock() + self.rollup_every
            wait = min(next_rollup, next_purge) - self.clock()
            self._stop.wait(max(1.0, min(wait.total_seconds(), 60.0)))


def main(endpoints: Path | str | None = None) -> int:
    """``python -m bot housekeeping``: :meth:`Housekeeper.run` until SIGTERM or SIGINT."""
    # bot.cli logs warnings only; this process's log (var/log/housekeeping.log) should say what it did.
    logging.getLogger("bot").setLevel(logging.INFO)
    from bot.db.schema import ensure_schema

    ensure_schema(_engine())
    keeper = Housekeeper(endpoints=endpoints)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: keeper.stop())
    logger.info("housekeeping: roll-up every %s, purge daily at %s", keeper.rollup_every, keeper.purge_at)
    keeper.run()
    return 0
