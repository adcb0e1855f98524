"""bench/memory.py: a process tree's memory is read from /proc, children included."""

from __future__ import annotations

import subprocess
import sys

from bench import memory

# A parent that starts a child holding ~64 MiB, says the child's pid once the child has its
# bytes, then both wait to be killed.
PARENT = """
import signal, subprocess, sys
hold = "b = bytearray(64 << 20); print(flush=True); import signal; signal.pause()"
child = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE)
child.stdout.readline()
print(child.pid, flush=True)
signal.pause()
"""


def test_the_tree_holds_the_child_and_its_memory_counts() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        rss, peak = memory.memory_mib(parent.pid)
        assert child in memory.tree(parent.pid)
        assert rss >= 64
        assert peak >= rss
    finally:
        for pid in (child, parent.pid):
            if pid:
                subprocess.run(["kill", str(pid)], check=False)
        parent.wait(timeout=10)
