-- An operation's statusCallback deliveries (endpoint_id IS NULL), newest first, for their log.
CREATE INDEX webhook_deliveries_callback_idx ON webhook_deliveries (operation_id, id DESC)
    WHERE endpoint_id IS NULL;
