-- Lists at a million rows. Each column of a board with its count and amount, kept by
-- triggers that server/src/db/sql/indexes.rs derives from the kind's board spec (as it
-- derives the sort, filter and search indexes, which replace the ones dropped here).
-- Kept in step with migrations/postgres/0006_lists_at_scale.sql.
CREATE TABLE board_totals (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    board_column TEXT NOT NULL,
    records INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind, board_column)
);

DROP INDEX customers_by_owner;
DROP INDEX deals_by_stage;
DROP INDEX deals_by_customer;
