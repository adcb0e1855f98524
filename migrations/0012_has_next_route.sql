-- Whether a message with these routes has one after route i: the channel fallback rule's
-- condition, defined once for SQL (the fall_back and apply_receipts queries) as the twin of
-- service/sending/rules.has_next_route; a test holds the two together. Messages stored before
-- routes existed (routes NULL) have none.
CREATE FUNCTION has_next_route(routes jsonb, i integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    RETURN i + 1 < coalesce(jsonb_array_length(routes), 0);
