-- A message is `sending` from the moment its attempt is recorded for a provider call until
-- that call ends in a transient failure. Cancel refuses such messages; because the flag is on
-- the message row itself, a cancel racing a worker re-checks it under the row lock and never
-- cancels a message that is being (or was) handed to a provider.
ALTER TABLE messages ADD COLUMN sending boolean NOT NULL DEFAULT false;
