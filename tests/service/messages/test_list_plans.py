"""The list queries are planned onto indexes and read about a page, with realistic statistics
and with statistics that know nothing of a send just accepted.

A database of its own gets ~40,000 messages shaped like bench/explain_lists.py's million (the
same generator) and is ANALYZEd, then a send of 10,000 messages sharing one created_at is stored
behind the statistics' back; every case of the benchmark is EXPLAINed exactly as the service
plans it (the same query for the filters' shape, the same planner settings). What this
proves: at this size, with these distributions, the planner chooses an index for every filter
and combination on `messages` (and the provider-SID lookup on `attempts`), and the single
filters read about a page. The message lists are planned without bitmaps or sorts, so their
plans do not hinge on the size; bench/explain_lists.py checks a million rows. Operation lists
are left out here: with under 1,000 operations a Seq Scan is the planner's right call, and the
benchmark checks them at 20,000.
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
        cases = explain_lists.cases(sample)
        fresh = await explain_lists.fresh_send(conn, sample.big, 10_000)
        cases += await explain_lists.fresh_cases(conn, sample.big, fresh)
        return [await explain_lists.explain(conn, case) for case in cases]
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


def test_a_page_reads_about_a_page_of_messages_at_any_depth(
    explained: list[explain_lists.Explained],
) -> None:
    """Page 1 and a page deep inside one created_at read the same: the page position is an
    index condition, and no plan reads every match to sort it."""
    by_name = {e.case.name: e for e in explained}
    for name in (
        "messages: operationId (2,500 messages)",
        "messages: operationId, last pages (one created_at)",
        "messages: tags wave:1, page 100",
        "messages: status FAILED, page 100",
        "messages: no filter, page 100",
    ):
        assert by_name[name].messages_read <= 53, (name, by_name[name].plan)


def test_a_send_the_statistics_do_not_know_is_read_a_page_at_a_time(
    explained: list[explain_lists.Explained],
) -> None:
    """Just accepted, 10,000 messages sharing one created_at look like a handful of rows to
    the planner (no ANALYZE since): its lists still read one page from the page position,
    never the whole send (which a bitmap and a sort would, on every page)."""
    fresh = [e for e in explained if e.case.name.startswith("messages: fresh send:")]
    assert len(fresh) == 9
    for e in fresh:
        assert e.messages_read <= 53, (e.case.name, e.plan)
        assert "Bitmap" not in "\n".join(e.plan), (e.case.name, e.plan)


def test_tag_filters_walk_operations_not_every_message(
    explained: list[explain_lists.Explained],
) -> None:
    """A tag of the oldest send is found by walking operations: the messages read are that
    send's page, plus at most the messages of operations with a templated tag (checked one by
    one), not every newer message."""
    by_name = {e.case.name: e for e in explained}
    oldest = by_name["messages: tags campaign:first (the oldest send)"]
    plan = "\n".join(oldest.plan)
    assert "messages_operation_created_idx" in plan, plan
    assert "messages_account_created_idx" not in plan, plan
    assert oldest.messages_read <= 51 + 10 * explain_lists.SMALL_OPERATION, plan
    rendered = by_name["messages: tags name:n42 (rendered Liquid, 0.001%)"]
    # Only operations with a templated tag are walked message by message.
    assert rendered.messages_read <= 2 * explain_lists.BIG_OPERATION, rendered.plan
