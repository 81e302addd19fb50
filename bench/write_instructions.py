"""Instructions per command on the write path, counted by valgrind: unmoved by the machine's load.

    python bench/write_instructions.py [--commands N] [--projects P]

``bench/write.py`` times commands; on a machine shared with other work its figures move with
the load. This counts instead: it runs itself under ``valgrind --tool=callgrind`` on fresh SQLite
stores, after the same set-up (a plan, ``P`` funded projects, 100 payments to warm up), once
recording no more and once recording ``N`` payments (``Ledger.execute(PayCompletedWork(...))``);
the difference over ``N`` is the user-space instructions of one command. Likewise for one raw
save (``write.RawApp``: a plain ``Application`` saving one small event). The kernel's share (the
commit's ``fsync``) is not counted. Needs ``valgrind``; takes a few minutes (valgrind runs
Python about fifty times slower).

The last line is one JSON object: ``command_instructions``, ``raw_save_instructions`` and their
ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import write  # bench/ is first on sys.path

from capledger.bootstrap import build_ledger
from capledger.observability import configure_logging
from capledger.settings import LogSettings, Persistence

WARM_UP = 100
#: Payments the set-up funds: the same set-up whatever the count.
CAPACITY = 100_000
COLLECTED = re.compile(r"Collected : (\d+)")


def child(kind: str, count: int, projects: int) -> None:
    """The measured process: set up, warm up, then ``count`` commands or raw saves."""
    configure_logging(LogSettings(level="WARNING", format="json"))
    with write.fresh_stores(Persistence.SQLITE) as stores:
        if kind == "raw":
            raw = write.RawApp.open(stores.settings("raw"), projects)
            for index in range(WARM_UP + count):
                raw.save_one(index)
            raw.app.close()
            return
        ledger = build_ledger(stores.settings("ledger"))
        write.set_up_ledger(ledger, projects, CAPACITY)
        for index in range(WARM_UP + count):
            write.pay(ledger, index, projects)
        ledger.close()


def instructions(kind: str, count: int, projects: int) -> int:
    """Instructions of one child process under callgrind."""
    with tempfile.TemporaryDirectory(prefix="capledger-callgrind-") as directory:
        completed = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/out",
             sys.executable, __file__, "--child", kind, "--commands", str(count),
             "--projects", str(projects)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
    found = COLLECTED.search(completed.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{completed.stderr}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commands", type=int, default=500, help="commands (and raw saves)")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--child", choices=["commands", "raw"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.commands, args.projects)
        return 0
    runs = [(kind, count) for kind in ("commands", "raw") for count in (0, args.commands)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = dict(
            zip(runs, pool.map(lambda run: instructions(*run, args.projects), runs), strict=True)
        )
    per = {
        kind: (counted[kind, args.commands] - counted[kind, 0]) / args.commands
        for kind in ("commands", "raw")
    }
    print(f"{per['commands']:,.0f} instructions per command, {per['raw']:,.0f} per raw save")
    print(json.dumps({
        "commands": args.commands,
        "projects": args.projects,
        "command_instructions": round(per["commands"]),
        "raw_save_instructions": round(per["raw"]),
        "ratio": round(per["commands"] / per["raw"], 3),
        "python": sys.version.split()[0],
    }), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
