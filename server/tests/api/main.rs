//! Tandem's integration tests, one binary (so it links once), a module per domain, as
//! zero-to-production's `tests/api/`: each runs the real router on `127.0.0.1:0`
//! (`common::spawn_app`) against SQLite, and against PostgreSQL when `TEST_DATABASE_URL`
//! is set. `tests/limits.rs` stays a binary of its own: it measures the process's memory
//! with its own allocator.

mod auth;
mod authorization;
mod backup;
mod calendar;
mod chat;
mod common;
mod convergence;
mod crash;
mod editing;
mod headers;
mod import;
mod mapping;
mod metrics;
mod nodes;
mod notifications;
mod realtime;
mod shutdown;
mod sse;
mod store_contract;
mod storm;
mod workspaces;
