-- A member's region (the sales team's regional office), set by the CRM import.
-- Kept in step with migrations/postgres/0003_member_region.sql.
ALTER TABLE memberships ADD COLUMN region TEXT;
