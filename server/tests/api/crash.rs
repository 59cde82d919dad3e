//! Crash safety: the real binary killed with SIGKILL in the middle of a stream of
//! acknowledged writes (SQLite in WAL mode, or PostgreSQL when `TEST_DATABASE_URL` is
//! set). After a restart on the same database every write acknowledged to a client is
//! there, every record has exactly one `created` event, the room's change log has no
//! missing or doubled offset, and a client resumes with nothing lost or doubled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use app::realtime::protocol::{Change, Room};

use crate::common::fresh_database_url;
use crate::shutdown::{
    call, free_addr, open, read_until_closed, sign_up_cookie, start_with, subscribe,
};

/// Writes acknowledged before the kill, at least (the kill comes while more are in
/// flight).
const ACKNOWLEDGED_BEFORE_KILL: usize = 60;
const WRITERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_acknowledged_writes_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = fresh_database_url(&dir).await;
    let addr = free_addr();
    let base = format!("http://{addr}");
    let mut server = start_with(&addr, &db, &[]).await;
    let cookie = sign_up_cookie(&base, "crash@example.com").await;
    let ws = call(
        &base,
        &cookie,
        "create_workspace",
        serde_json::json!({"name": "Crash", "slug": null}),
    )
    .await;
    let slug = ws["slug"].as_str().expect("slug").to_string();
    let room = Room::Workspace(ws["id"].as_i64().expect("id"));
    // A client following the workspace from before the first write.
    let mut socket = open(&addr, &cookie).await;
    let mut at = subscribe(&mut socket, room, None).await;
    let mut seen = Vec::new();

    // Writers create customers as fast as they are answered; each answer that says the
    // record was made is an acknowledgement, kept with the record's id and name.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::<i64, String>::new()));
    let (count_tx, mut count) = tokio::sync::watch::channel(0usize);
    let count_tx = Arc::new(count_tx);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (base, cookie, slug) = (base.clone(), cookie.clone(), slug.clone());
        let (acknowledged, count_tx) = (acknowledged.clone(), count_tx.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 0.. {
                let name = format!("W{w}-{n}");
                let sent = http
                    .post(format!("{base}/api/create_record"))
                    .header("origin", &base)
                    .header("cookie", &cookie)
                    .json(&serde_json::json!({
                        "slug": slug, "kind": "customer", "fields": {"name": name}
                    }))
                    .send()
                    .await;
                // The server is gone: this write was never acknowledged.
                let Ok(res) = sent else { return };
                if !res.status().is_success() {
                    return;
                }
                let Ok(record) = res.json::<serde_json::Value>().await else {
                    return;
                };
                let id = record["id"].as_i64().expect("an id");
                let total = {
                    let mut acked = acknowledged.lock().expect("lock");
                    acked.insert(id, name);
                    acked.len()
                };
                count_tx.send_replace(total);
            }
        }));
    }
    count
        .wait_for(|n| *n >= ACKNOWLEDGED_BEFORE_KILL)
        .await
        .expect("writers running");
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("killed");
    for w in writers {
        w.await.expect("a writer ends when the server is gone");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL);
    // What the client got before the kill; the socket is gone with the server.
    read_until_closed(&mut socket, room, &mut at, &mut seen).await;

    // Restarted on the same database.
    let _server = start_with(&addr, &db, &[]).await;
    let database = server::db::connect(&db).await.expect("the database opens");
    let store = database.store;

    // Every acknowledged write is there, as acknowledged.
    let ws_id = store.workspace_by_slug(&slug).await.expect("workspace").id;
    for (id, name) in &acknowledged {
        let record = store
            .record(ws_id, app::model::RecordKind::Customer, *id)
            .await
            .unwrap_or_else(|e| panic!("acknowledged customer {id} ({name}) is gone: {e}"));
        assert_eq!(
            record.fields.get("name"),
            Some(&app::model::Value::Text(name.clone()))
        );
    }

    // The log: offsets 1..=head, each once, and exactly one `created` event for each
    // record stored (acknowledged or not), none for a record that is not.
    let head = store.room_head(room).await.expect("head");
    assert_eq!(head.epoch, at.epoch, "the same epoch after a crash");
    let log = store
        .room_changes(room, head.epoch, 0, head.offset, 1_000_000)
        .await
        .expect("log");
    let offsets: Vec<i64> = log.iter().map(|c| c.position.offset).collect();
    assert_eq!(offsets, (1..=head.offset).collect::<Vec<_>>());
    let mut created: Vec<i64> = log
        .iter()
        .filter_map(|c| match &c.change {
            Change::Created { record, .. } => Some(record.id),
            _ => None,
        })
        .collect();
    created.sort_unstable();
    let stored: Vec<i64> = {
        use sqlx::Row;
        let pool = sqlx::AnyPool::connect(&db).await.expect("pool");
        let sql = format!("SELECT id FROM customers WHERE workspace_id = {ws_id} ORDER BY id");
        sqlx::query(&sql)
            .fetch_all(&pool)
            .await
            .expect("ids")
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect()
    };
    assert_eq!(created, stored, "one created event per stored record");
    assert!(acknowledged.keys().all(|id| stored.contains(id)));

    // The client resumes from where it was and ends with every record once, in order.
    let mut socket = open(&addr, &cookie).await;
    crate::shutdown::resume(&mut socket, room, &mut at, &mut seen, stored.len()).await;
    assert_eq!(at, head, "the client reached the head");
    seen.sort_unstable();
    assert_eq!(seen, stored, "every record, once");
}
