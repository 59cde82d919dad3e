//! Server functions, by domain. Each has a stable endpoint `/api/<verb_noun>` taking and
//! returning JSON, so the pages, tests and other clients call the same thing.
//!
//! A server function does four things: get context (store, signed-in user), parse input
//! into domain types, call the store, map errors into [`crate::error::AppError`].

pub mod auth;
pub mod import;
pub mod members;
pub mod records;
pub mod workspaces;
