"""What a benchmark hands to `make bench`: sections (a title, notes, a table) and named figures
(for comparing one scale with another), as JSON; and the machine the figures came from."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.wrk import Paired, WrkResult

# Throughput figures are "higher is better"; latencies, queries and memory "lower is better".
HIGHER = "higher"
LOWER = "lower"


@dataclass
class Section:
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Figure:
    value: float
    unit: str
    better: str


@dataclass
class Report:
    sections: list[Section] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)

    def figure(self, key: str, value: float, unit: str, better: str) -> None:
        self.figures[key] = Figure(value, unit, better)

    def wrk_figures(self, key: str, result: WrkResult) -> None:
        self.figure(f"{key}: req/s", result.rps, "req/s", HIGHER)
        self.figure(f"{key}: p50", result.p50_ms, "ms", LOWER)
        self.figure(f"{key}: p99", result.p99_ms, "ms", LOWER)

    def paired_figures(self, key: str, result: Paired) -> None:
        """The figure, and its throughput as a share of the bare request's (which takes the
        machine's own speed and load out of a comparison between runs)."""
        self.wrk_figures(key, result.figure)
        self.figure(f"{key}: req/s ÷ bare", result.ratio, "", HIGHER)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Report:
        raw = json.loads(path.read_text())
        return cls(
            sections=[Section(**s) for s in raw["sections"]],
            figures={k: Figure(**v) for k, v in raw["figures"].items()},
        )

    def print(self) -> None:
        for section in self.sections:
            print(markdown(section))


PAIRED_HEADER = [
    "request",
    "req/s",
    "p50 ms",
    "p99 ms",
    "bare req/s",
    "bare p50 ms",
    "bare p99 ms",
    "req/s ÷ bare",
    "p50 ÷ bare",
]


def paired_row(name: str, result: Paired) -> list[str]:
    figure, bare = result.figure, result.bare
    row = [
        name,
        f"{figure.rps:,.0f}",
        f"{figure.p50_ms:.2f}",
        f"{figure.p99_ms:.2f}",
        f"{bare.rps:,.0f}",
        f"{bare.p50_ms:.2f}",
        f"{bare.p99_ms:.2f}",
        f"{result.ratio:.3f}",
        f"{figure.p50_ms / bare.p50_ms:.1f}x" if bare.p50_ms else "-",
    ]
    if figure.bad or bare.bad:
        row[0] += f" (INVALID: {figure.bad} failed requests, {bare.bad} bare)"
    return row


def markdown(section: Section) -> str:
    lines = [f"### {section.title}", ""]
    lines += [note + "  " for note in section.notes]
    if section.notes:
        lines.append("")
    if section.rows:
        lines.append("| " + " | ".join(section.header) + " |")
        lines.append("|" + "|".join("---" for _ in section.header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in section.rows]
        lines.append("")
    return "\n".join(lines)


def _first(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.M)
    return match.group(1).strip() if match else None


def machine(postgres_version: str) -> list[str]:
    """Cores, CPU model, RAM, Python and PostgreSQL versions, as markdown list lines."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    kib = _first(r"^MemTotal:\s+(\d+) kB", meminfo)
    ram = f"{int(kib) / 1024 / 1024:.1f} GiB" if kib else "unknown"
    model = _first(r"^model name\s*:\s*(.+)$", cpuinfo) or platform.processor() or "unknown"
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    except OSError:
        wrk = ""
    return [
        f"- cores: {os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})",
        f"- CPU: {model}",
        f"- RAM: {ram}",
        f"- kernel: {platform.system()} {platform.release()}",
        f"- Python: {sys.version.split()[0]}",
        f"- PostgreSQL: {postgres_version}",
        f"- wrk: {(wrk.splitlines() or ['unknown'])[0].split(' Copyright')[0]}",
    ]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def to_jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
