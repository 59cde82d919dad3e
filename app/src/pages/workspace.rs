//! `/w/{slug}/...`: loads the workspace and the caller's role once, shows the navigation
//! (with the workspace switcher) and renders the page below it.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_params_map;

use crate::api::auth::log_out;
use crate::api::workspaces::{open_workspace, WorkspaceView};
use crate::components::{error_message, navigate_hard, Avatar};
use crate::error::AppError;

/// The workspace slug of the current route.
pub fn use_slug() -> String {
    use_context::<WorkspaceView>()
        .map(|v| v.workspace.slug)
        .unwrap_or_default()
}

/// Loads the workspace, then shows the frame with the page.
#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let view_res = Resource::new(slug, open_workspace);
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match view_res.await {
                    Ok(v) => view! { <WorkspaceFrame view=v/> }.into_any(),
                    Err(AppError::Unauthorized) => view! {
                        <main class="page"><p>"Please "<a href="/login">"log in"</a>" to see this workspace."</p></main>
                    }.into_any(),
                    Err(e) => view! {
                        <main class="page">
                            <h1>"Workspace unavailable"</h1>
                            <p class="error" role="alert">{error_message(&e)}</p>
                            <a href="/workspaces">"Your workspaces"</a>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Navigation, workspace switcher and the user menu around the page; provides the
/// [`WorkspaceView`] to every page below.
#[component]
fn WorkspaceFrame(view: WorkspaceView) -> impl IntoView {
    provide_context(view.clone());
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
            <label class="visually-hidden" for="workspace-switcher">"Workspace"</label>
            <select id="workspace-switcher" on:change=move |ev| {
                let target = event_target_value(&ev);
                navigate_hard(&if target.is_empty() { "/workspaces".to_string() } else { format!("/w/{target}/customers") });
            }>
                {view.workspaces.iter().map(|m| {
                    let selected = m.workspace.slug == current;
                    view! { <option value=m.workspace.slug.clone() selected=selected>{m.workspace.name.clone()}</option> }
                }).collect_view()}
                <option value="">"All workspaces…"</option>
            </select>
            <nav aria-label="Workspace">
                {link("customers", "Customers")}
                {link("deals", "Deals")}
                {link("members", "Members")}
                {admin.then(|| link("import", "Import"))}
                {admin.then(|| link("settings", "Settings"))}
            </nav>
            <div class="user">
                <Avatar name=view.user.display_name.clone() color=view.user.color.clone()/>
                <span>{view.user.display_name.clone()}</span>
                <span class="badge">{view.role.label()}</span>
                <button type="button" on:click=move |_| { logout.dispatch(()); }>"Log out"</button>
            </div>
        </header>
        <main class="page">
            <Outlet/>
        </main>
    }
}
