//! `/w/{slug}/...`: loads the workspace and the caller's role once, shows the navigation
//! (with the workspace switcher) and renders the page below it.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_params_map;

use crate::api::auth::log_out;
use crate::api::workspaces::{open_workspace, WorkspaceView};
use crate::components::chat::ChatOutboxProvider;
use crate::components::{
    error_message, navigate_hard, Avatar, ConnectionIndicator, EditQueueProvider,
    NotificationCenter, PresenceIndicator, Ready,
};
use crate::error::AppError;
use crate::model::RecordKind;
use crate::realtime::protocol::{Editing, Room, Status};
use crate::realtime::RealtimeProvider;

/// The current workspace as the layout loads it, shared with the pages below it.
#[derive(Clone, Copy)]
pub struct WorkspaceResource(pub Resource<Result<WorkspaceView, AppError>>);

/// The field this tab is editing, set by forms and announced in presence.
#[derive(Clone, Copy)]
pub struct EditingField(pub RwSignal<Option<Editing>>);

/// Loads the workspace once for the top bar and the page. The page's `<Outlet/>` stays
/// outside any `Suspense`: an outlet rendered inside a `Suspend` loses the ownership
/// chain, and with it the context server functions need during server rendering
/// (leptos-rs/leptos#4015, #4088).
#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let view_res = Resource::new(slug, open_workspace);
    provide_context(WorkspaceResource(view_res));
    provide_context(EditingField(RwSignal::new(None)));
    view! {
        <RealtimeProvider><EditQueueProvider><ChatOutboxProvider>
        <Suspense fallback=|| view! { <header class="topbar"><a class="brand" href="/">"Tandem"</a></header> }>
            {move || Suspend::new(async move {
                match view_res.await {
                    Ok(v) => view! { <TopBar view=v/> }.into_any(),
                    Err(AppError::Unauthorized) => view! {
                        <div class="page"><p>"Please "<a href="/login">"log in"</a>" to see this workspace."</p></div>
                    }.into_any(),
                    Err(e) => view! {
                        <div class="page">
                            <h1>"Workspace unavailable"</h1>
                            <p class="error" role="alert">{error_message(&e)}</p>
                            <a href="/workspaces">"Your workspaces"</a>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
        <main class="page">
            <Outlet/>
        </main>
        </ChatOutboxProvider></EditQueueProvider></RealtimeProvider>
    }
}

/// Renders a workspace page once the workspace has loaded, providing its
/// [`WorkspaceView`] to the page (nothing while it failed: the layout says why).
#[component]
pub fn WorkspaceGate(children: ChildrenFn) -> impl IntoView {
    let res = expect_context::<WorkspaceResource>().0;
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    let view = res.await.ok();
                    // The page is built untracked: what its body reads must not make the
                    // gate build it again. A second build during server rendering made a
                    // second set of the page's resources, loaded later, so the data sent
                    // to the browser was not the data the HTML was rendered from (a
                    // hydration error, and a page that stayed stale).
                    untrack(move || {
                        view.map(|v| {
                            provide_context(v);
                            children()
                        })
                    })
                })
            }}
        </Suspense>
    }
}

/// Navigation, workspace switcher and the user menu.
#[component]
fn TopBar(view: WorkspaceView) -> impl IntoView {
    let room = Room::Workspace(view.workspace.id);
    if let Some(q) = crate::components::edit_queue::use_edit_queue() {
        q.set_user(view.user.id);
    }
    if let Some(o) = crate::components::chat::use_chat_outbox() {
        o.set_user(view.user.id);
    }
    if let Some(rt) = crate::realtime::use_realtime() {
        // Being in the workspace room makes this tab present there.
        rt.listen(room, |_| {});
        let idle = leptos_use::use_idle(120_000).idle;
        let visibility = leptos_use::use_document_visibility();
        let location = leptos_router::hooks::use_location();
        let editing = expect_context::<EditingField>().0;
        Effect::new(move |_| {
            let hidden = visibility.get() == web_sys::VisibilityState::Hidden;
            let status = if idle.get() || hidden {
                Status::Away
            } else {
                Status::Online
            };
            rt.set_presence(status, location.pathname.get(), editing.get());
        });
    }
    let slug = view.workspace.slug.clone();
    let logout = Action::new(|_: &()| log_out());
    Effect::new(move |_| {
        if logout.value().get().is_some() {
            navigate_hard("/login");
        }
    });
    let link = |path: &str, label: &'static str| {
        view! { <A href=format!("/w/{slug}/{path}")>{label}</A> }
    };
    let admin = view.role.can_admin();
    let current = slug.clone();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Tandem"</a>
            <Ready>
            <label class="visually-hidden" for="workspace-switcher">"Workspace"</label>
            <select id="workspace-switcher" on:change=move |ev| {
                let target = event_target_value(&ev);
                navigate_hard(&if target.is_empty() { "/workspaces".to_string() } else { format!("/w/{target}/dashboard") });
            }>
                {view.workspaces.iter().map(|m| {
                    let selected = m.workspace.slug == current;
                    view! { <option value=m.workspace.slug.clone() selected=selected>{m.workspace.name.clone()}</option> }
                }).collect_view()}
                <option value="">"All workspaces…"</option>
            </select>
            </Ready>
            <nav aria-label="Workspace">
                {link("dashboard", "Dashboard")}
                {link("my-tasks", "My tasks")}
                {link("queue", "Calls queue")}
                {link("calendar", "Calendar")}
                {link("chat", "Chat")}
                {RecordKind::ALL.into_iter().map(|k| link(k.path(), k.spec().plural)).collect_view()}
                {link("members", "Members")}
                {admin.then(|| link("import", "Import"))}
                {admin.then(|| link("settings", "Settings"))}
            </nav>
            <ConnectionIndicator/>
            <NotificationCenter user=view.user.id/>
            <PresenceIndicator room label="Online in this workspace" max_visible=6/>
            <div class="user">
                <Avatar name=view.user.display_name.clone() color=view.user.color.clone()/>
                <span>{view.user.display_name.clone()}</span>
                <span class="badge">{view.role.label()}</span>
                <A href=format!("/w/{}/preferences", view.workspace.slug)>"Preferences"</A>
                <Ready><button type="button" on:click=move |_| { logout.dispatch(()); }>"Log out"</button></Ready>
            </div>
        </header>
    }
}
