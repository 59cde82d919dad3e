//! Accounts: sign up (optionally through an invite link), log in, log out, who am I.

use leptos::prelude::*;
use leptos::server_fn::codec::PostUrl;

use super::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::User;

/// The answer to a successful sign-up or log-in: the account and the path to open next
/// (the last workspace used, the workspace just joined, or `/workspaces`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The signed-in account.
    pub user: User,
    /// Path to open next.
    pub next: String,
}

/// Creates an account and signs it in. With `invite` (a token), also joins that
/// workspace; when the invite was made for an imported person, the new account takes
/// over that person's account and records.
///
/// Errors: `Validation` on `email` (malformed, over 254 characters or taken),
/// `password` (fewer than 8 or more than 200 characters), `display_name` or `token`
/// (invite no longer valid); `NotFound` for an unknown invite; `RateLimited` past 20
/// sign-ups a minute from one address or when the hashing queue is full.
#[server(prefix = "/api", endpoint = "sign_up", input = PostUrl, output = Json)]
pub async fn sign_up(
    email: String,
    password: String,
    display_name: String,
    invite: Option<String>,
) -> Result<SignedIn, AppError> {
    use crate::ssr::{self, auth, store::NewUser, DbError};
    auth::check_sizes(&email, &password)?;
    let email = auth::normalize_email(&email)?;
    auth::check_password(&password)?;
    let display_name = auth::normalize_name("display_name", &display_name)?;
    let ctx = ssr::server_context()?;
    let store = ctx.store.clone();
    let session = ssr::session().await?;
    ctx.limits.check_signup(ssr::client_ip().await)?;
    let hash = auth::hash_password(&ctx.limits.hashing, password).await?;
    let now = crate::model::now_ms();
    let taken = |e: DbError| match e {
        DbError::Conflict(_) => AppError::invalid(
            "email",
            "an account with this e-mail already exists; log in instead",
        ),
        DbError::NotFound => AppError::NotFound("no such invite link".into()),
        other => other.into(),
    };
    let invite = match invite.filter(|t| !t.trim().is_empty()) {
        Some(token) => Some(store.invite_by_token(token.trim()).await.map_err(taken)?),
        None => None,
    };
    let (user, next) = match invite {
        Some(inv) if inv.for_user.is_some() => {
            let (user, ws) = store
                .claim_invite(&inv.token, &email, &hash, &display_name, now)
                .await
                .map_err(taken)?;
            (user, format!("/w/{}/dashboard", ws.slug))
        }
        Some(inv) => {
            if !inv.is_live(now) {
                return Err(DbError::InviteGone.into());
            }
            let new = NewUser {
                email: Some(email),
                password_hash: Some(hash),
                display_name,
            };
            let user = store.create_user(new).await.map_err(taken)?;
            let ws = store.accept_invite(&inv.token, user.id, now).await?;
            (user, format!("/w/{}/dashboard", ws.slug))
        }
        None => {
            let new = NewUser {
                email: Some(email),
                password_hash: Some(hash),
                display_name,
            };
            (
                store.create_user(new).await.map_err(taken)?,
                "/workspaces".to_string(),
            )
        }
    };
    start_session(&ctx.access, &session, user.id).await?;
    ssr::redirect_form_post(&next);
    Ok(SignedIn { user, next })
}

/// Signs in with e-mail and password, rotating the session id.
///
/// Errors: `Validation` on `email` or `password` for oversized input (checked before any
/// other work), on `password` for a wrong e-mail or password (the same message for
/// both); `RateLimited` after 5 attempts a minute for one e-mail or 30 for one address
/// (the client's, behind a trusted proxy), or when the hashing queue is full.
#[server(prefix = "/api", endpoint = "log_in", input = PostUrl, output = Json)]
pub async fn log_in(email: String, password: String) -> Result<SignedIn, AppError> {
    use crate::ssr;
    ssr::auth::check_sizes(&email, &password)?;
    let ctx = ssr::server_context()?;
    let session = ssr::session().await?;
    ctx.limits.check_login(&email, ssr::client_ip().await)?;
    let email = email.trim().to_lowercase();
    let row = ctx.store.user_by_email(&email).await?;
    let hash = row.as_ref().and_then(|r| r.password_hash.clone());
    let ok = ssr::auth::verify_password(&ctx.limits.hashing, password, hash).await?;
    let Some(row) = row.filter(|_| ok) else {
        return Err(AppError::invalid("password", "wrong e-mail or password"));
    };
    let user = row.user;
    let mut next = "/workspaces".to_string();
    if let Some(last) = user.last_workspace_id {
        let memberships = ctx.store.memberships(user.id).await?;
        if let Some(m) = memberships.iter().find(|m| m.workspace.id == last) {
            next = format!("/w/{}/dashboard", m.workspace.slug);
        }
    }
    start_session(&ctx.access, &session, user.id).await?;
    ssr::redirect_form_post(&next);
    Ok(SignedIn { user, next })
}

/// Signs out: the session is deleted and every socket opened with it is closed at once.
/// Never fails for a visitor who is not signed in.
#[server(prefix = "/api", endpoint = "log_out", input = Json, output = Json)]
pub async fn log_out() -> Result<(), AppError> {
    let access = crate::ssr::server_context()?.access;
    let session = crate::ssr::session().await?;
    let id = session.id();
    session
        .flush()
        .await
        .map_err(|e| crate::ssr::internal("ending a session", e))?;
    if let Some(id) = id {
        access.end_session(&id.to_string());
    }
    Ok(())
}

/// The signed-in account, or `None` for a visitor.
#[server(prefix = "/api", endpoint = "get_current_user", input = Json, output = Json)]
pub async fn get_current_user() -> Result<Option<User>, AppError> {
    match crate::ssr::require_user().await {
        Ok(me) => Ok(Some(me.user)),
        Err(AppError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Puts `user` in the session under a fresh session id (fixation defence). Sockets of
/// the session it replaces (someone else signed in on this browser) are closed.
#[cfg(feature = "ssr")]
async fn start_session(
    access: &std::sync::Arc<dyn crate::ssr::AccessControl>,
    session: &tower_sessions::Session,
    user: i64,
) -> Result<(), AppError> {
    use crate::ssr;
    let old = session.id();
    session
        .cycle_id()
        .await
        .map_err(|e| ssr::internal("rotating the session id", e))?;
    session
        .insert(ssr::SESSION_USER_KEY, user)
        .await
        .map_err(|e| ssr::internal("writing the session", e))?;
    // After the old id is gone from the store: a request racing on it cannot cache it
    // again once this has forgotten it.
    if let Some(old) = old {
        access.end_session(&old.to_string());
    }
    Ok(())
}
