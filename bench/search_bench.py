"""Benchmark procedure search and the resolve decision over the whole portal catalogue.

Builds a scratch SQLite catalogue in a temporary directory exactly as
:func:`bot.runtime.answer_eval.scratch_catalogue` does (``ensure_schema`` +
``load_curated`` + ``import_portal`` of ``../shared/portal-snapshot``, 5,670 rows)
and reads it through the real :class:`bot.catalog.service.ProcedureCatalog`, whose
search index holds, per procedure, its name, curated aliases, the portal's service
groups, case and result names and document names. It reports the index's build time
and memory (tracemalloc), then times, per query, ``catalog.find(text, limit=5)`` and
``catalog.resolve(text)`` (the bot's whole decision path: code lookup, clause windows,
variant words) over a fixed, seeded set of realistic queries, after one untimed
warm-up pass, with p50/p95/p99/max latency, top-1 accuracy per query kind (from
``find`` and from resolve's best candidate) and resolve's decision mix (clear/close/none).

In the same run, as a baseline, it builds the old names-only
:class:`bot.catalog.search.SearchIndex` (portal names from ``catalog.jsonl`` plus the
curated YAML in ``data/catalog``, which replaces portal rows with the same code) and
times ``find`` and ``resolve`` over it on the same queries; passes alternate between the
two indexes so that load from other processes weighs on both alike. Machines differ in
speed, so the rich/baseline ratios of p50 and p95 are printed beside the absolute figures.
The last line checks the requirement: resolve's p95 over the rich index ≤ 5 ms.

Usage: ``.venv/bin/python bench/search_bench.py [--repeat N] [--names N] [--seed N] [--verbose]``
Exits with status 2 when ../shared/portal-snapshot is absent.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.catalog.resolve import Decision, Resolution, resolve  # noqa: E402
from bot.catalog.search import MIN_SCORE, Candidate, SearchEntry, SearchIndex, analyse, load_curated_entries  # noqa: E402
from bot.catalog.service import ProcedureCatalog  # noqa: E402
from bot.text import fold  # noqa: E402

SHARED_DIR = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
SNAPSHOT = SHARED_DIR / "portal-snapshot"
CATALOG = SNAPSHOT / "catalog.jsonl"
TARGET_P95_MS = 5.0
CURATED_DIR = ROOT / "data" / "catalog"
SEED = 20260718


@dataclass(frozen=True)
class Query:
    text: str
    kind: str
    expected: str | None  # expected code; None for an unknown topic
    expected_name: str | None = None  # exact portal name, for generated queries (names repeat across codes)


# Everyday mentions with the code a citizen means. The national record is the
# expected answer where the portal has provincial copies.
EVERYDAY: list[tuple[str, str]] = [
    ("lam cccd", "1.014061"),
    ("làm căn cước", "1.014061"),
    ("làm thẻ căn cước", "1.014061"),
    ("cấp căn cước cho người từ 14 tuổi", "1.014061"),
    ("Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên", "1.014061"),
    ("cap lai the can cuoc", "1.014064"),
    ("cấp đổi thẻ căn cước", "1.014063"),
    ("căn cước cho trẻ dưới 14 tuổi", "1.014062"),
    ("đăng ký tạm trú", "1.004194"),
    ("dk tam tru", "1.004194"),
    ("đk tạm trú online", "1.004194"),
    ("gia hạn tạm trú", "1.002755"),
    ("xóa đăng ký tạm trú", "1.010028"),
    ("đăng ký thường trú", "1.004222"),
    ("nhập hộ khẩu", "1.004222"),
    ("xoa dang ky thuong tru", "1.003197"),
    ("doi bang lai xe", "3.000347"),
    ("đổi gplx", "3.000347"),
    ("gplx hết hạn", "3.000347"),
    ("cấp lại bằng lái xe bị mất", "3.000348"),
    ("cap giay phep lai xe quoc te", "3.000353"),
    ("sang tên sổ đỏ", "1.013831"),
    ("giấy xác nhận độc thân", "1.004873"),
    ("xac nhan tinh trang hon nhan", "1.004873"),
    ("đăng ký kết hôn", "1.000894"),
    ("dk ket hon", "1.000894"),
    ("đăng ký khai sinh", "1.001193"),
    ("làm giấy khai sinh", "1.001193"),
    ("khai sinh", "1.001193"),
    ("dang ky khai tu", "1.000656"),
    ("trích lục khai sinh bản sao", "2.000635"),
    ("ly lich tu phap", "3.000333"),
    ("phiếu lý lịch tư pháp", "3.000333"),
    ("ho chieu", "1.001456"),
    ("làm hộ chiếu", "1.001456"),
    ("cấp hộ chiếu phổ thông", "1.001456"),
    ("đăng ký thành lập hộ kinh doanh", "1.001612"),
    ("mở hộ kinh doanh", "1.001612"),
    ("chấm dứt hoạt động hộ kinh doanh", "1.001266"),
    ("cấp thẻ bhyt", "1.014137"),
    ("cap the bao hiem y te", "1.014137"),
    ("đăng ký lại khai sinh", "1.004884"),
    ("khai sinh cho trẻ sinh ra ở nước ngoài", "1.001020"),
    ("kết hôn với người nước ngoài", "2.000806"),
    ("đăng ký nhận cha mẹ con", "1.001022"),
]

SENTENCE_TEMPLATES = [
    "cho em hỏi {m} cần gì ạ",
    "cho mình hỏi thủ tục {m} như thế nào",
    "{m} làm ở đâu vậy ad",
    "em muốn {m} thì cần giấy tờ gì",
    "lệ phí {m} bao nhiêu ạ",
    "{m} mất bao lâu vậy",
    "hướng dẫn em {m} với",
    "tôi cần {m}, làm thế nào?",
]

UNKNOWN = [
    "mua vé máy bay",
    "thời tiết hôm nay",
    "giá vàng hôm nay",
    "kết quả bóng đá tối qua",
    "công thức nấu phở bò",
    "xin chào",
    "cảm ơn em nhé",
    "tỷ giá đô la mỹ",
    "đặt pizza giao tận nhà",
    "bài hát mới nhất của sơn tùng",
    "học tiếng anh online miễn phí",
    "mua điện thoại iphone trả góp",
    "đặt lịch cắt tóc",
    "gọi taxi ra sân bay",
    "phim hay tuần này",
    "xổ số miền bắc hôm nay",
    "giá xăng hôm nay",
    "cách làm bánh flan",
    "em buồn quá",
    "kể chuyện cười đi",
    "hôm nay là thứ mấy",
    "ai là người giàu nhất thế giới",
    "chơi game gì vui",
    "mấy giờ rồi",
    "lịch chiếu phim rạp cgv",
]

# Reverse teencode for generating citizen-style variants (folded forms).
TEENCODE_OUT = [
    ("can cuoc cong dan", "cccd"),
    ("giay phep lai xe", "gplx"),
    ("bao hiem y te", "bhyt"),
    ("bao hiem xa hoi", "bhxh"),
    ("giay chung nhan", "gcn"),
    ("ly lich tu phap", "lltp"),
    ("uy ban nhan dan", "ubnd"),
    ("ho kinh doanh", "hkd"),
    ("dang ky", "dk"),
    ("thu tuc", "tt"),
    ("ho so", "hs"),
    ("giay to", "gt"),
    ("khong", "ko"),
    ("duoc", "dc"),
    ("thanh pho", "tp"),
]


def _key(name: str) -> tuple[str, ...]:
    """What the search sees of a name: two names with the same key are indistinguishable."""
    return tuple(sorted(set(analyse(name, keep_filler_only=True))))


def _teencode(name: str) -> str:
    text = fold(name)
    for full, short in TEENCODE_OUT:
        text = f" {text} ".replace(f" {full} ", f" {short} ").strip()
    return text


def _typo(rng: random.Random, name: str) -> str:
    toks = fold(name).split()
    longs = [i for i, t in enumerate(toks) if len(t) >= 5]
    if not longs:
        return fold(name)
    i = rng.choice(longs)
    t = toks[i]
    j = rng.randrange(1, len(t) - 1)
    toks[i] = t[:j] + t[j + 1 :] if rng.random() < 0.5 else t[:j] + t[j] + t[j:]
    return " ".join(toks)


def _mention(name: str, strip_qualifier: bool = True) -> str:
    """How a citizen shortens a portal name: drop the parenthesised qualifier and 'Thủ tục'."""
    short = name.split("(")[0].strip().rstrip(",.;") if strip_qualifier else name
    if short.lower().startswith("thủ tục "):
        short = short[len("thủ tục ") :]
    return short[:1].lower() + short[1:]


def build_queries(rows: list[dict], n_names: int, seed: int = SEED) -> list[Query]:
    """The fixed query set: everyday mentions, name variants, sentences, unknown topics."""
    rng = random.Random(seed)
    queries = [Query(q, "everyday", code) for q, code in EVERYDAY]
    for q, code in EVERYDAY[:: max(1, len(EVERYDAY) // 16)]:
        template = rng.choice(SENTENCE_TEMPLATES)
        queries.append(Query(template.format(m=q), "everyday-sentence", code))

    name_counts = Counter(_key(r["name"]) for r in rows)
    # Only names that identify one procedure (the portal repeats names across
    # provinces, sometimes differing only in punctuation or a leading "Thủ tục"),
    # short enough that a citizen would type them.
    pool = [r for r in rows if name_counts[_key(r["name"])] == 1 and len(r["name"]) <= 120]
    sample = rng.sample(pool, min(n_names, len(pool)))
    # Dropping "(phạm vi nội tỉnh)" can make two names one; keep the qualifier then.
    short_counts = Counter(_key(_mention(r["name"])) for r in rows)
    for r in sample:
        name, code = " ".join(r["name"].split()), r["code"]

        def add(text: str, kind: str, name: str = name, code: str = code) -> None:
            queries.append(Query(text, kind, code, name))

        add(name, "exact")
        add(fold(name), "no-diacritics")
        add(unicodedata.normalize("NFD", name.upper()), "upper-nfd")
        toks = fold(name).split()
        rng.shuffle(toks)
        add(" ".join(toks), "shuffled")
        add(_teencode(name), "teencode")
        add(_typo(rng, name), "typo")
        unique_short = short_counts[_key(_mention(name))] == 1
        add(rng.choice(SENTENCE_TEMPLATES).format(m=_mention(name, unique_short)), "sentence")
    queries.extend(Query(q, "unknown", None) for q in UNKNOWN)
    return queries


def load_entries() -> tuple[list[SearchEntry], int, int]:
    """The baseline's entries: portal names from catalog.jsonl plus the curated YAML (names and aliases only)."""
    rows = [json.loads(line) for line in CATALOG.read_text(encoding="utf-8").splitlines() if line.strip()]
    curated = load_curated_entries(CURATED_DIR) if CURATED_DIR.is_dir() else []
    keys = {(e.code, e.province) for e in curated}
    portal = [SearchEntry(r["code"], None, r["name"]) for r in rows if (r["code"], None) not in keys]
    return [*curated, *portal], len(rows), len(curated)


@contextmanager
def scratch_catalog(snapshot: Path) -> Iterator[tuple[ProcedureCatalog, dict[str, str]]]:
    """The real catalogue over a temporary SQLite database, filled as ``answer_eval.scratch_catalogue`` does."""
    from bot.catalog.importer import import_portal
    from bot.catalog.loader import load_curated
    from bot.db import make_engine
    from bot.db.schema import ensure_schema

    info: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'catalogue.db'}")
        try:
            ensure_schema(engine)
            info["curated"] = str(load_curated(engine=engine))
            info["imported"] = str(import_portal(snapshot, engine, quiet=True))
            yield ProcedureCatalog(engine), info
        finally:
            engine.dispose()


def _rss_bytes() -> int:
    """Resident set size from /proc (Linux); 0 elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass(frozen=True)
class BuildStats:
    best_s: float
    worst_s: float
    retained_bytes: int
    peak_bytes: int
    rss_delta_bytes: int


def measure_build(build: Callable[[], Any], runs: int = 3) -> tuple[Any, BuildStats]:
    """Memory of one build under tracemalloc (which slows allocation down), then the best of ``runs`` plain builds."""
    gc.collect()
    rss_before = _rss_bytes()
    tracemalloc.start()
    traced = build()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_delta = _rss_bytes() - rss_before
    del traced
    gc.collect()
    times = []
    built = None
    for _ in range(runs):
        t0 = time.perf_counter()
        built = build()
        times.append(time.perf_counter() - t0)
    return built, BuildStats(min(times), max(times), retained, peak, rss_delta)


@dataclass
class Timing:
    """Latencies (ms) of one measured operation over all passes, and its last result per query."""

    label: str
    run: Callable[[str], Any]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this thread's CPU time: the query's cost without other load
    slowest: dict[str, float] = field(default_factory=dict)
    results: dict[Query, Any] = field(default_factory=dict)

    def one_pass(self, queries: Sequence[Query], timed: bool = True) -> None:
        for q in queries:
            c = time.thread_time_ns()
            t = time.perf_counter()
            res = self.run(q.text)
            ms = (time.perf_counter() - t) * 1000
            cpu_ms = (time.thread_time_ns() - c) / 1e6
            self.results[q] = res
            if timed:
                self.wall.append(ms)
                self.cpu.append(cpu_ms)
                self.slowest[q.text] = max(self.slowest.get(q.text, 0.0), ms)

    def p(self, pct: float, cpu: bool = False) -> float:
        return _pct(self.cpu if cpu else self.wall, pct)


def run_timings(timings: Sequence[Timing], queries: Sequence[Query], repeat: int) -> None:
    """One untimed warm-up pass each, then ``repeat`` timed passes, alternating between the operations."""
    for t in timings:
        t.one_pass(queries, timed=False)
    for _ in range(repeat):
        for t in timings:
            t.one_pass(queries)


def _hit(q: Query, top: Candidate | None) -> bool:
    """True when ``top`` is the procedure ``q`` means (a generated query accepts any code with the same name)."""
    if top is None:
        return False
    return top.code == q.expected or (q.expected_name is not None and _key(top.name) == _key(q.expected_name))


def find_ok(q: Query, res: Sequence[Candidate]) -> bool:
    """Top-1 of ``find``: the expected procedure first, or nothing for an unknown topic."""
    if q.expected is None:
        return not res
    return _hit(q, res[0] if res else None)


def resolve_ok(q: Query, res: Resolution) -> bool:
    """Top-1 of ``resolve``: its best candidate (clear or close) is the expected one; NONE for an unknown topic."""
    if q.expected is None:
        return res.decision is Decision.NONE
    return _hit(q, res.best)


@dataclass
class KindStats:
    total: int = 0
    find_ok: int = 0
    resolve_ok: int = 0
    decisions: Counter[str] = field(default_factory=Counter)


def score(queries: Sequence[Query], found: dict[Query, Any], resolved: dict[Query, Any]) -> dict[str, KindStats]:
    """Accuracy of find and resolve, and resolve's decisions, per query kind (in first-seen order)."""
    per_kind: dict[str, KindStats] = defaultdict(KindStats)
    for q in queries:
        stats = per_kind[q.kind]
        stats.total += 1
        stats.find_ok += find_ok(q, found[q])
        stats.resolve_ok += resolve_ok(q, resolved[q])
        stats.decisions[resolved[q].decision.value] += 1
    return per_kind


def _describe(c: Candidate | None) -> str:
    return f"{c.code} {c.score:.1f} {c.name[:70]!r}" if c else "nothing"


def misses(queries: Sequence[Query], found: dict[Query, Any], resolved: dict[Query, Any]) -> list[str]:
    out = []
    for q in queries:
        f, r = found[q], resolved[q]
        if not find_ok(q, f) or not resolve_ok(q, r):
            out.append(
                f"  [{q.kind}] {q.text[:80]!r} expected {q.expected}; find {_describe(f[0] if f else None)}; "
                f"resolve {r.decision.value} {_describe(r.best)}"
            )
    return out


def _mix(decisions: Counter[str]) -> str:
    return "/".join(str(decisions[d.value]) for d in Decision)


def _latency_line(t: Timing, base: Timing | None) -> str:
    line = (
        f"  {t.label:17s} wall p50 {t.p(50):6.2f}  p95 {t.p(95):6.2f}  p99 {t.p(99):6.2f}  max {max(t.wall):6.2f}"
        f"  | cpu p50 {t.p(50, True):6.2f}  p95 {t.p(95, True):6.2f}"
    )
    if base is not None:
        line += (
            f"  | ×baseline p50 {t.p(50) / base.p(50):.2f}  p95 {t.p(95) / base.p(95):.2f}"
            f" (cpu {t.p(50, True) / base.p(50, True):.2f}/{t.p(95, True) / base.p(95, True):.2f})"
        )
    return line


def _accuracy_lines(label: str, queries: Sequence[Query], per_kind: dict[str, KindStats]) -> list[str]:
    known = sum(1 for q in queries if q.expected is not None)
    f_ok = sum(s.find_ok for k, s in per_kind.items() if k != "unknown")
    r_ok = sum(s.resolve_ok for k, s in per_kind.items() if k != "unknown")
    total_mix: Counter[str] = Counter()
    for s in per_kind.values():
        total_mix.update(s.decisions)
    lines = [
        f"{label}: top-1 on known queries: find {f_ok}/{known} = {f_ok / known:.1%}, "
        f"resolve {r_ok}/{known} = {r_ok / known:.1%}; resolve decisions clear/close/none {_mix(total_mix)}"
    ]
    for kind, s in per_kind.items():
        what = "no result (correct)" if kind == "unknown" else "top-1"
        lines.append(
            f"  {kind:18s} {what}: find {s.find_ok}/{s.total}  resolve {s.resolve_ok}/{s.total}"
            f"   clear/close/none {_mix(s.decisions)}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the query set")
    parser.add_argument("--names", type=int, default=40, help="portal names sampled for generated variants")
    parser.add_argument("--seed", type=int, default=SEED, help="seed for sampling names (default: the tuning set)")
    parser.add_argument("--verbose", action="store_true", help="print the slowest queries and every miss")
    args = parser.parse_args()

    if not CATALOG.is_file():
        print(
            f"search_bench: portal snapshot not found at {SNAPSHOT} (no catalog.jsonl); "
            "../shared is absent, nothing to measure.",
            file=sys.stderr,
        )
        return 2

    rows = [json.loads(line) for line in CATALOG.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = build_queries(rows, args.names, args.seed)
    known = sum(1 for q in queries if q.expected is not None)

    # Baseline: the names-only index this bench used to measure.
    entries, n_rows, n_curated = load_entries()
    base_index, base_build = measure_build(lambda: SearchIndex(entries))

    t0 = time.perf_counter()
    with scratch_catalog(SNAPSHOT) as (catalog, info):
        fill_s = time.perf_counter() - t0
        n_procedures = catalog.count()

        def build_rich() -> SearchIndex:
            catalog.invalidate()
            return catalog.search_index()

        # Times the whole build as the bot pays it: reading names, aliases and context from SQLite, then indexing.
        rich_index, rich_build = measure_build(build_rich)
        assert catalog.search_index() is rich_index

        base_find = Timing("baseline find", lambda text: base_index.find(text, limit=5))
        base_resolve = Timing("baseline resolve", lambda text: resolve(base_index, text))
        rich_find = Timing("rich find", lambda text: catalog.find(text, limit=5))
        rich_resolve = Timing("rich resolve", lambda text: catalog.resolve(text))
        run_timings([base_find, rich_find, base_resolve, rich_resolve], queries, args.repeat)

    base_stats = score(queries, base_find.results, base_resolve.results)
    rich_stats = score(queries, rich_find.results, rich_resolve.results)

    # First line of each summary only: the import also lists skipped codes and snapshot warnings.
    curated_line, imported_line = (info[k].splitlines()[0] for k in ("curated", "imported"))
    print(f"scratch catalogue: {fill_s:.1f} s to fill; curated {curated_line}; imported {imported_line}")
    for label, n_entries, b in (
        (f"rich index ({n_procedures} procedures)", len(rich_index), rich_build),
        (f"baseline names-only ({n_rows} portal rows + {n_curated} curated files)", len(base_index), base_build),
    ):
        print(
            f"{label}: {n_entries} entries; "
            f"build {b.best_s * 1000:.0f} ms (best of 3; worst {b.worst_s * 1000:.0f} ms); "
            f"memory {b.retained_bytes / 1e6:.1f} MB retained, {b.peak_bytes / 1e6:.1f} MB peak (tracemalloc), "
            f"RSS delta {b.rss_delta_bytes / 1e6:.1f} MB"
        )
    print(f"build ratio rich/baseline: {rich_build.best_s / base_build.best_s:.2f} (rich includes reading SQLite)")
    print(
        f"queries: {len(queries)} ({known} with a known answer, {len(queries) - known} unknown topics), "
        f"1 warm-up + {args.repeat} timed passes, seed {args.seed}, MIN_SCORE {MIN_SCORE}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print("latency per query, ms:")
    print(_latency_line(base_find, None))
    print(_latency_line(rich_find, base_find))
    print(_latency_line(base_resolve, None))
    print(_latency_line(rich_resolve, base_resolve))
    for line in _accuracy_lines("rich", queries, rich_stats):
        print(line)
    for line in _accuracy_lines("baseline", queries, base_stats):
        print(line)
    if args.verbose:
        for t in (rich_find, rich_resolve):
            worst = sorted(t.slowest.items(), key=lambda kv: -kv[1])[:5]
            print(f"slowest {t.label}: " + "; ".join(f"{ms:.2f} ms {text[:50]!r}" for text, ms in worst))
        rich_misses = misses(queries, rich_find.results, rich_resolve.results)
        if rich_misses:
            print("rich misses (find or resolve):")
            print("\n".join(rich_misses))
    p95 = rich_resolve.p(95)
    print(f"p95 resolve: {p95:.2f} ms (target ≤ {TARGET_P95_MS:g} ms): {'OK' if p95 <= TARGET_P95_MS else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
