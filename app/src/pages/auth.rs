//! Sign-up and log-in pages.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{LogIn, SignUp, SignedIn};
use crate::components::{navigate_hard, ActionError};
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

/// `/login`: e-mail and password. The form posts without the WASM too (`ActionForm`):
/// then the server redirects to the next page, or back here with the error.
#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    follow(action.value());
    view! {
        <main class="auth-page">
            <h1>"Log in to Tandem"</h1>
            <ActionForm action>
                <label for="login-email">"E-mail"</label>
                <input id="login-email" name="email" type="email" autocomplete="username" required/>
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password" autocomplete="current-password" required/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Log in"</button>
                <ActionError result=action.value()/>
            </ActionForm>
            <p>"New here? "<a href="/signup">"Create an account"</a></p>
        </main>
    }
}

/// The sign-up form, optionally joining through an invite (`invite` token). It posts
/// without the WASM too (`ActionForm`), like the log-in form.
#[component]
pub fn SignupForm(
    /// Invite token to accept on sign-up.
    #[prop(optional)]
    invite: Option<String>,
    /// Name to pre-fill (an imported person's name).
    #[prop(optional)]
    name: Option<String>,
) -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    follow(action.value());
    let field_error = move |name: &'static str| {
        move || match action.value().get() {
            Some(Err(AppError::Validation { field, message })) if field == name => Some(message),
            _ => None,
        }
    };
    view! {
        <ActionForm action>
            {invite.map(|token| view! { <input type="hidden" name="invite" value=token/> })}
            <label for="signup-name">"Your name"</label>
            <input id="signup-name" name="display_name" type="text" autocomplete="name" required value=name.unwrap_or_default() aria-describedby="signup-name-error"/>
            <span class="field-error" id="signup-name-error">{field_error("display_name")}</span>
            <label for="signup-email">"E-mail"</label>
            <input id="signup-email" name="email" type="email" autocomplete="email" required aria-describedby="signup-email-error"/>
            <span class="field-error" id="signup-email-error">{field_error("email")}</span>
            <label for="signup-password">"Password"</label>
            <input id="signup-password" name="password" type="password" autocomplete="new-password" required minlength="8" aria-describedby="signup-password-error"/>
            <span class="field-error" id="signup-password-error">{field_error("password")}</span>
            <button type="submit" class="primary" disabled=move || action.pending().get()>"Sign up"</button>
            <ActionError result=action.value()/>
        </ActionForm>
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
