//! Graceful shutdown of the real binary: with 200 sockets open, SIGTERM makes every one
//! get a `reconnect` frame (then close 1012), the process exits within its drain time,
//! and after a restart on the same database each socket resumes from what it had and
//! ends with every event once, in order.

use std::process::Stdio;
use std::time::Duration;

use app::realtime::protocol::{Change, ClientFrame, Position, Room, ServerFrame, PROTOCOL_VERSION};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::realtime::{send, Ws};

const SOCKETS: usize = 200;
const DRAIN_SECS: u64 = 5;
/// How long any one wait of this test may take before it fails (a bound, not a sleep).
const WAIT: Duration = Duration::from_secs(20);

/// Starts `tandem serve` on `addr` with the database `db`, and waits until it says it
/// listens (read from its log).
async fn start(addr: &str, db: &str) -> Child {
    start_with(addr, db, &[]).await
}

/// [`start`] with `extra` flags.
pub(crate) async fn start_with(addr: &str, db: &str, extra: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "serve",
            "--listen",
            addr,
            "--database-url",
            db,
            "--max-sockets-per-user",
            "1000",
            "--max-sockets-per-ip",
            "1000",
            "--signups-per-ip-per-minute",
            "1000",
            "--writes-per-user-per-second",
            "1000",
            "--connects-per-user-per-minute",
            "100000",
            "--calls-per-user-per-second",
            "100000",
            "--drain-secs",
            &DRAIN_SECS.to_string(),
            "--no-reminders",
        ])
        .args(extra)
        .env("LEPTOS_OUTPUT_NAME", "tandem")
        .env("LEPTOS_SITE_ROOT", "target/site")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tandem starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("log") {
            if line.contains("Tandem listening") {
                break;
            }
        }
    })
    .await
    .expect("the server listens in time");
    // Keep reading its log, so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

pub(crate) fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

/// POSTs server function `f` with `body` as the session `cookie` (JSON answer).
pub(crate) async fn call(
    base: &str,
    cookie: &str,
    f: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/{f}"))
        .header("origin", base)
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{f}: {}", res.status());
    res.json().await.expect("json")
}

pub(crate) async fn open(addr: &str, cookie: &str) -> Ws {
    let mut req = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("cookie", cookie.parse().expect("header"));
    req.headers_mut()
        .insert("origin", format!("http://{addr}").parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    send(
        &mut ws,
        &ClientFrame::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    ws
}

/// The next server frame; `None` once the socket closed.
pub(crate) async fn next(ws: &mut Ws) -> Option<ServerFrame> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
            Some(Ok(Message::Text(t))) => {
                return Some(serde_json::from_str(t.as_str()).expect("a frame"))
            }
            Some(Ok(_)) => continue,
        }
    }
}

/// Subscribes and returns where the stream starts.
pub(crate) async fn subscribe(ws: &mut Ws, room: Room, since: Option<Position>) -> Position {
    send(ws, &ClientFrame::Subscribe { room, since }).await;
    loop {
        match next(ws).await.expect("open") {
            ServerFrame::Subscribed { position, .. } => return position,
            ServerFrame::Error { message, .. } => panic!("subscribe refused: {message}"),
            _ => {}
        }
    }
}

/// Signs up `email` (password `password123`) at `base`; returns the session cookie.
pub(crate) async fn sign_up_cookie(base: &str, email: &str) -> String {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .expect("client");
    let res = http
        .post(format!("{base}/api/sign_up"))
        .header("origin", base)
        .form(&[
            ("email", email),
            ("password", "password123"),
            ("display_name", email),
        ])
        .send()
        .await
        .expect("sign up");
    assert!(res.status().is_success(), "{}", res.status());
    reqwest::cookie::CookieStore::cookies(&*jar, &base.parse().expect("url"))
        .expect("cookie")
        .to_str()
        .expect("ascii")
        .to_string()
}

/// Reads what reached `ws` until its server closed it, applying `room`'s events.
pub(crate) async fn read_until_closed(
    ws: &mut Ws,
    room: Room,
    at: &mut Position,
    seen: &mut Vec<i64>,
) {
    while let Some(frame) = next(ws).await {
        if let ServerFrame::Event {
            room: r,
            position,
            change,
        } = frame
        {
            if r == room {
                apply(at, position, &change, seen);
            }
        }
    }
}

/// Applies an event to a socket's position: it must be the next one.
pub(crate) fn apply(at: &mut Position, position: Position, change: &Change, seen: &mut Vec<i64>) {
    assert_eq!(
        position.offset,
        at.offset + 1,
        "events in order, none twice, none missed"
    );
    *at = position;
    if let Some((_, id, _)) = change.target() {
        seen.push(id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_socket_to_reconnect_and_a_restart_resumes_them() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let addr = free_addr();
    let base = format!("http://{addr}");
    let mut first = start(&addr, &db).await;

    let cookie = sign_up_cookie(&base, "drain@example.com").await;
    let ws = call(
        &base,
        &cookie,
        "create_workspace",
        serde_json::json!({"name": "Drain", "slug": null}),
    )
    .await;
    let (slug, ws_id) = (
        ws["slug"].as_str().expect("slug").to_string(),
        ws["id"].as_i64().expect("id"),
    );
    let room = Room::Workspace(ws_id);
    let create = |n: usize| {
        let (base, cookie, slug) = (base.clone(), cookie.clone(), slug.clone());
        async move {
            call(&base, &cookie, "create_record", serde_json::json!({"slug": slug, "kind": "customer", "fields": {"name": format!("Customer {n}")}})).await;
        }
    };

    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        let mut ws = open(&addr, &cookie).await;
        let at = subscribe(&mut ws, room, None).await;
        sockets.push((ws, at, Vec::<i64>::new()));
    }
    for n in 0..5 {
        create(n).await;
    }

    // SIGTERM: every socket hears `reconnect`, then the socket closes.
    let pid = first.id().expect("pid") as i32;
    // SAFETY: kill only sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = std::time::Instant::now();
    let mut told = 0;
    for (ws, at, seen) in &mut sockets {
        while let Some(frame) = next(ws).await {
            match frame {
                ServerFrame::Event {
                    room: r,
                    position,
                    change,
                } if r == room => apply(at, position, &change, seen),
                ServerFrame::Reconnect { delay_ms, .. } => {
                    assert!(delay_ms < 5_000, "the delay is within the spread");
                    told += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!(told, SOCKETS, "every socket was told to reconnect");
    let status = tokio::time::timeout(Duration::from_secs(DRAIN_SECS + 5), first.wait())
        .await
        .expect("the process exits within its drain time")
        .expect("status");
    assert!(signalled.elapsed() < Duration::from_secs(DRAIN_SECS + 5));
    assert!(status.success(), "a graceful exit: {status:?}");

    // Restarted on the same database: more writes, then every socket resumes from what
    // it had and ends with all eight, each once.
    let mut second = start(&addr, &db).await;
    for n in 5..8 {
        create(n).await;
    }
    for (ws, at, seen) in &mut sockets {
        *ws = open(&addr, &cookie).await;
        resume(ws, room, at, seen, 8).await;
    }
    let _ = second.start_kill();
}

/// Resumes `room` on a freshly opened `ws` from `at` and reads until `want` records were
/// seen, each event the next offset; then checks each record came once. A resume within
/// the log must not resync.
pub(crate) async fn resume(
    ws: &mut Ws,
    room: Room,
    at: &mut Position,
    seen: &mut Vec<i64>,
    want: usize,
) {
    subscribe(ws, room, Some(*at)).await;
    while seen.len() < want {
        match next(ws).await.expect("open") {
            ServerFrame::Event {
                room: r,
                position,
                change,
            } if r == room => apply(at, position, &change, seen),
            ServerFrame::Resync { .. } => panic!("a resume within the log must not resync"),
            _ => {}
        }
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), want, "every record once");
}
