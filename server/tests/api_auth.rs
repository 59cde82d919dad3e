//! Accounts over HTTP: sign-up, log-in, log-out, wrong passwords, the log-in rate limit,
//! session id rotation and the session cookie's flags.

mod common;

use app::error::AppError;
use common::{client, spawn_app};
use serde_json::{json, Value};

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
    let me: Option<Value> = app.call("get_current_user", json!({})).await.expect("me");
    let me = me.expect("signed in after sign-up");
    assert_eq!(me["id"].as_i64(), Some(id));
    assert_eq!(
        me["email"], "ann@example.com",
        "e-mail is stored lower-cased"
    );

    let _: () = app.call("log_out", json!({})).await.expect("log out");
    let me: Option<Value> = app.call("get_current_user", json!({})).await.expect("me");
    assert!(me.is_none(), "signed out");

    let signed: Value = app
        .call(
            "log_in",
            json!({"email": "ann@example.com", "password": "password123"}),
        )
        .await
        .expect("log in");
    assert_eq!(signed["user"]["id"].as_i64(), Some(id));
    assert_eq!(signed["next"], "/workspaces");
}

#[tokio::test]
async fn sign_up_errors_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "nope", "password": "password123", "display_name": "A", "invite": null}),
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": "short", "display_name": "A", "invite": null}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "password123", "display_name": "  ", "invite": null}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let err = app
            .call::<Value>("sign_up", body)
            .await
            .expect_err("refused");
        assert_eq!(err.field(), Some(field), "{err:?}");
    }
    app.sign_up_as(&app.client, "a@b.co", "A").await;
    let err = app
        .call_as::<Value>(&client(), "sign_up", json!({"email": "A@B.co", "password": "password123", "display_name": "B", "invite": null}))
        .await
        .expect_err("taken");
    assert_eq!(err.field(), Some("email"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up_as(&client(), "ann@example.com", "Ann").await;
    let wrong = app
        .call::<Value>(
            "log_in",
            json!({"email": "ann@example.com", "password": "wrong-password"}),
        )
        .await
        .expect_err("wrong");
    let unknown = app
        .call::<Value>(
            "log_in",
            json!({"email": "bob@example.com", "password": "wrong-password"}),
        )
        .await
        .expect_err("unknown");
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.field(), Some("password"));
    let me: Option<Value> = app.call("get_current_user", json!({})).await.expect("me");
    assert!(me.is_none());
}

#[tokio::test]
async fn log_in_attempts_are_rate_limited_per_email() {
    let app = spawn_app().await;
    app.sign_up_as(&client(), "ann@example.com", "Ann").await;
    for _ in 0..5 {
        let e = app
            .call::<Value>(
                "log_in",
                json!({"email": "ann@example.com", "password": "bad"}),
            )
            .await
            .expect_err("wrong");
        assert!(matches!(e, AppError::Validation { .. }), "{e:?}");
    }
    // Even the right password is refused now, with a time to wait.
    let e = app
        .call::<Value>(
            "log_in",
            json!({"email": "ann@example.com", "password": "password123"}),
        )
        .await
        .expect_err("limited");
    match e {
        AppError::RateLimited { retry_after_secs } => assert!((1..=60).contains(&retry_after_secs)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // Another account from the same address still gets in.
    app.sign_up_as(&client(), "bob@example.com", "Bob").await;
    let ok: Result<Value, _> = app
        .call(
            "log_in",
            json!({"email": "bob@example.com", "password": "password123"}),
        )
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
        .json(&body)
        .send()
        .await
        .expect("log in");
    let first_cookie = session_cookie(&first).expect("session cookie set");
    assert!(first_cookie.contains("HttpOnly"), "{first_cookie}");
    assert!(first_cookie.contains("SameSite=Lax"), "{first_cookie}");
    let second = app
        .client
        .post(format!("{}/api/log_in", app.base))
        .json(&body)
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
    let me: Option<Value> = res.json().await.expect("json");
    assert!(me.is_none(), "the pre-rotation session id is dead");
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/api/sign_up", app.base))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "a@b.co", "password": "password123", "display_name": "A", "invite": null}))
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
