//! The app's pages, one module per area; route components end in `Page`.

pub mod auth;
pub mod calendar;
pub mod chat;
pub mod dashboard;
pub mod home;
pub mod import;
pub mod invite;
pub mod members;
pub mod my_tasks;
pub mod preferences;
pub mod queue;
pub mod records;
pub mod settings;
pub mod workspace;
pub mod workspaces;
