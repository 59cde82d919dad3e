-- Meetings (one more record kind, declared in app/src/model/record/kinds.rs), the
-- bookings the store keeps from every scheduled record (one row per person and record:
-- the overlap check, free slots and reminders read them), and members' calendars: time
-- zone, reminder lead, weekly availability and days off. Kept in step with
-- migrations/postgres/0010_meetings_calendar.sql.

CREATE TABLE meetings (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    deleted_at INTEGER,
    deleted_by INTEGER REFERENCES users(id),
    search_text TEXT,
    title TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id),
    organizer_id INTEGER NOT NULL REFERENCES users(id),
    participants TEXT,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    location TEXT,
    status TEXT NOT NULL,
    rsvp TEXT,
    notes TEXT
);

-- A person's time taken by a record (a meeting, a scheduled call), from `starts_at` to
-- `ends_at` (Unix ms, end excluded). `busy` is 0 for a participant who declined.
-- `reminded_at` is set once the reminder is sent (claimed by one node).
CREATE TABLE bookings (
    record_kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    busy INTEGER NOT NULL,
    exclusive INTEGER NOT NULL,
    reminded_at INTEGER,
    PRIMARY KEY (record_kind, record_id, user_id)
);
CREATE INDEX bookings_user_time ON bookings (user_id, starts_at);
CREATE INDEX bookings_due ON bookings (starts_at) WHERE reminded_at IS NULL;

-- A member's calendar settings: IANA time zone and reminder lead, minutes.
CREATE TABLE calendars (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    time_zone TEXT NOT NULL,
    reminder_minutes INTEGER NOT NULL DEFAULT 10,
    updated_at INTEGER NOT NULL
);

-- Weekly availability: on `weekday` (0 = Monday) from `start_minute` to `end_minute`
-- after local midnight, in the calendar's zone.
CREATE TABLE availability (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL,
    start_minute INTEGER NOT NULL,
    end_minute INTEGER NOT NULL,
    PRIMARY KEY (user_id, weekday, start_minute)
);

-- Days off: no availability on `day` (YYYY-MM-DD, in the calendar's zone).
CREATE TABLE availability_exceptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (user_id, day)
);

-- One row per person whose bookings are being checked: a booking's transaction writes
-- each person's row (ascending ids) before looking for overlaps, so two bookings of one
-- person run their check one after the other (PostgreSQL's row lock; SQLite's single
-- writer serializes them anyway).
CREATE TABLE booking_locks (
    user_id INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);

-- Calls scheduled before bookings existed take their assignee's time (30 minutes when
-- no duration is set) and are reminded of, as a call written from now on is.
INSERT INTO bookings (record_kind, record_id, user_id, workspace_id, starts_at, ends_at,
                      busy, exclusive, reminded_at)
SELECT 'call', c.id, c.assignee_id, c.workspace_id, c.scheduled_at,
       c.scheduled_at + COALESCE(NULLIF(c.duration, 0), 1800) * 1000, 1, 0, NULL
FROM calls c
JOIN memberships m ON m.workspace_id = c.workspace_id AND m.user_id = c.assignee_id
WHERE c.deleted_at IS NULL AND c.status = 'scheduled' AND c.scheduled_at IS NOT NULL;
