"""Sending: one aggregate from a claimed message to a recorded outcome.

Read in this order:
- records.py: the vocabulary (Route, ClaimedMessage, NewAttempt, Outcome and its named
  constructors); statuses.py: statuses and the forward-only order they move in;
- rules.py: every decision, with no I/O (route and fallback, refusals, the attempt to make,
  what a provider's answer makes of a message); segments are service/messages/segments.py's;
- channel.py: the interface a provider channel implements (workers/channels/ has them);
- batches.py: a claimed batch from preparation to record, transactions included;
- store.py and queries.sql: the send queue in PostgreSQL; retries.py: the backoff schedule.

The worker's loop (workers/dispatch.py) claims, paces and calls; the dry run
(service/messages/dryrun.py) and receipts (service/callbacks/) decide through rules.py and,
for fallback, the one fall_back query.
"""
