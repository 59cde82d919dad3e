//! Workspaces: list mine, create, open (remembered as the last one), rename.

use leptos::prelude::*;
use leptos::server_fn::codec::PostUrl;

use super::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{Membership, Role, User, Workspace};

/// What a workspace's pages need: the workspace, the caller and their role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceView {
    /// The workspace.
    pub workspace: Workspace,
    /// The signed-in user.
    pub user: User,
    /// Their role in it.
    pub role: Role,
    /// Every workspace the user belongs to, for the switcher.
    pub workspaces: Vec<Membership>,
}

/// The caller's workspaces with their role in each, by name. Errors: `Unauthorized`.
#[server(prefix = "/api", endpoint = "list_workspaces", input = Json, output = Json)]
pub async fn list_workspaces() -> Result<Vec<Membership>, AppError> {
    let me = crate::ssr::require_user().await?;
    Ok(me.store.memberships(me.user.id).await?)
}

/// Creates a workspace owned by the caller. `slug` defaults to one made from the name.
/// Errors: `Unauthorized`; `Validation` on `name` or `slug` (malformed or taken).
#[server(prefix = "/api", endpoint = "create_workspace", input = Json, output = Json)]
pub async fn create_workspace(name: String, slug: Option<String>) -> Result<Workspace, AppError> {
    use crate::ssr::DbError;
    let crate::ssr::Me { user, store, .. } = crate::ssr::require_writer().await?;
    let name = crate::ssr::auth::normalize_name("name", &name)?;
    let slug = match slug.filter(|s| !s.trim().is_empty()) {
        Some(s) => check_slug(s.trim())?,
        None => slugify(&name),
    };
    match store.create_workspace(&name, &slug, user.id).await {
        Ok(w) => Ok(w),
        Err(DbError::Conflict(_)) => Err(AppError::invalid(
            "slug",
            format!("the address \"{slug}\" is taken; choose another"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Opens a workspace: the caller's view of it, with their workspaces. Remembers it as their last workspace.
/// Errors: `Unauthorized`; `NotFound` when it does not exist or the caller is not a member.
#[server(prefix = "/api", endpoint = "open_workspace", input = Json, output = Json)]
pub async fn open_workspace(slug: String) -> Result<WorkspaceView, AppError> {
    let c = crate::ssr::require_member(&slug, Role::Viewer).await?;
    if c.user.last_workspace_id != Some(c.workspace.id) {
        c.store
            .set_last_workspace(c.user.id, c.workspace.id)
            .await?;
        // The cached user remembers the workspace opened before.
        c.cache.forget_user(c.user.id);
    }
    let workspaces = c.store.memberships(c.user.id).await?;
    Ok(WorkspaceView {
        workspace: c.workspace,
        user: c.user,
        role: c.role,
        workspaces,
    })
}

/// Renames a workspace (admins and the owner). Errors: `Forbidden`, `Validation` on `name`.
#[server(prefix = "/api", endpoint = "rename_workspace", input = PostUrl, output = Json)]
pub async fn rename_workspace(slug: String, name: String) -> Result<Workspace, AppError> {
    let c = crate::ssr::require_member(&slug, Role::Admin).await?;
    let name = crate::ssr::auth::normalize_name("name", &name)?;
    let renamed = c.store.rename_workspace(c.workspace.id, &name).await?;
    // Other nodes show the old name until their cache entry expires (seconds).
    c.cache.forget_workspace(c.workspace.id);
    Ok(renamed)
}

/// A slug made from a name: lower-case ASCII letters and digits joined by single dashes,
/// at most 40 characters ("Acme Sales (EU)" -> "acme-sales-eu"); "workspace" if nothing is left.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "workspace".into()
    } else {
        out
    }
}

/// Checks a chosen slug. Errors: `Validation` on `slug`.
pub fn check_slug(slug: &str) -> Result<String, AppError> {
    let ok = (2..=40).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug.to_string())
    } else {
        Err(AppError::invalid(
            "slug",
            "use 2 to 40 lower-case letters, digits and dashes",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slugify("Acme Sales (EU)"), "acme-sales-eu");
        assert_eq!(slugify("  ---  "), "workspace");
        assert!(check_slug("acme-eu").is_ok());
        assert!(check_slug("Acme").is_err());
        assert!(check_slug("-a").is_err());
    }
}
