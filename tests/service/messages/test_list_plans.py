"""The list queries are planned onto indexes, with realistic statistics (no planner switches).

A database of its own gets ~40,000 messages shaped like bench/explain_lists.py's million (the
same generator) and is ANALYZEd; every case of the benchmark is EXPLAINed exactly as the service
plans it. What this proves: at this size, with these distributions, the planner chooses an
index for every filter and combination on `messages` (and the provider-SID lookup on
`attempts`). It does not prove the choice at other sizes; bench/explain_lists.py checks a
million rows. Operation lists are left out here: with under 1,000 operations a Seq Scan is the
planner's right call, and the benchmark checks them at 20,000.
"""

from __future__ import annotations

import os
import re

import asyncpg
import pytest

from bench import explain_lists
from service import db, migrate
from tests.support.servers import Servers, create_database


@pytest.fixture(scope="module")
async def explained(servers: Servers) -> list[explain_lists.Explained]:
    url = await create_database(servers.admin_url, f"comms_plans_{os.getpid()}")
    conn = await asyncpg.connect(url)
    try:
        await db.init_connection(conn)
        await migrate.apply(conn)
        await explain_lists.fill(conn, 40_000)
        sample = await explain_lists.sample(conn)
        return [await explain_lists.explain(conn, case) for case in explain_lists.cases(sample)]
    finally:
        await conn.close()


def test_every_message_filter_is_served_by_an_index(
    explained: list[explain_lists.Explained],
) -> None:
    checked = [e for e in explained if not e.case.name.startswith("operations:")]
    assert len(checked) >= 35
    scans = {e.case.name: "\n".join(e.plan) for e in checked if e.seq_scans}
    assert not scans, scans


def test_pages_stop_early_instead_of_sorting_everything(
    explained: list[explain_lists.Explained],
) -> None:
    by_name = {e.case.name: e for e in explained}
    for name in (
        "messages: no filter",
        "messages: no filter, page 100",
        "messages: operationId (2,500 messages)",
        "messages: status FAILED (3%)",
        "messages: channel CONVERSATIONS (1%)",
        "messages: address",
        "messages: startDate+endDate (one hour)",
    ):
        plan = by_name[name].plan
        # One scan per day partition (messages are partitioned by day), merged in list order.
        scans = [line for line in plan if re.search(r" on messages_\w+ ", line)]
        assert scans, (name, plan)
        for scan in scans:
            if "Seq Scan" in scan and "(cost=0.00..0.00 " in scan:
                continue  # an empty partition (a day ahead): nothing to read
            assert "Index Scan using messages_" in scan, (name, plan)
            # Read in list order and stopped at the page: at most the 51 rows asked for.
            actual = re.search(r"actual time=\S+ rows=(\d+)", scan)
            assert actual is not None
            assert int(actual.group(1)) <= 51, (name, plan)


def test_tag_filters_use_the_tag_index_when_rare(
    explained: list[explain_lists.Explained],
) -> None:
    rare = next(e for e in explained if e.case.name.startswith("messages: tags name:n42"))
    assert "messages_tags_idx" in "\n".join(rare.plan)
