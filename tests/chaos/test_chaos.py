"""The chaos suite's short form: each scenario once, on a small operation, in `make test`.

`make chaos` runs the full form (20 runs of each on 2,000 recipients) and prints the table;
the slow variant here (-m slow) runs each three times on 2,000.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.chaos.harness import ROOT, run_scenarios, scenarios, table


@pytest.mark.parametrize(
    ("runs", "recipients", "pause_s"),
    [(1, 200, 3.0), pytest.param(3, 2000, 10.0, marks=pytest.mark.slow)],
    ids=["short", "long"],
)
async def test_no_fault_loses_or_repeats_a_send(runs: int, recipients: int, pause_s: float) -> None:
    # Not under tmp_path: PostgreSQL runs as a user of its own, and pytest keeps its temporary
    # folders to root alone.
    (ROOT / ".devdata").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="chaos-", dir=ROOT / ".devdata"))
    try:
        rows = await run_scenarios(root, scenarios(pause_s), runs, recipients)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = table(rows) + "".join(f"\n{row.scenario}: {n}" for row in rows for n in row.notes)
    assert [row.scenario for row in rows if not row.clean] == [], report
    assert all(row.runs == runs for row in rows), report
