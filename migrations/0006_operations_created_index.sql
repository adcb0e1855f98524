-- Retention walks the oldest operations first.
CREATE INDEX operations_created_idx ON operations (created_at);
