"""Long, repetitive inputs that make careless regexes backtrack, and a fair way to time them.

Used by the input-bound tests of the tokenizer, the masking and the text helpers: each
must run in linear time on 100 KB of any of these.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

SIZE = 100_000
PROSE = (
    "Dạ, anh/chị vui lòng cho em xin mã hồ sơ và số điện thoại đã đăng ký khi nộp hồ sơ ạ. "
    "Thủ tục cấp đổi căn cước cần tờ khai CC01, lệ phí 15.000 đồng, trả kết quả sau 7 ngày làm việc.\n"
)


def repeat(unit: str, size: int = SIZE) -> str:
    """``unit`` repeated to exactly ``size`` characters."""
    return (unit * (size // len(unit) + 1))[:size]


def best_time(
    run: Callable[[], object], runs: int = 3, before: Callable[[], object] | None = None
) -> tuple[float, float]:
    """Best (CPU, wall) seconds of ``runs`` calls of ``run``, each after ``before`` (e.g. clearing a cache).

    CPU time of this process, with the garbage collector off like timeit: these machines are
    shared and differ in speed, and a full collection walks every object the test process holds.
    """
    cpu = wall = float("inf")
    for _ in range(runs):
        if before is not None:
            before()
        gc.collect()
        gc.disable()
        try:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            run()
            cpu = min(cpu, time.process_time() - cpu_start)
            wall = min(wall, time.perf_counter() - wall_start)
        finally:
            gc.enable()
    return cpu, wall
