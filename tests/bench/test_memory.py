"""bench/memory.py: a process tree's memory is read from /proc, children included."""

from __future__ import annotations

import subprocess
import sys
import time

from bench import memory

# A parent that starts a child holding ~64 MiB, then both wait.
PARENT = """
import subprocess, sys, time
hold = "b = bytearray(64 << 20); import time; time.sleep(60)"
child = subprocess.Popen([sys.executable, "-c", hold])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_the_tree_holds_the_child_and_its_memory_counts() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 30
        rss, peak = memory.memory_mib(parent.pid)
        while rss < 64 and time.monotonic() < deadline:  # until the child has its bytes
            time.sleep(0.1)
            rss, peak = memory.memory_mib(parent.pid)
        assert child in memory.tree(parent.pid)
        assert rss >= 64
        assert peak >= rss
    finally:
        for pid in (child, parent.pid):
            if pid:
                subprocess.run(["kill", str(pid)], check=False)
        parent.wait(timeout=10)
