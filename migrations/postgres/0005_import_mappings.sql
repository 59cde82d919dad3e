-- The column mapping a workspace's imports use (files and columns of an export shaped
-- differently from Maven's), as the JSON of app::model::import::ImportMapping.
-- Kept in step with migrations/sqlite/0005_import_mappings.sql.
CREATE TABLE import_mappings (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    mapping TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
