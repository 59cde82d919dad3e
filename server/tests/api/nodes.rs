//! Several nodes on one PostgreSQL with a throwaway Redis between them (Debian's
//! `redis-server` on a free port of 127.0.0.1, started and stopped here): a write on one
//! node reaches subscribers on the other, presence shows once across nodes, a restart of
//! Redis during a stream of writes loses and doubles nothing, and a node killed outright
//! loses nobody an event while its users' presence leaves within the presence TTL. Also
//! the scheduled work with two nodes running: a reminder goes out once.
//!
//! SQLite is one node's database, so these run only with `TEST_DATABASE_URL`; CI's
//! PostgreSQL pass sets it (and `TANDEM_REQUIRE_POSTGRES`, which makes a missing
//! `redis-server` a failure rather than a skip).

use std::process::Stdio;
use std::time::Duration;

use app::api::members::AcceptInvite;
use app::realtime::protocol::{Position, Room, ServerFrame};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::{spawn_app_with_settings, test_settings, TestApp};
use crate::realtime::{connect, create_customer, person, recv, recv_until, subscribe, Person, Ws};

/// How long one wait may take before the test fails (a bound, not a sleep).
const WAIT: Duration = Duration::from_secs(20);

/// Whether this run has PostgreSQL (and so runs these tests).
fn on_postgres() -> bool {
    let yes = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    if !yes {
        eprintln!("skipped: several nodes share a PostgreSQL (set TEST_DATABASE_URL)");
    }
    yes
}

/// A throwaway Redis: `redis-server` on a free port, no persistence, its data in a
/// temporary folder; killed when dropped.
pub(crate) struct Redis {
    port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts one, or `None` (the test skips) when `redis-server` is not installed and
    /// this is not CI's PostgreSQL pass.
    pub(crate) async fn start() -> Option<Redis> {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                std::env::var("TANDEM_REQUIRE_POSTGRES").is_err(),
                "redis-server is not installed (apt-get install redis-server)"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Redis {
            port,
            child: None,
            _dir: tempfile::tempdir().expect("dir"),
        };
        redis.run().await;
        Some(redis)
    }

    /// `redis://127.0.0.1:port/`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server and waits until its log says it accepts connections.
    async fn run(&mut self) {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &self._dir.path().display().to_string(),
                "--logfile",
                "",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.expect("log") {
                if line.contains("Ready to accept connections") {
                    return;
                }
            }
            panic!("redis-server exited before it was ready");
        })
        .await
        .expect("redis-server ready in time");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// Kills the server outright (SIGKILL) and waits for it to be gone.
    pub(crate) async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Starts it again on the same port.
    pub(crate) async fn restart(&mut self) {
        self.kill().await;
        self.run().await;
    }
}

/// Test settings for a node on the Redis at `url`, with short presence heartbeats.
fn node_settings(url: &str) -> server::state::Settings {
    let mut s = test_settings();
    s.redis_url = Some(url.to_string());
    s.hub.presence_heartbeat = Duration::from_millis(300);
    s.hub.presence_ttl = Duration::from_secs(1);
    s.hub.head_check = Duration::from_millis(500);
    s
}

/// The owner of a new workspace on `a` and a member; both can use either node.
async fn team(a: &TestApp) -> (Person, Person, String, i64) {
    let (owner, slug, ws) = crate::realtime::workspace_with_owner(a).await;
    let token = a.invite_as(&owner.http, &slug, "member").await;
    let bob = person(a, "bob@example.com").await;
    a.run(&bob.http, AcceptInvite { token })
        .await
        .expect("join");
    (owner, bob, slug, ws)
}

/// Reads events of `room` into `at`/`seen` until `want` distinct records were seen,
/// asserting each is the next offset (none missed, none twice).
async fn follow(ws: &mut Ws, room: Room, at: &mut Position, seen: &mut Vec<i64>, want: usize) {
    while seen.len() < want {
        match recv(ws).await {
            ServerFrame::Event {
                room: r,
                position,
                change,
            } if r == room => {
                assert_eq!(
                    (position.epoch, position.offset),
                    (at.epoch, at.offset + 1),
                    "events in order, none missed, none twice"
                );
                *at = position;
                if let Some((_, id, _)) = change.target() {
                    seen.push(id);
                }
            }
            ServerFrame::Resync { .. } => panic!("nothing here may need a resync"),
            _ => {}
        }
    }
}

fn presence_of(f: &ServerFrame, user: i64) -> Option<(usize, bool)> {
    match f {
        ServerFrame::PresenceDiff { joins, leaves, .. } => {
            let j = joins.iter().filter(|e| e.user_id == user).count();
            let l = leaves.contains(&user);
            (j > 0 || l).then_some((j, l))
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_reaches_the_other_and_presence_shows_once() {
    if !on_postgres() {
        return;
    }
    let Some(redis) = Redis::start().await else {
        return;
    };
    // No head check to speak of: whatever reaches the other node goes over Redis.
    let only_the_bus = || {
        let mut s = node_settings(&redis.url());
        s.hub.head_check = Duration::from_secs(3600);
        s
    };
    let a = spawn_app_with_settings(only_the_bus()).await;
    let b = a.another_node(only_the_bus()).await;
    let (owner, bob, slug, ws_id) = team(&a).await;
    let room = Room::Workspace(ws_id);

    // Bob watches on B; a customer created on A reaches him.
    let mut watcher = connect(&b, &bob).await;
    let (mut at, _) = subscribe(&mut watcher, room, None).await;
    let id = create_customer(&a, &owner, &slug, "Made on A").await;
    let mut seen = Vec::new();
    follow(&mut watcher, room, &mut at, &mut seen, 1).await;
    assert_eq!(seen, [id]);

    // The owner opens a tab on A: Bob, on B, sees one join.
    let mut on_a = connect(&a, &owner).await;
    subscribe(&mut on_a, room, None).await;
    let f = recv_until(&mut watcher, |f| presence_of(f, owner.id).is_some()).await;
    assert_eq!(presence_of(&f, owner.id), Some((1, false)));

    // A second tab on B is not a second entry: not in the list, not a second join (the
    // next frame about the room after it is the event of a write made after it).
    let mut on_b = connect(&b, &owner).await;
    let (_, present) = subscribe(&mut on_b, room, None).await;
    assert_eq!(present, 2, "bob and the owner, once, across nodes");
    create_customer(&b, &owner, &slug, "Made on B").await;
    loop {
        let f = recv(&mut watcher).await;
        assert_eq!(presence_of(&f, owner.id), None, "no second join: {f:?}");
        if matches!(f, ServerFrame::Event { .. }) {
            break;
        }
    }
    assert_eq!(b.hub.presence(room).len(), 2);
    assert_eq!(a.hub.presence(room).len(), 2);

    // The tab on A closes: the owner is still on B, so nobody leaves; then the last tab
    // closes and the owner leaves, once.
    on_a.close(None).await.expect("close");
    on_b.close(None).await.expect("close");
    let f = recv_until(&mut watcher, |f| presence_of(f, owner.id).is_some()).await;
    assert_eq!(presence_of(&f, owner.id), Some((0, true)), "{f:?}");
    create_customer(&b, &owner, &slug, "After the leave").await;
    loop {
        let f = recv(&mut watcher).await;
        assert_eq!(presence_of(&f, owner.id), None, "one leave: {f:?}");
        if matches!(f, ServerFrame::Event { .. }) {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_redis_during_writes_loses_and_doubles_nothing() {
    if !on_postgres() {
        return;
    }
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let a = spawn_app_with_settings(node_settings(&redis.url())).await;
    let b = a.another_node(node_settings(&redis.url())).await;
    let (owner, bob, slug, ws_id) = team(&a).await;
    let room = Room::Workspace(ws_id);
    let mut clients = Vec::new();
    for node in [&a, &b, &b, &b] {
        let mut ws = connect(node, &bob).await;
        let (at, _) = subscribe(&mut ws, room, None).await;
        clients.push((ws, at, Vec::new()));
    }
    const WRITES: usize = 30;
    let mut made = Vec::new();
    for n in 0..WRITES {
        if n == 10 {
            redis.kill().await;
        }
        if n == 20 {
            redis.restart().await;
        }
        made.push(create_customer(&a, &owner, &slug, &format!("Customer {n}")).await);
    }
    for (ws, at, seen) in &mut clients {
        follow(ws, room, at, seen, WRITES).await;
        assert_eq!(seen, &made, "every event, in order, once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_on_a_new_database_all_come_up() {
    if !on_postgres() {
        return;
    }
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("dir");
        let url = crate::common::fresh_database_url(&dir).await;
        let (a, b, c) = tokio::join!(
            server::db::connect(&url),
            server::db::connect(&url),
            server::db::connect(&url)
        );
        for node in [a, b, c] {
            node.expect("every node starts");
        }
    }
}

/// The `scheduled-work` lease as it stands: holder and expiry.
async fn lease(node: &TestApp) -> Option<(String, i64)> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(&node.database_url)
        .await
        .expect("database");
    sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1")
        .bind(server::scheduler::LEASE)
        .fetch_optional(&mut conn)
        .await
        .expect("lease")
        .map(|r| (r.get(0), r.get(1)))
}

/// Bob's reminders as he sees them through `node`.
async fn reminders(node: &TestApp, bob: &Person) -> usize {
    let page: app::model::notify::NoticePage = bob
        .http
        .post(format!("{}/api/list_notifications", node.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    page.items
        .iter()
        .filter(|n| n.ntype == app::model::notify::NoticeType::Reminder)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_is_sent_once_with_two_nodes_running() {
    if !on_postgres() {
        return;
    }
    use app::api::records::CreateRecord;
    use app::model::{RecordKind, Value};
    let fast = || {
        let mut s = test_settings();
        s.schedule.every = Duration::from_millis(100);
        s
    };
    let a = spawn_app_with_settings(fast()).await;
    let b = a.another_node(fast()).await;
    let (owner, bob, slug, _) = team(&a).await;
    // A call of Bob's in 5 minutes: due now (his lead is the default 10 minutes).
    let call = CreateRecord {
        slug: slug.clone(),
        kind: RecordKind::Call,
        fields: [
            ("subject".to_string(), Value::Text("Renewal".into())),
            ("status".to_string(), Value::Text("scheduled".into())),
            ("assignee_id".to_string(), Value::Int(bob.id)),
            (
                "scheduled_at".to_string(),
                Value::Int(app::model::now_ms() + 5 * 60_000),
            ),
        ]
        .into(),
    };
    a.run(&owner.http, call).await.expect("call");
    tokio::time::timeout(WAIT, async {
        while reminders(&b, &bob).await == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the reminder is sent");
    // Both nodes keep running passes: the lease is renewed (its expiry moves) five more
    // times, by one holder at a time, and no second reminder comes.
    let mut last = lease(&a).await;
    let mut renewals = 0;
    tokio::time::timeout(WAIT, async {
        while renewals < 5 {
            let now = lease(&a).await;
            if now != last {
                renewals += 1;
                last = now;
            }
        }
    })
    .await
    .expect("the lease is renewed");
    assert_eq!(reminders(&a, &bob).await, 1, "sent once");
    assert_eq!(reminders(&b, &bob).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_outright_loses_nobody_an_event_and_its_users_leave() {
    use crate::shutdown::{call, free_addr, next, open, start_with};
    if !on_postgres() {
        return;
    }
    let Some(redis) = Redis::start().await else {
        return;
    };
    // The people and the workspace, made through an app on the database the nodes share.
    let setup = spawn_app_with_settings(test_settings()).await;
    let (owner, bob, slug, ws_id) = team(&setup).await;
    let room = Room::Workspace(ws_id);
    let (addr_a, addr_b) = (free_addr(), free_addr());
    let url = redis.url();
    let flags = ["--redis-url", url.as_str(), "--presence-ttl-secs", "3"];
    let mut node_a = start_with(&addr_a, &setup.database_url, &flags).await;
    let _node_b = start_with(&addr_b, &setup.database_url, &flags).await;
    let base_b = format!("http://{addr_b}");
    let create = |n: usize| {
        let (base, cookie, slug) = (base_b.clone(), owner.cookie.clone(), slug.clone());
        async move {
            call(&base, &cookie, "create_record", serde_json::json!({"slug": slug, "kind": "customer", "fields": {"name": format!("Customer {n}")}})).await;
        }
    };

    // The owner watches on B; Bob is on A only; the owner has 20 sockets on A.
    let mut watcher = open(&addr_b, &owner.cookie).await;
    crate::shutdown::subscribe(&mut watcher, room, None).await;
    let mut bobs = open(&addr_a, &bob.cookie).await;
    crate::shutdown::subscribe(&mut bobs, room, None).await;
    tokio::time::timeout(WAIT, async {
        loop {
            let f = next(&mut watcher).await.expect("open");
            if presence_of(&f, bob.id) == Some((1, false)) {
                return;
            }
        }
    })
    .await
    .expect("Bob, on A, shows on B");
    let mut sockets = Vec::new();
    for _ in 0..20 {
        let mut ws = open(&addr_a, &owner.cookie).await;
        let at = crate::shutdown::subscribe(&mut ws, room, None).await;
        sockets.push((ws, at, Vec::<i64>::new()));
    }
    for n in 0..5 {
        create(n).await;
    }

    // A dies without a word (SIGKILL); the writes go on on B.
    node_a.start_kill().expect("kill A");
    node_a.wait().await.expect("A is gone");
    for n in 5..10 {
        create(n).await;
    }
    // Each of A's sockets reads what reached it, finds itself closed, resumes on B from
    // where it was and ends with all ten events, once each, in order.
    for (ws, at, seen) in &mut sockets {
        crate::shutdown::read_until_closed(ws, room, at, seen).await;
        *ws = open(&addr_b, &owner.cookie).await;
        crate::shutdown::resume(ws, room, at, seen, 10).await;
    }
    // Bob was only on A: with nobody refreshing his entry, he leaves B's presence within
    // the presence TTL (3 s), long before any socket timeout (60 s).
    tokio::time::timeout(WAIT, async {
        loop {
            let f = next(&mut watcher).await.expect("open");
            if presence_of(&f, bob.id) == Some((0, true)) {
                return;
            }
        }
    })
    .await
    .expect("Bob leaves within the presence TTL");
}
