"""Memory of the API and of a worker: resident set size (VmRSS) and its peak (VmHWM) from
/proc/<pid>/status, summed over each one's process tree (granian's supervisor and its worker
process), idle after start (the baseline), then after sends of 1,000 and of 10,000 recipients
(and to an audience of 100,000 profiles when the API offers audiences) have been sent to the
sandbox and every message is terminal.

    uv run python bench/memory.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import preload, sends
from bench.report import LOWER, Report, Section
from bench.sends import AUDIENCE_FAILURES
from bench.stack import bench_stack
from service.accounts.logic import NewCredentials

NO_RATE_LIMIT = {"API_REQUESTS_PER_SECOND": "0"}


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB, each summed over the process and its descendants. The tree is
    what the process started (`nice` and `taskset` exec, so a pid is the program's)."""
    pids = tree(pid)
    return (
        sum(_kib(p, "VmRSS") for p in pids) / 1024,
        sum(_kib(p, "VmHWM") for p in pids) / 1024,
    )


async def _terminal(http: httpx.AsyncClient, operation_id: str, label: str) -> str:
    answer = await http.get(f"/v1/Messages/Operations/{operation_id}")
    answer.raise_for_status()
    stats = answer.json()["stats"]
    done = sum(stats.get(k, 0) for k in sends.TERMINAL)
    return f"{label} recipients: {done:,} of {stats['total']:,} messages terminal at the reading"


def measure(template: str, account: NewCredentials, *, scale: str) -> Report:
    report = Report()
    section = Section(
        f"5. Memory: API and worker, RSS / peak (VmHWM) in MiB ({scale} messages preloaded)",
        [
            "after",
            "API RSS",
            "API peak",
            "API peak ÷ idle",
            "worker RSS",
            "worker peak",
            "worker peak ÷ idle",
            "stats settled after s",
        ],
    )
    with bench_stack(
        "bench_memory", template=template, account=account, env=NO_RATE_LIMIT
    ) as stack:
        api, worker = stack.processes["api"].pid, stack.processes["worker-0"].pid

        async def drive() -> None:
            idle = (memory_mib(api), memory_mib(worker))
            steps: list[tuple[str, float | None]] = [("idle (baseline)", None)]
            readings = [idle]
            async with httpx.AsyncClient(base_url=stack.api, auth=stack.auth, timeout=600) as http:
                for count, seed in ((1_000, 20), (10_000, 21)):
                    operation, seconds = await sends.send_for_real(http, count, seed)
                    steps.append((f"{count:,} recipients sent", seconds))
                    readings.append((memory_mib(api), memory_mib(worker)))
                    section.notes.append(await _terminal(http, operation, f"{count:,}"))
                if await sends.audiences_supported(http):
                    try:
                        audience = await sends.audience_of(http, 100_000)
                        await sends.register_fast_sender(http)
                        operation = await sends.send(
                            http, sends.audience_body(audience, scheduled=False)
                        )
                        seconds = await sends.wait_settled(http, operation, timeout_s=1800)
                        steps.append(("audience of 100,000 sent", seconds))
                        readings.append((memory_mib(api), memory_mib(worker)))
                    except AUDIENCE_FAILURES as exc:
                        section.notes.append(f"audience of 100,000: not measured: {exc}")
                else:
                    section.notes.append(f"audience of 100,000: {sends.NOT_SUPPORTED}")
            for (label, took), ((a_rss, a_hwm), (w_rss, w_hwm)) in zip(
                steps, readings, strict=True
            ):
                section.rows.append(
                    [
                        label,
                        f"{a_rss:,.0f}",
                        f"{a_hwm:,.0f}",
                        f"{a_hwm / idle[0][1]:.2f}",
                        f"{w_rss:,.0f}",
                        f"{w_hwm:,.0f}",
                        f"{w_hwm / idle[1][1]:.2f}",
                        f"{took:.1f}" if took is not None else "-",
                    ]
                )
                key = label.removesuffix(" (baseline)")
                report.figure(f"memory {key}: API peak", a_hwm, "MiB", LOWER)
                report.figure(f"memory {key}: worker peak", w_hwm, "MiB", LOWER)

        asyncio.run(drive())
    section.notes.append(
        "RSS and peak are summed over each process tree (the API is granian's supervisor and "
        "its one worker process); the peak sum bounds the simultaneous peak from above"
    )
    report.sections.append(section)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    with preload.preloaded(args.messages) as (template, account):
        measure(template, account, scale=f"{args.messages:,}").print()


if __name__ == "__main__":
    main()
