//! Members and invites: the member list, role changes, removal, invite links and their
//! acceptance.

use leptos::prelude::*;
use leptos::server_fn::codec::PostUrl;

use super::codec::Json;

use crate::error::AppError;
use crate::model::{Invite, InvitePreview, Member, Role, Workspace};

/// A workspace's members with their roles, by name (any member may look).
/// Errors: `Unauthorized`, `NotFound`.
#[server(prefix = "/api", endpoint = "list_members", input = Json, output = Json)]
pub async fn list_members(slug: String) -> Result<Vec<Member>, AppError> {
    let c = crate::ssr::require_member(&slug, Role::Viewer).await?;
    Ok(c.store.members(c.workspace.id).await?)
}

/// The caller (an admin or the owner of `slug`) and the current role of the member
/// `user_id` they are about to change or remove. Errors: `Forbidden`, `NotFound`.
#[cfg(feature = "ssr")]
async fn member_to_manage(
    slug: &str,
    user_id: i64,
) -> Result<(crate::ssr::Caller, Role), AppError> {
    let c = crate::ssr::require_member(slug, Role::Admin).await?;
    let current = c
        .store
        .role(c.workspace.id, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such member".into()))?;
    Ok((c, current))
}

/// Changes a member's role (admins and the owner). Nobody can make or unmake the owner
/// here, and only the owner can make admins.
/// Errors: `Forbidden`, `NotFound` (not a member), `Validation` on `role`.
#[server(prefix = "/api", endpoint = "set_member_role", input = PostUrl, output = Json)]
pub async fn set_member_role(slug: String, user_id: i64, role: Role) -> Result<(), AppError> {
    let (c, current) = member_to_manage(&slug, user_id).await?;
    if role == Role::Owner || current == Role::Owner {
        return Err(AppError::invalid(
            "role",
            "the owner's role cannot be changed here",
        ));
    }
    if (role == Role::Admin || current == Role::Admin) && c.role != Role::Owner {
        return Err(AppError::Forbidden(
            "only the owner can make or unmake admins".into(),
        ));
    }
    Ok(c.store.set_role(c.workspace.id, user_id, role).await?)
}

/// Removes a member (admins and the owner; the owner cannot be removed, and only the owner
/// removes admins). Errors: `Forbidden`, `NotFound`, `Validation` on `user_id`.
#[server(prefix = "/api", endpoint = "remove_member", input = PostUrl, output = Json)]
pub async fn remove_member(slug: String, user_id: i64) -> Result<(), AppError> {
    let (c, current) = member_to_manage(&slug, user_id).await?;
    if current == Role::Owner {
        return Err(AppError::invalid("user_id", "the owner cannot be removed"));
    }
    if current == Role::Admin && c.role != Role::Owner {
        return Err(AppError::Forbidden(
            "only the owner can remove admins".into(),
        ));
    }
    Ok(c.store.remove_member(c.workspace.id, user_id).await?)
}

/// Creates an invite link (admins and the owner) giving `role` (not owner; admin only by
/// the owner, as for role changes), valid for `expires_in_days` (1 to 90) and `max_uses`
/// acceptances (1 to 1000). The link dies with its creator's rights: it is refused at
/// acceptance once they could no longer make it.
/// Errors: `Forbidden`, `Validation` on `role`, `expires_in_days` or `max_uses`.
#[server(prefix = "/api", endpoint = "create_invite", input = PostUrl, output = Json)]
pub async fn create_invite(
    slug: String,
    role: Role,
    expires_in_days: i64,
    max_uses: i64,
) -> Result<Invite, AppError> {
    use crate::ssr::store::NewInvite;
    let c = crate::ssr::require_member(&slug, Role::Admin).await?;
    if role == Role::Owner {
        return Err(AppError::invalid("role", "an invite cannot make an owner"));
    }
    if role == Role::Admin && c.role != Role::Owner {
        return Err(AppError::Forbidden(
            "only the owner can invite admins".into(),
        ));
    }
    if !(1..=90).contains(&expires_in_days) {
        return Err(AppError::invalid("expires_in_days", "choose 1 to 90 days"));
    }
    if !(1..=1000).contains(&max_uses) {
        return Err(AppError::invalid("max_uses", "choose 1 to 1000 uses"));
    }
    let new = NewInvite {
        workspace_id: c.workspace.id,
        token: crate::ssr::auth::random_token(),
        role,
        expires_at: crate::model::now_ms() + expires_in_days * 86_400_000,
        max_uses,
        created_by: Some(c.user.id),
        for_user: None,
    };
    Ok(c.store.create_invite(new).await?)
}

/// The workspace's invites, newest first (admins and the owner). The token of an admin
/// invite is shown to the owner only (empty for admins), as only the owner makes admins.
/// Errors: `Forbidden`, `NotFound`.
#[server(prefix = "/api", endpoint = "list_invites", input = Json, output = Json)]
pub async fn list_invites(slug: String) -> Result<Vec<Invite>, AppError> {
    let c = crate::ssr::require_member(&slug, Role::Admin).await?;
    let mut invites = c.store.invites(c.workspace.id).await?;
    if c.role != Role::Owner {
        for i in invites.iter_mut().filter(|i| i.role == Role::Admin) {
            i.token.clear();
        }
    }
    Ok(invites)
}

/// Revokes an invite of the workspace (admins and the owner). Errors: `Forbidden`, `NotFound`.
#[server(prefix = "/api", endpoint = "revoke_invite", input = PostUrl, output = Json)]
pub async fn revoke_invite(slug: String, invite_id: i64) -> Result<(), AppError> {
    let c = crate::ssr::require_member(&slug, Role::Admin).await?;
    let now = crate::model::now_ms();
    Ok(c.store
        .revoke_invite(c.workspace.id, invite_id, now)
        .await?)
}

/// What an invite link leads to; anyone holding the token may look.
/// Errors: `NotFound` for an unknown token.
#[server(prefix = "/api", endpoint = "preview_invite", input = Json, output = Json)]
pub async fn preview_invite(token: String) -> Result<InvitePreview, AppError> {
    let store = crate::ssr::store()?;
    let inv = match store.invite_by_token(token.trim()).await {
        Ok(inv) => inv,
        Err(crate::ssr::DbError::NotFound) => {
            return Err(AppError::NotFound("no such invite link".into()))
        }
        Err(e) => return Err(e.into()),
    };
    let ws = store.workspace(inv.workspace_id).await?;
    Ok(InvitePreview {
        workspace_name: ws.name,
        workspace_slug: ws.slug,
        role: inv.role,
        for_name: inv.for_name.clone(),
        live: inv.is_live(crate::model::now_ms()),
    })
}

/// Joins the invite's workspace as the signed-in user (a current member keeps their role).
/// Errors: `Unauthorized`, `NotFound`, `Validation` on `token` when it is no longer valid
/// (also when its creator lost the rights to make it) or is a claim link.
#[server(prefix = "/api", endpoint = "accept_invite", input = Json, output = Json)]
pub async fn accept_invite(token: String) -> Result<Workspace, AppError> {
    let crate::ssr::Me { user, store, .. } = crate::ssr::require_writer().await?;
    match store
        .accept_invite(token.trim(), user.id, crate::model::now_ms())
        .await
    {
        Err(crate::ssr::DbError::NotFound) => Err(AppError::NotFound("no such invite link".into())),
        other => Ok(other?),
    }
}
