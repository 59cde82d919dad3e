//! `/w/{slug}/settings`: renaming the workspace (admins and the owner).

use leptos::prelude::*;

use crate::api::workspaces::{rename_workspace, WorkspaceView};
use crate::components::{navigate_hard, ActionError, Ready};

/// The workspace's name.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let name = RwSignal::new(ws.workspace.name.clone());
    let rename = Action::new(move |n: &String| rename_workspace(slug.clone(), n.clone()));
    let reload = format!("/w/{}/settings", ws.workspace.slug);
    Effect::new(move |_| {
        if let Some(Ok(_)) = rename.value().get() {
            navigate_hard(&reload);
        }
    });
    view! {
        <h1>"Workspace settings"</h1>
        <form class="inline-form" on:submit=move |ev| { ev.prevent_default(); rename.dispatch(name.get_untracked()); }><Ready>
            <label for="workspace-rename">"Workspace name"</label>
            <input id="workspace-rename" type="text" required bind:value=name disabled=!ws.role.can_admin()/>
            <button type="submit" class="primary" disabled=move || rename.pending().get() || !ws.role.can_admin()>"Rename"</button>
        </Ready></form>
        <ActionError result=rename.value()/>
        <p class="meta">{format!("Address: /w/{}", ws.workspace.slug)}</p>
    }
}
