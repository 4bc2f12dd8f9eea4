"""Compare rankings for procedure resolution on plain-named questions (issue 10, item 1).

Rankers, all over the same catalogue database (curated + the imported portal snapshot):

* ``names``: today's :class:`~bot.catalog.search.SearchIndex` over names and aliases;
* ``rich``: the same index with case, result and document names (what the bot uses);
* ``fts5``: BM25 from SQLite FTS5 over the same texts, analysed by the same pipeline;
* ``rich+fts5``: ``rich``, re-ordered by adding the normalised BM25 score (a combination).

Questions are written here in citizens' words (not taken from data/nlu). For each
ranker it prints top-1 accuracy, how many off-topic questions return nothing, and
the latency; for ``rich`` also the decision of :func:`bot.catalog.resolve.resolve`.

Usage: ``DATABASE_URL=sqlite:////tmp/x/bot.db .venv/bin/python bench/resolve_bench.py``
(after ``python -m bot catalog import ../shared/portal-snapshot`` and ``catalog load`` into it).
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalog.resolve import Decision, resolve
from bot.catalog.search import MIN_SCORE, Candidate, SearchEntry, SearchIndex, analyse
from bot.catalog.service import ProcedureCatalog

# (question, expected code); None: off-topic, nothing should be found.
QUESTIONS: list[tuple[str, str | None]] = [
    ("cấp giấy phép lao động cho người nước ngoài cần gì", "1.014199"),
    ("đăng ký nội quy lao động cần hồ sơ gì", "2.001955"),
    ("thủ tục đăng ký nội quy lao động", "2.001955"),
    ("thủ tục 1.004884 cần giấy tờ gì", "1.004884"),
    ("cho em hỏi mã 2.001955 nộp ở đâu", "2.001955"),
    ("ma thu tuc 3.000333 bao lau co ket qua", "3.000333"),
    ("con mới sinh thì đi khai sinh ở đâu", "1.001193"),
    ("thẻ căn cước bị mất làm lại ở đâu", "1.014064"),
    ("dang ky lai khai sinh can giay to gi", "1.004884"),
    ("đăng ký lại kết hôn thế nào ạ", "1.004746"),
    ("thông báo lưu trú cho khách ở nhà mình", "2.001159"),
    ("gia han giay phep lao dong cho nguoi nuoc ngoai", "1.014201"),
    ("cấp lại giấy phép lao động bị mất", "1.014200"),
    ("xin cấp mới chứng chỉ hành nghề xây dựng", "1.013237"),
    ("cấp lại chứng chỉ hành nghề xây dựng hết bao lâu", "1.013217"),
    ("ghi chú ly hôn ở nước ngoài vào sổ hộ tịch", "2.000698"),
    ("đăng ký nhận cha mẹ con có yếu tố nước ngoài", "2.000779"),
    ("thủ tục xác nhận thông tin hộ tịch", "2.002516"),
    ("cấp bản sao trích lục hộ tịch", "1.000797"),
    ("hưởng trợ cấp thất nghiệp cần gì", "1.014748"),
    ("tro cap that nghiep lam o dau", "1.014748"),
    ("khai báo tạm vắng như thế nào", "1.003677"),
    ("tách hộ khẩu cần những gì", "1.010038"),
    ("xác nhận thông tin cư trú ở đâu", "1.010041"),
    ("đăng ký khai tử cho bố", "1.000656"),
    ("chứng thực bản sao giấy tờ", "2.000815"),
    ("thành lập công ty tnhh một thành viên", "2.001583"),
    ("mở doanh nghiệp tư nhân cần gì", "2.001610"),
    ("cấp lại sổ bhxh bị mất", "1.002759"),
    ("cấp lại giấy chứng nhận quyền sử dụng đất bị mất", "1.012786"),
    ("xin giấy phép xây dựng nhà ở riêng lẻ", "1.013225"),
    ("ly lich tu phap so 1 lam o dau", "3.000333"),
    ("làm giấy xác nhận độc thân", "1.004873"),
    ("cải chính hộ tịch xác định lại dân tộc", "1.004859"),
    ("đăng ký khai sinh có yếu tố nước ngoài", "2.000528"),
    ("kết hôn với người nước ngoài ở khu vực biên giới", "1.000094"),
    ("mua vé máy bay đi đà nẵng", None),
    ("hôm nay trời có mưa không", None),
    ("bạn tên gì", None),
    ("cho em hỏi giá vàng", None),
    ("cảm ơn bạn nhiều nhé", None),
    ("cần giấy tờ gì", None),
    ("ở đâu vậy ạ", None),
    ("tư vấn mua bảo hiểm nhân thọ", None),
    ("con le phi thi sao", None),
    ("quán phở nào ngon", None),
]


class Fts5Ranker:
    """BM25 over one document per procedure (name, aliases, cases, results, documents), analysed tokens."""

    def __init__(self, entries: list[SearchEntry]) -> None:
        self.entries = entries
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("create virtual table p using fts5(names, context, tokenize='unicode61')")
        rows = []
        for i, e in enumerate(entries):
            names = " ".join(" ".join(analyse(t, keep_filler_only=True)) for t in (e.name, *e.aliases))
            ctx = " ".join(" ".join(analyse(t)) for t in (*e.context, *e.documents))
            rows.append((i, names, ctx))
        self.db.executemany("insert into p(rowid, names, context) values (?, ?, ?)", rows)

    def find(self, text: str, limit: int = 5) -> list[Candidate]:
        words = list(dict.fromkeys(analyse(text)))
        if not words:
            return []
        query = " OR ".join(f'"{w}"' for w in words)
        rows = self.db.execute(
            "select rowid, bm25(p, 3.0, 1.0) from p where p match ? order by bm25(p, 3.0, 1.0) limit ?",
            (query, limit),
        ).fetchall()
        return [Candidate(self.entries[i].code, None, self.entries[i].name, -s, "") for i, s in rows]


def combined(rich: SearchIndex, fts: Fts5Ranker, text: str, limit: int = 5) -> list[Candidate]:
    a = rich.find(text, limit=12)
    if not a or a[0].score >= 100:
        return a[:limit]
    b = {c.code: c.score for c in fts.find(text, limit=20)}
    top = max(b.values(), default=1.0) or 1.0
    rescored = [Candidate(c.code, c.province, c.name, c.score + 10.0 * b.get(c.code, 0.0) / top, c.matched) for c in a]
    return sorted(rescored, key=lambda c: -c.score)[:limit]


def main() -> int:
    catalog = ProcedureCatalog()
    if catalog.count() < 1000:
        print("resolve_bench: import the portal snapshot into DATABASE_URL first", file=sys.stderr)
        return 2
    rich = catalog.search_index()
    entries = rich._entries
    names = SearchIndex(SearchEntry(e.code, e.province, e.name, e.aliases, e.curated) for e in entries)
    fts = Fts5Ranker(entries)
    rankers = {
        "names": names.find,
        "rich": rich.find,
        "fts5": fts.find,
        "rich+fts5": lambda t, limit=5: combined(rich, fts, t, limit),
    }
    print(f"{len(entries)} entries; {sum(1 for _, c in QUESTIONS if c)} questions with an answer, "
          f"{sum(1 for _, c in QUESTIONS if not c)} off-topic; MIN_SCORE {MIN_SCORE}")  # fmt: skip
    for label, find in rankers.items():
        ok = none_ok = 0
        times = []
        misses = []
        for q, code in QUESTIONS:
            t = time.perf_counter()
            res = find(q, limit=5)
            times.append((time.perf_counter() - t) * 1000)
            if code is None:
                none_ok += not res
            elif res and res[0].code == code:
                ok += 1
            else:
                misses.append(f"{q!r} -> {res[0].code if res else 'nothing'}")
        known = sum(1 for _, c in QUESTIONS if c)
        print(f"{label:10s} top-1 {ok}/{known}  off-topic empty {none_ok}/{len(QUESTIONS) - known}  "
              f"p50 {statistics.median(times):.2f} ms  max {max(times):.2f} ms")  # fmt: skip
        if "-v" in sys.argv:
            print("   misses: " + "; ".join(misses))
    right = wrong = 0
    tally = {d: 0 for d in Decision}
    for q, code in QUESTIONS:
        r = resolve(rich, q)
        tally[r.decision] += 1
        if code is None:
            good = r.decision is Decision.NONE
        elif r.decision is Decision.CLEAR:
            good = r.best is not None and r.best.code == code
        else:
            good = r.decision is Decision.CLOSE and code in {c.code for c in r.candidates}
        right += good
        wrong += not good
        if not good and "-v" in sys.argv:
            print(f"   decision miss: {q!r} expected {code}: {r.decision.value} "
                  f"{[(c.code, c.score) for c in r.candidates[:4]]}")  # fmt: skip
    print(
        f"resolve (rich): decision right {right}/{len(QUESTIONS)}; "
        + ", ".join(f"{d.value} {n}" for d, n in tally.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
