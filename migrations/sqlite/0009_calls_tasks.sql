-- Calls and tasks: two more record kinds through the one record mechanism (their
-- declarations are in app/src/model/record/kinds.rs; list indexes and the search index
-- are made from those at start-up). Kept in step with migrations/postgres/0009_calls_tasks.sql.

CREATE TABLE calls (
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
    subject TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id),
    assignee_id INTEGER REFERENCES users(id),
    status TEXT NOT NULL,
    priority TEXT,
    scheduled_at INTEGER,
    duration INTEGER,
    outcome TEXT,
    remarks TEXT
);

CREATE TABLE tasks (
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
    description TEXT,
    status TEXT NOT NULL,
    assignee_id INTEGER REFERENCES users(id),
    due_date TEXT,
    priority TEXT,
    regarding TEXT
);
