//! `/ws` with real WebSocket clients against the router on 127.0.0.1: who may connect and
//! subscribe, delivery of writes to every subscriber, lossless resume from the change
//! log, presence across tabs, the heartbeat timeout, slow consumers and bad frames.

use std::time::Duration;

use crate::common::{browser, spawn_app, spawn_app_with, TestApp};
use app::api::auth::{GetCurrentUser, LogIn, LogOut};
use app::api::members::{AcceptInvite, CreateInvite, RemoveMember, SetMemberRole};
use app::api::records::{CreateRecord, UpdateRecord};
use app::model::{FieldChange, Fields, RecordKind, Role, Value};
use app::realtime::protocol::{
    Change, ChangeOp, ClientFrame, ErrorCode, Position, Room, ServerFrame, Status,
};
use app::ssr::store::{ChangeSink, LoggedChange};
use futures::{SinkExt, StreamExt};
use reqwest::cookie::CookieStore;
use server::realtime::HubConfig;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for an expected frame before failing (a bound, not a sleep).
const WAIT: Duration = Duration::from_secs(10);

/// A signed-up user: their HTTP client and session cookie.
pub(crate) struct Person {
    pub(crate) http: reqwest::Client,
    pub(crate) cookie: String,
    pub(crate) id: i64,
}

pub(crate) async fn person(app: &TestApp, email: &str) -> Person {
    let (http, jar) = browser();
    let id = app.sign_up_as(&http, email, email).await;
    let url = app.base.parse().expect("url");
    let cookie = jar
        .cookies(&url)
        .expect("session cookie")
        .to_str()
        .expect("ascii")
        .to_string();
    Person { http, cookie, id }
}

pub(crate) async fn connect_with(
    app: &TestApp,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, u16> {
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .expect("request");
    if let Some(c) = cookie {
        req.headers_mut()
            .insert("cookie", c.parse().expect("header"));
    }
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", o.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("unexpected connect error: {e}"),
    }
}

/// Connects as `p` and reads the welcome frame.
pub(crate) async fn connect(app: &TestApp, p: &Person) -> Ws {
    let mut ws = connect_with(app, Some(&p.cookie), Some(&app.base))
        .await
        .expect("upgrade");
    match recv(&mut ws).await {
        ServerFrame::Welcome { user_id, .. } => assert_eq!(user_id, p.id),
        other => panic!("expected welcome, got {other:?}"),
    }
    send(
        &mut ws,
        &ClientFrame::Hello {
            version: app::realtime::protocol::PROTOCOL_VERSION,
        },
    )
    .await;
    ws
}

pub(crate) async fn send(ws: &mut Ws, frame: &ClientFrame) {
    ws.send(Message::Text(
        serde_json::to_string(frame).expect("json").into(),
    ))
    .await
    .expect("send");
}

/// The next frame, waiting at most [`WAIT`].
pub(crate) async fn recv(ws: &mut Ws) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("a server frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// Reads frames until one matches, returning it (others are skipped).
pub(crate) async fn recv_until(
    ws: &mut Ws,
    mut want: impl FnMut(&ServerFrame) -> bool,
) -> ServerFrame {
    loop {
        let f = recv(ws).await;
        if want(&f) {
            return f;
        }
    }
}

/// Subscribes and returns the `subscribed` frame's position and presence count.
pub(crate) async fn subscribe(
    ws: &mut Ws,
    room: Room,
    since: Option<Position>,
) -> (Position, usize) {
    send(ws, &ClientFrame::Subscribe { room, since }).await;
    match recv_until(ws, |f| {
        matches!(
            f,
            ServerFrame::Subscribed { .. } | ServerFrame::Error { .. }
        )
    })
    .await
    {
        ServerFrame::Subscribed {
            position, presence, ..
        } => (position, presence.len()),
        other => panic!("expected subscribed, got {other:?}"),
    }
}

/// Reads the next `n` change events of `room`, skipping other frames.
pub(crate) async fn events(ws: &mut Ws, room: Room, n: usize) -> Vec<(Position, Change)> {
    let mut out = Vec::new();
    while out.len() < n {
        if let ServerFrame::Event {
            room: r,
            position,
            change,
        } = recv(ws).await
        {
            assert_eq!(r, room);
            out.push((position, change));
        }
    }
    out
}

pub(crate) async fn workspace_with_owner(app: &TestApp) -> (Person, String, i64) {
    let owner = person(app, "owner@example.com").await;
    let slug = app.create_workspace_as(&owner.http, "Acme").await;
    let ws = app.store.workspace_by_slug(&slug).await.expect("ws").id;
    (owner, slug, ws)
}

pub(crate) async fn create_customer(app: &TestApp, p: &Person, slug: &str, name: &str) -> i64 {
    let args = CreateRecord {
        slug: slug.into(),
        kind: RecordKind::Customer,
        fields: Fields::from([("name".into(), Value::Text(name.into()))]),
    };
    app.run(&p.http, args).await.expect("create").id
}

#[tokio::test]
async fn upgrades_without_a_session_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let p = person(&app, "ann@example.com").await;
    assert_eq!(
        connect_with(&app, None, Some(&app.base)).await.err(),
        Some(401),
        "no session"
    );
    assert_eq!(
        connect_with(&app, Some(&p.cookie), Some("http://evil.example"))
            .await
            .err(),
        Some(403),
        "foreign origin"
    );
    assert_eq!(
        connect_with(&app, Some(&p.cookie), None).await.err(),
        Some(403),
        "no origin"
    );
    assert!(connect_with(&app, Some(&p.cookie), Some(&app.base))
        .await
        .is_ok());
}

#[tokio::test]
async fn subscribing_to_another_workspace_is_refused_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let (owner, slug, _) = workspace_with_owner(&app).await;
    let customer = create_customer(&app, &owner, &slug, "Acme Corporation").await;
    let outsider = person(&app, "eve@example.com").await;
    let own = app.create_workspace_as(&outsider.http, "Eve's").await;
    let own_id = app.store.workspace_by_slug(&own).await.expect("ws").id;
    let mut ws = connect(&app, &outsider).await;
    let acme = app.store.workspace_by_slug("acme").await.expect("acme").id;
    for room in [
        Room::Workspace(acme),
        Room::Record(RecordKind::Customer, customer),
        Room::User(1),
    ] {
        send(&mut ws, &ClientFrame::Subscribe { room, since: None }).await;
        match recv(&mut ws).await {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Forbidden, "{room:?}"),
            other => panic!("expected forbidden for {room:?}, got {other:?}"),
        }
    }
    let (position, _) = subscribe(&mut ws, Room::Workspace(own_id), None).await;
    assert_eq!(position.offset, 0);
    send(&mut ws, &ClientFrame::Ping).await;
    assert_eq!(
        recv_until(&mut ws, |f| matches!(f, ServerFrame::Pong)).await,
        ServerFrame::Pong
    );
}

#[tokio::test]
async fn a_write_reaches_every_subscriber_of_its_rooms() {
    let app = spawn_app().await;
    let (owner, slug, ws_id) = workspace_with_owner(&app).await;
    let id = create_customer(&app, &owner, &slug, "Acme Corporation").await;
    let mut a = connect(&app, &owner).await;
    let mut b = connect(&app, &owner).await;
    let room = Room::Workspace(ws_id);
    let (pa, _) = subscribe(&mut a, room, None).await;
    let (pb, _) = subscribe(&mut b, room, None).await;
    assert_eq!(pa, pb);
    let record_room = Room::Record(RecordKind::Customer, id);
    let (rp, _) = subscribe(&mut a, record_room, None).await;

    let change = FieldChange {
        base: Value::Null,
        value: Value::Text("retail".into()),
    };
    let args = UpdateRecord {
        slug: slug.clone(),
        kind: RecordKind::Customer,
        id,
        changes: [("sector".to_string(), change)].into(),
        overwrite: None,
        idempotency_key: None,
    };
    app.run(&owner.http, args).await.expect("update");
    for ws in [&mut a, &mut b] {
        let got = events(ws, room, 1).await;
        assert_eq!(
            got[0].0,
            Position {
                epoch: pa.epoch,
                offset: pa.offset + 1
            }
        );
        let Change::Updated {
            id: got_id,
            version,
            fields,
            ..
        } = &got[0].1
        else {
            panic!("expected an update, got {:?}", got[0].1);
        };
        assert_eq!((*got_id, *version), (id, 2));
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["sector"],
            "only the changed field travels"
        );
        assert_eq!(fields["sector"], Value::Text("retail".into()));
    }
    let got = events(&mut a, record_room, 1).await;
    assert_eq!(got[0].0.offset, rp.offset + 1);
}

#[tokio::test]
async fn a_client_that_reconnects_gets_every_missed_event_once_in_order() {
    let app = spawn_app().await;
    let (owner, slug, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let mut ws = connect(&app, &owner).await;
    let (start, _) = subscribe(&mut ws, room, None).await;
    create_customer(&app, &owner, &slug, "First").await;
    let seen = events(&mut ws, room, 1).await;
    let last = seen[0].0;
    ws.close(None).await.expect("close");

    // While away: five writes.
    let mut names = Vec::new();
    for i in 0..5 {
        let name = format!("Missed {i}");
        create_customer(&app, &owner, &slug, &name).await;
        names.push(name);
    }

    let mut ws = connect(&app, &owner).await;
    let (head, _) = subscribe(&mut ws, room, Some(last)).await;
    assert_eq!(head.offset, start.offset + 6);
    let replayed = events(&mut ws, room, 5).await;
    let offsets: Vec<i64> = replayed.iter().map(|(p, _)| p.offset).collect();
    assert_eq!(
        offsets,
        (last.offset + 1..=last.offset + 5).collect::<Vec<_>>(),
        "consecutive, in order"
    );
    let titles: Vec<String> = replayed
        .iter()
        .map(|(_, c)| c.record().expect("record").title())
        .collect();
    assert_eq!(titles, names);

    // Then live, with nothing repeated at the seam.
    create_customer(&app, &owner, &slug, "Live").await;
    let live = events(&mut ws, room, 1).await;
    assert_eq!(live[0].0.offset, head.offset + 1);
    assert_eq!(live[0].1.record().expect("record").title(), "Live");

    // A position from another epoch cannot be replayed: resync.
    send(
        &mut ws,
        &ClientFrame::Subscribe {
            room,
            since: Some(Position {
                epoch: head.epoch + 1,
                offset: 1,
            }),
        },
    )
    .await;
    recv_until(&mut ws, |f| matches!(f, ServerFrame::Subscribed { .. })).await;
    assert!(matches!(recv(&mut ws).await, ServerFrame::Resync { room: r, .. } if r == room));
}

#[tokio::test]
async fn pruning_keeps_the_last_events_and_a_resume_from_before_them_resyncs() {
    let app = spawn_app().await;
    let (owner, slug, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    for i in 0..6 {
        create_customer(&app, &owner, &slug, &format!("C{i}")).await;
    }
    let head = app.store.room_head(room).await.expect("head");
    let logged = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .room_changes(room, head.epoch, 0, head.offset, 1_000)
                .await
                .expect("log")
                .iter()
                .map(|c| c.position.offset)
                .collect::<Vec<_>>()
        }
    };
    let whole = logged(&app).await;
    assert_eq!(whole.len() as i64, head.offset);

    // By age: everything is younger than an hour, so nothing goes.
    let hour_ago = app::model::now_ms() - 3_600_000;
    assert_eq!(
        app.store
            .prune_log(None, Some(hour_ago), 2)
            .await
            .expect("prune"),
        0
    );
    assert_eq!(logged(&app).await, whole);
    // By count, in batches of two (each call deletes at most two): the room keeps its
    // last three.
    let mut pruned = 0;
    loop {
        let n = app.store.prune_log(Some(3), None, 2).await.expect("prune");
        assert!(n <= 2, "{n}");
        pruned += n;
        if n < 2 {
            break;
        }
    }
    assert!(pruned >= head.offset as u64 - 3, "{pruned}");
    assert_eq!(
        logged(&app).await,
        (head.offset - 2..=head.offset).collect::<Vec<_>>()
    );
    // Within both bounds (last three, or younger than an hour): nothing more goes.
    assert_eq!(
        app.store
            .prune_log(Some(3), Some(hour_ago), 2)
            .await
            .expect("prune"),
        0
    );

    // A resume from before the horizon resyncs; one from within it replays.
    let mut ws = connect(&app, &owner).await;
    let old = Position {
        epoch: head.epoch,
        offset: head.offset - 5,
    };
    subscribe(&mut ws, room, Some(old)).await;
    assert!(matches!(recv(&mut ws).await, ServerFrame::Resync { room: r, .. } if r == room));
    let recent = Position {
        epoch: head.epoch,
        offset: head.offset - 3,
    };
    subscribe(&mut ws, room, Some(recent)).await;
    let replayed: Vec<i64> = events(&mut ws, room, 3)
        .await
        .iter()
        .map(|(p, _)| p.offset)
        .collect();
    assert_eq!(
        replayed,
        (head.offset - 2..=head.offset).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn presence_has_one_entry_per_user_and_leaves_after_the_last_tab_and_the_grace_period() {
    let config = HubConfig {
        presence_grace: Duration::from_millis(300),
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, slug, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let token = app.invite_as(&owner.http, &slug, "member").await;
    let bob = person(&app, "bob@example.com").await;
    app.run(&bob.http, AcceptInvite { token })
        .await
        .expect("join");

    let mut watcher = connect(&app, &bob).await;
    subscribe(&mut watcher, room, None).await;
    let mut tab1 = connect(&app, &owner).await;
    let (_, present) = subscribe(&mut tab1, room, None).await;
    assert_eq!(present, 2, "bob and the owner");
    let about_owner = |f: &ServerFrame| match f {
        ServerFrame::PresenceDiff { joins, leaves, .. } => {
            joins.iter().any(|j| j.user_id == owner.id) || leaves.contains(&owner.id)
        }
        _ => false,
    };
    match recv_until(&mut watcher, about_owner).await {
        ServerFrame::PresenceDiff { joins, leaves, .. } => {
            assert_eq!(
                (joins.len(), joins[0].user_id, leaves.len()),
                (1, owner.id, 0)
            );
        }
        other => panic!("{other:?}"),
    }
    let mut tab2 = connect(&app, &owner).await;
    let (_, present) = subscribe(&mut tab2, room, None).await;
    assert_eq!(present, 2, "a second tab is not a second entry");

    // Presence changes are announced.
    send(
        &mut tab2,
        &ClientFrame::Presence {
            status: Status::Away,
            page: "/w/acme/deals".into(),
            editing: None,
        },
    )
    .await;
    match recv_until(&mut watcher, about_owner).await {
        ServerFrame::PresenceDiff { joins, .. } => assert_eq!(
            (joins[0].status, joins[0].page.as_str()),
            (Status::Away, "/w/acme/deals")
        ),
        other => panic!("{other:?}"),
    }

    // Closing one tab changes nothing; closing the last makes the owner leave, after the grace.
    tab1.close(None).await.expect("close");
    tab2.close(None).await.expect("close");
    match recv_until(&mut watcher, about_owner).await {
        ServerFrame::PresenceDiff { joins, leaves, .. } => {
            assert_eq!((joins.len(), leaves), (0, vec![owner.id]))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.hub.presence(room).len(), 1);
}

#[tokio::test]
async fn a_silent_socket_is_dropped_after_the_heartbeat_timeout_and_its_user_leaves() {
    let config = HubConfig {
        heartbeat_timeout: Duration::from_millis(500),
        presence_grace: Duration::from_millis(100),
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, _, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let mut silent = connect(&app, &owner).await;
    subscribe(&mut silent, room, None).await;
    // Pings keep a socket alive past the timeout.
    let mut alive = connect(&app, &owner).await;
    subscribe(&mut alive, room, None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut interval = tokio::time::interval(Duration::from_millis(150));
    while tokio::time::Instant::now() < deadline {
        interval.tick().await;
        send(&mut alive, &ClientFrame::Ping).await;
    }
    // The silent one was closed by the server.
    let closed = loop {
        match tokio::time::timeout(WAIT, silent.next())
            .await
            .expect("closed in time")
        {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break true,
            Some(Ok(_)) => continue,
        }
    };
    assert!(closed);
    send(&mut alive, &ClientFrame::Ping).await;
    assert_eq!(
        recv_until(&mut alive, |f| matches!(f, ServerFrame::Pong)).await,
        ServerFrame::Pong
    );
    assert_eq!(
        app.hub.presence(room).len(),
        1,
        "the owner is still present through the live socket"
    );
}

/// Event `i` after `head` in `room` of workspace `ws_id`: customer 1's notes set to
/// `notes` (a large frame when the notes are).
fn notes_event(room: Room, ws_id: i64, head: Position, i: i64, notes: &str) -> LoggedChange {
    let mut fields = app::model::Fields::new();
    fields.insert("notes".into(), Value::Text(notes.to_owned()));
    LoggedChange {
        room,
        position: Position {
            epoch: head.epoch,
            offset: head.offset + i,
        },
        change: Change::Updated {
            kind: RecordKind::Customer,
            id: 1,
            workspace_id: ws_id,
            version: i,
            title: None,
            fields,
            before: Default::default(),
            titles: Default::default(),
            overwritten: Vec::new(),
            overwrote: Vec::new(),
            actor: None,
            at: i,
        },
    }
}

/// Publishes `count` events of about 64 KiB into `room` after `head` (offsets from
/// `from`), each once `fast` has the one before (it keeps up); far more than a socket
/// that does not read can hold, so the server's writes to it stop part-way through a
/// frame. Returns the offsets `fast` received.
async fn flood(
    app: &TestApp,
    fast: &mut Ws,
    room: Room,
    ws_id: i64,
    head: Position,
    from: i64,
    count: i64,
) -> Vec<i64> {
    let notes = "x".repeat(64 * 1024);
    let mut offsets = Vec::new();
    for i in from..from + count {
        app.hub
            .publish(&[notes_event(room, ws_id, head, i, &notes)]);
        offsets.push(events(fast, room, 1).await[0].0.offset);
    }
    offsets
}

#[tokio::test]
async fn a_slow_consumer_is_told_to_resync_while_others_keep_receiving() {
    let config = HubConfig {
        socket_queue: 8,
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, _, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let mut slow = connect(&app, &owner).await;
    subscribe(&mut slow, room, None).await;
    let mut fast = connect(&app, &owner).await;
    let (head, _) = subscribe(&mut fast, room, None).await;

    let total = 300;
    let offsets = flood(&app, &mut fast, room, ws_id, head, 1, total).await;
    assert_eq!(
        offsets,
        (head.offset + 1..=head.offset + total).collect::<Vec<_>>(),
        "the fast socket got all, in order"
    );

    // The slow socket finds a resync among what reached it, and not every event.
    let mut seen = 0;
    loop {
        match recv(&mut slow).await {
            ServerFrame::Event { .. } => seen += 1,
            ServerFrame::Resync { room: r, .. } => {
                assert_eq!(r, room);
                break;
            }
            _ => {}
        }
    }
    assert!(
        seen < total,
        "frames were dropped for the slow socket ({seen} of {total})"
    );
}

#[tokio::test]
async fn a_ping_to_a_socket_with_a_frame_half_written_is_answered_after_that_frame() {
    // Frames go straight to an idle socket; one the socket takes only in part is
    // finished before anything else. A client's ping makes the WebSocket library write
    // a pong of its own, which must not land inside that frame.
    let app = spawn_app_with(HubConfig {
        socket_queue: 1000,
        ..HubConfig::default()
    })
    .await;
    let (owner, _, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let mut slow = connect(&app, &owner).await;
    let (head, _) = subscribe(&mut slow, room, None).await;
    let mut fast = connect(&app, &owner).await;
    subscribe(&mut fast, room, None).await;

    flood(&app, &mut fast, room, ws_id, head, 1, 150).await;
    slow.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .expect("send a ping");
    flood(&app, &mut fast, room, ws_id, head, 151, 20).await;

    // Everything reaches the slow socket whole and in order, the pong among it.
    let mut offsets = Vec::new();
    let mut pong = false;
    while offsets.len() < 170 || !pong {
        let msg = tokio::time::timeout(WAIT, slow.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a whole WebSocket frame");
        match msg {
            Message::Pong(payload) => {
                assert_eq!(&payload[..], b"still there?");
                pong = true;
            }
            Message::Text(t) => {
                match serde_json::from_str::<ServerFrame>(t.as_str()).expect("a server frame") {
                    ServerFrame::Event { position, .. } => offsets.push(position.offset),
                    f @ (ServerFrame::Resync { .. } | ServerFrame::Error { .. }) => {
                        panic!("the socket kept up (its queue holds 1,000), yet got {f:?}")
                    }
                    _ => {} // presence
                }
            }
            other => panic!("unexpected message {other:?}"),
        }
    }
    assert_eq!(
        offsets,
        (head.offset + 1..=head.offset + 170).collect::<Vec<_>>(),
        "every event, in order"
    );
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let p = person(&app, "ann@example.com").await;
    let mut ws = connect(&app, &p).await;
    for bad in [
        r#"not json"#,
        r#"{"type":"fly"}"#,
        r#"{"type":"subscribe","room":"planet:1"}"#,
    ] {
        ws.send(Message::Text(bad.into())).await.expect("send");
        match recv(&mut ws).await {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::BadFrame, "{bad}"),
            other => panic!("expected an error for {bad}, got {other:?}"),
        }
    }
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("send");
    assert!(
        matches!(recv(&mut ws).await, ServerFrame::Error { code, .. } if code == ErrorCode::BadFrame)
    );
    for old in [1, 2] {
        send(&mut ws, &ClientFrame::Hello { version: old }).await;
        assert!(
            matches!(recv(&mut ws).await, ServerFrame::Error { code, .. } if code == ErrorCode::Version),
            "a version-{old} client is told its version is not spoken"
        );
    }
    send(&mut ws, &ClientFrame::Hello { version: 99 }).await;
    assert!(
        matches!(recv(&mut ws).await, ServerFrame::Error { code, .. } if code == ErrorCode::Version)
    );
    send(&mut ws, &ClientFrame::Ping).await;
    assert_eq!(recv(&mut ws).await, ServerFrame::Pong);
}

#[tokio::test]
async fn too_many_frames_are_refused_with_an_error_frame() {
    let config = HubConfig {
        frames_per_second: 5,
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let p = person(&app, "ann@example.com").await;
    let mut ws = connect(&app, &p).await;
    for _ in 0..30 {
        send(&mut ws, &ClientFrame::Ping).await;
    }
    let limited = recv_until(&mut ws, |f| matches!(f, ServerFrame::Error { .. })).await;
    assert!(matches!(limited, ServerFrame::Error { code, .. } if code == ErrorCode::RateLimited));
}

#[tokio::test]
async fn member_changes_reach_the_workspace_room() {
    let app = spawn_app().await;
    let (owner, slug, ws_id) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws_id);
    let mut ws = connect(&app, &owner).await;
    subscribe(&mut ws, room, None).await;
    let token = app.invite_as(&owner.http, &slug, "viewer").await;
    let bob = person(&app, "bob@example.com").await;
    app.run(&bob.http, AcceptInvite { token })
        .await
        .expect("join");
    let joined = events(&mut ws, room, 1).await;
    assert!(
        matches!(joined[0].1, Change::Members { user, .. } if user == bob.id),
        "{:?}",
        joined[0].1
    );
    let args = SetMemberRole {
        slug: slug.clone(),
        user_id: bob.id,
        role: Role::Member,
    };
    app.run(&owner.http, args).await.expect("role");
    let args = RemoveMember {
        slug: slug.clone(),
        user_id: bob.id,
    };
    app.run(&owner.http, args).await.expect("remove");
    let changed = events(&mut ws, room, 2).await;
    assert!(changed
        .iter()
        .all(|(_, c)| matches!(c, Change::Members { user, .. } if *user == bob.id)));
    assert_eq!(
        changed[1].0.offset,
        joined[0].0.offset + 2,
        "consecutive offsets"
    );
}

/// Reads frames until a `forbidden` error for `room`, within one second.
async fn forbidden_within_a_second(ws: &mut Ws, room: Room) {
    let found = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            if let ServerFrame::Error {
                code,
                room: Some(r),
                ..
            } = recv(ws).await
            {
                if code == ErrorCode::Forbidden && r == room {
                    return;
                }
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no forbidden frame for {} within 1 s",
        room.name()
    );
}

/// Sends a ping and returns every frame received before its pong.
pub(crate) async fn until_pong(ws: &mut Ws) -> Vec<ServerFrame> {
    send(ws, &ClientFrame::Ping).await;
    let mut before = Vec::new();
    loop {
        match recv(ws).await {
            ServerFrame::Pong => return before,
            f => before.push(f),
        }
    }
}

#[tokio::test]
async fn a_removed_member_loses_the_workspace_room_at_once_and_cannot_speak_in_it() {
    let config = HubConfig {
        presence_grace: Duration::from_millis(50),
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let bea_http = app
        .member_with_role(&owner.http, &slug, "member", "bea@example.com")
        .await;
    let bea = person_from(&app, bea_http).await;
    let mut socket = connect(&app, &bea).await;
    let room = Room::Workspace(ws);
    subscribe(&mut socket, room, None).await;
    create_customer(&app, &owner, &slug, "Seen").await;
    events(&mut socket, room, 1).await;

    let args = RemoveMember {
        slug: slug.clone(),
        user_id: bea.id,
    };
    app.run(&owner.http, args).await.expect("remove");
    forbidden_within_a_second(&mut socket, room).await;

    // Nothing of the room reaches the socket any more, and it cannot speak in the room.
    create_customer(&app, &owner, &slug, "Unseen").await;
    send(&mut socket, &ClientFrame::Typing { room, field: None }).await;
    send(
        &mut socket,
        &ClientFrame::Presence {
            status: Status::Busy,
            page: "/secret".into(),
            editing: None,
        },
    )
    .await;
    let after = until_pong(&mut socket).await;
    assert!(
        !after.iter().any(|f| matches!(f, ServerFrame::Event { .. })),
        "{after:?}"
    );
    assert!(
        after
            .iter()
            .any(|f| matches!(f, ServerFrame::Error { code, .. } if *code == ErrorCode::Forbidden)),
        "typing into a lost room is refused: {after:?}"
    );
    assert!(
        !app.hub
            .presence(room)
            .iter()
            .any(|p| p.user_id == bea.id && p.page == "/secret"),
        "presence is not sent into the lost room"
    );
    // Subscribing again is refused too.
    send(&mut socket, &ClientFrame::Subscribe { room, since: None }).await;
    forbidden_within_a_second(&mut socket, room).await;
}

#[tokio::test]
async fn a_demoted_admin_loses_the_admins_room_and_keeps_the_workspace() {
    let app = spawn_app().await;
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let ada_http = app
        .member_with_role(&owner.http, &slug, "admin", "ada@example.com")
        .await;
    let ada = person_from(&app, ada_http).await;
    let mut socket = connect(&app, &ada).await;
    let (workspace, admins) = (Room::Workspace(ws), Room::Admins(ws));
    subscribe(&mut socket, workspace, None).await;
    subscribe(&mut socket, admins, None).await;
    let args = CreateInvite {
        slug: slug.clone(),
        role: Role::Viewer,
        expires_in_days: 1,
        max_uses: 1,
    };
    app.run(&owner.http, args).await.expect("invite");
    events(&mut socket, admins, 1).await;

    let args = SetMemberRole {
        slug: slug.clone(),
        user_id: ada.id,
        role: Role::Member,
    };
    app.run(&owner.http, args).await.expect("demote");
    forbidden_within_a_second(&mut socket, admins).await;
    create_customer(&app, &owner, &slug, "Still seen").await;
    // The demotion's own member event may come before or after the forbidden frame.
    let mut change = events(&mut socket, workspace, 1).await.remove(0).1;
    if matches!(change, Change::Members { user, .. } if user == ada.id) {
        change = events(&mut socket, workspace, 1).await.remove(0).1;
    }
    assert_eq!(change.op(), ChangeOp::Created, "the workspace room stays");
}

#[tokio::test]
async fn logging_out_closes_the_sessions_sockets_at_once() {
    let app = spawn_app().await;
    let (owner, _slug, ws) = workspace_with_owner(&app).await;
    let mut socket = connect(&app, &owner).await;
    subscribe(&mut socket, Room::Workspace(ws), None).await;
    app.run(&owner.http, LogOut {}).await.expect("log out");
    let closed = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed within 1 s");
    assert_eq!(
        closed,
        Some(app::realtime::protocol::CLOSE_SESSION_ENDED),
        "closed with the session-ended code"
    );
}

#[tokio::test]
async fn bad_positions_and_too_many_rooms_get_error_frames() {
    let config = HubConfig {
        max_subscriptions_per_socket: 2,
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let mut socket = connect(&app, &owner).await;
    let room = Room::Workspace(ws);
    for offset in [-1, i64::MIN] {
        send(
            &mut socket,
            &ClientFrame::Subscribe {
                room,
                since: Some(Position { epoch: 1, offset }),
            },
        )
        .await;
        match recv(&mut socket).await {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::BadFrame, "{offset}"),
            other => panic!("expected an error frame, got {other:?}"),
        }
    }
    let a = create_customer(&app, &owner, &slug, "A").await;
    let b = create_customer(&app, &owner, &slug, "B").await;
    subscribe(&mut socket, room, None).await;
    subscribe(&mut socket, Room::Record(RecordKind::Customer, a), None).await;
    send(
        &mut socket,
        &ClientFrame::Subscribe {
            room: Room::Record(RecordKind::Customer, b),
            since: None,
        },
    )
    .await;
    match recv_until(&mut socket, |f| matches!(f, ServerFrame::Error { .. })).await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Limit),
        other => panic!("expected the subscription cap, got {other:?}"),
    }
    let before_pong = until_pong(&mut socket).await;
    assert!(
        !before_pong
            .iter()
            .any(|f| matches!(f, ServerFrame::Subscribed { .. })),
        "the socket is still open, answers, and did not join a third room: {before_pong:?}"
    );
}

#[tokio::test]
async fn sockets_per_user_are_capped_with_an_error_frame() {
    let config = HubConfig {
        max_sockets_per_user: 2,
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, _, _) = workspace_with_owner(&app).await;
    let _one = connect(&app, &owner).await;
    let _two = connect(&app, &owner).await;
    let mut three = connect_with(&app, Some(&owner.cookie), Some(&app.base))
        .await
        .expect("upgrade");
    match recv(&mut three).await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::TooManySockets),
        other => panic!("expected the socket cap, got {other:?}"),
    }
}

/// Creates a customer through another store on the same database, with no hub to
/// publish to: the write is committed and logged but never broadcast (as when a publish
/// is lost).
async fn create_without_broadcast(app: &TestApp, ws: i64, actor: i64, name: &str) {
    let other = server::db::connect(&app.database_url).await.expect("db");
    let fields = app::model::Fields::from([("name".into(), Value::Text(name.into()))]);
    other
        .store
        .create_record(ws, actor, RecordKind::Customer, fields)
        .await
        .expect("create");
}

#[tokio::test]
async fn an_event_committed_but_never_broadcast_is_still_delivered() {
    let config = HubConfig {
        head_check: Duration::from_millis(100),
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, _slug, ws) = workspace_with_owner(&app).await;
    let mut socket = connect(&app, &owner).await;
    let room = Room::Workspace(ws);
    let (head, _) = subscribe(&mut socket, room, None).await;
    create_without_broadcast(&app, ws, owner.id, "Silent").await;
    let got = events(&mut socket, room, 1).await;
    assert_eq!(got[0].0.offset, head.offset + 1);
    assert_eq!(got[0].1.op(), ChangeOp::Created);
}

/// A live event that arrives after a gap (an event committed elsewhere and not broadcast
/// here) is held back while the subscription fills the gap from the log: both arrive, in
/// order, without waiting for the periodic head check.
#[tokio::test]
async fn a_live_event_after_a_gap_waits_for_the_gap_to_be_filled_from_the_log() {
    let config = HubConfig {
        head_check: Duration::from_secs(3600),
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let mut socket = connect(&app, &owner).await;
    let room = Room::Workspace(ws);
    let (head, _) = subscribe(&mut socket, room, None).await;
    create_without_broadcast(&app, ws, owner.id, "Silent").await;
    create_customer(&app, &owner, &slug, "Loud").await;
    let got = events(&mut socket, room, 2).await;
    let offsets: Vec<i64> = got.iter().map(|(p, _)| p.offset).collect();
    assert_eq!(offsets, [head.offset + 1, head.offset + 2]);
    let names: Vec<String> = got
        .iter()
        .filter_map(|(_, c)| match c {
            Change::Created { record, .. } => record.fields["name"].as_text().map(String::from),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["Silent", "Loud"]);
}

#[tokio::test]
async fn sockets_subscribing_at_random_moments_under_continuous_writes_see_no_gap_or_duplicate() {
    let app = spawn_app().await;
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws);
    let writers = 4;
    let per_writer = 15;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (http, slug, base) = (owner.http.clone(), slug.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let res = http
                    .post(format!("{base}/api/create_record"))
                    .json(&CreateRecord {
                        slug: slug.clone(),
                        kind: RecordKind::Customer,
                        fields: Fields::from([("name".into(), Value::Text(format!("W{w}-{i}")))]),
                    })
                    .send()
                    .await
                    .expect("write");
                assert!(res.status().is_success(), "{}", res.status());
            }
        }));
    }
    // Sockets subscribe while the writers run, each from the then-current head or
    // from a position a little behind it.
    let mut sockets = Vec::new();
    for i in 0..6 {
        let mut ws_conn = connect(&app, &owner).await;
        let head = app.store.room_head(room).await.expect("head");
        let since = (i % 2 == 1).then_some(Position {
            epoch: head.epoch,
            offset: (head.offset - 3).max(0),
        });
        let (position, _) = subscribe(&mut ws_conn, room, since).await;
        let start = since.map_or(position.offset, |s| s.offset);
        sockets.push((ws_conn, start));
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let end = app.store.room_head(room).await.expect("head").offset;
    for (mut socket, start) in sockets {
        let got = events(&mut socket, room, (end - start) as usize).await;
        let offsets: Vec<i64> = got.iter().map(|(p, _)| p.offset).collect();
        let expected: Vec<i64> = (start + 1..=end).collect();
        assert_eq!(offsets, expected, "consecutive from its start, once each");
        let extra = until_pong(&mut socket).await;
        assert!(
            !extra.iter().any(|f| matches!(f, ServerFrame::Event { .. })),
            "no duplicate after the last: {extra:?}"
        );
    }
}

/// A [`Person`] for a browser that has already signed up (through an invite).
pub(crate) async fn person_from(app: &TestApp, http: reqwest::Client) -> Person {
    let me = app
        .run(&http, GetCurrentUser {})
        .await
        .expect("me")
        .expect("signed in");
    let id = me.id;
    // The test client's cookie jar is not reachable from here: sign in again on a new
    // browser to get a session cookie for the socket.
    let (fresh, jar) = browser();
    let email = me.email.expect("an e-mail");
    let args = LogIn {
        email: email.clone(),
        password: "password123".into(),
    };
    app.run(&fresh, args).await.expect("log in");
    let url = app.base.parse().expect("url");
    let cookie = jar
        .cookies(&url)
        .expect("session cookie")
        .to_str()
        .expect("ascii")
        .to_string();
    Person {
        http: fresh,
        cookie,
        id,
    }
}

#[tokio::test]
async fn a_replay_longer_than_the_outbox_is_streamed_not_dropped_and_live_events_follow_it() {
    // A small outbox, so the replay and the held events each fill it many times over.
    let queue = 16;
    let config = HubConfig {
        socket_queue: queue,
        ..HubConfig::default()
    };
    let app = spawn_app_with(config).await;
    let (owner, _slug, ws) = workspace_with_owner(&app).await;
    let room = Room::Workspace(ws);
    let mut socket = connect(&app, &owner).await;
    let (start, _) = subscribe(&mut socket, room, None).await;
    drop(socket);
    // More events than a socket's outbox holds happen while it is away.
    let missed = 600;
    for i in 0..missed {
        let mut fields = app::model::Fields::new();
        fields.insert("name".into(), Value::Text(format!("Away {i}")));
        app.store
            .create_record(ws, owner.id, RecordKind::Customer, fields)
            .await
            .expect("create");
    }
    let mut socket = connect(&app, &owner).await;
    subscribe(&mut socket, room, Some(start)).await;
    // Live events while the replay streams to this reader: held aside, then sent after
    // it, waiting for room like the replay (not overflowing the outbox into a resync).
    // The first few are made at once, while the replay is being read from the log; the
    // rest while the reader reads, as a live client does, at most a few ahead of what
    // it has taken. Where the reader stands says nothing of where the server is (the
    // whole replay may already sit in the kernel's socket buffers), so more live events
    // than the outbox holds, faster than the socket drains, would rightly end in a
    // resync (the slow-consumer rule, tested on its own); on a loaded machine a looser
    // bound sometimes did.
    let live = 100;
    let ahead = queue / 2;
    let (taken, mut seen) = tokio::sync::watch::channel(0usize);
    let (store, actor) = (app.store.clone(), owner.id);
    let writer = tokio::spawn(async move {
        for i in 0..live {
            seen.wait_for(|&n| i < ahead || n + ahead >= missed + i)
                .await
                .expect("the reader is there");
            let mut fields = app::model::Fields::new();
            fields.insert("name".into(), Value::Text(format!("Live {i}")));
            store
                .create_record(ws, actor, RecordKind::Customer, fields)
                .await
                .expect("create");
        }
    });
    let all = missed + live;
    let mut offsets = Vec::new();
    while offsets.len() < all {
        match recv(&mut socket).await {
            ServerFrame::Event { position, .. } => {
                offsets.push(position.offset);
                taken.send_replace(offsets.len());
            }
            ServerFrame::Resync { reason, .. } => {
                panic!("resync after {}: {reason}", offsets.len())
            }
            _ => {}
        }
    }
    writer.await.expect("the live writes");
    let expected: Vec<i64> = (start.offset + 1..=start.offset + all as i64).collect();
    assert_eq!(offsets, expected);
}
