"""``plutflow cache``: list and prune the simulator build cache (``build/sim``)."""

from __future__ import annotations

import argparse
from collections import Counter


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def cmd_cache(args: argparse.Namespace) -> int:
    from plutflow.overlay.simbuild import build_cache

    harness = build_cache()
    root = harness.BUILD
    if args.prune or args.all:
        removed = harness.prune_cache(everything=args.all)
        total = sum(e["bytes"] for e in removed)
        print(f"removed {len(removed)} entries ({_mib(total)}) from {root}")
        left = harness.cache_entries()
        print(f"kept {len(left)} ({_mib(sum(e['bytes'] for e in left))}): "
              + (", ".join(f"{n} {k}" for k, n in Counter(e['kind'] for e in left).items())
                 or "nothing"))  # fmt: skip
        return 0
    entries = harness.cache_entries()
    if not entries:
        print(f"{root}: empty")
        return 0
    if args.verbose:
        for e in entries:
            print(f"{_mib(e['bytes']):>12}  {e['state']:<10} {e['kind']:<18} "
                  f"{e['path'].name}  {e['detail']}")  # fmt: skip
    groups: Counter = Counter()
    sizes: Counter = Counter()
    for e in entries:
        groups[(e["kind"], e["state"])] += 1
        sizes[(e["kind"], e["state"])] += e["bytes"]
    print(f"{root}: {len(entries)} entries, {_mib(sum(sizes.values()))}")
    for (kind, state), n in sorted(groups.items()):
        print(f"  {n:5d} {kind}, {state}: {_mib(sizes[(kind, state)])}")
    prunable = sum(b for (_k, s), b in sizes.items() if s != "current")
    print(f"`plutflow cache --prune` frees {_mib(prunable)} (everything but current builds); "
          "`--all` empties it")  # fmt: skip
    return 0


def add_cache_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cache",
        help="list or prune the simulator build cache (build/sim)",
        description="List the Verilator builds of the sim backend and the RTL tests "
        "(current, stale, incomplete) and test result folders, with their sizes; "
        "--prune removes all but the current builds, --all removes everything.",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove stale and incomplete builds, test results and orphaned locks",
    )
    p.add_argument("--all", action="store_true", help="remove every build (they are rebuilt "
                   "on next use, a minute or two each)")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="one line per entry")
    p.set_defaults(func=cmd_cache)
