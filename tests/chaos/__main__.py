"""`make chaos`: every scenario of tests/chaos/harness.py, 20 runs each on 2,000 recipients,
then one table. Exits 1 when any run lost a message, sent one twice, hung or left the
operation's stats unequal to its messages.

    uv run python -m tests.chaos [--runs N] [--recipients N] [--pause S] [--only WORD]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.chaos.harness import ROOT, run_scenarios, scenarios, table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--pause", type=float, default=10.0, help="PostgreSQL SIGSTOP, seconds")
    parser.add_argument("--only", default="", help="scenarios whose name contains this")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chosen = [s for s in scenarios(args.pause) if args.only.lower() in s.name.lower()]
    (ROOT / ".devdata").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chaos-", dir=ROOT / ".devdata") as folder:
        rows = asyncio.run(
            run_scenarios(Path(folder), chosen, args.runs, args.recipients, args.seed)
        )
    print()
    print(table(rows))
    for row in rows:
        for note in row.notes:
            print(f"{row.scenario}: {note}")
    return 0 if all(row.clean for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
