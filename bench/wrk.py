"""wrk (Debian's /usr/bin/wrk) as the load generator, out of the API's process: its requests per
second and its latency distribution (`--latency`: p50, p99), and each figure beside a bare
`GET /healthz` of the same API process measured just before it."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS = 16
THREADS = 2
SECONDS = 5
WARM_SECONDS = 1


class WrkMissing(RuntimeError):
    pass


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    # Answers outside 2xx/3xx and socket errors: a figure with any is not a valid figure.
    bad: int

    def describe(self) -> str:
        return f"{self.rps:,.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkResult:
    """The figures of one `wrk --latency` run."""
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.M))
    if not rps or not total or "50" not in percentiles or "99" not in percentiles:
        raise ValueError(f"unreadable wrk output:\n{output}")
    bad = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        bad += int(non_2xx.group(1))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=int(total.group(1)),
        bad=bad,
    )


def basic(auth: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()


def _lua(method: str, body: bytes | None, headers: dict[str, str]) -> str:
    lines = [f"wrk.method = {json.dumps(method)}"]
    if body is not None:
        # A Lua long string holds the JSON body verbatim, with a level of `=` it never closes.
        text = body.decode()
        level = next(n for n in range(1, 100) if f"]{'=' * n}]" not in text)
        lines.append(f"wrk.body = [{'=' * level}[{text}]{'=' * level}]")
    for name, value in headers.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def wrk_binary() -> str:
    found = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
    if not found:
        raise WrkMissing("wrk is not installed: apt-get install -y wrk")
    return found


def run(
    url: str,
    *,
    auth: tuple[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    seconds: int = SECONDS,
    connections: int = CONNECTIONS,
) -> WrkResult:
    """One wrk run of `seconds` against `url` at `connections` connections."""
    headers = {"Authorization": basic(auth)} if auth else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(method, body, headers))
    try:
        done = subprocess.run(
            [
                wrk_binary(),
                f"-t{min(THREADS, connections)}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "30s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
    return parse(done.stdout)


@dataclass
class Paired:
    """A figure and the bare `GET /healthz` of the same API process measured just before."""

    figure: WrkResult
    bare: WrkResult

    @property
    def ratio(self) -> float:
        """The figure's throughput as a share of the bare request's (1.0: as fast as bare)."""
        return self.figure.rps / self.bare.rps if self.bare.rps else 0.0


def paired(
    api: str,
    url: str,
    *,
    auth: tuple[str, str],
    method: str = "GET",
    body: bytes | None = None,
    seconds: int = SECONDS,
) -> Paired:
    """Warm up, then the bare baseline, then the figure, all against the same API process."""
    run(url, auth=auth, method=method, body=body, seconds=WARM_SECONDS)
    bare = run(f"{api}/healthz", seconds=seconds)
    figure = run(url, auth=auth, method=method, body=body, seconds=seconds)
    return Paired(figure, bare)
