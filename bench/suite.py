"""`make bench`: every read and accept benchmark, each on its own stack, with every figure beside
its raw baseline from the same run; writes bench/RESULTS.md (and prints it).

1-3. reads (operation stats, message lists) and accepting sends: bench/reads.py, bench/accept.py
4.   event streams: bench/event_streams.py (its own stack and output)
5.   memory of the API and a worker: bench/memory.py
6.   scale: the account holds 100,000 preloaded messages (bench/preload.py) for all of them;
     with `--scale 10m`, 1-3 run again with 10,000,000 and each figure is set beside its
     100,000 one.

    uv run python bench/suite.py [--scale 100k|10m] [--seconds 5] [--out bench/RESULTS.md]

Development: `--messages 60000 --seconds 2 --only reads accept` for a quick, smaller run (the
lists' page 200 needs 10,000 matching messages: at least ~50,000 preloaded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import accept, memory, preload, reads, wrk
from bench.report import HIGHER, Report, Section, load_average, machine, markdown
from bench.stack import DEV_ROOT, ROOT, drop_database, servers, stop_servers

SCALES = {"100k": 100_000, "10m": 10_000_000}
EVENT_STREAMS = ROOT / "bench" / "event_streams.py"
PARTS = ("reads", "accept", "events", "memory")
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S* \[|\[(INFO|WARNING)\] )")


async def _postgres_version(admin_url: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        version: str = await conn.fetchval("SHOW server_version")
        return version
    finally:
        await conn.close()


def event_streams_script() -> Report:
    """bench/event_streams.py's own output."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(EVENT_STREAMS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    section = Section("4. Event streams (bench/event_streams.py)", [])
    section.notes.append(
        f"its output ({time.monotonic() - started:.0f} s, exit status {done.returncode}):"
    )
    # Its figures, without the log lines of its setup and of granian.
    figures = [line for line in done.stdout.splitlines() if not _LOG_LINE.match(line)]
    output = "\n".join(figures).strip() or done.stderr.strip()[-3000:]
    section.notes.append("\n```\n" + output + "\n```")
    return Report(sections=[section])


def run_scale(
    messages: int, parts: tuple[str, ...], seconds: int, log: list[str]
) -> tuple[Report, float]:
    """Every part on the preloaded account; the report and the preload's seconds."""
    print(f"\npreloading {messages:,} messages", flush=True)
    template, account, filled = preload.template(messages)
    scale = f"{messages:,}"
    report = Report()
    admin_url, _ = servers()
    try:
        for part in parts:
            started = time.monotonic()
            print(f"\n{part} ({scale} messages preloaded)", flush=True)
            if part == "reads":
                got = reads.measure(template, account, scale=scale, seconds=seconds)
            elif part == "accept":
                got = accept.measure(template, account, scale=scale, seconds=seconds)
            elif part == "events":
                got = event_streams_script()
            else:
                got = memory.measure(template, account, scale=scale)
            got.print()
            report.sections += got.sections
            report.figures.update(got.figures)
            log.append(f"{part} at {scale}: {time.monotonic() - started:.0f} s")
    finally:
        asyncio.run(drop_database(admin_url, template))
    return report, filled


def comparison(base: Report, big: Report, base_messages: int, big_messages: int) -> Section:
    section = Section(
        f"6. Scale: {big_messages:,} messages preloaded against {base_messages:,}",
        ["figure", f"{base_messages:,}", f"{big_messages:,}", "ratio", "change"],
    )
    for key, figure in big.figures.items():
        before = base.figures.get(key)
        if before is None or not before.value:
            continue
        ratio = figure.value / before.value
        worse = ratio < 1 if figure.better == HIGHER else ratio > 1
        section.rows.append(
            [
                key,
                f"{before.value:,.2f} {before.unit}",
                f"{figure.value:,.2f} {figure.unit}",
                f"{ratio:.3f}",
                "worse" if worse else "better or equal",
            ]
        )
    return section


def write(path: Path, *, lines: list[str]) -> None:
    path.write_text("\n".join(lines).rstrip() + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="100k")
    parser.add_argument("--messages", type=int, help="preload this many instead of 100,000")
    parser.add_argument(
        "--big", type=int, default=SCALES["10m"], help="with --scale 10m: preload this many"
    )
    parser.add_argument("--seconds", type=int, default=wrk.SECONDS, help="per wrk figure")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    wrk.wrk_binary()  # fails early, saying how to install it
    started = datetime.now(UTC)
    clock = time.monotonic()
    ran_servers = not (DEV_ROOT / "pg.state").exists()
    admin_url, _ = servers()
    load_before = load_average()
    log: list[str] = []
    pg_version = asyncio.run(_postgres_version(admin_url))
    base_messages = args.messages or SCALES["100k"]

    def document(
        base: Report, base_fill: float, big: Report | None, big_fill: float, pending: str
    ) -> list[str]:
        minutes = (time.monotonic() - clock) / 60
        lines = [
            "# Benchmark results",
            "",
            f"Written by `make bench` (`bench/suite.py --scale {args.scale}`) on "
            f"{started:%Y-%m-%d %H:%M} UTC; the run took {minutes:.1f} minutes"
            + (f" so far ({pending})." if pending else "."),
            "",
            "## Machine",
            "",
            *machine(pg_version),
            f"- load average before the run: {load_before}; at writing: {load_average()} "
            "(anything else running shares the cores with the stack and with wrk)",
            "",
            "## Method",
            "",
            "Each benchmark starts its own stack: embedded PostgreSQL (fsync off, as for "
            "development) and Redis under `.devdata/bench`, the API (granian, one worker "
            "process), one worker and the sandbox, as processes; the database is a clone of a "
            f"template preloaded with {base_messages:,} messages for the measured account "
            "(`bench/preload.py`). The load runs out of the API's process: "
            f"wrk, {wrk.CONNECTIONS} connections, {wrk.THREADS} threads, {args.seconds} s per "
            f"figure after a {wrk.WARM_SECONDS} s warm-up, p50/p99 from `--latency`; each "
            "figure's baseline is a bare `GET /healthz` of the same API process measured just "
            "before it. `req/s ÷ bare` is the figure's throughput as a share of the bare "
            "request's; `p50 ÷ bare` how many times the bare request's median latency it takes. "
            "The API's per-account request limit is off (API_REQUESTS_PER_SECOND=0).",
            "",
            f"## Figures: {base_messages:,} messages preloaded (filled in {base_fill:.0f} s)",
            "",
            *(markdown(s) for s in base.sections),
        ]
        if big is not None:
            lines += [
                f"## Figures: {args.big:,} messages preloaded (filled in {big_fill:.0f} s)",
                "",
                *(markdown(s) for s in big.sections),
                markdown(comparison(base, big, base_messages, args.big)),
            ]
        return [*lines, "## Timings", "", *(f"- {entry}" for entry in log)]

    try:
        parts = tuple(p for p in PARTS if p in args.only)
        base, base_fill = run_scale(base_messages, parts, args.seconds, log)
        # Written now, so the figures stay even when a longer scale is stopped.
        pending = f"{args.big:,} messages still to run" if args.scale == "10m" else ""
        write(args.out, lines=document(base, base_fill, None, 0, pending))
        if args.scale == "10m":
            big_parts = tuple(p for p in ("reads", "accept") if p in parts)
            big, big_fill = run_scale(args.big, big_parts, args.seconds, log)
            write(args.out, lines=document(base, base_fill, big, big_fill, ""))
    finally:
        if ran_servers:
            with contextlib.suppress(OSError, RuntimeError):
                stop_servers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
