-- Sessions started before this moment are void: revoking sessions, resetting
-- a password or disabling a user sets it, so that a request still in flight
-- when the session rows are deleted cannot write its session back.
ALTER TABLE control.staff_users ADD COLUMN sessions_not_before timestamptz NOT NULL DEFAULT 'epoch';
