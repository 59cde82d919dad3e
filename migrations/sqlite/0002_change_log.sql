-- The durable per-room change log behind realtime resume: each room has a head (its
-- epoch and last offset) and its events with consecutive offsets within the epoch.
-- Kept in step with migrations/postgres/0002_change_log.sql.

CREATE TABLE room_heads (
    room TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    last_offset INTEGER NOT NULL
);

CREATE TABLE room_events (
    room TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    event_offset INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room, epoch, event_offset)
);
