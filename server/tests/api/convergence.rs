//! A randomized convergence test against the real server: 20 clients run 1,000 random
//! operations each at the same time (field edits from stale bases, deletes and restores,
//! offline bursts sent twice with their idempotency keys), then every client's view,
//! brought up to date from the records' change logs (what a socket's resume replays),
//! must equal the database; every accepted change must be present or superseded by a
//! later accepted change of the same field, and every refusal must be a conflict (or the
//! record deleted). The seed is printed, and `CONVERGENCE_SEED` replays one.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::{client, spawn_app, TestApp};
use app::api::records::{CreateRecord, DeleteRecord, GetRecord, RestoreRecord, UpdateRecord};
use app::error::AppError;
use app::model::{FieldChange, Fields, Record, RecordKind, Value};
use app::realtime::protocol::Room;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

const CLIENTS: usize = 20;
const OPS: usize = 1_000;
const RECORDS: usize = 6;
const FIELDS: [&str; 4] = ["sector", "office_location", "notes", "tags"];

/// An accepted edit of one field: the version it made and the value it wrote.
#[derive(Debug, Clone)]
struct Accepted {
    id: i64,
    field: &'static str,
    version: i64,
    value: Value,
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    accepted: Vec<Accepted>,
    conflicts: usize,
    deleted: usize,
    other: Vec<String>,
}

fn edit(
    slug: &str,
    id: i64,
    field: &str,
    base: Value,
    value: Value,
    key: Option<String>,
) -> UpdateRecord {
    UpdateRecord {
        slug: slug.into(),
        kind: RecordKind::Customer,
        id,
        changes: BTreeMap::from([(field.to_string(), FieldChange { base, value })]),
        overwrite: None,
        idempotency_key: key,
    }
}

async fn read(app: &TestApp, c: &reqwest::Client, slug: &str, id: i64) -> Option<Record> {
    let args = GetRecord {
        slug: slug.into(),
        kind: RecordKind::Customer,
        id,
    };
    app.run(c, args).await.ok().map(|r| r.record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_converge_and_nothing_is_silently_overwritten() {
    let seed: u64 = std::env::var("CONVERGENCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("convergence seed {seed} (CONVERGENCE_SEED={seed} replays it)");
    let app = Arc::new(spawn_app().await);
    let owner = client();
    app.sign_up_as(&owner, "owner@example.com", "Owner").await;
    let slug = app.create_workspace_as(&owner, "Converge").await;
    let mut clients = vec![owner.clone()];
    for i in 1..CLIENTS {
        let c = app
            .member_with_role(&owner, &slug, "member", &format!("m{i}@example.com"))
            .await;
        clients.push(c);
    }
    let mut ids = Vec::new();
    for n in 0..RECORDS {
        let args = CreateRecord {
            slug: slug.clone(),
            kind: RecordKind::Customer,
            fields: Fields::from([("name".into(), Value::Text(format!("Customer {n}")))]),
        };
        ids.push(app.run(&owner, args).await.expect("create").id);
    }
    // Each client's view starts from a read and the record room's position before it.
    let mut starts = Vec::new();
    for _ in 0..CLIENTS {
        let mut view = BTreeMap::new();
        for id in &ids {
            let room = Room::Record(RecordKind::Customer, *id);
            let at = app.store.room_head(room).await.expect("head");
            view.insert(
                *id,
                (at, read(&app, &owner, &slug, *id).await.expect("live")),
            );
        }
        starts.push(view);
    }

    let tallies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (n, c) in clients.iter().cloned().enumerate() {
        let (app, slug, ids, tallies) = (app.clone(), slug.clone(), ids.clone(), tallies.clone());
        let mut rng = StdRng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let admin = n == 0;
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            // The records as this client last saw them (stale on purpose).
            let mut held: BTreeMap<i64, Record> = BTreeMap::new();
            for id in &ids {
                if let Some(r) = read(&app, &c, &slug, *id).await {
                    held.insert(*id, r);
                }
            }
            let mut op = 0;
            while op < OPS {
                let id = ids[rng.gen_range(0..ids.len())];
                let roll = rng.gen_range(0..100);
                if roll < 3 {
                    op += 1;
                    let Some(h) = held.get(&id) else { continue };
                    let args = DeleteRecord {
                        slug: slug.clone(),
                        kind: RecordKind::Customer,
                        id,
                        version: h.version,
                    };
                    match app.run(&c, args).await {
                        Ok(()) => {}
                        Err(AppError::Conflict(_)) => t.conflicts += 1,
                        Err(AppError::Gone(_)) => t.deleted += 1,
                        Err(e) => t.other.push(format!("delete: {e:?}")),
                    }
                } else if roll < 6 && admin {
                    op += 1;
                    let args = RestoreRecord {
                        slug: slug.clone(),
                        kind: RecordKind::Customer,
                        id,
                    };
                    match app.run(&c, args).await {
                        Ok(r) => {
                            held.insert(id, r);
                        }
                        Err(AppError::Validation { .. }) => {}
                        Err(e) => t.other.push(format!("restore: {e:?}")),
                    }
                } else if roll < 15 {
                    // Back online: re-read what it shows.
                    op += 1;
                    if let Some(r) = read(&app, &c, &slug, id).await {
                        held.insert(id, r);
                    }
                } else {
                    // An edit, or an offline burst of up to 5 edits sent, then sent again
                    // with the same keys (as a queue whose answers were lost would).
                    let burst = if roll < 25 { rng.gen_range(2..=5) } else { 1 };
                    let mut sent = Vec::new();
                    for _ in 0..burst {
                        op += 1;
                        let Some(h) = held.get(&id) else { break };
                        let field = FIELDS[rng.gen_range(0..FIELDS.len())];
                        let value = Value::Text(format!("c{n}-{op}"));
                        let key = format!("{n}-{op}");
                        let args = edit(
                            &slug,
                            id,
                            field,
                            h.get(field).clone(),
                            value.clone(),
                            Some(key),
                        );
                        let answer = app.run(&c, args.clone()).await;
                        sent.push((args, answer.clone(), field, value.clone()));
                        match answer {
                            Ok(r) => {
                                t.accepted.push(Accepted {
                                    id,
                                    field,
                                    version: r.version,
                                    value,
                                });
                                held.insert(id, r);
                            }
                            Err(AppError::Conflict(conflict)) => {
                                t.conflicts += 1;
                                held.insert(id, conflict.current);
                            }
                            Err(AppError::Gone(_)) => {
                                t.deleted += 1;
                                held.remove(&id);
                            }
                            Err(e) => t.other.push(format!("edit: {e:?}")),
                        }
                    }
                    if burst > 1 {
                        for (args, first, field, value) in sent {
                            // A replay returns the first answer and changes nothing (a
                            // deleted record's refusal is not kept: it is asked again,
                            // and if the record was restored in between, it is a new
                            // edit like any other, accepted or refused on its merits).
                            let again = app.run(&c, args).await;
                            match (&first, &again) {
                                (Ok(a), Ok(b)) if a == b => {}
                                (Err(AppError::Conflict(a)), Err(AppError::Conflict(b)))
                                    if a == b => {}
                                (Err(AppError::Gone(_)), Ok(r)) => t.accepted.push(Accepted {
                                    id,
                                    field,
                                    version: r.version,
                                    value,
                                }),
                                (Err(AppError::Gone(_)), _) => {}
                                _ => t.other.push(format!("replay: {first:?} then {again:?}")),
                            }
                        }
                    }
                }
            }
            tallies.lock().await.push(t);
        }));
    }
    for task in tasks {
        task.await.expect("client ran");
    }
    let tallies = std::mem::take(&mut *tallies.lock().await);

    // Nothing unexpected was answered.
    let other: Vec<&String> = tallies.iter().flat_map(|t| &t.other).collect();
    assert!(
        other.is_empty(),
        "seed {seed}: unexpected answers {other:?}"
    );
    let accepted: Vec<&Accepted> = tallies.iter().flat_map(|t| &t.accepted).collect();
    let conflicts: usize = tallies.iter().map(|t| t.conflicts).sum();
    assert!(
        !accepted.is_empty() && conflicts > 0,
        "seed {seed}: the run must both accept and refuse"
    );

    for id in &ids {
        let stored = app
            .store
            .record(app_workspace(&app, *id).await, RecordKind::Customer, *id)
            .await
            .ok();
        let tomb = stored.is_none();
        let room = Room::Record(RecordKind::Customer, *id);
        let head = app.store.room_head(room).await.expect("head");
        // Every client's view, brought up to date from the log from where it started,
        // equals the database (a tombstone's fields too).
        let current = match &stored {
            Some(r) => r.clone(),
            None => current_row(&app, *id).await,
        };
        for (n, start) in starts.iter().enumerate() {
            let (at, mut view) = start[id].clone();
            let changes = app
                .store
                .room_changes(room, at.epoch, at.offset, head.offset, 1_000_000)
                .await
                .expect("log");
            for c in changes {
                assert!(
                    c.change.apply(&mut view) || c.change.target().is_none(),
                    "seed {seed}: client {n} could not apply {:?}",
                    c.position
                );
            }
            assert_eq!(
                view.version, current.version,
                "seed {seed}: client {n}, record {id}"
            );
            assert_eq!(
                view.fields, current.fields,
                "seed {seed}: client {n}, record {id}"
            );
        }
        // Each field holds the value of its last accepted change (by version): every
        // accepted change is there or superseded by a later accepted one.
        for field in FIELDS {
            let last = accepted
                .iter()
                .filter(|a| a.id == *id && a.field == field)
                .max_by_key(|a| a.version);
            if let Some(last) = last {
                assert_eq!(
                    current.get(field),
                    &last.value,
                    "seed {seed}: record {id} {field} (tombstone: {tomb})"
                );
            }
        }
        // Versions of accepted changes are unique per record: no two writes were applied
        // as one (a double apply of a replayed key would show as an extra version with
        // an already accepted value; the log's length says how many there were).
        let mut versions: Vec<i64> = accepted
            .iter()
            .filter(|a| a.id == *id)
            .map(|a| a.version)
            .collect();
        versions.sort_unstable();
        let before = versions.len();
        versions.dedup();
        assert_eq!(
            before,
            versions.len(),
            "seed {seed}: record {id}: two accepted edits made one version"
        );
    }
    println!(
        "convergence: {} accepted, {conflicts} conflicts, {} answered deleted",
        accepted.len(),
        tallies.iter().map(|t| t.deleted).sum::<usize>()
    );
}

/// The workspace of customer `id`.
async fn app_workspace(app: &TestApp, id: i64) -> i64 {
    app.store
        .record_workspace(RecordKind::Customer, id)
        .await
        .expect("workspace")
}

/// Customer `id` as its log leaves it: for a tombstone, which the store does not read
/// back (its live equivalent is compared with the database itself).
async fn current_row(app: &TestApp, id: i64) -> Record {
    let mut record: Option<Record> = None;
    for change in app.customer_log(id).await {
        let newer = change
            .record()
            .filter(|r| record.as_ref().is_none_or(|h| r.version > h.version))
            .cloned();
        match (newer, record.as_mut()) {
            (Some(r), _) => record = Some(r),
            (None, Some(h)) => {
                change.apply(h);
            }
            (None, None) => {}
        }
    }
    record.expect("a created record")
}
