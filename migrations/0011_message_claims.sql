-- Which claim holds a message now: each claim of a batch writes a new random token, and a
-- worker changes a message it claimed (marks it sending, gives it back, records an outcome)
-- only while the message still carries its token. A worker stalled past its lease (a paused
-- process, a slow database) therefore cannot undo the claim of the worker that took the
-- message over. Nullable with no default: adding it rewrites nothing.
ALTER TABLE messages ADD COLUMN claim uuid;
