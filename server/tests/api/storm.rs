//! The disconnect storm: many clients subscribed to a workspace and its records drop
//! their sockets at random (a clean close, a TCP reset, a reset in the middle of a frame)
//! and resume while writers keep writing; in the end each has applied every event of
//! its rooms exactly once, in order, and holds what the database holds.
//!
//! CI runs 30 seconds. `server/bench/storm.sh` runs the same test for 5 minutes in a
//! release build (`TANDEM_STORM_SECS=300`) and prints its figures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::records::{CreateRecord, GetRecord, UpdateRecord};
use app::model::{FieldChange, Fields, Record, RecordKind, Value};
use app::realtime::protocol::{Change, ClientFrame, Position, Room, ServerFrame};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use server::realtime::HubConfig;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

use crate::common::spawn_app_with;
use crate::realtime::{connect, person_from, send, workspace_with_owner, Person, Ws};

/// How long a client waits for a frame it needs before the test fails (a bound).
const WAIT: Duration = Duration::from_secs(30);

/// How a client drops its socket.
#[derive(Clone, Copy, Debug)]
enum Drop {
    /// A WebSocket close frame, then the TCP close.
    Close,
    /// A TCP reset (linger 0), no close frame.
    Reset,
    /// The first bytes of a frame, then a TCP reset.
    ResetMidFrame,
}

/// What the clients did, summed.
#[derive(Default)]
struct Figures {
    events: AtomicU64,
    drops: [AtomicU64; 3],
}

/// One client: its rooms' last offsets, its copy of the records, its socket.
struct Client {
    person: Arc<Person>,
    last: HashMap<Room, Position>,
    records: HashMap<i64, Record>,
}

impl Client {
    /// Handles one frame; panics on a gap, a duplicate or a resync (none may happen).
    fn on_frame(&mut self, frame: ServerFrame, figures: &Figures) {
        match frame {
            ServerFrame::Event {
                room,
                position,
                change,
            } => {
                let last = self.last.get_mut(&room).expect("a subscribed room");
                assert_eq!(position.epoch, last.epoch, "{}: epoch changed", room.name());
                assert_eq!(
                    position.offset,
                    last.offset + 1,
                    "{}: events in order, once each",
                    room.name()
                );
                *last = position;
                figures.events.fetch_add(1, Ordering::Relaxed);
                if let Room::Record(_, id) = room {
                    let record = self.records.get_mut(&id).expect("a record held");
                    // A record is read after its room's head (`get_record`), so the first
                    // events after that position may already be in it: the version says
                    // so, as it does for the browser. Any other must follow it exactly.
                    let already = matches!(change, Change::Updated { version, .. }
                        if version <= record.version);
                    assert!(
                        already || change.apply(record),
                        "{}: the change follows the version held",
                        room.name()
                    );
                }
            }
            ServerFrame::Resync { room, reason } => {
                panic!(
                    "{}: resync ({reason}) in a storm of disconnects",
                    room.name()
                )
            }
            ServerFrame::Error { code, message, .. } => panic!("error frame {code:?}: {message}"),
            _ => {}
        }
    }

    /// Subscribes to every room from where it stands; the replay arrives as events.
    async fn resume(&self, ws: &mut Ws) {
        for (room, since) in &self.last {
            send(
                ws,
                &ClientFrame::Subscribe {
                    room: *room,
                    since: Some(*since),
                },
            )
            .await;
        }
    }
}

/// The next frame; `Err` says how the socket ended.
async fn next_frame(ws: &mut Ws) -> Result<ServerFrame, String> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(t))) => {
                return Ok(serde_json::from_str(t.as_str()).expect("a server frame"))
            }
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            None => return Err("ended".into()),
            Some(Err(e)) => return Err(format!("failed: {e}")),
            Some(Ok(_)) => continue,
        }
    }
}

/// Drops `ws` the way `how` says.
async fn drop_socket(mut ws: Ws, how: Drop) {
    match how {
        Drop::Close => {
            let _ = ws.close(None).await;
        }
        Drop::Reset | Drop::ResetMidFrame => {
            if let MaybeTlsStream::Plain(tcp) = ws.get_mut() {
                // A zero linger makes the close a reset (tokio deprecates lingering
                // because a non-zero one blocks on drop; zero does not).
                #[allow(deprecated)]
                tcp.set_linger(Some(Duration::ZERO)).expect("linger");
                if matches!(how, Drop::ResetMidFrame) {
                    // A masked text frame announcing 256 bytes, and only ten of them.
                    let mut partial = vec![0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4];
                    partial.extend_from_slice(b"{\"type\":\"p");
                    let _ = tcp.write_all(&partial).await;
                }
            }
        }
    }
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_dropping_at_random_end_with_every_event_once_and_the_databases_data() {
    let secs: u64 = std::env::var("TANDEM_STORM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let (clients, users, records, writers) = (100, 10, 20, 10);
    let config = HubConfig {
        // Every resume subscribes to 21 rooms at once.
        frames_per_second: 200,
        // The storm attacks disconnects, not slowness: the slow-consumer rule (resync
        // past a full outbox) has a test of its own. Here every client gets 80 frames a
        // second, and on a loaded 2-core machine (CI, or the soak beside it) a client's
        // task can stall for seconds: room for a minute of frames keeps the rule out
        // of this test's way.
        socket_queue: 8_192,
        held_while_catching_up: 8_192,
        ..HubConfig::default()
    };
    let app = Arc::new(spawn_app_with(config).await);
    let (owner, slug, ws) = workspace_with_owner(&app).await;
    let mut people = Vec::new();
    for u in 0..users {
        let http = app
            .member_with_role(&owner.http, &slug, "member", &format!("m{u}@example.com"))
            .await;
        people.push(Arc::new(person_from(&app, http).await));
    }
    let mut ids = Vec::new();
    for r in 0..records {
        let args = CreateRecord {
            slug: slug.clone(),
            kind: RecordKind::Customer,
            fields: Fields::from([("name".into(), Value::Text(format!("Customer {r}")))]),
        };
        ids.push(app.run(&owner.http, args).await.expect("customer").id);
    }
    let figures = Arc::new(Figures::default());
    let (heads_tx, heads) = tokio::sync::watch::channel(None::<HashMap<Room, Position>>);
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);

    // Writers: each sets a customer's sector, about four times a second, until the end.
    let written = Arc::new(AtomicU64::new(0));
    let mut writer_tasks = Vec::new();
    for w in 0..writers {
        let (app, slug, ids, written) = (app.clone(), slug.clone(), ids.clone(), written.clone());
        let http = people[w % users].http.clone();
        writer_tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
            let mut pace = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0;
            while Instant::now() < until {
                pace.tick().await;
                let id = ids[rng.gen_range(0..ids.len())];
                let args = UpdateRecord {
                    slug: slug.clone(),
                    kind: RecordKind::Customer,
                    id,
                    changes: [(
                        "sector".to_string(),
                        FieldChange {
                            base: Value::Null,
                            value: Value::Text(format!("w{w}-{n}")),
                        },
                    )]
                    .into(),
                    overwrite: Some(vec!["sector".into()]),
                    idempotency_key: None,
                };
                app.run(&http, args).await.expect("write");
                written.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }

    // Clients: each holds the records, follows the workspace and the records, and drops
    // its socket at random moments (on average every ten seconds) until the end.
    let mut client_tasks = Vec::new();
    for c in 0..clients {
        let (app, person, ids, figures) = (
            app.clone(),
            people[c % users].clone(),
            ids.clone(),
            figures.clone(),
        );
        let (slug, heads) = (slug.clone(), heads.clone());
        client_tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1_000 + c as u64);
            let mut client = Client {
                person,
                last: HashMap::new(),
                records: HashMap::new(),
            };
            let mut socket = connect(&app, &client.person).await;
            // The workspace from its head; each record from the position it was read at.
            let (start, _) =
                crate::realtime::subscribe(&mut socket, Room::Workspace(ws), None).await;
            client.last.insert(Room::Workspace(ws), start);
            for id in &ids {
                let at = app
                    .run(
                        &client.person.http,
                        GetRecord {
                            slug: slug.clone(),
                            kind: RecordKind::Customer,
                            id: *id,
                        },
                    )
                    .await
                    .expect("record");
                client.records.insert(*id, at.record);
                client
                    .last
                    .insert(Room::Record(RecordKind::Customer, *id), at.position);
                send(
                    &mut socket,
                    &ClientFrame::Subscribe {
                        room: Room::Record(RecordKind::Customer, *id),
                        since: Some(at.position),
                    },
                )
                .await;
            }
            let next_drop = |rng: &mut rand::rngs::StdRng| {
                // Exponential, mean 10 s.
                let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                Instant::now() + Duration::from_secs_f64(-10.0 * u.ln())
            };
            let mut drop_at = next_drop(&mut rng);
            let mut heads = heads.clone();
            // As the browser does, so the server's heartbeat timeout never ends a socket.
            let mut keepalive = tokio::time::interval(Duration::from_secs(25));
            // Storm: frames, and a drop whenever one is due, until the final heads come.
            let target = loop {
                tokio::select! {
                    frame = next_frame(&mut socket) => match frame {
                        Ok(f) => client.on_frame(f, &figures),
                        Err(how) => panic!("a socket ended at {:?}: {how}", started.elapsed()),
                    },
                    _ = tokio::time::sleep_until(drop_at.into()) => {
                        let how = match rng.gen_range(0..3) {
                            0 => Drop::Close,
                            1 => Drop::Reset,
                            _ => Drop::ResetMidFrame,
                        };
                        figures.drops[how as usize].fetch_add(1, Ordering::Relaxed);
                        drop_socket(socket, how).await;
                        socket = connect(&app, &client.person).await;
                        client.resume(&mut socket).await;
                        drop_at = if Instant::now() < until { next_drop(&mut rng) } else {
                            Instant::now() + Duration::from_secs(3_600)
                        };
                    }
                    _ = keepalive.tick() => send(&mut socket, &ClientFrame::Ping).await,
                    changed = heads.changed() => {
                        changed.expect("the test is there");
                        if let Some(target) = heads.borrow().clone() {
                            break target;
                        }
                    }
                }
            };
            // Calm: read until every room reaches its final head, then make sure
            // nothing follows it.
            while target
                .iter()
                .any(|(room, head)| client.last[room].offset < head.offset)
            {
                let frame = next_frame(&mut socket)
                    .await
                    .expect("the socket stays open");
                client.on_frame(frame, &figures);
            }
            send(&mut socket, &ClientFrame::Ping).await;
            loop {
                match next_frame(&mut socket).await.expect("open") {
                    ServerFrame::Pong => break,
                    other => client.on_frame(other, &figures),
                }
            }
            for (room, head) in &target {
                assert_eq!(
                    client.last[room],
                    *head,
                    "{}: nothing after its head",
                    room.name()
                );
            }
            client
        }));
    }
    for t in writer_tasks {
        t.await.expect("writer");
    }
    // The final heads, once every write is in.
    let mut target = HashMap::new();
    target.insert(
        Room::Workspace(ws),
        app.store
            .room_head(Room::Workspace(ws))
            .await
            .expect("head"),
    );
    for id in &ids {
        let room = Room::Record(RecordKind::Customer, *id);
        target.insert(room, app.store.room_head(room).await.expect("head"));
    }
    heads_tx.send_replace(Some(target.clone()));
    let mut done = Vec::new();
    for t in client_tasks {
        done.push(
            t.await
                .expect("a client ends with every event once, in order"),
        );
    }
    // Each client's copy equals the database, and holds every event of its rooms.
    let mut in_db = HashMap::new();
    for id in &ids {
        let args = GetRecord {
            slug: slug.clone(),
            kind: RecordKind::Customer,
            id: *id,
        };
        in_db.insert(
            *id,
            app.run(&owner.http, args).await.expect("record").record,
        );
    }
    for client in &done {
        for (id, record) in &client.records {
            let stored = &in_db[id];
            assert_eq!(record.version, stored.version, "customer {id}: version");
            assert_eq!(record.fields, stored.fields, "customer {id}: fields");
        }
    }
    let drops: Vec<u64> = figures
        .drops
        .iter()
        .map(|d| d.load(Ordering::Relaxed))
        .collect();
    let writes = written.load(Ordering::Relaxed);
    assert!(
        writes > 0 && drops.iter().sum::<u64>() > 0,
        "a storm took place"
    );
    println!(
        "storm: {secs} s, {clients} clients x {} rooms, {writers} writers: {writes} writes, \
         {} events applied, drops: {} clean closes, {} resets, {} resets mid-frame; \
         every client ended with every event once, in order, and the database's data",
        records + 1,
        figures.events.load(Ordering::Relaxed),
        drops[0],
        drops[1],
        drops[2],
    );
}
