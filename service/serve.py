"""`comms serve`: the API as it runs in production, under granian with several processes.

Each server process counts its own requests; with more than one, Prometheus's multiprocess mode
makes every scrape report all of them, whichever process answers (service/metrics). Its values
live in files in PROMETHEUS_MULTIPROC_DIR, which must be empty when the server starts: a file
left by an earlier run would add that run's counts to this one's. So this command empties the
directory (made when missing), or makes a private one when none is set and there are several
processes, and then becomes granian (exec), which starts the processes with it in their
environment.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from service.devrun import GRANIAN_ARGS

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Granian's own log lines (start, spawned and exited processes) as JSON, like ours.
JSON_LOG_CONFIG = Path(__file__).with_name("granian-logging.json")


def prepare_metrics_dir(path: Path) -> None:
    """An empty multiprocess directory at `path`: made if missing, earlier runs' files gone."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def granian_command(
    environ: Mapping[str, str], *, host: str, port: int, workers: int
) -> tuple[list[str], dict[str, str]]:
    """granian's command line and environment; prepares the multiprocess directory."""
    env = dict(environ)
    directory = env.get(MULTIPROC_DIR) or None
    if directory is None and workers > 1:
        directory = tempfile.mkdtemp(prefix="comms-metrics-")
    if directory is not None:
        prepare_metrics_dir(Path(directory))
        env[MULTIPROC_DIR] = directory
    args = [a for a in GRANIAN_ARGS if not a.startswith(("--host", "--workers"))]
    command = [
        sys.executable,
        "-m",
        "granian",
        *args,
        f"--host={host}",
        f"--port={port}",
        f"--workers={workers}",
    ]
    if env.get("LOG_FORMAT") == "json" and "GRANIAN_LOG_CONFIG" not in env:
        command.append(f"--log-config={JSON_LOG_CONFIG}")
    return command, env


def serve(environ: Mapping[str, str], *, host: str, port: int, workers: int) -> NoReturn:
    """Become granian serving the API (does not return)."""
    command, env = granian_command(environ, host=host, port=port, workers=workers)
    os.execve(command[0], command, env)  # noqa: S606 (our own interpreter, a fixed argv)
