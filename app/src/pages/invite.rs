//! `/invite/{token}`: what an invite joins; accept it signed in, or sign up through it.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::auth::get_current_user;
use crate::api::members::{accept_invite, preview_invite};
use crate::components::{error_message, navigate_hard, ActionError, Ready};
use crate::pages::auth::SignupForm;

/// Shows the invite; a signed-in user accepts it, a visitor signs up through it.
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    // Both calls start together: see `records::filter_options` for why.
    let data = Resource::new(token, |t| {
        futures::future::join(preview_invite(t), get_current_user())
    });
    let accept = Action::new(|t: &String| accept_invite(t.clone()));
    Effect::new(move |_| {
        if let Some(Ok(ws)) = accept.value().get() {
            navigate_hard(&format!("/w/{}/dashboard", ws.slug));
        }
    });
    view! {
        <main class="auth-page">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let (preview, user) = data.await;
                    let preview = match preview {
                        Ok(p) => p,
                        Err(e) => return view! { <h1>"Invite"</h1><p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
                    };
                    let heading = format!("Join {}", preview.workspace_name);
                    let role = format!("You are invited as {}.", preview.role.label().to_ascii_lowercase());
                    if !preview.live {
                        return view! { <h1>{heading}</h1><p class="error" role="alert">"This invite link has expired, been revoked or been used up. Ask for a new one."</p> }.into_any();
                    }
                    match user {
                        Ok(Some(u)) => view! {
                            <h1>{heading}</h1>
                            <p>{role}" Signed in as "{u.display_name}"."</p>
                            <Ready><button type="button" class="primary" on:click=move |_| { accept.dispatch(token()); }>"Accept invite"</button></Ready>
                            <ActionError result=accept.value()/>
                        }.into_any(),
                        _ => view! {
                            <h1>{heading}</h1>
                            <p>{role}" Create your account to join, or "<a href=format!("/login")>"log in"</a>" and open this link again."</p>
                            <SignupForm invite=token() name=preview.for_name.clone().unwrap_or_default()/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
