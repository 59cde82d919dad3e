-- Accounts, workspaces, members, invites and the first record kinds (customers, products,
-- deals). Timestamps are Unix milliseconds; money is integer cents. Kept in step with
-- migrations/postgres/0001_foundation.sql.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT UNIQUE,
    password_hash TEXT,
    display_name TEXT NOT NULL,
    last_workspace_id INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id)
);

CREATE TABLE memberships (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
    expires_at INTEGER NOT NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    for_user INTEGER REFERENCES users(id)
);
CREATE INDEX invites_by_workspace ON invites(workspace_id);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    deleted_at INTEGER,
    deleted_by INTEGER REFERENCES users(id),
    name TEXT NOT NULL,
    sector TEXT,
    status TEXT,
    owner_id INTEGER REFERENCES users(id),
    year_established INTEGER,
    revenue REAL,
    employees INTEGER,
    office_location TEXT,
    parent_id INTEGER REFERENCES customers(id),
    tags TEXT,
    notes TEXT
);
CREATE UNIQUE INDEX customers_live_name ON customers(workspace_id, name) WHERE deleted_at IS NULL;
CREATE INDEX customers_by_owner ON customers(workspace_id, owner_id);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    deleted_at INTEGER,
    deleted_by INTEGER REFERENCES users(id),
    name TEXT NOT NULL,
    series TEXT,
    price INTEGER
);
CREATE UNIQUE INDEX products_live_name ON products(workspace_id, name) WHERE deleted_at IS NULL;

CREATE TABLE deals (
    id INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id),
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    deleted_at INTEGER,
    deleted_by INTEGER REFERENCES users(id),
    code TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id),
    product_id INTEGER REFERENCES products(id),
    stage TEXT NOT NULL,
    owner_id INTEGER REFERENCES users(id),
    engage_date TEXT,
    close_date TEXT,
    value INTEGER
);
CREATE UNIQUE INDEX deals_live_code ON deals(workspace_id, code) WHERE deleted_at IS NULL;
CREATE INDEX deals_by_stage ON deals(workspace_id, stage);
CREATE INDEX deals_by_customer ON deals(workspace_id, customer_id);
