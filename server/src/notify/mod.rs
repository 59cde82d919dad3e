//! Notifications: which committed change concerns whom ([`rules`]); the store turns the
//! drafts into stored notifications in the change's own transaction.

pub mod rules;
