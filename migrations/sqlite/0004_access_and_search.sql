-- The database's epoch (room logs start in it), the import's own key for a member (so an
-- import matches people by it, never by a display name someone chose), and a folded
-- (Unicode lower-case) search column per record kind, filled by the server at start.
-- Kept in step with migrations/postgres/0004_access_and_search.sql.

CREATE TABLE store_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

ALTER TABLE memberships ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX memberships_import_key ON memberships(workspace_id, import_key)
    WHERE import_key IS NOT NULL;
-- Imported people who have not claimed their account keep their imported name as key.
UPDATE memberships SET import_key = (SELECT display_name FROM users WHERE users.id = memberships.user_id)
    WHERE user_id IN (SELECT id FROM users WHERE email IS NULL AND password_hash IS NULL);
-- Those who claimed theirs kept the imported name unless they changed it when claiming
-- (the form fills it in): best effort, never taking a key someone already holds.
UPDATE memberships SET import_key = (SELECT display_name FROM users WHERE users.id = memberships.user_id)
    WHERE import_key IS NULL
      AND user_id IN (SELECT for_user FROM invites
                      WHERE invites.workspace_id = memberships.workspace_id AND invites.uses > 0)
      AND NOT EXISTS (SELECT 1 FROM memberships held JOIN users u ON u.id = memberships.user_id
                      WHERE held.workspace_id = memberships.workspace_id
                        AND held.import_key = u.display_name);

ALTER TABLE customers ADD COLUMN search_text TEXT;
ALTER TABLE deals ADD COLUMN search_text TEXT;
ALTER TABLE products ADD COLUMN search_text TEXT;
