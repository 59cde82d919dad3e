-- Lists at a million rows. Each column of a board with its count and amount, kept by
-- triggers that server/src/db/sql/indexes.rs derives from the kind's board spec (as it
-- derives the sort, filter and search indexes, which replace the ones dropped here).
-- pg_trgm lets a GIN index serve the lists' substring search (`LIKE '%term%'`).
-- Kept in step with migrations/sqlite/0006_lists_at_scale.sql.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE board_totals (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    board_column TEXT NOT NULL,
    records BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, board_column)
);

DROP INDEX customers_by_owner;
DROP INDEX deals_by_stage;
DROP INDEX deals_by_customer;
