"""Benchmark procedure search over the whole portal catalogue.

Builds a :class:`bot.catalog.search.SearchIndex` from the 5,670 rows of
``../shared/portal-snapshot/catalog.jsonl`` (names only) plus the curated YAML
in ``data/catalog`` (which replaces portal rows with the same code), then runs a
fixed, seeded set of realistic queries and prints build time, memory, latency
percentiles and top-1 accuracy per query kind.

Usage: ``.venv/bin/python bench/search_bench.py [--repeat N] [--names N] [--verbose]``
Exits with status 2 when ../shared is absent.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
import tracemalloc
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.catalog.search import MIN_SCORE, SearchEntry, SearchIndex, analyse, load_curated_entries  # noqa: E402
from bot.text import fold  # noqa: E402

SHARED_DIR = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
CATALOG = SHARED_DIR / "portal-snapshot" / "catalog.jsonl"
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
    rows = [json.loads(line) for line in CATALOG.read_text(encoding="utf-8").splitlines() if line.strip()]
    curated = load_curated_entries(CURATED_DIR) if CURATED_DIR.is_dir() else []
    keys = {(e.code, e.province) for e in curated}
    portal = [SearchEntry(r["code"], None, r["name"]) for r in rows if (r["code"], None) not in keys]
    return [*curated, *portal], len(rows), len(curated)


def _rss_bytes() -> int:
    """Resident set size from /proc (Linux); 0 elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the query set")
    parser.add_argument("--names", type=int, default=40, help="portal names sampled for generated variants")
    parser.add_argument("--seed", type=int, default=SEED, help="seed for sampling names (default: the tuning set)")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    args = parser.parse_args()

    if not CATALOG.is_file():
        print(
            f"search_bench: reference catalogue not found at {CATALOG}; ../shared is absent, nothing to measure.",
            file=sys.stderr,
        )
        return 2

    entries, n_rows, n_curated = load_entries()
    rows = [json.loads(line) for line in CATALOG.read_text(encoding="utf-8").splitlines() if line.strip()]

    # Memory first, under tracemalloc (which slows allocation down), then time an untraced build.
    gc.collect()
    rss_before = _rss_bytes()
    tracemalloc.start()
    traced = SearchIndex(entries)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_delta = _rss_bytes() - rss_before
    del traced
    gc.collect()
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        index = SearchIndex(entries)
        builds.append(time.perf_counter() - t0)
    build_s = min(builds)

    queries = build_queries(rows, args.names, args.seed)
    index.find("khởi động")  # warm lazy caches (teencode map) outside the timings

    timings: list[float] = []
    cpu: list[float] = []  # CPU time of this thread: what the query costs, without the other tenants' load
    slowest: dict[str, float] = {}
    results = {}
    for _ in range(args.repeat):
        for q in queries:
            c = time.thread_time_ns()
            t = time.perf_counter()
            res = index.find(q.text, limit=5)
            ms = (time.perf_counter() - t) * 1000
            cpu.append((time.thread_time_ns() - c) / 1e6)
            timings.append(ms)
            slowest[q.text] = max(slowest.get(q.text, 0.0), ms)
            results[q] = res

    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    for q in queries:
        res = results[q]
        stats = per_kind[q.kind]
        stats[1] += 1
        if q.expected is None:
            ok = not res
        elif not res:
            ok = False
        else:
            top = res[0]
            ok = top.code == q.expected or (q.expected_name is not None and _key(top.name) == _key(q.expected_name))
        stats[0] += ok
        if not ok:
            got = f"{res[0].code} {res[0].score:.1f} {res[0].name[:70]!r}" if res else "nothing"
            misses.append(f"  [{q.kind}] {q.text[:80]!r} expected {q.expected}, got {got}")

    known = [q for q in queries if q.expected is not None]
    known_ok = sum(per_kind[k][0] for k in per_kind if k != "unknown")
    print(f"catalogue: {n_rows} portal rows + {n_curated} curated files -> {len(index)} entries")
    print(f"build: {build_s * 1000:.0f} ms (best of 3; worst {max(builds) * 1000:.0f} ms)")
    print(
        f"index memory: {current / 1e6:.1f} MB retained, {peak / 1e6:.1f} MB peak during build (tracemalloc); "
        f"RSS delta {rss_delta / 1e6:.1f} MB"
    )
    print(
        f"queries: {len(queries)} ({len(known)} with a known answer, {per_kind['unknown'][1]} unknown topics), "
        f"{args.repeat} passes, seed {args.seed}, MIN_SCORE {MIN_SCORE}"
    )
    print(
        f"wall ms:    p50 {statistics.median(timings):.2f}  p95 {_pct(timings, 95):.2f}  "
        f"p99 {_pct(timings, 99):.2f}  max {max(timings):.2f}  mean {statistics.fmean(timings):.2f}"
    )
    print(
        f"cpu ms:     p50 {statistics.median(cpu):.2f}  p95 {_pct(cpu, 95):.2f}  "
        f"p99 {_pct(cpu, 99):.2f}  max {max(cpu):.2f}  "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"top-1 accuracy on known queries: {known_ok}/{len(known)} = {known_ok / len(known):.1%}")
    for kind, (ok, total) in per_kind.items():
        label = "no result (correct)" if kind == "unknown" else "top-1"
        print(f"  {kind:18s} {label}: {ok}/{total}")
    if args.verbose:
        worst = sorted(slowest.items(), key=lambda kv: -kv[1])[:5]
        print("slowest queries: " + "; ".join(f"{ms:.2f} ms {text[:50]!r}" for text, ms in worst))
    if args.verbose and misses:
        print("misses:")
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
