//! The `Store` contract, run against every backend: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set (the test command starts a throwaway server and sets it).

use std::collections::BTreeMap;

use app::model::{
    FieldChange, FieldDef, FieldKind, Fields, RecordKind, RecordQuery, Role, SortDir, Value,
};
use app::realtime::protocol::{Change, ChangeOp, Room};
use app::ssr::store::{DbError, ImportedPerson, NewInvite, NewUser, Store, Upserted};

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn person(name: &str, role: Role, region: Option<&str>) -> ImportedPerson {
    ImportedPerson {
        key: name.into(),
        name: name.into(),
        role,
        region: region.map(str::to_string),
    }
}

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

async fn contract(store: &dyn Store) {
    // Accounts.
    let ann = store
        .create_user(NewUser {
            email: Some("ann@example.com".into()),
            password_hash: Some("h".into()),
            display_name: "Ann".into(),
        })
        .await
        .expect("create ann");
    let dup = store
        .create_user(NewUser {
            email: Some("ann@example.com".into()),
            password_hash: None,
            display_name: "X".into(),
        })
        .await;
    assert!(
        matches!(dup, Err(DbError::Conflict(ref f)) if f == "email"),
        "{dup:?}"
    );
    let row = store
        .user_by_email("ann@example.com")
        .await
        .expect("by email")
        .expect("found");
    assert_eq!(
        (row.user.id, row.password_hash.as_deref()),
        (ann.id, Some("h"))
    );
    assert!(store
        .user_by_email("nobody@example.com")
        .await
        .expect("lookup")
        .is_none());
    assert!(matches!(store.user(i64::MAX).await, Err(DbError::NotFound)));
    let placeholder = store
        .create_user(NewUser {
            email: None,
            password_hash: None,
            display_name: "Imported".into(),
        })
        .await
        .expect("no email");
    let placeholder2 = store
        .create_user(NewUser {
            email: None,
            password_hash: None,
            display_name: "Imported 2".into(),
        })
        .await;
    assert!(placeholder2.is_ok(), "several accounts without e-mail");

    // Workspaces and members.
    let ws = store
        .create_workspace("Acme", "acme", ann.id)
        .await
        .expect("workspace");
    assert!(
        matches!(store.create_workspace("Other", "acme", ann.id).await, Err(DbError::Conflict(ref f)) if f == "slug")
    );
    let other = store
        .create_workspace("Other", "other", ann.id)
        .await
        .expect("other workspace");
    assert_eq!(
        store.role(ws.id, ann.id).await.expect("role"),
        Some(Role::Owner)
    );
    assert_eq!(
        store.memberships(ann.id).await.expect("memberships").len(),
        2
    );
    store.set_last_workspace(ann.id, ws.id).await.expect("last");
    assert_eq!(
        store.user(ann.id).await.expect("user").last_workspace_id,
        Some(ws.id)
    );
    assert_eq!(
        store
            .rename_workspace(ws.id, "Acme EU")
            .await
            .expect("rename")
            .name,
        "Acme EU"
    );
    let bob = store
        .create_user(NewUser {
            email: Some("bob@example.com".into()),
            password_hash: Some("h".into()),
            display_name: "Bob".into(),
        })
        .await
        .expect("bob");
    store
        .add_member(ws.id, bob.id, Role::Viewer)
        .await
        .expect("add");
    store
        .add_member(ws.id, bob.id, Role::Admin)
        .await
        .expect("add again keeps the role");
    assert_eq!(
        store.role(ws.id, bob.id).await.expect("role"),
        Some(Role::Viewer)
    );
    store
        .set_role(ws.id, bob.id, Role::Member)
        .await
        .expect("set role");
    assert!(matches!(
        store.set_role(other.id, bob.id, Role::Member).await,
        Err(DbError::NotFound)
    ));
    let members = store.members(ws.id).await.expect("members");
    assert_eq!(
        members
            .iter()
            .map(|m| m.user.display_name.as_str())
            .collect::<Vec<_>>(),
        ["Ann", "Bob"]
    );
    assert!(members.iter().all(|m| m.joined));
    store.remove_member(ws.id, bob.id).await.expect("remove");
    assert!(matches!(
        store.remove_member(ws.id, bob.id).await,
        Err(DbError::NotFound)
    ));

    // Invites: accept uses one acceptance; a claim takes over an imported account.
    let now = app::model::now_ms();
    let invite = |token: &str, for_user: Option<i64>, max_uses: i64| NewInvite {
        workspace_id: ws.id,
        token: token.into(),
        role: Role::Member,
        expires_at: now + 60_000,
        max_uses,
        created_by: Some(ann.id),
        for_user,
    };
    store
        .create_invite(invite("tok-one", None, 1))
        .await
        .expect("invite");
    assert_eq!(
        store
            .accept_invite("tok-one", bob.id, now)
            .await
            .expect("accept")
            .id,
        ws.id
    );
    assert_eq!(
        store
            .accept_invite("tok-one", bob.id, now)
            .await
            .expect("already a member")
            .id,
        ws.id
    );
    assert_eq!(
        store.invite_by_token("tok-one").await.expect("invite").uses,
        1,
        "a member re-opening uses nothing"
    );
    let cat = store
        .create_user(NewUser {
            email: Some("cat@example.com".into()),
            password_hash: None,
            display_name: "Cat".into(),
        })
        .await
        .expect("cat");
    assert!(matches!(
        store.accept_invite("tok-one", cat.id, now).await,
        Err(DbError::InviteGone)
    ));
    assert!(matches!(
        store.accept_invite("nope", cat.id, now).await,
        Err(DbError::NotFound)
    ));
    store
        .add_member(ws.id, placeholder.id, Role::Member)
        .await
        .expect("imported member");
    store
        .create_invite(invite("tok-claim", Some(placeholder.id), 1))
        .await
        .expect("claim invite");
    let taken = store
        .claim_invite("tok-claim", "ann@example.com", "h2", "Dee", now)
        .await;
    assert!(
        matches!(taken, Err(DbError::Conflict(ref f)) if f == "email"),
        "{taken:?}"
    );
    let (claimed, claimed_ws) = store
        .claim_invite("tok-claim", "dee@example.com", "h2", "Dee", now)
        .await
        .expect("claim");
    assert_eq!(
        (claimed.id, claimed.email.as_deref(), claimed_ws.id),
        (placeholder.id, Some("dee@example.com"), ws.id)
    );
    let inv = store.invites(ws.id).await.expect("invites");
    assert_eq!(inv.len(), 2);
    store
        .revoke_invite(ws.id, inv[0].id, now)
        .await
        .expect("revoke");
    assert!(matches!(
        store.revoke_invite(other.id, inv[0].id, now).await,
        Err(DbError::NotFound)
    ));

    // Records: create, references checked within the workspace, labels attached.
    let acme = store
        .create_record(
            ws.id,
            ann.id,
            RecordKind::Customer,
            fields(&[
                ("name", text("Acme Corporation")),
                ("sector", text("technolgy")),
                ("revenue", Value::Float(1100.04)),
                ("owner_id", Value::Int(bob.id)),
            ]),
        )
        .await
        .expect("create");
    assert_eq!(
        (
            acme.version,
            acme.titles.get("owner_id").map(String::as_str)
        ),
        (1, Some("Bob"))
    );
    let dup = store
        .create_record(
            ws.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Acme Corporation"))]),
        )
        .await;
    assert!(
        matches!(dup, Err(DbError::Conflict(ref f)) if f == "name"),
        "{dup:?}"
    );
    let foreign = store
        .create_record(
            other.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Sub")), ("parent_id", Value::Int(acme.id))]),
        )
        .await;
    assert!(
        matches!(foreign, Err(DbError::Invalid { ref field, .. }) if field == "parent_id"),
        "{foreign:?}"
    );
    let outsider = store
        .create_record(
            ws.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Sub")), ("owner_id", Value::Int(cat.id))]),
        )
        .await;
    assert!(
        matches!(outsider, Err(DbError::Invalid { ref field, .. }) if field == "owner_id"),
        "not a member"
    );
    for (name, sector) in [
        ("Betatech", "medical"),
        ("Cancity", "retail"),
        ("betasoloin", "medical"),
    ] {
        store
            .create_record(
                ws.id,
                ann.id,
                RecordKind::Customer,
                fields(&[
                    ("name", text(name)),
                    ("sector", text(sector)),
                    ("parent_id", Value::Int(acme.id)),
                ]),
            )
            .await
            .expect("create");
    }
    store
        .create_record(
            other.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Elsewhere"))]),
        )
        .await
        .expect("other ws");

    // Lists: search (case-insensitive, wildcards literal), filters, sort, paging, labels.
    let list = |q: RecordQuery| async move {
        store
            .list_records(ws.id, RecordKind::Customer, &q)
            .await
            .expect("list")
    };
    let page = list(RecordQuery {
        search: Some("BETA".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        page.items.iter().map(|r| r.title()).collect::<Vec<_>>(),
        ["Betasoloin".to_lowercase(), "Betatech".into()]
    );
    assert_eq!(
        list(RecordQuery {
            search: Some("%".into()),
            ..Default::default()
        })
        .await
        .total,
        0
    );
    let mut filters = BTreeMap::new();
    filters.insert("sector".to_string(), text("medical"));
    assert_eq!(
        list(RecordQuery {
            filters,
            ..Default::default()
        })
        .await
        .total,
        2
    );
    let first = list(RecordQuery {
        sort: Some("name".into()),
        dir: SortDir::Desc,
        limit: 1,
        ..Default::default()
    })
    .await;
    let sorted = list(RecordQuery {
        sort: Some("name".into()),
        dir: SortDir::Desc,
        limit: 2,
        after: first.next,
        ..Default::default()
    })
    .await;
    assert_eq!((sorted.total, sorted.items.len()), (4, 2));
    assert_eq!(
        sorted.items.iter().map(|r| r.title()).collect::<Vec<_>>(),
        ["Betatech", "betasoloin"]
    );
    assert_eq!(
        sorted.items[0].titles.get("parent_id").map(String::as_str),
        Some("Acme Corporation")
    );
    let bad = store
        .list_records(
            ws.id,
            RecordKind::Customer,
            &RecordQuery {
                sort: Some("password".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(DbError::Invalid { .. })));
    assert_eq!(
        store
            .distinct_values(ws.id, RecordKind::Customer, "sector")
            .await
            .expect("sectors"),
        ["medical", "retail", "technolgy"]
    );
    assert_eq!(
        store
            .choices(ws.id, RecordKind::Customer, "", 20)
            .await
            .expect("choices")
            .len(),
        4
    );
    let picked: Vec<String> = store
        .choices(ws.id, RecordKind::Customer, "BETA", 20)
        .await
        .expect("typeahead")
        .into_iter()
        .map(|c| c.title)
        .collect();
    assert_eq!(picked, ["betasoloin", "Betatech"], "titles only, by title");
    assert!(store
        .choices(ws.id, RecordKind::Customer, "medical", 20)
        .await
        .expect("typeahead")
        .is_empty());

    // Updates: three-way merge per field.
    let change = |base: Value, value: Value| FieldChange { base, value };
    let mut edit = BTreeMap::new();
    edit.insert(
        "sector".to_string(),
        change(text("technolgy"), text("technology")),
    );
    let v2 = store
        .update_record(ws.id, bob.id, RecordKind::Customer, acme.id, edit)
        .await
        .expect("update");
    assert_eq!((v2.version, v2.updated_by), (2, Some(bob.id)));
    let mut stale = BTreeMap::new();
    stale.insert(
        "sector".to_string(),
        change(text("technolgy"), text("software")),
    );
    stale.insert(
        "office_location".to_string(),
        change(Value::Null, text("Kenya")),
    );
    match store
        .update_record(ws.id, ann.id, RecordKind::Customer, acme.id, stale)
        .await
    {
        Err(DbError::EditConflict { current, fields }) => {
            assert_eq!(current.version, 2);
            assert_eq!((fields.len(), &fields[0].theirs), (1, &text("technology")));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .record(ws.id, RecordKind::Customer, acme.id)
            .await
            .expect("get")
            .get("office_location"),
        &Value::Null,
        "nothing applied"
    );
    let mut own = BTreeMap::new();
    own.insert(
        "parent_id".to_string(),
        change(Value::Null, Value::Int(acme.id)),
    );
    assert!(matches!(
        store
            .update_record(ws.id, ann.id, RecordKind::Customer, acme.id, own)
            .await,
        Err(DbError::Invalid { .. })
    ));
    assert!(matches!(
        store.record(other.id, RecordKind::Customer, acme.id).await,
        Err(DbError::NotFound)
    ));

    // Deletes leave a tombstone.
    assert!(matches!(
        store
            .delete_record(ws.id, ann.id, RecordKind::Customer, acme.id, 1)
            .await,
        Err(DbError::EditConflict { .. })
    ));
    store
        .delete_record(ws.id, ann.id, RecordKind::Customer, acme.id, 2)
        .await
        .expect("delete");
    match store.record(ws.id, RecordKind::Customer, acme.id).await {
        Err(DbError::Deleted { by, by_name, .. }) => {
            assert_eq!(
                (by, by_name.as_deref()),
                (Some(ann.id), Some(ann.display_name.as_str()))
            )
        }
        other => panic!("expected a tombstone, got {other:?}"),
    }
    assert_eq!(list(RecordQuery::default()).await.total, 3);
    store
        .create_record(
            ws.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Acme Corporation"))]),
        )
        .await
        .expect("the name is free again");

    // Upserts by natural key, in order, idempotent.
    let rows = vec![
        fields(&[
            ("name", text("GTX Basic")),
            ("series", text("GTX")),
            ("price", Value::Int(55000)),
        ]),
        fields(&[
            ("name", text("MG Special")),
            ("series", text("MG")),
            ("price", Value::Int(5500)),
        ]),
    ];
    let first = store
        .upsert_records(ws.id, None, RecordKind::Product, rows.clone(), &|_| {})
        .await
        .expect("upsert");
    assert!(first.iter().all(|(_, o)| *o == Upserted::Created));
    let again = store
        .upsert_records(ws.id, None, RecordKind::Product, rows, &|_| {})
        .await
        .expect("upsert again");
    assert!(again.iter().all(|(_, o)| *o == Upserted::Unchanged));
    assert_eq!(
        first.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        again.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    let changed = store
        .upsert_records(
            ws.id,
            None,
            RecordKind::Product,
            vec![fields(&[
                ("name", text("MG Special")),
                ("price", Value::Int(6000)),
            ])],
            &|_| {},
        )
        .await
        .expect("change");
    assert_eq!(changed[0].1, Upserted::Updated);
    assert_eq!(
        store
            .ids_by_key(ws.id, RecordKind::Product)
            .await
            .expect("ids")
            .len(),
        2
    );

    let people = store
        .upsert_people(
            ws.id,
            vec![
                person("Zed", Role::Admin, Some("East")),
                person("Ann", Role::Member, None),
            ],
        )
        .await
        .expect("people");
    assert_eq!(
        (people[0].outcome, people[1].outcome),
        (Upserted::Created, Upserted::Created),
        "people are matched by import key, never by a display name (the owner is also Ann)"
    );
    assert_eq!(
        store.role(ws.id, ann.id).await.expect("role"),
        Some(Role::Owner),
        "the owner keeps their role"
    );
    let people = store
        .upsert_people(ws.id, vec![person("Zed", Role::Admin, Some("East"))])
        .await
        .expect("people again");
    assert_eq!(people[0].outcome, Upserted::Unchanged);
    let people = store
        .upsert_people(ws.id, vec![person("Zed", Role::Member, Some("West"))])
        .await
        .expect("people changed");
    assert_eq!(people[0].outcome, Upserted::Updated);
    let zed = store
        .members(ws.id)
        .await
        .expect("members")
        .into_iter()
        .find(|m| m.user.display_name == "Zed")
        .expect("Zed");
    assert_eq!(
        (zed.role, zed.region.as_deref(), zed.joined),
        (Role::Member, Some("West"), false)
    );

    // The change log: each write appends to its rooms, with consecutive offsets.
    let room = Room::Workspace(ws.id);
    let before = store.room_head(room).await.expect("head");
    assert!(before.offset > 0, "the writes above were logged");
    let logged = store
        .create_record(
            ws.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Logged"))]),
        )
        .await
        .expect("create");
    let mut edit = BTreeMap::new();
    edit.insert("sector".to_string(), change(Value::Null, text("retail")));
    store
        .update_record(ws.id, ann.id, RecordKind::Customer, logged.id, edit)
        .await
        .expect("update");
    let after = store.room_head(room).await.expect("head");
    assert_eq!(
        (after.epoch, after.offset),
        (before.epoch, before.offset + 2)
    );
    let changes = store
        .room_changes(room, after.epoch, before.offset, after.offset, 100)
        .await
        .expect("changes");
    let paged = store
        .room_changes(room, after.epoch, before.offset, after.offset, 1)
        .await
        .expect("a page of changes");
    assert_eq!(
        paged.iter().map(|c| c.position.offset).collect::<Vec<_>>(),
        vec![before.offset + 1],
        "replay is paged"
    );
    let ops: Vec<(i64, ChangeOp, Vec<String>)> = changes
        .iter()
        .map(|c| {
            let fields = match &c.change {
                app::realtime::protocol::Change::Updated { fields, .. } => {
                    fields.keys().cloned().collect()
                }
                _ => Vec::new(),
            };
            (c.position.offset, c.change.op(), fields)
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (before.offset + 1, ChangeOp::Created, vec![]),
            (
                before.offset + 2,
                ChangeOp::Updated,
                vec!["sector".to_string()]
            )
        ]
    );
    assert!(
        matches!(
            changes[1].change,
            app::realtime::protocol::Change::Updated { version: 2, .. }
        ),
        "the update carries the version it makes"
    );
    let own = store
        .room_head(Room::Record(RecordKind::Customer, logged.id))
        .await
        .expect("record room");
    assert_eq!(own.offset, 2, "the record's own room has its two changes");
    assert!(store
        .room_changes(room, after.epoch + 1, 0, after.offset, 100)
        .await
        .expect("other epoch")
        .is_empty());
    assert_eq!(
        store
            .record_workspace(RecordKind::Customer, logged.id)
            .await
            .expect("ws"),
        ws.id
    );
    // A user room nobody wrote to (Ann's has her notifications by now).
    let quiet = Room::User(ann.id + 1_000_000);
    let fresh = store.room_head(quiet).await.expect("new room");
    assert_eq!(fresh.offset, 0);
    assert_eq!(
        fresh.epoch, before.epoch,
        "a room never written to has the database's epoch, which its first event keeps"
    );
    assert!(
        store.room_heads(&[quiet]).await.expect("heads").is_empty(),
        "reading a head writes nothing"
    );
    let heads = store.room_heads(&[room, quiet]).await.expect("heads");
    assert_eq!(heads, vec![(room, after)]);

    // Search is case-insensitive beyond ASCII, on every backend, and follows edits.
    let umlauts = store
        .create_record(
            ws.id,
            ann.id,
            RecordKind::Customer,
            fields(&[("name", text("Ärztekammer Zürich"))]),
        )
        .await
        .expect("create");
    let found = |term: &str| {
        let q = RecordQuery {
            search: Some(term.into()),
            ..Default::default()
        };
        async move {
            store
                .list_records(ws.id, RecordKind::Customer, &q)
                .await
                .expect("search")
                .items
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("ÄRZTE").await, vec![umlauts.id]);
    assert_eq!(found("zürich").await, vec![umlauts.id]);
    let mut edit = BTreeMap::new();
    edit.insert(
        "name".to_string(),
        change(text("Ärztekammer Zürich"), text("Ölwerke Ägypten")),
    );
    store
        .update_record(ws.id, ann.id, RecordKind::Customer, umlauts.id, edit)
        .await
        .expect("rename");
    assert_eq!(found("ÖLWERKE").await, vec![umlauts.id]);
    assert!(found("zürich").await.is_empty());
    // An edit of a field that is not searched leaves the search text as it was (the
    // update does not write it); one that also changes a searched field rewrites it.
    let mut edit = BTreeMap::new();
    edit.insert(
        "notes".to_string(),
        change(Value::Null, text("quarterly call")),
    );
    store
        .update_record(ws.id, ann.id, RecordKind::Customer, umlauts.id, edit)
        .await
        .expect("notes");
    assert_eq!(found("ölwerke").await, vec![umlauts.id]);
    assert!(
        found("quarterly").await.is_empty(),
        "notes are not searched"
    );
    let mut edit = BTreeMap::new();
    edit.insert(
        "notes".to_string(),
        change(text("quarterly call"), text("yearly call")),
    );
    edit.insert(
        "sector".to_string(),
        change(Value::Null, text("Medizintechnik")),
    );
    store
        .update_record(ws.id, ann.id, RecordKind::Customer, umlauts.id, edit)
        .await
        .expect("notes and sector");
    assert_eq!(found("MEDIZIN").await, vec![umlauts.id]);
    assert_eq!(found("ölwerke").await, vec![umlauts.id]);

    every_kind_keeps_the_record_contract(store, ws.id, ann.id).await;
    let lists = store
        .create_workspace("Lists", "lists", ann.id)
        .await
        .expect("workspace");
    lists_page_by_keyset_and_keep_board_totals(store, lists.id, ann.id).await;
    bulk_inserts_keep_keys_and_tell_the_workspace(store, ws.id, ann.id).await;
    let day = store
        .create_workspace("Day", "day", ann.id)
        .await
        .expect("workspace");
    calendars_and_bookings_keep_their_contract(store, day.id, ann.id).await;
    let talk = store
        .create_workspace("Talk", "talk", ann.id)
        .await
        .expect("workspace");
    chat_keeps_its_contract(store, talk.id, ann.id).await;
    leases_keep_their_contract(store).await;
}

/// Chat rooms, invitations, messages, reactions, read markers and search keep their
/// contract: who sees what, idempotent sends, replies within a room, one's own edits,
/// unread counts that skip one's own and deleted messages, and the room's log.
/// The scheduled-work lease: one holder at a time, renewed by its holder, taken over
/// once expired, and of several nodes asking at once exactly one gets it.
async fn leases_keep_their_contract(store: &dyn Store) {
    assert!(store
        .take_lease("work", "a", 1_000, 100)
        .await
        .expect("take"));
    assert!(!store
        .take_lease("work", "b", 1_050, 100)
        .await
        .expect("held by a"));
    assert!(store
        .take_lease("work", "a", 1_050, 100)
        .await
        .expect("renew"));
    assert!(
        !store
            .take_lease("work", "b", 1_149, 100)
            .await
            .expect("renewed until 1150"),
        "a renewal moves the expiry"
    );
    assert!(store
        .take_lease("work", "b", 1_151, 100)
        .await
        .expect("expired: b"));
    assert!(!store
        .take_lease("work", "a", 1_160, 100)
        .await
        .expect("b's now"));
    assert!(store
        .take_lease("other", "a", 1_160, 100)
        .await
        .expect("leases are by name"));
    let race = (0..8).map(|n| async move {
        store
            .take_lease("race", &format!("node{n}"), 5_000, 100)
            .await
            .expect("take")
    });
    let won = futures::future::join_all(race).await;
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "one of eight: {won:?}"
    );
}

async fn chat_keeps_its_contract(store: &dyn Store, ws: i64, ann: i64) {
    use app::model::chat::{ChatKind, ChatTarget, InvitationStatus};
    use app::model::now_ms;
    use app::ssr::store::RoomEdit;
    let mut people = Vec::new();
    for name in ["Bo", "Cy", "Zed"] {
        let id = store
            .create_user(NewUser {
                email: Some(format!("{name}@talk.example")),
                password_hash: None,
                display_name: name.into(),
            })
            .await
            .expect("user")
            .id;
        people.push(id);
    }
    let (bo, cy, zed) = (people[0], people[1], people[2]);
    store
        .add_member(ws, bo, Role::Member)
        .await
        .expect("member");
    store
        .add_member(ws, cy, Role::Member)
        .await
        .expect("member");
    let invalid_on = |r: Result<_, DbError>, on: &str| match r {
        Err(DbError::Invalid { field, .. }) => assert_eq!(field, on),
        other => panic!("expected Invalid on {on}, got {:?}", other.map(|_: ()| ())),
    };
    let forbidden = |r: Result<_, DbError>| match r {
        Err(DbError::Forbidden(_)) => {}
        other => panic!("expected Forbidden, got {:?}", other.map(|_: ()| ())),
    };

    let general = store
        .create_chat_room(ws, ann, true, ChatKind::Channel, "general", None)
        .await
        .expect("channel");
    assert!(matches!(
        store.create_chat_room(ws, ann, true, ChatKind::Channel, "General", None).await,
        Err(DbError::Conflict(f)) if f == "name"
    ));
    forbidden(
        store
            .create_chat_room(ws, bo, false, ChatKind::Channel, "mine", None)
            .await
            .map(|_| ()),
    );
    let private = store
        .create_chat_room(ws, bo, false, ChatKind::Private, "Bo and Cy", Some(2))
        .await
        .expect("private");
    assert_eq!(private.owner_id, Some(bo));
    invalid_on(
        store
            .invite_to_chat(ws, bo, private.id, &[zed], now_ms() + 1000)
            .await
            .map(|_| ()),
        "user_ids",
    );
    let invited = store
        .invite_to_chat(ws, bo, private.id, &[cy], now_ms() + 60_000)
        .await
        .expect("invite");
    assert_eq!(invited[0].status, InvitationStatus::Pending);
    invalid_on(
        store
            .invite_to_chat(ws, bo, private.id, &[ann], now_ms() + 1000)
            .await
            .map(|_| ()),
        "user_ids",
    );
    assert_eq!(
        store
            .chat_room_workspace(private.id, cy)
            .await
            .expect("access"),
        None
    );
    let overview = store
        .chat_overview(ws, cy, now_ms())
        .await
        .expect("overview");
    assert_eq!(overview.invitations.len(), 1);
    store
        .answer_chat_invitation(ws, cy, invited[0].id, true, now_ms())
        .await
        .expect("accept");
    assert_eq!(
        store
            .chat_room_workspace(private.id, cy)
            .await
            .expect("access"),
        Some(ws)
    );
    assert_eq!(
        store
            .chat_room_workspace(private.id, ann)
            .await
            .expect("access"),
        None
    );
    assert_eq!(
        store
            .chat_room_workspace(general.id, zed)
            .await
            .expect("access"),
        Some(ws)
    );
    assert!(store
        .chat_overview(ws, ann, now_ms())
        .await
        .expect("overview")
        .rooms
        .iter()
        .all(|r| r.id != private.id));
    assert!(matches!(
        store.chat_room(ws, ann, private.id).await,
        Err(DbError::NotFound)
    ));

    // Messages: positions, idempotency, replies within the room.
    let room = ChatTarget::Room(private.id);
    let first = store
        .send_message(ws, cy, room, "hello **Bo**", None, Some("k1"))
        .await
        .expect("send");
    assert_eq!(first.seq, 1);
    let again = store
        .send_message(ws, cy, room, "hello **Bo**", None, Some("k1"))
        .await
        .expect("send");
    assert_eq!(again, first);
    let reply = store
        .send_message(ws, cy, room, "are you there?", Some(first.id), None)
        .await
        .expect("reply");
    assert_eq!(
        (reply.seq, reply.reply_to.as_ref().map(|q| q.id)),
        (2, Some(first.id))
    );
    let elsewhere = store
        .send_message(ws, ann, ChatTarget::Room(general.id), "hi all", None, None)
        .await
        .expect("send");
    invalid_on(
        store
            .send_message(ws, cy, room, "x", Some(elsewhere.id), None)
            .await
            .map(|_| ()),
        "reply_to",
    );
    assert!(matches!(
        store
            .send_message(ws, ann, room, "let me in", None, None)
            .await,
        Err(DbError::NotFound)
    ));

    // Unread: the other's messages after the marker, not deleted; markers only move on.
    let unread =
        |r: i64, u: i64| async move { store.chat_room(ws, u, r).await.expect("room").room.unread };
    assert_eq!(unread(private.id, bo).await, 2);
    assert_eq!(
        unread(private.id, cy).await,
        0,
        "one's own messages are read"
    );
    assert_eq!(
        store
            .mark_chat_read(ws, bo, private.id, 1)
            .await
            .expect("read")
            .unread,
        1
    );
    assert_eq!(
        store
            .mark_chat_read(ws, bo, private.id, 0)
            .await
            .expect("read")
            .read_seq,
        1
    );
    assert_eq!(
        store
            .mark_chat_read(ws, bo, private.id, 99)
            .await
            .expect("read")
            .read_seq,
        2,
        "capped at the newest"
    );

    // Edits and deletions of one's own only; reactions from the set.
    forbidden(
        store
            .change_message(ws, bo, private.id, first.id, Some("mine now"))
            .await
            .map(|_| ()),
    );
    let edited = store
        .change_message(ws, cy, private.id, first.id, Some("hello *Bo*"))
        .await
        .expect("edit");
    assert!(edited.edited_at.is_some());
    invalid_on(
        store
            .react(ws, bo, private.id, reply.id, "🦀", true)
            .await
            .map(|_| ()),
        "emoji",
    );
    let reacted = store
        .react(ws, bo, private.id, reply.id, "👍", true)
        .await
        .expect("react");
    assert_eq!(reacted.reactions.get("👍"), Some(&vec![bo]));
    let deleted = store
        .change_message(ws, cy, private.id, reply.id, None)
        .await
        .expect("delete");
    assert!(
        deleted.deleted_at.is_some() && deleted.body.is_empty() && deleted.reactions.is_empty()
    );

    // History pages newest first.
    let page = store
        .chat_messages(ws, bo, private.id, None, 1)
        .await
        .expect("page");
    assert_eq!((page.messages[0].seq, page.has_more), (2, true));
    let older = store
        .chat_messages(ws, bo, private.id, Some(2), 10)
        .await
        .expect("page");
    assert_eq!((older.messages.len(), older.has_more), (1, false));
    assert_eq!(older.messages[0].body, "hello *Bo*");

    // A record's discussion is made by its first message, once.
    let acme = store
        .create_record(
            ws,
            ann,
            RecordKind::Customer,
            fields(&[("name", text("Acme Talk"))]),
        )
        .await
        .expect("customer");
    assert_eq!(
        store
            .discussion(ws, bo, RecordKind::Customer, acme.id)
            .await
            .expect("none yet"),
        None
    );
    let on_record = ChatTarget::Record(RecordKind::Customer, acme.id);
    let m1 = store
        .send_message(ws, bo, on_record, "who owns this?", None, None)
        .await
        .expect("send");
    let m2 = store
        .send_message(ws, cy, on_record, "I do", None, None)
        .await
        .expect("send");
    assert_eq!(m1.room_id, m2.room_id);
    let discussion = store
        .discussion(ws, ann, RecordKind::Customer, acme.id)
        .await
        .expect("found")
        .expect("made");
    assert_eq!(
        (discussion.kind, discussion.name.as_str()),
        (ChatKind::Discussion, "Acme Talk")
    );
    assert_eq!(discussion.unread, 2);

    // Search sees what the searcher may see.
    let hits = store
        .search_messages(ws, ann, "HELLO", 10)
        .await
        .expect("search");
    assert!(hits.is_empty(), "a private room's words stay inside");
    let hits = store
        .search_messages(ws, bo, "hello", 10)
        .await
        .expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(
        store
            .search_messages(ws, zed, "owns", 10)
            .await
            .expect("search")
            .len(),
        1
    );

    // Owner rules: rename and hand over by the owner only; removal; the last one out
    // archives it.
    forbidden(
        store
            .edit_chat_room(ws, cy, false, private.id, RoomEdit::Rename("Cy's".into()))
            .await
            .map(|_| ()),
    );
    let handed = store
        .edit_chat_room(ws, bo, false, private.id, RoomEdit::Owner(cy))
        .await
        .expect("hand over");
    assert_eq!(handed.owner_id, Some(cy));
    forbidden(store.leave_chat_room(ws, bo, private.id, cy).await);
    store
        .leave_chat_room(ws, cy, private.id, bo)
        .await
        .expect("remove");
    assert!(matches!(
        store.chat_room(ws, bo, private.id).await,
        Err(DbError::NotFound)
    ));
    store
        .leave_chat_room(ws, cy, private.id, cy)
        .await
        .expect("leave");
    let gone = store
        .chat_room_workspace(private.id, cy)
        .await
        .expect("access");
    assert_eq!(gone, None);

    // The room's log: every message event with consecutive offsets.
    let head = store.room_head(Room::Chat(private.id)).await.expect("head");
    let log = store
        .room_changes(Room::Chat(private.id), head.epoch, 0, head.offset, 500)
        .await
        .expect("log");
    assert_eq!(log.len() as i64, head.offset);
    assert!(log
        .iter()
        .enumerate()
        .all(|(i, c)| c.position.offset == i as i64 + 1));
    let messages = log
        .iter()
        .filter(|c| c.change.op() == app::realtime::protocol::ChangeOp::Message)
        .count();
    assert_eq!(
        messages, 5,
        "2 sent, 1 edited, 1 reacted, 1 deleted; the repeat logged nothing"
    );
    // A deletion takes the words out of the log too: no replay shows them.
    for c in &log {
        if let Change::Message { message, .. } = &c.change {
            assert_ne!(
                message.body, "are you there?",
                "a deleted message's text stayed in the log"
            );
        }
    }

    // A channel's name is taken case-insensitively, also by a rename.
    let other = store
        .create_chat_room(ws, ann, true, ChatKind::Channel, "random", None)
        .await
        .expect("channel");
    assert!(matches!(
        store.edit_chat_room(ws, ann, true, other.id, RoomEdit::Rename("GENERAL".into())).await,
        Err(DbError::Conflict(f)) if f == "name"
    ));
    // A retry of a message sent before the room was archived is answered with it; a new
    // one is refused.
    let kept = store
        .send_message(
            ws,
            ann,
            ChatTarget::Room(other.id),
            "last words",
            None,
            Some("g1"),
        )
        .await
        .expect("send");
    store
        .edit_chat_room(ws, ann, true, other.id, RoomEdit::Archive(true))
        .await
        .expect("archive");
    let retried = store
        .send_message(
            ws,
            ann,
            ChatTarget::Room(other.id),
            "last words",
            None,
            Some("g1"),
        )
        .await
        .expect("the retry's answer");
    assert_eq!(retried.id, kept.id);
    invalid_on(
        store
            .send_message(
                ws,
                ann,
                ChatTarget::Room(other.id),
                "more",
                None,
                Some("g2"),
            )
            .await
            .map(|_| ()),
        "room",
    );

    // An edit that adds a mention tells the one it adds.
    let note = store
        .send_message(
            ws,
            ann,
            ChatTarget::Room(general.id),
            "see the numbers",
            None,
            None,
        )
        .await
        .expect("send");
    let before = store
        .notifications(bo, None, 50)
        .await
        .expect("notices")
        .items
        .len();
    store
        .change_message(
            ws,
            ann,
            general.id,
            note.id,
            Some(&format!("see the numbers <@{bo}>")),
        )
        .await
        .expect("edit");
    let after = store.notifications(bo, None, 50).await.expect("notices");
    assert_eq!(after.items.len(), before + 1);
    assert_eq!(
        after.items[0].ntype,
        app::model::notify::NoticeType::Mention
    );
    assert_eq!(
        after.items[0].link.as_deref(),
        Some(format!("/w/talk/chat/{}", general.id).as_str())
    );

    // A member who leaves the workspace leaves its private rooms as a removal would:
    // logged in the room, the room handed on.
    let cys = store
        .create_chat_room(ws, cy, false, ChatKind::Private, "Cy's corner", None)
        .await
        .expect("private");
    let asked = store
        .invite_to_chat(ws, cy, cys.id, &[bo], now_ms() + 60_000)
        .await
        .expect("invite");
    store
        .answer_chat_invitation(ws, bo, asked[0].id, true, now_ms())
        .await
        .expect("accept");
    store.remove_member(ws, cy).await.expect("remove member");
    let head = store.room_head(Room::Chat(cys.id)).await.expect("head");
    let last = store
        .room_changes(
            Room::Chat(cys.id),
            head.epoch,
            head.offset - 1,
            head.offset,
            1,
        )
        .await
        .expect("log")
        .remove(0);
    match last.change {
        Change::ChatRoom {
            room, how, user, ..
        } => {
            assert_eq!((how, user), (app::model::chat::RoomHow::Removed, Some(cy)));
            assert_eq!(
                room.owner_id,
                Some(bo),
                "the room passed to the one left in it"
            );
        }
        other => panic!("expected the removal in the room's log, got {other:?}"),
    }
    assert_eq!(
        store.chat_room_workspace(cys.id, cy).await.expect("access"),
        None
    );
}

/// Calendars read back what was saved (defaults before); a meeting's bookings follow its
/// writes (create, decline, cancel, delete, restore), an overlapping one is refused,
/// titles show only in their workspace, and a due reminder is claimed once.
async fn calendars_and_bookings_keep_their_contract(store: &dyn Store, ws: i64, ann: i64) {
    use app::model::calendar::{Calendar, Window};
    use app::model::record::with_response;
    let bo = store
        .create_user(NewUser {
            email: Some("bo@example.com".into()),
            password_hash: None,
            display_name: "Bo".into(),
        })
        .await
        .expect("bo")
        .id;
    store
        .add_member(ws, bo, Role::Member)
        .await
        .expect("member");
    assert_eq!(
        store.calendar(bo).await.expect("default"),
        Calendar::default()
    );
    let mine = Calendar {
        time_zone: "Asia/Tokyo".into(),
        reminder_minutes: 25,
        weekly: vec![
            Window {
                weekday: 0,
                start_minute: 480,
                end_minute: 720,
            },
            Window {
                weekday: 0,
                start_minute: 780,
                end_minute: 1080,
            },
        ],
        days_off: vec!["2027-01-01".into()],
        published: true,
    };
    store.set_calendar(bo, &mine).await.expect("set");
    assert_eq!(store.calendar(bo).await.expect("read"), mine);
    store
        .set_calendar(
            bo,
            &Calendar {
                weekly: vec![],
                ..mine.clone()
            },
        )
        .await
        .expect("replace");
    assert!(
        store.calendar(bo).await.expect("read").weekly.is_empty(),
        "replaced, not added to"
    );

    let start = 1_900_000_000_000;
    let hour = 3_600_000;
    let meeting = |title: &str, from: i64, people: &str| {
        fields(&[
            ("title", text(title)),
            ("organizer_id", Value::Int(ann)),
            ("participants", text(people)),
            ("starts_at", Value::Int(from)),
            ("ends_at", Value::Int(from + hour)),
            ("status", text("scheduled")),
        ])
    };
    let m = store
        .create_record(
            ws,
            ann,
            RecordKind::Meeting,
            meeting("Plan", start, &bo.to_string()),
        )
        .await
        .expect("book");
    let busy = |users: Vec<i64>| async move {
        store
            .busy(ws, &users, start, start + hour)
            .await
            .expect("busy")
    };
    assert_eq!(
        busy(vec![ann, bo]).await.len(),
        2,
        "organizer and participant"
    );
    assert_eq!(busy(vec![bo]).await[0].title.as_deref(), Some("Plan"));
    let elsewhere = store
        .busy(ws + 1_000, &[bo], start, start + hour)
        .await
        .expect("busy");
    assert_eq!(
        (elsewhere.len(), elsewhere[0].title.as_deref()),
        (1, None),
        "busy, untitled elsewhere"
    );
    let clash = store
        .create_record(
            ws,
            ann,
            RecordKind::Meeting,
            meeting("Clash", start + hour / 2, ""),
        )
        .await;
    assert!(
        matches!(clash, Err(DbError::SlotTaken { ref field, .. }) if field == "starts_at"),
        "{clash:?}"
    );

    // Bo declines: his time is free; Ann cannot answer for him.
    let answer = |by: i64, value: Value| {
        let mut edit = BTreeMap::new();
        edit.insert(
            "rsvp".to_string(),
            FieldChange {
                base: Value::Null,
                value,
            },
        );
        store.update_record(ws, by, RecordKind::Meeting, m.id, edit)
    };
    let forged = answer(ann, with_response(&Value::Null, bo, "declined")).await;
    assert!(
        matches!(forged, Err(DbError::Invalid { ref field, .. }) if field == "rsvp"),
        "{forged:?}"
    );
    answer(bo, with_response(&Value::Null, bo, "declined"))
        .await
        .expect("decline");
    assert_eq!(busy(vec![bo]).await.len(), 0);
    assert_eq!(busy(vec![ann]).await.len(), 1);

    // Cancel, restore by status, delete, restore: the bookings follow.
    let set_status = |from: &str, to: &str| {
        let mut edit = BTreeMap::new();
        edit.insert(
            "status".to_string(),
            FieldChange {
                base: text(from),
                value: text(to),
            },
        );
        store.update_record(ws, ann, RecordKind::Meeting, m.id, edit)
    };
    set_status("scheduled", "cancelled").await.expect("cancel");
    assert!(busy(vec![ann]).await.is_empty());
    let again = set_status("cancelled", "scheduled").await.expect("back on");
    assert_eq!(busy(vec![ann]).await.len(), 1);
    store
        .delete_record(ws, ann, RecordKind::Meeting, m.id, again.version)
        .await
        .expect("delete");
    assert!(busy(vec![ann]).await.is_empty());
    store
        .restore_record(ws, ann, RecordKind::Meeting, m.id)
        .await
        .expect("restore");
    assert_eq!(busy(vec![ann]).await.len(), 1);

    // Reminders: due once Ann's lead (the default 10 minutes) reaches the start, claimed
    // once, never after the start.
    assert_eq!(
        store
            .send_due_reminders(start - 11 * 60_000)
            .await
            .expect("early"),
        0
    );
    assert_eq!(
        store
            .send_due_reminders(start - 9 * 60_000)
            .await
            .expect("due"),
        1
    );
    assert_eq!(
        store
            .send_due_reminders(start - 8 * 60_000)
            .await
            .expect("again"),
        0
    );
}

/// The ids of `rows` (sort value, id) in a list's order: rows with a value by value then
/// id in `dir`, then rows without one by id in `dir` (empty values last both ways).
fn keyset_order<K: Ord>(mut rows: Vec<(Option<K>, i64)>, dir: SortDir) -> Vec<i64> {
    rows.sort_by(|a, b| {
        let order = match (&a.0, &b.0) {
            (Some(x), Some(y)) => (x, a.1).cmp(&(y, b.1)),
            (Some(_), None) => return std::cmp::Ordering::Less,
            (None, Some(_)) => return std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(&b.1),
        };
        if dir == SortDir::Asc {
            order
        } else {
            order.reverse()
        }
    });
    rows.into_iter().map(|(_, id)| id).collect()
}

/// Keyset paging walks every row once in the list's order, both ways (empty values
/// last in either direction), searches by index and by scan agree, and the board's totals
/// follow creates, moves (many at once, in opposite directions), value changes and
/// deletes.
async fn lists_page_by_keyset_and_keep_board_totals(store: &dyn Store, ws: i64, actor: i64) {
    let stages = ["Prospecting", "Engaging", "Won", "Lost"];
    // 23 deals; every third has no value, and values repeat (ties broken by id).
    let rows: Vec<Fields> = (0..23)
        .map(|i| {
            let mut f = fields(&[
                ("code", text(&format!("D-{i:03}"))),
                ("stage", text(stages[i % 4])),
            ]);
            if i % 3 != 0 {
                f.insert("value".into(), Value::Int(100 * (i as i64 % 5)));
            }
            f
        })
        .collect();
    store
        .insert_records(ws, Some(actor), RecordKind::Deal, &rows)
        .await
        .expect("deals");
    let all = store
        .list_records(
            ws,
            RecordKind::Deal,
            &RecordQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .expect("all");
    assert_eq!((all.total, all.total_capped, all.next), (23, false, None));
    let value = |r: &app::model::Record| r.get("value").as_int();
    for dir in [SortDir::Asc, SortDir::Desc] {
        let expected = keyset_order(all.items.iter().map(|r| (value(r), r.id)).collect(), dir);
        let page = |after: Option<String>, before: Option<String>| {
            let q = RecordQuery {
                sort: Some("value".into()),
                dir,
                limit: 5,
                after,
                before,
                ..Default::default()
            };
            async move {
                store
                    .list_records(ws, RecordKind::Deal, &q)
                    .await
                    .expect("page")
            }
        };
        // Forward to the end...
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        let mut p = page(None, None).await;
        assert_eq!(p.prev, None, "the first page has none before it");
        loop {
            assert_eq!(p.total, 23);
            seen.extend(p.items.iter().map(|r| r.id));
            pages.push(p.items.iter().map(|r| r.id).collect::<Vec<_>>());
            match p.next.clone() {
                Some(next) => p = page(Some(next), None).await,
                None => break,
            }
        }
        assert_eq!(seen, expected, "{dir:?}: every row once, in order");
        assert_eq!(pages.len(), 5);
        // ...and back to the start, page by page.
        let mut back = pages.len() - 1;
        while let Some(prev) = p.prev.clone() {
            p = page(None, Some(prev)).await;
            back -= 1;
            assert_eq!(
                p.items.iter().map(|r| r.id).collect::<Vec<_>>(),
                pages[back],
                "{dir:?}: page {back} again"
            );
        }
        assert_eq!(back, 0, "{dir:?}: back at the first page");
    }
    let bad = store
        .list_records(
            ws,
            RecordKind::Deal,
            &RecordQuery {
                sort: Some("value".into()),
                after: Some("5.tnot a number".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(bad, Err(DbError::Invalid { ref field, .. }) if field == "after"),
        "{bad:?}"
    );

    // A search pages like the list, forward and back (its few matches are read through
    // the search index, then sorted), by a number or by text, with a filter beside it; on
    // SQLite "d-01" goes through the FTS5 index and "01" (two characters) by scan.
    for (term, stage) in [("d-01", None), ("01", None), ("d-0", Some("Won"))] {
        for (sort, dir) in [
            ("value", SortDir::Asc),
            ("value", SortDir::Desc),
            ("code", SortDir::Asc),
            ("code", SortDir::Desc),
        ] {
            let key = |r: &app::model::Record| match sort {
                "value" => value(r).map(|v| format!("{v:012}")),
                _ => Some(r.title().to_lowercase()),
            };
            let expected = keyset_order(
                all.items
                    .iter()
                    .filter(|r| r.title().to_lowercase().contains(term))
                    .filter(|r| stage.is_none_or(|s| r.get("stage").as_text() == Some(s)))
                    .map(|r| (key(r), r.id))
                    .collect(),
                dir,
            );
            assert!(expected.len() > 3, "{term}: more than a page to walk");
            let page = |after: Option<String>, before: Option<String>| {
                let mut q = RecordQuery {
                    sort: Some(sort.into()),
                    dir,
                    limit: 3,
                    after,
                    before,
                    search: Some(term.into()),
                    ..Default::default()
                };
                if let Some(s) = stage {
                    q.filters.insert("stage".into(), text(s));
                }
                async move {
                    store
                        .list_records(ws, RecordKind::Deal, &q)
                        .await
                        .expect("search page")
                }
            };
            let what = format!("{term} {stage:?} by {sort} {dir:?}");
            let mut pages = Vec::new();
            let mut p = page(None, None).await;
            loop {
                assert_eq!(p.total, expected.len() as i64, "{what}: total");
                pages.push(p.items.iter().map(|r| r.id).collect::<Vec<_>>());
                match p.next.clone() {
                    Some(next) => p = page(Some(next), None).await,
                    None => break,
                }
            }
            assert_eq!(
                pages.concat(),
                expected,
                "{what}: every match once, in order"
            );
            let mut back = pages.len() - 1;
            while let Some(prev) = p.prev.clone() {
                p = page(None, Some(prev)).await;
                back -= 1;
                let ids: Vec<i64> = p.items.iter().map(|r| r.id).collect();
                assert_eq!(ids, pages[back], "{what}: page {back} again");
            }
            assert_eq!(back, 0, "{what}: back at the first page");
        }
    }

    // Search: by index (three characters or more) and by scan (fewer) agree.
    let codes = |term: &str| {
        let q = RecordQuery {
            search: Some(term.into()),
            limit: 500,
            ..Default::default()
        };
        async move {
            store
                .list_records(ws, RecordKind::Deal, &q)
                .await
                .expect("search")
                .items
                .iter()
                .map(|r| r.title())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        codes("d-01").await,
        (10..20).map(|i| format!("D-{i:03}")).collect::<Vec<_>>()
    );
    assert_eq!(codes("-02").await, ["D-020", "D-021", "D-022"]);
    assert_eq!(codes("22").await, ["D-022"]);
    assert!(codes("d-1000").await.is_empty());

    // Board totals: as created...
    let expected_totals = || async {
        let mut out = Vec::new();
        for stage in stages {
            let mut q = RecordQuery {
                limit: 500,
                ..Default::default()
            };
            q.filters.insert("stage".into(), text(stage));
            let items = store
                .list_records(ws, RecordKind::Deal, &q)
                .await
                .expect("column")
                .items;
            let amount: i64 = items.iter().filter_map(value).sum();
            out.push((stage.to_string(), items.len() as i64, amount));
        }
        out
    };
    let totals = || async {
        store
            .board_totals(ws, RecordKind::Deal)
            .await
            .expect("totals")
            .into_iter()
            .map(|t| (t.column, t.count, t.amount))
            .collect::<Vec<_>>()
    };
    let before = totals().await;
    assert_eq!(before, expected_totals().await);
    assert_eq!(before.iter().map(|t| t.1).sum::<i64>(), 23);
    // ...after moves in opposite directions at once, a value change and a delete.
    let moves = all.items.iter().take(16).map(|r| {
        let from = r.get("stage").clone();
        let to = if from == text("Won") { "Lost" } else { "Won" };
        let mut change = BTreeMap::new();
        change.insert(
            "stage".to_string(),
            FieldChange {
                base: from,
                value: text(to),
            },
        );
        store.update_record(ws, actor, RecordKind::Deal, r.id, change)
    });
    for moved in futures::future::join_all(moves).await {
        moved.expect("moved");
    }
    let repriced = &all.items[20];
    let mut change = BTreeMap::new();
    change.insert(
        "value".to_string(),
        FieldChange {
            base: repriced.get("value").clone(),
            value: Value::Int(123_456),
        },
    );
    store
        .update_record(ws, actor, RecordKind::Deal, repriced.id, change)
        .await
        .expect("repriced");
    let gone = store
        .record(ws, RecordKind::Deal, all.items[21].id)
        .await
        .expect("deal");
    store
        .delete_record(ws, actor, RecordKind::Deal, gone.id, gone.version)
        .await
        .expect("deleted");
    let after = totals().await;
    assert_ne!(after, before);
    assert_eq!(after, expected_totals().await);
    assert_eq!(after.iter().map(|t| t.1).sum::<i64>(), 22);
}

/// `insert_records` (the seed's bulk load) stores every row, in statements of many rows,
/// with one bulk event in the workspace's room; a taken natural key fails the whole
/// batch.
async fn bulk_inserts_keep_keys_and_tell_the_workspace(store: &dyn Store, ws: i64, actor: i64) {
    let room = Room::Workspace(ws);
    let before = store.room_head(room).await.expect("head");
    let rows: Vec<Fields> = (0..130)
        .map(|i| {
            fields(&[
                ("name", text(&format!("Bulk {i}"))),
                ("employees", Value::Int(i)),
            ])
        })
        .collect();
    let n = store
        .insert_records(ws, Some(actor), RecordKind::Customer, &rows)
        .await
        .expect("bulk insert");
    assert_eq!(n, 130);
    let keys = store
        .ids_by_key(ws, RecordKind::Customer)
        .await
        .expect("keys");
    assert!((0..130).all(|i| keys.contains_key(&format!("Bulk {i}"))));
    let after = store.room_head(room).await.expect("head");
    assert_eq!(after.offset, before.offset + 1, "one bulk event");
    let taken = vec![fields(&[("name", text("Bulk 7"))])];
    let e = store
        .insert_records(ws, Some(actor), RecordKind::Customer, &taken)
        .await
        .expect_err("a taken name");
    assert!(
        matches!(e, DbError::Conflict(ref f) if f == "name"),
        "{e:?}"
    );
}

/// A valid value of the field's kind, different for each `n` (so an edit changes
/// something); `None` for references, which need a record to point at.
fn sample(def: &FieldDef, n: i64, member: i64) -> Option<Value> {
    let v = match def.kind {
        FieldKind::Text { .. } | FieldKind::LongText | FieldKind::Tags => {
            text(&format!("{} {n}", def.caption))
        }
        FieldKind::Integer { min, max } => Value::Int((min + n).min(max)),
        FieldKind::Decimal => Value::Float(n as f64 + 0.5),
        FieldKind::Money => Value::Int(100 * n),
        FieldKind::Date => text(&format!("2020-01-{:02}", n.clamp(1, 28))),
        FieldKind::Choice(options) => text(options[n as usize % options.len()]),
        FieldKind::Member => Value::Int(member),
        FieldKind::Members => text(&member.to_string()),
        FieldKind::Responses => text(&format!(
            "{member}:{}",
            app::model::record::RSVP_RESPONSES[n as usize % 4]
        )),
        // An end an hour after the start, so a schedule's end stays after its start.
        FieldKind::DateTime if def.name.starts_with("end") => {
            Value::Int(1_795_356_300_000 + n * 60_000 + 3_600_000)
        }
        FieldKind::DateTime => Value::Int(1_795_356_300_000 + n * 60_000),
        FieldKind::Duration => Value::Int(60 * n),
        FieldKind::Boolean => Value::Int(n % 2),
        FieldKind::Ref(_) | FieldKind::AnyRef(_) => return None,
    };
    Some(def.normalize(v).expect("a valid sample"))
}

/// The record contract for every kind its spec declares, with no knowledge of any kind:
/// create, find by search, merge two edits of different fields from one base, refuse a
/// real clash, tombstone, and log each change in the record's room and its workspace's.
async fn every_kind_keeps_the_record_contract(store: &dyn Store, ws: i64, actor: i64) {
    for kind in RecordKind::ALL {
        let spec = kind.spec();
        let first: Fields = kind
            .fields()
            .iter()
            .filter_map(|d| sample(d, 1, actor).map(|v| (d.name.to_string(), v)))
            .collect();
        let workspace_before = store.room_head(Room::Workspace(ws)).await.expect("head");
        let created = store
            .create_record(ws, actor, kind, first.clone())
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: create: {e}"));
        assert_eq!(created.version, 1, "{kind:?}");
        for (name, value) in &first {
            assert_eq!(created.get(name), value, "{kind:?}.{name}");
        }
        let found = store
            .list_records(
                ws,
                kind,
                &RecordQuery {
                    search: Some(created.title().to_uppercase()),
                    ..Default::default()
                },
            )
            .await
            .expect("search");
        assert!(
            found.items.iter().any(|r| r.id == created.id),
            "{kind:?}: found by its title"
        );

        // Two fields that are neither the title nor the key, edited from the same base.
        let editable: Vec<&FieldDef> = kind
            .fields()
            .iter()
            .filter(|d| d.name != spec.title_field && Some(d.name) != spec.natural_key)
            .filter(|d| {
                !matches!(
                    d.kind,
                    FieldKind::Ref(_)
                        | FieldKind::Member
                        | FieldKind::Members
                        | FieldKind::Responses
                )
            })
            .collect();
        let (a, b) = (editable[0], editable[1]);
        for def in [a, b] {
            let mut edit = BTreeMap::new();
            edit.insert(
                def.name.to_string(),
                FieldChange {
                    base: first[def.name].clone(),
                    value: sample(def, 2, actor).expect("sample"),
                },
            );
            store
                .update_record(ws, actor, kind, created.id, edit)
                .await
                .unwrap_or_else(|e| panic!("{kind:?}: merge {}: {e}", def.name));
        }
        let merged = store.record(ws, kind, created.id).await.expect("record");
        assert_eq!(merged.version, 3, "{kind:?}: both edits applied");
        let mut clash = BTreeMap::new();
        clash.insert(
            a.name.to_string(),
            FieldChange {
                base: first[a.name].clone(),
                value: sample(a, 3, actor).expect("sample"),
            },
        );
        assert!(
            matches!(
                store
                    .update_record(ws, actor, kind, created.id, clash)
                    .await,
                Err(DbError::EditConflict { .. })
            ),
            "{kind:?}: a real clash is a conflict"
        );

        store
            .delete_record(ws, actor, kind, created.id, merged.version)
            .await
            .expect("delete");
        assert!(matches!(
            store.record(ws, kind, created.id).await,
            Err(DbError::Deleted { .. })
        ));

        let own = Room::Record(kind, created.id);
        let head = store.room_head(own).await.expect("head");
        let ops: Vec<ChangeOp> = store
            .room_changes(own, head.epoch, 0, head.offset, 100)
            .await
            .expect("changes")
            .iter()
            .map(|c| c.change.op())
            .collect();
        assert_eq!(
            ops,
            [
                ChangeOp::Created,
                ChangeOp::Updated,
                ChangeOp::Updated,
                ChangeOp::Deleted
            ],
            "{kind:?}: its own room"
        );
        let workspace_after = store.room_head(Room::Workspace(ws)).await.expect("head");
        assert_eq!(
            workspace_after.offset,
            workspace_before.offset + 4,
            "{kind:?}: the workspace room"
        );
    }
}

#[tokio::test]
async fn sqlite_keeps_the_store_contract() {
    let dir = tempfile::tempdir().expect("dir");
    let db = server::db::connect(&format!(
        "sqlite://{}/nested/folder/t.db",
        dir.path().display()
    ))
    .await
    .expect("sqlite");
    contract(db.store.as_ref()).await;
}

#[tokio::test]
async fn postgres_keeps_the_store_contract() {
    if std::env::var("TEST_DATABASE_URL")
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        // The test command always sets it (and TANDEM_REQUIRE_POSTGRES); a bare
        // `cargo test` on a machine without PostgreSQL runs the SQLite contract only.
        assert!(
            std::env::var_os("TANDEM_REQUIRE_POSTGRES").is_none(),
            "TEST_DATABASE_URL must be set"
        );
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL contract not run");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let url = crate::common::fresh_database_url(&dir).await;
    let db = server::db::connect(&url).await.expect("postgres");
    contract(db.store.as_ref()).await;
}
