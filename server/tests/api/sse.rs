//! The realtime fallback over server-sent events (`GET /sse`, `POST /sse/{token}`): the
//! same protocol, resume and checks as `/ws`; and the per-user limits on realtime
//! connects and on server-function calls.

use std::time::Duration;

use app::realtime::protocol::{
    ClientFrame, ErrorCode, Position, Room, ServerFrame, PROTOCOL_VERSION,
};

use crate::common::{spawn_app, spawn_app_with_settings, test_settings, TestApp};
use crate::realtime::{connect_with, create_customer, person, workspace_with_owner, Person};

/// How long a test waits for an expected event (a bound, not a sleep).
const WAIT: Duration = Duration::from_secs(10);

/// One open event stream, read by hand (`event:` and `data:` lines, a blank line ends an
/// event).
pub(crate) struct Stream {
    res: reqwest::Response,
    buffer: String,
    pub(crate) token: String,
}

pub(crate) async fn open_stream(app: &TestApp, p: &Person) -> Stream {
    let res = reqwest::Client::new()
        .get(format!("{}/sse", app.base))
        .header("cookie", &p.cookie)
        .send()
        .await
        .expect("GET /sse");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().expect("ascii"),
        "text/event-stream"
    );
    let mut s = Stream {
        res,
        buffer: String::new(),
        token: String::new(),
    };
    let (event, token) = s.next_event().await.expect("the token event");
    assert_eq!(event, "token");
    s.token = token;
    match s.frame().await {
        ServerFrame::Welcome { user_id, .. } => assert_eq!(user_id, p.id),
        other => panic!("expected welcome, got {other:?}"),
    }
    s
}

impl Stream {
    /// The next event as (type, data); `None` once the stream ended.
    async fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = "message".to_string();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((event, data.join("\n")));
            }
            let chunk = tokio::time::timeout(WAIT, self.res.chunk())
                .await
                .expect("an event in time")
                .expect("the stream");
            self.buffer
                .push_str(std::str::from_utf8(&chunk?).expect("utf-8"));
        }
    }

    /// The next server frame (a `message` event).
    async fn frame(&mut self) -> ServerFrame {
        let (event, data) = self.next_event().await.expect("open");
        assert_eq!(event, "message", "{data}");
        serde_json::from_str(&data).expect("a server frame")
    }

    async fn frame_until(&mut self, want: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        loop {
            let f = self.frame().await;
            if want(&f) {
                return f;
            }
        }
    }
}

/// POSTs `body` to the stream `token` with `cookie`; returns the status.
pub(crate) async fn post(app: &TestApp, token: &str, cookie: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/sse/{token}", app.base))
        .header("cookie", cookie)
        .header("origin", &app.base)
        .body(body.to_string())
        .send()
        .await
        .expect("POST")
        .status()
        .as_u16()
}

async fn post_frame(app: &TestApp, s: &Stream, p: &Person, f: &ClientFrame) {
    let status = post(
        app,
        &s.token,
        &p.cookie,
        &serde_json::to_string(f).expect("json"),
    )
    .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn the_event_stream_carries_the_protocol_with_frames_posted_back_and_resumes() {
    let app = spawn_app().await;
    let (owner, slug, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let mut s = open_stream(&app, &owner).await;
    post_frame(
        &app,
        &s,
        &owner,
        &ClientFrame::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    post_frame(
        &app,
        &s,
        &owner,
        &ClientFrame::Subscribe { room, since: None },
    )
    .await;
    let start = match s
        .frame_until(|f| matches!(f, ServerFrame::Subscribed { .. }))
        .await
    {
        ServerFrame::Subscribed { position, .. } => position,
        _ => unreachable!(),
    };

    // A write reaches it live.
    let first = create_customer(&app, &owner, &slug, "First").await;
    match s
        .frame_until(|f| matches!(f, ServerFrame::Event { .. }))
        .await
    {
        ServerFrame::Event {
            position, change, ..
        } => {
            assert_eq!(position.offset, start.offset + 1);
            assert_eq!(change.target().map(|t| t.1), Some(first));
        }
        _ => unreachable!(),
    }

    // A malformed frame gets an error frame, and the connection goes on.
    assert_eq!(post(&app, &s.token, &owner.cookie, "{not json").await, 204);
    match s.frame().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::BadFrame),
        other => panic!("expected an error frame, got {other:?}"),
    }
    post_frame(&app, &s, &owner, &ClientFrame::Ping).await;
    assert_eq!(s.frame().await, ServerFrame::Pong);

    // Only the session that opened it may post to it; no one may post cross-origin.
    let bob = person(&app, "bob@example.com").await;
    assert_eq!(
        post(&app, &s.token, &bob.cookie, "{\"type\":\"ping\"}").await,
        404
    );
    assert_eq!(
        post(&app, "0123", &owner.cookie, "{\"type\":\"ping\"}").await,
        404
    );
    let cross = reqwest::Client::new()
        .post(format!("{}/sse/{}", app.base, s.token))
        .header("cookie", &owner.cookie)
        .header("origin", "http://evil.example")
        .body("{\"type\":\"ping\"}")
        .send()
        .await
        .expect("POST");
    assert_eq!(cross.status(), 403);
    assert_eq!(
        post(&app, &s.token, &owner.cookie, &"x".repeat(70_000)).await,
        413
    );

    // The stream goes away: the connection ends (its registration too). Two writes
    // later a new stream resumes from where the first one was, with both, in order.
    let token = s.token.clone();
    drop(s);
    tokio::time::timeout(WAIT, async {
        while app.hub.socket_count() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the connection ends with its stream");
    assert_eq!(
        post(&app, &token, &owner.cookie, "{\"type\":\"ping\"}").await,
        404
    );
    let second = create_customer(&app, &owner, &slug, "Second").await;
    let third = create_customer(&app, &owner, &slug, "Third").await;
    let mut s = open_stream(&app, &owner).await;
    let since = Position {
        epoch: start.epoch,
        offset: start.offset + 1,
    };
    post_frame(
        &app,
        &s,
        &owner,
        &ClientFrame::Subscribe {
            room,
            since: Some(since),
        },
    )
    .await;
    let mut got = Vec::new();
    while got.len() < 2 {
        if let ServerFrame::Event {
            position, change, ..
        } = s.frame().await
        {
            assert_eq!(position.offset, since.offset + 1 + got.len() as i64);
            got.push(change.target().map(|t| t.1).expect("a record"));
        }
    }
    assert_eq!(got, [second, third]);
}

#[tokio::test]
async fn a_signed_out_stream_is_refused_and_a_server_side_end_is_a_close_event() {
    let app = spawn_app().await;
    let res = reqwest::get(format!("{}/sse", app.base))
        .await
        .expect("GET");
    assert_eq!(res.status(), 401);
    // Logging out ends the stream with the session-ended code.
    let (owner, _, _) = workspace_with_owner(&app).await;
    let mut s = open_stream(&app, &owner).await;
    app.run(&owner.http, app::api::auth::LogOut {})
        .await
        .expect("log out");
    let (event, data) = loop {
        let (event, data) = s.next_event().await.expect("a close event");
        if event != "message" {
            break (event, data);
        }
    };
    assert_eq!(event, "close");
    let v: serde_json::Value = serde_json::from_str(&data).expect("json");
    assert_eq!(
        v["code"].as_u64(),
        Some(u64::from(app::realtime::protocol::CLOSE_SESSION_ENDED))
    );
    assert!(s.next_event().await.is_none(), "then the stream ends");
}

#[tokio::test]
async fn realtime_connects_and_server_function_calls_are_limited_per_user() {
    let mut settings = test_settings();
    settings.limits.connects_per_user_per_minute = 3;
    settings.limits.calls_per_user_per_second = 1;
    let app = spawn_app_with_settings(settings).await;
    let (owner, slug, _) = workspace_with_owner(&app).await;
    let bob = person(&app, "bob@example.com").await;

    // Three connects a minute, by either transport; the fourth is refused.
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(
            connect_with(&app, Some(&owner.cookie), Some(&app.base))
                .await
                .expect("within the limit"),
        );
    }
    let third = open_stream(&app, &owner).await;
    assert_eq!(
        connect_with(&app, Some(&owner.cookie), Some(&app.base))
            .await
            .err(),
        Some(429)
    );
    let res = reqwest::Client::new()
        .get(format!("{}/sse", app.base))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 429);
    assert!(
        connect_with(&app, Some(&bob.cookie), Some(&app.base))
            .await
            .is_ok(),
        "another user is not held back"
    );
    drop(third);

    // One call a second with bursts of four: a burst of calls is cut off with 429 and
    // the wait; Bob's calls still pass.
    let list = || app::api::records::ListRecords {
        slug: slug.clone(),
        kind: app::model::RecordKind::Customer,
        query: Default::default(),
    };
    let mut refused = None;
    for _ in 0..20 {
        let res = owner
            .http
            .post(format!("{}/api/list_records", app.base))
            .header("origin", &app.base)
            .json(&list())
            .send()
            .await
            .expect("POST");
        if res.status() == 429 {
            refused = Some(res);
            break;
        }
        assert!(res.status().is_success(), "{}", res.status());
    }
    let refused = refused.expect("the burst is cut off");
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(wait >= 1);
    let body: app::error::AppError = refused.json().await.expect("an error body");
    assert!(matches!(body, app::error::AppError::RateLimited { .. }));
    let bobs = bob
        .http
        .post(format!("{}/api/list_workspaces", app.base))
        .header("origin", &app.base)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("POST");
    assert!(bobs.status().is_success(), "{}", bobs.status());
}
