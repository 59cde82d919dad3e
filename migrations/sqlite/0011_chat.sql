-- Chat: rooms (workspace channels, a discussion per record, private rooms), the
-- participants and invitations of private rooms, messages with their position in the
-- room (`seq`, consecutive from 1), reactions, and each user's read marker per room.
-- A room's changes are logged in the change log under `chat:{id}`. Kept in step with
-- migrations/postgres/0011_chat.sql.

CREATE TABLE chat_rooms (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    record_kind TEXT,
    record_id INTEGER,
    owner_id INTEGER REFERENCES users(id),
    max_participants INTEGER,
    archived_at INTEGER,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    last_message_at INTEGER
);
CREATE INDEX chat_rooms_by_workspace ON chat_rooms (workspace_id, kind);
-- A channel's name is unique in its workspace, whatever its case.
CREATE UNIQUE INDEX chat_channel_names ON chat_rooms (workspace_id, LOWER(name)) WHERE kind = 'channel';
CREATE UNIQUE INDEX chat_rooms_by_record ON chat_rooms (workspace_id, record_kind, record_id);

CREATE TABLE chat_participants (
    room_id INTEGER NOT NULL REFERENCES chat_rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX chat_participants_by_user ON chat_participants (user_id);

CREATE TABLE chat_invitations (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES chat_rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    invited_by INTEGER REFERENCES users(id),
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER
);
CREATE INDEX chat_invitations_by_user ON chat_invitations (user_id, status);
CREATE INDEX chat_invitations_by_room ON chat_invitations (room_id, status);

CREATE TABLE chat_messages (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES chat_rooms(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    author_id INTEGER REFERENCES users(id),
    body TEXT NOT NULL,
    search_text TEXT NOT NULL,
    reply_to INTEGER,
    client_key TEXT,
    created_at INTEGER NOT NULL,
    edited_at INTEGER,
    deleted_at INTEGER
);
CREATE UNIQUE INDEX chat_messages_by_seq ON chat_messages (room_id, seq);
CREATE UNIQUE INDEX chat_messages_by_key ON chat_messages (room_id, author_id, client_key);

CREATE TABLE chat_reactions (
    message_id INTEGER NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

CREATE TABLE chat_reads (
    room_id INTEGER NOT NULL REFERENCES chat_rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read_seq INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
