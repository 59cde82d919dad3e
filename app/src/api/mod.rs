//! Server functions, by domain. Each has a stable endpoint `/api/<verb_noun>` returning
//! JSON, so the pages, tests and other clients call the same thing. Most take JSON; the
//! ones behind the simple forms ([`FORM_ENDPOINTS`]) take an HTML form's encoding, so
//! those forms post without the WASM (before hydration, or with scripts off).
//!
//! A server function does four things: get context (store, signed-in user), parse input
//! into domain types, call the store, map errors into [`crate::error::AppError`].

pub mod activity;
pub mod auth;
pub mod calendar;
pub mod chat;
pub mod codec;
pub mod import;
pub mod members;
pub mod notifications;
pub mod records;
pub mod workspaces;

/// The server functions that take `application/x-www-form-urlencoded` (flat fields, as
/// an HTML `<form>` posts them) instead of JSON: the sign-up, log-in, settings, invite and
/// member forms, built with Leptos' `ActionForm`. A plain form post (one accepting
/// `text/html`) is answered with a redirect: to the page it came from, with the error in
/// its query (`__err`) on failure, or to the next page on a successful sign-in.
pub const FORM_ENDPOINTS: [&str; 7] = [
    "sign_up",
    "log_in",
    "rename_workspace",
    "create_invite",
    "revoke_invite",
    "set_member_role",
    "remove_member",
];
