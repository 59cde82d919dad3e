//! Accounts over HTTP: sign-up, log-in, log-out, wrong passwords, the log-in rate limit,
//! session id rotation and the session cookie's flags.

use crate::common::{client, sign_up, spawn_app, update_field};
use app::api::auth::{GetCurrentUser, LogIn, LogOut, SignUp};
use app::api::records::CreateRecord;
use app::error::AppError;
use app::model::{Fields, RecordKind, User};
use serde_json::{json, Value};

/// The arguments of `/api/log_in` for `email` with `password`.
fn log_in(email: &str, password: &str) -> LogIn {
    LogIn {
        email: email.into(),
        password: password.into(),
    }
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tandem.sid="))
        .map(str::to_string)
}

#[tokio::test]
async fn sign_up_log_out_and_log_in_again() {
    let app = spawn_app().await;
    let id = app
        .sign_up_as(&app.client, "Ann@Example.com", "Ann Lee")
        .await;
    let me = app.run(&app.client, GetCurrentUser {}).await.expect("me");
    let me = me.expect("signed in after sign-up");
    assert_eq!(me.id, id);
    assert_eq!(
        me.email.as_deref(),
        Some("ann@example.com"),
        "e-mail is stored lower-cased"
    );

    app.run(&app.client, LogOut {}).await.expect("log out");
    let me = app.run(&app.client, GetCurrentUser {}).await.expect("me");
    assert!(me.is_none(), "signed out");

    let signed = app
        .run(&app.client, log_in("ann@example.com", "password123"))
        .await
        .expect("log in");
    assert_eq!(signed.user.id, id);
    assert_eq!(signed.next, "/workspaces");
}

#[tokio::test]
async fn sign_up_errors_name_the_field() {
    let app = spawn_app().await;
    let short = SignUp {
        password: "short".into(),
        ..sign_up("a@b.co", "A", None)
    };
    let cases = [
        (sign_up("nope", "A", None), "email"),
        (short, "password"),
        (sign_up("a@b.co", "  ", None), "display_name"),
    ];
    for (args, field) in cases {
        let err = app.run(&app.client, args).await.expect_err("refused");
        assert_eq!(err.field(), Some(field), "{err:?}");
    }
    app.sign_up_as(&app.client, "a@b.co", "A").await;
    let err = app
        .run(&client(), sign_up("A@B.co", "B", None))
        .await
        .expect_err("taken");
    assert_eq!(err.field(), Some("email"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up_as(&client(), "ann@example.com", "Ann").await;
    let wrong = app
        .run(&app.client, log_in("ann@example.com", "wrong-password"))
        .await
        .expect_err("wrong");
    let unknown = app
        .run(&app.client, log_in("bob@example.com", "wrong-password"))
        .await
        .expect_err("unknown");
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.field(), Some("password"));
    let me = app.run(&app.client, GetCurrentUser {}).await.expect("me");
    assert!(me.is_none());
}

#[tokio::test]
async fn log_in_attempts_are_rate_limited_per_email() {
    let app = spawn_app().await;
    app.sign_up_as(&client(), "ann@example.com", "Ann").await;
    for _ in 0..5 {
        let e = app
            .run(&app.client, log_in("ann@example.com", "bad"))
            .await
            .expect_err("wrong");
        assert!(matches!(e, AppError::Validation { .. }), "{e:?}");
    }
    // Even the right password is refused now, with a time to wait.
    let e = app
        .run(&app.client, log_in("ann@example.com", "password123"))
        .await
        .expect_err("limited");
    match e {
        AppError::RateLimited { retry_after_secs } => assert!((1..=60).contains(&retry_after_secs)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // Another account from the same address still gets in.
    app.sign_up_as(&client(), "bob@example.com", "Bob").await;
    let ok = app
        .run(&app.client, log_in("bob@example.com", "password123"))
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn log_in_rotates_the_session_id_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    app.sign_up_as(&client(), "ann@example.com", "Ann").await;
    let body = json!({"email": "ann@example.com", "password": "password123"});
    let first = app
        .client
        .post(format!("{}/api/log_in", app.base))
        .form(&body)
        .send()
        .await
        .expect("log in");
    let first_cookie = session_cookie(&first).expect("session cookie set");
    assert!(first_cookie.contains("HttpOnly"), "{first_cookie}");
    assert!(first_cookie.contains("SameSite=Lax"), "{first_cookie}");
    let second = app
        .client
        .post(format!("{}/api/log_in", app.base))
        .form(&body)
        .send()
        .await
        .expect("log in again");
    let second_cookie = session_cookie(&second).expect("session cookie set again");
    let id = |c: &str| c.split(';').next().unwrap_or_default().to_string();
    assert_ne!(
        id(&first_cookie),
        id(&second_cookie),
        "a new session id at log-in"
    );

    // A client presenting the old id is not signed in.
    let res = reqwest::Client::new()
        .post(format!("{}/api/get_current_user", app.base))
        .header("cookie", id(&first_cookie))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    let me: Option<User> = res.json().await.expect("json");
    assert!(me.is_none(), "the pre-rotation session id is dead");
}

#[tokio::test]
async fn the_log_in_form_works_without_scripts() {
    let app = spawn_app().await;
    app.sign_up_as(&client(), "ann@example.com", "Ann").await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login_page = format!("{}/login", app.base);
    let post = |password: &str| {
        browser
            .post(format!("{}/api/log_in", app.base))
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", &login_page)
            .form(&[("email", "ann@example.com"), ("password", password)])
            .send()
    };
    let location = |res: &reqwest::Response| {
        assert!(res.status().is_redirection(), "{}", res.status());
        res.headers()["location"]
            .to_str()
            .expect("location")
            .to_string()
    };

    // A wrong password goes back to the form, whose page then shows the error.
    let res = post("wrong-password").await.expect("post");
    let back = location(&res);
    assert!(
        back.starts_with(&login_page) && back.contains("__err="),
        "{back}"
    );
    let html = browser
        .get(&back)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Wrong e-mail or password"),
        "the error shows on the page: {html}"
    );
    let me = app.run(&browser, GetCurrentUser {}).await.expect("me");
    assert!(me.is_none());

    // The right one signs in and goes on to the next page.
    let res = post("password123").await.expect("post");
    assert_eq!(location(&res), "/workspaces");
    let me = app.run(&browser, GetCurrentUser {}).await.expect("me");
    assert_eq!(
        me.expect("signed in").email.as_deref(),
        Some("ann@example.com")
    );
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/api/sign_up", app.base))
        .header("origin", "https://evil.example")
        .form(&json!({"email": "a@b.co", "password": "password123", "display_name": "A"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(format!("{}/api/get_current_user", app.base))
        .header("origin", app.base.clone())
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "same origin passes");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{path}");
    }
}

/// Calls a server function and returns its HTTP status and error (if any).
async fn status_of(
    c: &reqwest::Client,
    base: &str,
    name: &str,
    body: Value,
) -> (u16, Option<AppError>) {
    let req = c.post(format!("{base}/api/{name}"));
    let req = if app::api::FORM_ENDPOINTS.contains(&name) {
        req.form(&body)
    } else {
        req.json(&body)
    };
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).ok())
}

#[tokio::test]
async fn each_error_kind_comes_back_with_its_http_status() {
    let app = spawn_app().await;
    let (c, base) = (client(), app.base.clone());
    let (status, e) = status_of(&c, &base, "list_workspaces", json!({})).await;
    assert_eq!((status, e), (401, Some(AppError::Unauthorized)));
    let (status, e) = status_of(
        &c,
        &base,
        "sign_up",
        json!({"email": "nope", "password": "password123", "display_name": "X"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e.and_then(|e| e.field().map(str::to_string)).as_deref(),
        Some("email")
    );
    app.sign_up_as(&c, "owner@example.com", "Owner").await;
    let slug = app.create_workspace_as(&c, "Acme").await;
    let (status, e) = status_of(&c, &base, "open_workspace", json!({"slug": "nowhere"})).await;
    assert!(matches!(e, Some(AppError::NotFound(_))));
    assert_eq!(status, 404);
    let viewer = app
        .member_with_role(&c, &slug, "viewer", "viewer@example.com")
        .await;
    let (status, e) = status_of(
        &viewer,
        &base,
        "create_record",
        json!({"slug": slug, "kind": "customer", "fields": {"name": "X"}}),
    )
    .await;
    assert!(matches!(e, Some(AppError::Forbidden(_))));
    assert_eq!(status, 403);
    let args = CreateRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        fields: Fields::from([("name".into(), app::model::Value::Text("Acme".into()))]),
    };
    let v = app.run(&c, args).await.expect("create");
    let change = update_field(
        &slug,
        RecordKind::Customer,
        v.id,
        "sector",
        app::model::Value::Null,
        app::model::Value::Text("retail".into()),
    );
    app.run(&c, change).await.expect("first edit");
    let clash = json!({"slug": slug, "kind": "customer", "id": v.id, "changes": {"sector": {"base": null, "value": "media"}}});
    let (status, e) = status_of(&c, &base, "update_record", clash).await;
    assert!(matches!(e, Some(AppError::Conflict(_))));
    assert_eq!(status, 409);
    let (status, _) = status_of(&c, &base, "update_record", json!({"slug": 5})).await;
    assert_eq!(status, 400, "a malformed request");
    for _ in 0..5 {
        status_of(
            &c,
            &base,
            "log_in",
            json!({"email": "owner@example.com", "password": "wrong-password"}),
        )
        .await;
    }
    let (status, e) = status_of(
        &c,
        &base,
        "log_in",
        json!({"email": "owner@example.com", "password": "wrong-password"}),
    )
    .await;
    assert!(matches!(e, Some(AppError::RateLimited { .. })));
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_megabyte_of_email_is_refused_before_hashing() {
    let app = spawn_app().await;
    let huge = format!("{}@example.com", "a".repeat(1 << 20));
    let e = app
        .run(&app.client, log_in(&huge, "password123"))
        .await
        .expect_err("refused");
    assert_eq!(e.field(), Some("email"));
    let e = app
        .run(&app.client, sign_up(&huge, "Huge", None))
        .await
        .expect_err("refused");
    assert_eq!(e.field(), Some("email"));
    assert_eq!(app.limits.hashing.peak(), 0, "no password was hashed");
    assert!(
        app.limits.largest_map() <= 1,
        "no rate-limiter key was made for it"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_log_in_limit_applies_to_the_real_client() {
    let mut settings = crate::common::test_settings();
    settings.proxy =
        server::auth::ProxyConfig::parse(&["127.0.0.1/32".into()], "x-forwarded-for", None)
            .expect("proxy");
    settings.limits.login_per_email_per_minute = 1_000;
    settings.limits.login_per_ip_per_minute = 3;
    let app = crate::common::spawn_app_with_settings(settings).await;
    let attempt = |from: &'static str| {
        let c = client();
        let base = app.base.clone();
        async move {
            c.post(format!("{base}/api/log_in"))
                .header("x-forwarded-for", from)
                .form(&json!({"email": "x@example.com", "password": "wrong-password"}))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("203.0.113.1").await, 422);
    }
    assert_eq!(attempt("203.0.113.1").await, 429, "that client is limited");
    assert_eq!(
        attempt("203.0.113.2").await,
        422,
        "another client behind the same proxy is not"
    );
}
