"""`python -m workers` processes for tests that kill, stop or starve real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import msgspec

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcesses:
    """Worker processes on the settings' database and Redis (with `overrides` on top, as
    environment variables), all logging to one file."""

    def __init__(self, settings: Settings, log: Path, **overrides: str) -> None:
        values = msgspec.structs.asdict(settings)
        env = {name.upper(): str(value) for name, value in values.items() if value is not None}
        self.env = {**os.environ, **env, "LOG_LEVEL": "WARNING", **overrides}
        self.log = log
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", "workers"],
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        """SIGKILL every worker started here that still runs (a test's end, pass or fail)."""
        for worker in self.started:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def tail(self) -> str:
        return self.text()[-3000:]
