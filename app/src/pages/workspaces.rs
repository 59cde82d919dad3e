//! `/workspaces`: the workspaces I belong to, creating one, and joining by an invite link.

use leptos::prelude::*;

use crate::api::auth::log_out;
use crate::api::workspaces::{create_workspace, list_workspaces};
use crate::components::{error_message, navigate_hard, ActionError, Ready};
use crate::error::AppError;

/// Lists my workspaces, creates one, joins one by link.
#[component]
pub fn WorkspacesPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_workspaces());
    let name = RwSignal::new(String::new());
    let create = Action::new(|n: &String| create_workspace(n.clone(), None));
    Effect::new(move |_| {
        if let Some(Ok(ws)) = create.value().get() {
            navigate_hard(&format!("/w/{}/dashboard", ws.slug));
        }
    });
    let link = RwSignal::new(String::new());
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let l = link.get_untracked();
        let token = l
            .trim()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if !token.is_empty() {
            navigate_hard(&format!("/invite/{token}"));
        }
    };
    let logout = Action::new(|_: &()| log_out());
    Effect::new(move |_| {
        if logout.value().get().is_some() {
            navigate_hard("/login");
        }
    });
    view! {
        <main class="page narrow">
            <header class="page-header">
                <h1>"Your workspaces"</h1>
                <Ready><button type="button" on:click=move |_| { logout.dispatch(()); }>"Log out"</button></Ready>
            </header>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(AppError::Unauthorized) => view! { <p>"Please "<a href="/login">"log in"</a>" first."</p> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                        Ok(items) if items.is_empty() => view! { <p>"You are not in any workspace yet. Create one, or open an invite link."</p> }.into_any(),
                        Ok(items) => view! {
                            <ul class="workspace-list">
                                {items.into_iter().map(|m| view! {
                                    <li><a href=format!("/w/{}/dashboard", m.workspace.slug)>{m.workspace.name}</a>
                                    " "<span class="badge">{m.role.label()}</span></li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <section aria-labelledby="create-heading">
                <h2 id="create-heading">"Create a workspace"</h2>
                <form class="inline-form" on:submit=move |ev| { ev.prevent_default(); create.dispatch(name.get_untracked()); }><Ready>
                    <label for="workspace-name">"Workspace name"</label>
                    <input id="workspace-name" type="text" required bind:value=name/>
                    <button type="submit" class="primary" disabled=move || create.pending().get()>"Create workspace"</button>
                </Ready></form>
                <ActionError result=create.value()/>
            </section>
            <section aria-labelledby="join-heading">
                <h2 id="join-heading">"Join with an invite link"</h2>
                <form class="inline-form" on:submit=join><Ready>
                    <label for="invite-link">"Invite link"</label>
                    <input id="invite-link" type="text" required bind:value=link placeholder="https://…/invite/…"/>
                    <button type="submit">"Open link"</button>
                </Ready></form>
            </section>
        </main>
    }
}
