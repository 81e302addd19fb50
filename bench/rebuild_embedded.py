"""Embedded rebuild against the raw notification-log read rate, on the same SQLite store.

    python bench/rebuild_embedded.py [--notifications 100000] [--dir DIR] [--rounds 3]
        [--batch-size N] [--parallel auto|on|off] [--compare] [--profile FILE] [--memory]

The ledger (a year of a province's capital, recorded through the Ledger by
``capledger.demo.volume.record_year``) is kept in DIR and reused; it is
recorded first if it holds fewer than ``--notifications`` notifications. Then, in alternating
rounds so that a change in the machine's load hits every side alike:

- ``raw``: ``recorder.select_notifications`` pages of 1,000, no processing (the reference);
- ``raw + publish``: the same, every notification decoded with ``application.published.publish``;
- ``rebuild``: ``projections.rebuild`` into a fresh read-model file (read, decode, reduce,
  upsert, track, index, switch); ``--parallel`` passes ``parallel=None|True|False`` (by default,
  on a log this large with an idle core, worker processes fold it, one range of streams each:
  ``projections/shards``);
- ``rebuild in process`` (with ``--compare``): the same with ``parallel=False``.

Each figure is the best of the rounds, in wall-clock time and in CPU time (on a machine shared
with other work, CPU time shows the work done; wall time what a user waits for). The CPU time of
a rebuild includes its child processes' (reaped children, ``RUSAGE_CHILDREN``): it counts all
the work, on every core, so ``ratio_cpu`` of a parallel rebuild is lower than its ``ratio``;
``rebuild_own_cpu_per_s`` counts the rebuilding process alone.
``ratio = rebuild rate / raw rate``. ``rebuild_gc`` is what Python's cyclic garbage collector did
during the fastest rebuild in this process: collections per generation (young, middle, full)
and the seconds they took (a rebuild that keeps objects it tracks alive makes it walk them
again and again). ``--memory`` runs one more rebuild under ``tracemalloc`` and
reports its peak of Python allocations (slow; not timed). The last line is one JSON object.
Benchmarks measure, they never assert.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from capledger.application.ledger import Ledger
from capledger.application.published import publish
from capledger.bootstrap import build_ledger
from capledger.demo.volume import record_year
from capledger.projections import ReadModelStore, rebuild
from capledger.settings import Persistence, Settings, StoreSettings

PAGE = 1_000
#: (wall seconds, CPU seconds) of one run.
Timing = tuple[float, float]


def timed(run: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


#: This process's own CPU seconds of the last ``timed_with_children`` run.
own_cpu: list[float] = [0.0]


class CollectorWatch:
    """What the cyclic garbage collector does while it is installed (``gc.callbacks``):
    collections per generation and the seconds they took."""

    def __init__(self) -> None:
        self.collections = [0] * len(gc.get_count())
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> CollectorWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)

    def report(self) -> dict[str, Any]:
        return {"collections": self.collections, "seconds": round(self.seconds, 3)}


#: The collector's work during the last ``timed_with_children`` run.
collector: list[CollectorWatch] = [CollectorWatch()]


def timed_with_children(run: Callable[[], object]) -> Timing:
    """``timed``, the CPU time of the child processes reaped meanwhile added."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with CollectorWatch() as watch:
        wall, cpu = timed(run)
    collector[0] = watch
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    own_cpu[0] = cpu
    return wall, cpu + children


def read_all(ledger: Ledger, decode: bool) -> None:
    position = 0
    while notes := ledger.recorder.select_notifications(position + 1, PAGE):
        position = notes[-1].id
        if decode:
            for note in notes:
                publish(note.id, note.originator_id, note.originator_version, note.topic,
                        note.state)  # fmt: skip


def fresh_read_model(directory: Path) -> ReadModelStore:
    path = directory / "bench-readmodel.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return ReadModelStore.sqlite(path)


PARALLEL = {"auto": None, "on": True, "off": False}


def rebuild_once(
    ledger: Ledger, directory: Path, args: argparse.Namespace, parallel: str | None = None
) -> int:
    store = fresh_read_model(directory)
    try:
        options: dict[str, Any] = {"parallel": PARALLEL[parallel or args.parallel]}
        if args.batch_size is not None:
            options["batch_size"] = args.batch_size
        return rebuild(store, ledger.recorder, **options).notifications
    finally:
        store.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("var/bench-rebuild"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="rebuild's default if unset")
    parser.add_argument("--parallel", choices=sorted(PARALLEL), default="auto",
                        help="rebuild's parallel=None|True|False")  # fmt: skip
    parser.add_argument("--compare", action="store_true", help="also rebuild in process")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile one rebuild here")
    parser.add_argument("--memory", action="store_true", help="tracemalloc peak of a rebuild")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    settings = Settings(store=StoreSettings(persistence=Persistence.SQLITE, data_dir=args.dir))
    ledger = build_ledger(settings)
    try:
        if (ledger.recorder.max_notification_id() or 0) < args.notifications:
            started = time.perf_counter()
            record_year(ledger, args.notifications)
            print(f"recorded {ledger.recorder.max_notification_id():,} notifications in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        count = ledger.recorder.max_notification_id() or 0
        sides: dict[str, Callable[[], object]] = {
            "raw": lambda: read_all(ledger, decode=False),
            "raw + publish": lambda: read_all(ledger, decode=True),
            "rebuild": lambda: rebuild_once(ledger, args.dir, args),
        }
        if args.compare:
            sides["rebuild in process"] = lambda: rebuild_once(ledger, args.dir, args, "off")
        best: dict[str, Timing] = {}
        best_own = float("inf")
        best_gc: dict[str, Any] = {}
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}")
            for label, run in sides.items():
                wall, cpu = (timed_with_children if "rebuild" in label else timed)(run)
                own = f", this process {own_cpu[0]:6.3f} s" if "rebuild" in label else ""
                print(f"  {label:20s} {count:>8,} in {wall:6.3f} s = {count / wall:>9,.0f}/s "
                      f"(CPU {cpu:6.3f} s = {count / cpu:>9,.0f}/s{own})")  # fmt: skip
                if label == "rebuild":
                    if own_cpu[0] < best_own:
                        best_gc = collector[0].report()
                    best_own = min(best_own, own_cpu[0])
                known = best.get(label)
                best[label] = (
                    min(wall, known[0]) if known else wall,
                    min(cpu, known[1]) if known else cpu,
                )

        def rate(label: str, cpu: bool = False) -> float:
            return count / best[label][1 if cpu else 0]

        result: dict[str, Any] = {"notifications": count}
        for label in sides:
            key = label.replace(" + ", "_").replace(", ", "_").replace(" ", "_")
            result[f"{key}_per_s"] = round(rate(label))
            result[f"{key}_cpu_per_s"] = round(rate(label, cpu=True))
        result["ratio"] = round(rate("rebuild") / rate("raw"), 3)
        result["ratio_cpu"] = round(rate("rebuild", True) / rate("raw", True), 3)
        # The rebuilding process's own CPU time: its critical path while a core is free.
        result["rebuild_own_cpu_per_s"] = round(count / best_own)
        result["rebuild_gc"] = best_gc
        if args.compare:
            result["ratio_in_process"] = round(rate("rebuild in process") / rate("raw"), 3)
            result["ratio_cpu_in_process"] = round(
                rate("rebuild in process", True) / rate("raw", True), 3
            )
        result["parallel"] = args.parallel
        if args.profile is not None:
            profiler = cProfile.Profile()
            profiler.runcall(rebuild_once, ledger, args.dir, args)
            profiler.dump_stats(args.profile)
            print(f"profile of one rebuild in {args.profile}")
        if args.memory:
            tracemalloc.start()
            rebuild_once(ledger, args.dir, args)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            result["rebuild_peak_python_mib"] = round(peak / 2**20, 1)
        result.update(
            load_average_1m=round(os.getloadavg()[0], 2),
            cpus=os.cpu_count(),
            python=platform.python_version(),
        )
        print(json.dumps(result))
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
