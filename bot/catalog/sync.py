"""Fetch the public catalogue and procedure details from the portal's API (``catalog sync``).

Writes the same layout as the reference snapshot, so :func:`bot.catalog.importer.import_portal`
reads either: ``catalog.jsonl`` (one catalogue row a line) and ``details/<code>.json`` (the
raw detail response), plus ``sync-state.json`` which makes a run resumable: catalogue pages
already fetched and details already saved are not fetched again.

The request shapes are not documented by the portal; the field names below are guesses
kept in constants so they can be corrected in one place.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from bot.catalog.errors import PortalSyncError
from bot.settings import settings

logger = logging.getLogger(__name__)

LIST_PATH = "/api/v1/submitting/formality/list-all-public-formality-by-citizen"
DETAIL_PATH = "/api/v1/configuring/formality/get-formality-by-citizen"
LIST_CURSOR_FIELD = "lastId"  # request body: the id of the last row already received (None for the first page)
LIST_SIZE_FIELD = "size"  # request body: rows per page
LIST_ROWS_FIELDS = ("rows", "items", "content", "data")  # where the page's rows may be in ``data``
LIST_NEXT_CURSOR_FIELD = "lastId"  # response ``data``: next cursor, if the portal sends one
DETAIL_ID_FIELD = "id"  # request body of the detail endpoint
PAGE_SIZE = 100

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
STATE_FILE = "sync-state.json"


@dataclass
class SyncSummary:
    """What a sync run did."""

    pages: int = 0
    rows_new: int = 0
    rows_total: int = 0
    details_fetched: int = 0
    details_skipped: int = 0
    details_pending: int = 0
    catalog_complete: bool = False
    retries: int = 0
    failures: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        done = "complete" if self.catalog_complete else "incomplete"
        text = (
            f"catalogue {done}: {self.rows_total} row(s) ({self.rows_new} new, {self.pages} page(s) fetched); "
            f"details: {self.details_fetched} fetched, {self.details_skipped} already there, "
            f"{self.details_pending} left; {self.retries} retr(y/ies)"
        )
        return text + "".join(f"\n  failed: {f}" for f in self.failures)


class PortalClient:
    """A polite client of the portal's public API: browser User-Agent, timeout, retries with back-off."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = (base_url or settings().catalog.portal_base_url).rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json, text/plain, */*",
                "Content-Type": "application/json",
                "Accept-Language": "vi-VN,vi;q=0.9",
            }
        )
        self.timeout, self.retries, self.backoff, self.delay = timeout, retries, backoff, delay
        self.sleep = sleep
        self.retry_count = 0
        self._last_request = 0.0

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` and return the response's ``data``; retries connection errors, 429 and 5xx."""
        url = f"{self.base_url}{path}"
        for attempt in range(self.retries + 1):
            wait = self.delay - (time.monotonic() - self._last_request)
            if wait > 0:
                self.sleep(wait)  # polite: never hammer the portal
            self._last_request = time.monotonic()
            try:
                resp = self.session.post(url, json=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem, retry_after = f"{type(exc).__name__}: {exc}", None
            else:
                if resp.status_code in (200, 201):
                    return self._data(resp, url)
                if resp.status_code not in RETRY_STATUSES:
                    raise PortalSyncError(f"{url}: HTTP {resp.status_code}: {resp.text[:200]}")
                problem, retry_after = f"HTTP {resp.status_code}", resp.headers.get("Retry-After")
            if attempt == self.retries:
                raise PortalSyncError(f"{url}: {problem} (gave up after {self.retries + 1} attempts)")
            pause = self.backoff * (2**attempt)
            if retry_after and retry_after.isdigit():
                pause = max(pause, float(retry_after))
            self.retry_count += 1
            logger.warning("%s: %s; retrying in %.1f s", url, problem, pause)
            self.sleep(pause)
        raise AssertionError("unreachable")

    @staticmethod
    def _data(resp: requests.Response, url: str) -> Any:
        try:
            payload = resp.json()
        except ValueError as exc:
            raise PortalSyncError(f"{url}: response is not JSON: {resp.text[:200]!r}") from exc
        if not isinstance(payload, dict) or payload.get("code") != "OK" or "data" not in payload:
            code = payload.get("code") if isinstance(payload, dict) else type(payload).__name__
            raise PortalSyncError(f"{url}: unexpected answer (code {code!r})")
        return payload["data"]

    def catalog_page(self, last_id: str | None, size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the public catalogue after ``last_id``: (rows, cursor for the next page)."""
        data = self.post(LIST_PATH, {LIST_CURSOR_FIELD: last_id, LIST_SIZE_FIELD: size})
        rows = data if isinstance(data, list) else None
        if isinstance(data, dict):
            rows = next((data[k] for k in LIST_ROWS_FIELDS if isinstance(data.get(k), list)), None)
        if rows is None:
            raise PortalSyncError(f"{LIST_PATH}: no list of rows in the answer")
        rows = [r for r in rows if isinstance(r, dict)]
        cursor = data.get(LIST_NEXT_CURSOR_FIELD) if isinstance(data, dict) else None
        if not cursor and rows:
            cursor = rows[-1].get("id")
        return rows, cursor

    def detail_response(self, portal_id: str) -> Any:
        """The ``data`` of one procedure's detail record."""
        return self.post(DETAIL_PATH, {DETAIL_ID_FIELD: portal_id})


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _safe_name(code: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "_", code.strip()) or "unknown"


class SyncState:
    """Progress kept in ``sync-state.json`` so an interrupted run resumes where it stopped."""

    def __init__(self, out: Path) -> None:
        self.path = out / STATE_FILE
        data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise PortalSyncError(f"{self.path}: corrupt state file ({exc}); delete it to start over") from exc
        self.last_id: str | None = data.get("last_id")
        self.catalog_complete: bool = bool(data.get("catalog_complete"))
        self.details: dict[str, str] = dict(data.get("details") or {})  # portal id -> file name

    def save(self) -> None:
        _write_json_atomic(
            self.path,
            {"last_id": self.last_id, "catalog_complete": self.catalog_complete, "details": self.details},
        )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by an interruption; it is fetched again
    return rows


def sync(
    out: Path | str,
    client: PortalClient | None = None,
    *,
    limit: int | None = None,
    max_pages: int | None = None,
    page_size: int = PAGE_SIZE,
    codes: set[str] | None = None,
    quiet: bool = False,
) -> SyncSummary:
    """Fetch the catalogue (resuming after the last page saved), then up to ``limit`` missing details.

    ``codes`` restricts the details fetched to those procedure codes. Raises
    :class:`PortalSyncError` when the portal keeps failing; what was saved stays saved.
    """
    out = Path(out)
    (out / "details").mkdir(parents=True, exist_ok=True)
    client = client or PortalClient()
    state = SyncState(out)
    summary = SyncSummary()
    show = not quiet and sys.stderr.isatty()
    catalog_path = out / "catalog.jsonl"

    rows = _read_rows(catalog_path)
    if rows and len(rows) != sum(1 for line in catalog_path.read_text(encoding="utf-8").splitlines() if line.strip()):
        _rewrite_rows(catalog_path, rows)  # drop a half-written last line
    seen = {r.get("id") for r in rows}
    if not state.catalog_complete:
        bar = tqdm(desc="catalogue", unit="row", initial=len(rows), disable=not show, file=sys.stderr)
        try:
            while max_pages is None or summary.pages < max_pages:
                page, cursor = client.catalog_page(state.last_id, page_size)
                summary.pages += 1
                fresh = [r for r in page if r.get("id") not in seen]
                if fresh:
                    with catalog_path.open("a", encoding="utf-8") as fh:
                        for r in fresh:
                            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                    seen.update(r.get("id") for r in fresh)
                    rows += fresh
                    summary.rows_new += len(fresh)
                    bar.update(len(fresh))
                if not page or not cursor or cursor == state.last_id:
                    state.catalog_complete = True
                    state.save()
                    break
                state.last_id = cursor
                state.save()
        finally:
            bar.close()
    summary.catalog_complete = state.catalog_complete
    summary.rows_total = len(rows)

    wanted = [r for r in rows if r.get("id") and (codes is None or str(r.get("code", "")).strip() in codes)]
    todo = []
    for r in wanted:
        name = state.details.get(r["id"])
        if name and (out / "details" / name).is_file():
            summary.details_skipped += 1
        else:
            todo.append(r)
    if limit is not None:
        summary.details_pending = max(0, len(todo) - limit)
        todo = todo[:limit]
    used = {n for n in state.details.values()}
    for r in tqdm(todo, desc="details", unit="proc", disable=not show, file=sys.stderr):
        try:
            data = client.detail_response(r["id"])
        except PortalSyncError as exc:
            summary.failures.append(f"{r.get('code')}: {exc}")
            summary.details_pending += 1
            continue
        name = _safe_name(str(r.get("code") or r["id"])) + ".json"
        if name in used:
            name = f"{name[:-5]}_{r['id'][:8]}.json"  # a provincial variant sharing the code
        _write_json_atomic(out / "details" / name, {"code": "OK", "message": None, "data": data})
        used.add(name)
        state.details[r["id"]] = name
        state.save()
        summary.details_fetched += 1
    summary.retries = client.retry_count
    return summary


def _rewrite_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
