//! Sign-up and log-in pages.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{log_in, sign_up, SignedIn};
use crate::components::{navigate_hard, ActionError, Ready};
use crate::error::AppError;

/// After a successful sign-in, open the next page as a fresh page load.
fn follow(result: impl Into<Signal<Option<Result<SignedIn, AppError>>>>) {
    let result = result.into();
    Effect::new(move |_| {
        if let Some(Ok(s)) = result.get() {
            navigate_hard(&s.next);
        }
    });
}

/// `/login`: e-mail and password.
#[component]
pub fn LoginPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new(|(e, p): &(String, String)| log_in(e.clone(), p.clone()));
    follow(action.value());
    view! {
        <main class="auth-page">
            <h1>"Log in to Tandem"</h1>
            <form on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch((email.get_untracked(), password.get_untracked()));
            }><Ready>
                <label for="login-email">"E-mail"</label>
                <input id="login-email" type="email" autocomplete="username" required bind:value=email/>
                <label for="login-password">"Password"</label>
                <input id="login-password" type="password" autocomplete="current-password" required bind:value=password/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Log in"</button>
                <ActionError result=action.value()/>
            </Ready></form>
            <p>"New here? "<a href="/signup">"Create an account"</a></p>
        </main>
    }
}

/// The sign-up form, optionally joining through an invite (`invite` token).
#[component]
pub fn SignupForm(
    /// Invite token to accept on sign-up.
    #[prop(optional)]
    invite: Option<String>,
    /// Name to pre-fill (an imported person's name).
    #[prop(optional)]
    name: Option<String>,
) -> impl IntoView {
    let display_name = RwSignal::new(name.unwrap_or_default());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new(|(n, e, p, i): &(String, String, String, Option<String>)| {
        sign_up(e.clone(), p.clone(), n.clone(), i.clone())
    });
    follow(action.value());
    let field_error = move |name: &'static str| {
        move || match action.value().get() {
            Some(Err(AppError::Validation { field, message })) if field == name => Some(message),
            _ => None,
        }
    };
    view! {
        <form on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch((display_name.get_untracked(), email.get_untracked(), password.get_untracked(), invite.clone()));
        }><Ready>
            <label for="signup-name">"Your name"</label>
            <input id="signup-name" type="text" autocomplete="name" required bind:value=display_name aria-describedby="signup-name-error"/>
            <span class="field-error" id="signup-name-error">{field_error("display_name")}</span>
            <label for="signup-email">"E-mail"</label>
            <input id="signup-email" type="email" autocomplete="email" required bind:value=email aria-describedby="signup-email-error"/>
            <span class="field-error" id="signup-email-error">{field_error("email")}</span>
            <label for="signup-password">"Password"</label>
            <input id="signup-password" type="password" autocomplete="new-password" required minlength="8" bind:value=password aria-describedby="signup-password-error"/>
            <span class="field-error" id="signup-password-error">{field_error("password")}</span>
            <button type="submit" class="primary" disabled=move || action.pending().get()>"Sign up"</button>
            <ActionError result=action.value()/>
        </Ready></form>
    }
}

/// `/signup`: create an account (`?invite=TOKEN` also joins that workspace).
#[component]
pub fn SignupPage() -> impl IntoView {
    let query = use_query_map();
    let invite = query.with_untracked(|q| q.get("invite"));
    view! {
        <main class="auth-page">
            <h1>"Create your Tandem account"</h1>
            <SignupForm invite=invite.unwrap_or_default()/>
            <p>"Already have an account? "<a href="/login">"Log in"</a></p>
        </main>
    }
}
