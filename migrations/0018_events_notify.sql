-- The API process's event feed (service/events/feed.py) listens on `comms_events` instead of
-- every SSE stream polling for events: a statement-level trigger wakes it at the commit of any
-- transaction that wrote event rows. The payload is empty, so PostgreSQL folds a transaction's
-- notifications into one (a batch of 10,000 status changes wakes the feed once); the feed then
-- reads what has settled (service/events/logic.py), so a notification says only "look now".
-- Without a listener (or with the feed not listening) nothing is lost: the feed polls instead.
CREATE FUNCTION notify_events_written() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('comms_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_written();
