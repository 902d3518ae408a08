-- The device a cookie session was opened from (issue 10 item 2: the account screen's list of
-- signed-in sessions): the browser's user agent (at most 256 printable ASCII characters) and the
-- source address. Staff metadata, not PHI, shown only to the session's own user. Nullable:
-- sessions opened before this migration, bearer tokens (they belong to their cookie session) and
-- requests without the header have none.
ALTER TABLE sessions
  ADD COLUMN user_agent text CHECK (length(user_agent) BETWEEN 1 AND 256),
  ADD COLUMN source_ip text CHECK (length(source_ip) BETWEEN 2 AND 45);
