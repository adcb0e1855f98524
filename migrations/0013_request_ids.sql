-- Request ids and trace context (issue 12): what a send was asked with travels with its work.
-- An operation keeps the X-Request-Id of the request that created it and that request's W3C
-- traceparent (NULL when tracing was off), so its provider calls (X-Request-Id, traceparent)
-- and its events (the CloudEvents `requestid` and `traceparent` extension attributes) carry them
-- however much later they happen. Both are written once, by the insert; nothing reads them on
-- a hot path but the operation's own rows, so no index.
ALTER TABLE operations ADD COLUMN request_id text;
ALTER TABLE operations ADD COLUMN traceparent text;

-- The events' view (0009) with them, from the event's operation (its primary key). New columns
-- go last: CREATE OR REPLACE VIEW keeps the others as they are.
CREATE OR REPLACE VIEW event_details AS
SELECT e.id, e.operation_id, e.account_sid, e.message_id, e.type, e.error_code, e.occurred_at,
       m.routes -> e.route_index ->> 'from' AS from_address,
       m.routes -> e.route_index ->> 'channel' AS from_channel,
       coalesce(m.routes -> e.route_index ->> 'to', m.address) AS to_address,
       coalesce(m.routes -> e.route_index ->> 'recipientChannel', m.channel) AS to_channel,
       coalesce(m.tags, m.operation_tags) AS tags,
       coalesce(a.tries, 0) AS tries,
       a.downstream_id,
       o.request_id,
       o.traceparent
FROM events e
LEFT JOIN messages m ON m.id = e.message_id
LEFT JOIN LATERAL (
    SELECT count(*)::integer AS tries,
           (array_agg(t.provider_sid ORDER BY t.attempted_at DESC)
               FILTER (WHERE t.provider_sid IS NOT NULL AND t.route_index = e.route_index))[1]
               AS downstream_id
    FROM attempts t
    WHERE t.message_id = e.message_id AND t.attempted_at <= e.occurred_at
) a ON e.message_id IS NOT NULL
LEFT JOIN operations o ON o.id = e.operation_id;
