-- Scheduled work that must run on one node at a time (reminders, pruning the change
-- log) is done by whichever node holds its lease; a lease not renewed before it expires
-- passes to another node, so a node that dies stops holding it. And an index on the
-- change log's age, so pruning by age reads only what it deletes.
-- Kept in step with migrations/sqlite/0012_leases_and_log_pruning.sql.

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX room_events_created ON room_events (created_at);
