"""The out-of-process client of bench/accept.py: sends of N recipients (scheduled 30 days ahead),
one after another, and as many bare `GET /healthz` (the baseline, same client, same way);
prints the milliseconds of each: {"accept_ms": [...], "bare_ms": [...]}. Credentials on stdin as
["AC…", "token"] (never on the command line).

    python bench/accept_client.py API_URL [--recipients 10000] [--requests 20] < credentials
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sends import scheduled_body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("api")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    sid, token = json.loads(sys.stdin.read())
    # The body is encoded once: the client's own work is not part of the figure.
    body = json.dumps(scheduled_body(args.recipients, seed=4)).encode()
    headers = {"Content-Type": "application/json"}
    times, bare = [], []
    with httpx.Client(base_url=args.api, auth=(sid, token), timeout=300) as http:
        for n in range(args.requests + 1):
            started = time.perf_counter()
            http.get("/healthz").raise_for_status()
            if n:
                bare.append((time.perf_counter() - started) * 1000)
        for n in range(args.requests + 1):
            started = time.perf_counter()
            answer = http.post("/v1/Messages", content=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 202:
                sys.exit(f"send refused: {answer.status_code} {answer.text[:500]}")
            if n:  # the first warms the API up (imports, caches, prepared statements)
                times.append(elapsed)
    print(json.dumps({"accept_ms": times, "bare_ms": bare}))


if __name__ == "__main__":
    main()
