-- The first answer to each keyed update, so that a client that sends an edit again (an
-- offline queue after a lost response) gets that answer and changes nothing. Kept for a
-- day (purged by the writes that add keys). Kept in step with
-- migrations/sqlite/0007_idempotency_keys.sql.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
