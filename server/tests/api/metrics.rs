//! `/metrics`: refused without the bearer token when one is set, and in Prometheus' text
//! format what the hub and the server functions did: sockets, rooms and subscriptions
//! now, frames in and out, deliveries, publish-to-dispatch latency, and server
//! functions' latency and errors by name. Counters are the process's (every test app
//! of this binary shares the recorder), so they are compared before and after.

use crate::common::{spawn_app_with_settings, test_settings, TestApp};
use crate::realtime::{connect, events, send, subscribe, workspace_with_owner};
use app::api::chat::GetChatRoom;
use app::realtime::protocol::{ClientFrame, Room, ServerFrame};

const TOKEN: &str = "s3cret-scrape";

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("scrape")
}

/// The value of the series `series` (name and labels as rendered, e.g.
/// `tandem_server_fn_errors_total{name="get_chat_room"}`), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_need_the_token_and_count_what_happened() {
    let mut settings = test_settings();
    settings.metrics_token = Some(TOKEN.into());
    let app = spawn_app_with_settings(settings).await;
    assert_eq!(scrape(&app, None).await.status(), 401);
    assert_eq!(scrape(&app, Some("guess")).await.status(), 401);
    let before = scrape(&app, Some(TOKEN)).await;
    assert_eq!(before.status(), 200);
    assert!(before
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain")));
    let before = before.text().await.expect("text");
    assert_eq!(value(&before, "tandem_sockets_open"), 0.0);

    // A socket in the workspace's room, a ping, a write it receives, and a call that
    // fails.
    let (ann, slug, ws) = workspace_with_owner(&app).await;
    let mut socket = connect(&app, &ann).await;
    subscribe(&mut socket, Room::Workspace(ws), None).await;
    send(&mut socket, &ClientFrame::Ping).await;
    crate::realtime::recv_until(&mut socket, |f| matches!(f, ServerFrame::Pong)).await;
    crate::realtime::create_customer(&app, &ann, &slug, "Metered").await;
    events(&mut socket, Room::Workspace(ws), 1).await;
    let missing = app
        .run(
            &ann.http,
            GetChatRoom {
                slug: slug.clone(),
                room_id: 999_999,
            },
        )
        .await;
    assert!(missing.is_err());

    let after = scrape(&app, Some(TOKEN)).await.text().await.expect("text");
    assert_eq!(value(&after, "tandem_sockets_open"), 1.0);
    assert!(value(&after, "tandem_rooms") >= 1.0);
    assert_eq!(value(&after, "tandem_subscriptions"), 1.0);
    for counter in [
        "tandem_frames_in_total",
        "tandem_frames_out_total",
        "tandem_deliveries_total",
    ] {
        assert!(
            value(&after, counter) > value(&before, counter),
            "{counter} did not grow"
        );
    }
    let errors = r#"tandem_server_fn_errors_total{name="get_chat_room"}"#;
    assert!(value(&after, errors) >= value(&before, errors) + 1.0);
    let calls = r#"tandem_server_fn_seconds_count{name="create_record"}"#;
    assert!(value(&after, calls) >= value(&before, calls) + 1.0);
    assert!(after.contains("tandem_event_publish_to_dispatch_seconds_bucket"));
    assert!(after.contains(r#"tandem_db_pool_connections{state="idle"}"#));
}
