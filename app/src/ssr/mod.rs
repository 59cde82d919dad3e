//! Server-only helpers for server functions: the injected context (store, limits, the
//! hub's access control), the signed-in user from the session, workspace authorization
//! (with the per-user write limit), the client's address, and error mapping.

pub mod auth;
pub mod cache;
pub mod slots;
pub mod store;

use std::sync::Arc;

use leptos::prelude::*;
use tower_sessions::Session;

use crate::error::{AppError, EditConflict};
use crate::model::{Role, User, Workspace};
pub use store::{DbError, Store};

/// Session key holding the signed-in user's id.
pub const SESSION_USER_KEY: &str = "user_id";

/// What the server gives every server function through Leptos context
/// (`leptos_routes_with_context`).
#[derive(Clone)]
pub struct ServerContext {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Rate limits and the password hashing queue.
    pub limits: Arc<auth::Limits>,
    /// Ends what open sockets may see when access ends (the realtime hub).
    pub access: Arc<dyn AccessControl>,
    /// Who sessions are, what slugs name, members' roles; forgotten by `access`.
    pub cache: Arc<cache::AccessCache>,
}

/// Access that ends must end on open sockets too, at once: the realtime hub implements
/// this, and passes each call to the other nodes through its bus.
pub trait AccessControl: Send + Sync + 'static {
    /// Re-authorizes every socket of `user` (after a removal or a role change): rooms they
    /// may no longer see are dropped with a `forbidden` error frame.
    fn recheck_user(&self, user: i64);
    /// Closes every socket opened with the session `session_id` (signed out).
    fn end_session(&self, session_id: &str);
}

/// The client's address: the peer's, or the one a trusted proxy forwarded (set by the
/// server's request middleware as a request extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// The client's address, if the server's middleware set one.
pub async fn client_ip() -> Option<std::net::IpAddr> {
    leptos_axum::extract::<axum::Extension<ClientIp>>()
        .await
        .ok()
        .map(|e| e.0 .0)
}

/// Sends a plain HTML form post (one whose request accepts `text/html`: a browser
/// posting a form before hydration or without scripts) on to `path` with a redirect
/// instead of the JSON answer. A script caller gets the JSON and moves on itself.
/// Used where success leads elsewhere (signing in); failures already go back to the
/// form's page with the error in its query (Leptos' form redirects).
pub fn redirect_form_post(path: &str) {
    let accepts_html = use_context::<axum::http::request::Parts>().is_some_and(|p| {
        p.headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if accepts_html {
        leptos_axum::redirect(path);
    }
}

/// The injected [`ServerContext`]. Call it before the first `.await` of a server
/// function. Errors: `Internal` if the server did not provide it.
pub fn server_context() -> Result<ServerContext, AppError> {
    use_context::<ServerContext>().ok_or_else(|| {
        tracing::error!("ServerContext missing from Leptos context");
        AppError::Internal
    })
}

/// The store from the context.
pub fn store() -> Result<Arc<dyn Store>, AppError> {
    Ok(server_context()?.store)
}

/// The request's session (from the tower-sessions layer).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = %e, "session layer missing");
        AppError::Internal
    })
}

/// The signed-in user's id in `session`, if any.
pub async fn session_user_id(session: &Session) -> Result<Option<i64>, AppError> {
    session
        .get::<i64>(SESSION_USER_KEY)
        .await
        .map_err(|e| internal("reading the session", e))
}

/// Who is signed in on `session`: the one place that answers it, for server functions,
/// plain routes and the socket. Answered from `cache` when it can (a signed-out session
/// is forgotten there by the revocation path).
/// Errors: `Unauthorized` (no user in the session, or the account is gone); `Internal`
/// when the session or the database fails (logged).
pub async fn signed_in(
    store: &dyn Store,
    cache: &cache::AccessCache,
    session: &Session,
) -> Result<User, AppError> {
    signed_in_since(store, cache, session, cache.generation()).await
}

/// The access cache's generation when the request began, provided in the Leptos context
/// of every request: a session's record is loaded once per request and then kept, so a
/// later call in the same request must not cache what that earlier load read if a
/// revocation came in between.
#[derive(Clone, Copy, Debug)]
pub struct RequestGeneration(pub u64);

/// [`signed_in`], for a session first read no earlier than the cache's generation
/// `read_at`.
async fn signed_in_since(
    store: &dyn Store,
    cache: &cache::AccessCache,
    session: &Session,
    read_at: u64,
) -> Result<User, AppError> {
    let key = session.id().map(|id| id.to_string());
    if let Some(user) = key.as_deref().and_then(|k| cache.session_user(k)) {
        return Ok(user);
    }
    let id = session_user_id(session)
        .await?
        .ok_or(AppError::Unauthorized)?;
    match store.user(id).await {
        Ok(user) => {
            if let Some(key) = key {
                cache.put_session_user(key, user.clone(), read_at);
            }
            Ok(user)
        }
        Err(DbError::NotFound) => Err(AppError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}

/// The signed-in user, the store and the access cache, taken from context before
/// anything is awaited.
///
/// Everything a server function needs from Leptos context must be taken before its first
/// real `.await`: when a resource is resolved during streamed server rendering, the
/// reactive owner (and with it the context) is not restored after an await.
#[derive(Clone)]
pub struct Me {
    /// The signed-in user.
    pub user: User,
    /// The database.
    pub store: Arc<dyn Store>,
    /// The access cache.
    pub cache: Arc<cache::AccessCache>,
}

/// The signed-in user. Errors: `Unauthorized`, `Internal`.
pub async fn require_user() -> Result<Me, AppError> {
    let ServerContext { store, cache, .. } = server_context()?;
    let read_at = use_context::<RequestGeneration>().map_or_else(|| cache.generation(), |g| g.0);
    let session = session().await?;
    let user = signed_in_since(&*store, &cache, &session, read_at).await?;
    Ok(Me { user, store, cache })
}

/// The signed-in user, for a call that writes: also counts against the user's write
/// limit. Errors: `Unauthorized`, `RateLimited`.
pub async fn require_writer() -> Result<Me, AppError> {
    let limits = server_context()?.limits;
    let me = require_user().await?;
    limits.check_write(me.user.id)?;
    Ok(me)
}

/// The caller, in a workspace they belong to with at least the role asked for.
#[derive(Clone)]
pub struct Caller {
    /// The signed-in user.
    pub user: User,
    /// The workspace named in the call.
    pub workspace: Workspace,
    /// The user's role there.
    pub role: Role,
    /// The database.
    pub store: Arc<dyn Store>,
    /// The access cache.
    pub cache: Arc<cache::AccessCache>,
}

/// Authorizes `user` on the workspace `slug` with at least the `min` role: the one
/// authorization path, used by server functions (through [`require_member`]), plain
/// routes (the upload) and, by id, the socket ([`role_at_least`]).
/// Errors: `NotFound` when the workspace does not exist or the user is not a member (the
/// two look alike, so slugs do not leak); `Forbidden` when the role is too weak;
/// `Internal` when the database fails (logged, never shown as "not found").
pub async fn authorize(
    Me { user, store, cache }: Me,
    slug: &str,
    min: Role,
) -> Result<Caller, AppError> {
    let not_found = || AppError::NotFound(format!("no workspace \"{slug}\" that you belong to"));
    let workspace = match cache.workspace(slug) {
        Some(w) => w,
        None => {
            let read_at = cache.generation();
            match store.workspace_by_slug(slug).await {
                Ok(w) => {
                    cache.put_workspace(w.clone(), read_at);
                    w
                }
                Err(DbError::NotFound) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let role = role(&*store, &cache, user.id, workspace.id)
        .await?
        .ok_or_else(not_found)?;
    if role < min {
        return Err(AppError::Forbidden(match min {
            Role::Member => "viewers can look but not change anything".to_string(),
            Role::Admin => "only admins and the owner can do this".to_string(),
            _ => "only the owner can do this".to_string(),
        }));
    }
    Ok(Caller {
        user,
        workspace,
        role,
        store,
        cache,
    })
}

/// The role of `user` in the workspace with id `workspace` (`None`: not a member), from
/// `cache` when it holds it. Errors: `Internal` when the database fails.
async fn role(
    store: &dyn Store,
    cache: &cache::AccessCache,
    user: i64,
    workspace: i64,
) -> Result<Option<Role>, AppError> {
    if let Some(role) = cache.role(workspace, user) {
        return Ok(Some(role));
    }
    let read_at = cache.generation();
    let role = store.role(workspace, user).await?;
    if let Some(role) = role {
        cache.put_role(workspace, user, role, read_at);
    }
    Ok(role)
}

/// Whether `user` holds at least `min` in the workspace with id `workspace` (the socket's
/// check, by id). Errors: `Internal` when the database fails.
pub async fn role_at_least(
    store: &dyn Store,
    cache: &cache::AccessCache,
    user: i64,
    workspace: i64,
    min: Role,
) -> Result<bool, AppError> {
    Ok(role(store, cache, user, workspace)
        .await?
        .is_some_and(|r| r >= min))
}

/// Authorizes a call on the workspace `slug`: the caller must be signed in and a member
/// with at least `min` role ([`authorize`]). A call that needs `Member` or more writes,
/// so it also counts against the caller's write limit.
/// Errors: as [`authorize`], plus `Unauthorized` and `RateLimited` past the write limit.
pub async fn require_member(slug: &str, min: Role) -> Result<Caller, AppError> {
    let me = if min >= Role::Member {
        require_writer().await?
    } else {
        require_user().await?
    };
    authorize(me, slug, min).await
}

/// Logs an unexpected error with what was being done, and returns the opaque
/// [`AppError::Internal`].
pub fn internal(doing: &str, e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "{doing} failed");
    AppError::Internal
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::NotFound("not found".into()),
            DbError::Conflict(field) => {
                AppError::invalid(field.clone(), format!("this {field} is already taken"))
            }
            DbError::Invalid { field, message } => AppError::Validation { field, message },
            DbError::Forbidden(why) => AppError::Forbidden(why),
            DbError::EditConflict { current, fields } => {
                let names: Vec<&str> = fields
                    .iter()
                    .map(|f| {
                        current
                            .kind
                            .field(&f.field)
                            .map(|d| d.caption)
                            .unwrap_or(&f.field)
                    })
                    .collect();
                let message = if names.is_empty() {
                    "someone changed this record while you were looking at it".to_string()
                } else {
                    format!(
                        "someone else changed {} while you were editing",
                        names.join(", ")
                    )
                };
                AppError::Conflict(Box::new(EditConflict {
                    message,
                    current: *current,
                    fields,
                }))
            }
            DbError::Deleted { by_name, at, .. } => AppError::Gone(format!(
                "{} deleted this record at {}",
                by_name.as_deref().unwrap_or("someone"),
                crate::model::format_utc(at)
            )),
            DbError::SlotTaken { field, who } => AppError::Validation {
                field,
                message: format!("This slot was just taken: {who} is no longer free then"),
            },
            DbError::InviteGone => AppError::invalid(
                "token",
                "this invite link has expired, been revoked or been used up",
            ),
            DbError::ClaimNotInvite => AppError::invalid(
                "token",
                "this link claims an imported account: open it signed out to claim it",
            ),
            DbError::Other(e) => internal("a database call", e),
        }
    }
}
