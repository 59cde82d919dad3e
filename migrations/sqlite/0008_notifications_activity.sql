-- Notifications (stored per user, delivered on their user room), their per-type
-- preferences and record follows; the change log's actor and op as columns, so an
-- activity feed filters by who and what through an index; a customer's priority and a
-- deal's notes (where @mentions are typed). Kept in step with
-- migrations/postgres/0008_notifications_activity.sql.

ALTER TABLE customers ADD COLUMN priority TEXT;
ALTER TABLE deals ADD COLUMN notes TEXT;

ALTER TABLE room_events ADD COLUMN actor_id INTEGER;
ALTER TABLE room_events ADD COLUMN op TEXT;
-- Changes logged before these columns: read from their payloads.
UPDATE room_events SET actor_id = json_extract(payload, '$.actor'), op = json_extract(payload, '$.op');
CREATE INDEX room_events_by_actor ON room_events (room, actor_id, epoch, event_offset);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    priority TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    record_kind TEXT,
    record_id INTEGER,
    actor_id INTEGER,
    actor_name TEXT,
    created_at INTEGER NOT NULL,
    read_at INTEGER,
    snoozed_until INTEGER,
    dismissed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);

CREATE TABLE notification_prefs (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    in_app INTEGER NOT NULL,
    sound INTEGER NOT NULL,
    browser INTEGER NOT NULL,
    PRIMARY KEY (user_id, type)
);

CREATE TABLE follows (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    record_kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, record_kind, record_id)
);
CREATE INDEX follows_by_record ON follows (record_kind, record_id);
