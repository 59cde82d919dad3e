//! `/w/{slug}/members`: the member list with roles (admins change roles and remove
//! members) and invite links (admins create, copy and revoke them); and
//! `/w/{slug}/members/{id}`: one member's page with what they did.

use leptos::prelude::*;

use crate::api::members::{
    list_invites, list_members, CreateInvite, RemoveMember, RevokeInvite, SetMemberRole,
};
use crate::api::workspaces::WorkspaceView;
use crate::components::{error_message, use_origin, ActionError, Avatar};
use crate::model::{format_utc, Role};
use crate::realtime::protocol::{ChangeOp, Room};
use crate::realtime::{use_realtime, Realtime, RoomEvent};

/// Listens to `room` for the life of the component and calls `reload` on each change of
/// kind `op` there, and on a resync.
fn reload_on(rt: Option<Realtime>, room: Room, op: ChangeOp, reload: impl Fn() + 'static) {
    if let Some(rt) = rt {
        rt.listen(room, move |ev| {
            let changed = matches!(&ev, RoomEvent::Change(c, _) if c.op() == op);
            if changed || matches!(ev, RoomEvent::Resync) {
                reload();
            }
        });
    }
}

/// Members and invites of the current workspace. Role changes, removals and invite links
/// are small forms that post without the WASM too (`ActionForm`).
#[component]
pub fn MembersPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let me = ws.user.id;
    let my_role = ws.role;
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    // The list reloads after each role change or removal made here (the actions'
    // versions), and on live changes from elsewhere.
    let members_slug = slug.clone();
    let members = Resource::new(
        move || (set_role.version().get(), remove.version().get()),
        move |_| list_members(members_slug.clone()),
    );
    // Live: joins, leaves and role changes reload the list; presence shows who is on.
    let room = Room::Workspace(ws.workspace.id);
    let rt = use_realtime();
    reload_on(rt, room, ChangeOp::Members, move || members.refetch());
    let status_of = move |user: i64| {
        let entry = rt.and_then(|rt| {
            rt.presence(room)
                .get()
                .into_iter()
                .find(|e| e.user_id == user)
        });
        entry.map_or("offline", |e| e.status.label())
    };
    let page = format!("/w/{}/members", ws.workspace.slug);
    let rows_slug = slug.clone();
    view! {
        <header class="page-header">
            <h1>"Members"</h1>
            <crate::components::PresenceIndicator room label="Also on this page" page/>
        </header>
        <ActionError result=set_role.value()/>
        <ActionError result=remove.value()/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || { let slug = rows_slug.clone(); Suspend::new(async move {
                match members.await {
                    Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="records" aria-label="Members">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"E-mail"</th><th scope="col">"Role"</th><th scope="col">"Region"</th><th scope="col">"Status"</th><th scope="col">"Joined"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|m| {
                                    let id = m.user.id;
                                    let slug = slug.clone();
                                    let name = m.user.display_name.clone();
                                    let editable = my_role.can_admin() && m.role != Role::Owner && id != me
                                        && (my_role == Role::Owner || m.role != Role::Admin);
                                    let role_id = format!("role-{id}");
                                    let role_cell = if editable {
                                        let options = Role::ALL.into_iter()
                                            .filter(|r| *r != Role::Owner && (my_role == Role::Owner || *r != Role::Admin))
                                            .map(|r| view! { <option value=r.as_str() selected=r == m.role>{r.label()}</option> })
                                            .collect_view();
                                        let (slug, role_label, save_label) = (slug.clone(), format!("Role of {name}"), format!("Save role of {name}"));
                                        view! {
                                            <ActionForm action=set_role attr:class="row-form">
                                                <input type="hidden" name="slug" value=slug/>
                                                <input type="hidden" name="user_id" value=id/>
                                                <label class="visually-hidden" for=role_id.clone()>{role_label}</label>
                                                <select id=role_id name="role">{options}</select>
                                                <button type="submit" aria-label=save_label>"Save"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! { <span class="badge">{m.role.label()}</span> }.into_any()
                                    };
                                    let remove_label = format!("Remove {name}");
                                    view! {
                                        <tr>
                                            <td><Avatar name=name.clone() color=m.user.color.clone()/>" "<a href=format!("/w/{slug}/members/{id}")>{name.clone()}</a></td>
                                            <td>{m.user.email.clone().unwrap_or_else(|| "not joined yet".into())}</td>
                                            <td>{role_cell}</td>
                                            <td>{m.region.clone().unwrap_or_default()}</td>
                                            <td>{move || status_of(id)}</td>
                                            <td>{format_utc(m.joined_at)}</td>
                                            <td>{editable.then(|| view! {
                                                <ActionForm action=remove attr:class="row-form">
                                                    <input type="hidden" name="slug" value=slug.clone()/>
                                                    <input type="hidden" name="user_id" value=id/>
                                                    <button type="submit" aria-label=remove_label>"Remove"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}}
        </Suspense>
        {my_role.can_admin().then(|| view! { <Invites slug=slug.clone() workspace=ws.workspace.id is_owner=my_role == Role::Owner/> })}
    }
}

/// Invite links: create one (role, days valid, uses; admin links only by the owner),
/// copy it, revoke it. The list follows the admins' room live (links made, revoked or
/// used by anyone).
#[component]
fn Invites(slug: String, workspace: i64, is_owner: bool) -> impl IntoView {
    let origin = use_origin();
    let create = ServerAction::<CreateInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    // Reloads after each link made or revoked here, and on live changes from elsewhere.
    let list_slug = slug.clone();
    let invites = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        move |_| list_invites(list_slug.clone()),
    );
    reload_on(
        use_realtime(),
        Room::Admins(workspace),
        ChangeOp::Invites,
        move || invites.refetch(),
    );
    let form_slug = slug.clone();
    view! {
        <section aria-labelledby="invites-heading">
            <h2 id="invites-heading">"Invite links"</h2>
            <ActionForm action=create attr:class="inline-form">
                <input type="hidden" name="slug" value=form_slug/>
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    <option value="viewer">"Viewer"</option>
                    <option value="member" selected>"Member"</option>
                    {is_owner.then(|| view! { <option value="admin">"Admin"</option> })}
                </select>
                <label for="invite-days">"Valid for (days)"</label>
                <input id="invite-days" name="expires_in_days" type="number" min="1" max="90" required value="7"/>
                <label for="invite-uses">"Uses"</label>
                <input id="invite-uses" name="max_uses" type="number" min="1" max="1000" required value="10"/>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create invite link"</button>
            </ActionForm>
            <ActionError result=create.value()/>
            {move || create.value().get().and_then(Result::ok).map(|inv| view! {
                <p role="status">"New link: "<InviteLinkField path=inv.path() label="New invite link".to_string() origin/></p>
            })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || invites.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p>"No invite links yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="records" aria-label="Invite links">
                            <thead><tr><th scope="col">"Link"</th><th scope="col">"For"</th><th scope="col">"Role"</th><th scope="col">"Used"</th><th scope="col">"Expires"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|i| {
                                    let id = i.id;
                                    let slug = slug.clone();
                                    let status = if i.revoked_at.is_some() { "revoked" } else if i.uses >= i.max_uses { "used up" } else { "active" };
                                    let label = format!("Invite link {id}");
                                    view! {
                                        <tr>
                                            <td>{if i.token.is_empty() {
                                                view! { <span>"Only the owner sees admin links"</span> }.into_any()
                                            } else {
                                                view! { <InviteLinkField path=i.path() label origin/> }.into_any()
                                            }}</td>
                                            <td>{i.for_name.clone().unwrap_or_else(|| "anyone".into())}</td>
                                            <td>{i.role.label()}</td>
                                            <td>{format!("{} of {}", i.uses, i.max_uses)}</td>
                                            <td>{format_utc(i.expires_at)}</td>
                                            <td>{status}</td>
                                            <td>{(status == "active").then(|| view! {
                                                <ActionForm action=revoke attr:class="row-form">
                                                    <input type="hidden" name="slug" value=slug.clone()/>
                                                    <input type="hidden" name="invite_id" value=id/>
                                                    <button type="submit" aria-label=format!("Revoke invite link {id}")>"Revoke"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// A read-only field holding a full invite URL, with a button copying it.
#[component]
fn InviteLinkField(path: String, label: String, origin: ReadSignal<String>) -> impl IntoView {
    let url = move || format!("{}{}", origin.get(), path);
    let copied = RwSignal::new(false);
    let copy_url = url.clone();
    view! {
        <input type="text" readonly class="link" aria-label=label.clone() prop:value=url/>
        <button type="button" aria-label=format!("Copy {}", label.to_ascii_lowercase()) on:click=move |_| {
            #[cfg(feature = "hydrate")]
            {
                let _ = window().navigator().clipboard().write_text(&copy_url());
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &copy_url;
            copied.set(true);
        }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
    }
}

/// One member's page: their name and their activity in the workspace.
#[component]
pub fn MemberPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let member = Memo::new(move |_| {
        params
            .read()
            .get("user")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    });
    let slug = expect_context::<WorkspaceView>().workspace.slug;
    // Keyed by the member, so a link to another member's page loads theirs.
    let members = Resource::new(move || member.get(), move |_| list_members(slug.clone()));
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let id = member.get_untracked();
                match members.await {
                    Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    Ok(list) => match list.into_iter().find(|m| m.user.id == id) {
                        None => view! { <h1>"No such member"</h1> }.into_any(),
                        Some(m) => view! {
                            <header class="page-header">
                                <h1><Avatar name=m.user.display_name.clone() color=m.user.color.clone()/>" "{m.user.display_name.clone()}</h1>
                                <span class="badge">{m.role.label()}</span>
                            </header>
                            <section aria-labelledby="member-activity">
                                <h2 id="member-activity">"Activity"</h2>
                                <crate::components::ActivityFeed feed_type=crate::model::activity::FeedType::User { id }/>
                            </section>
                        }.into_any(),
                    },
                }
            })}
        </Suspense>
    }
}
