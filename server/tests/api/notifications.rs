//! Notifications and the activity feed over HTTP and `/ws`: each trigger tells the right
//! members and never the actor, missed notifications arrive once on the next connection,
//! read state follows across sockets, preferences hold, nothing crosses workspaces, and
//! the CSV export matches its filter.

use crate::common::{spawn_app, update_field, TestApp};
use crate::realtime::{
    connect, events, person, person_from, subscribe, until_pong, workspace_with_owner, Person,
};
use app::api::activity::ListActivity;
use app::api::notifications::{
    Announce, ListNotifications, MarkAllNotificationsRead, MarkNotificationsRead, SetFollowing,
    SetNotificationPref,
};
use app::api::records::CreateRecord;
use app::error::AppError;
use app::model::activity::{ActivityFilter, FeedType};
use app::model::notify::{NoticePage, NoticePref, NoticeType, Priority};
use app::model::{Fields, RecordKind, Value};
use app::realtime::protocol::{Change, ChangeOp, Room, ServerFrame};

/// The first page of `p`'s notifications.
async fn notices(app: &TestApp, p: &Person) -> NoticePage {
    let args = ListNotifications {
        before: None,
        limit: None,
    };
    app.run(&p.http, args).await.expect("list notifications")
}

/// The types of `p`'s notifications, newest first.
async fn types(app: &TestApp, p: &Person) -> Vec<NoticeType> {
    notices(app, p)
        .await
        .items
        .iter()
        .map(|n| n.ntype)
        .collect()
}

/// A member of `slug` with `role`, invited by `admin`, as a [`Person`].
async fn member(app: &TestApp, admin: &Person, slug: &str, role: &str, email: &str) -> Person {
    let http = app.member_with_role(&admin.http, slug, role, email).await;
    person_from(app, http).await
}

/// Creates a `kind` record with `fields` as `p`.
async fn create(
    app: &TestApp,
    p: &Person,
    slug: &str,
    kind: RecordKind,
    fields: &[(&str, Value)],
) -> i64 {
    let fields: Fields = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let args = CreateRecord {
        slug: slug.into(),
        kind,
        fields,
    };
    app.run(&p.http, args).await.expect("create").id
}

/// Sets one field as `p`, from whatever it holds now.
async fn set(
    app: &TestApp,
    p: &Person,
    slug: &str,
    kind: RecordKind,
    id: i64,
    field: &str,
    value: Value,
) {
    let ws = app.store.workspace_by_slug(slug).await.expect("ws").id;
    let base = app
        .store
        .record(ws, kind, id)
        .await
        .expect("record")
        .get(field)
        .clone();
    app.run(&p.http, update_field(slug, kind, id, field, base, value))
        .await
        .expect("update");
}

#[tokio::test]
async fn each_trigger_tells_the_right_members_and_never_the_actor() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    // Ann is told of the invites her colleagues accept; the joiners are not.
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    let cat = member(&app, &ann, &slug, "member", "cat@example.com").await;
    assert_eq!(
        types(&app, &ann).await,
        vec![NoticeType::InviteAccepted, NoticeType::InviteAccepted]
    );
    assert!(notices(&app, &ann).await.items[0]
        .title
        .contains("cat@example.com"));
    assert!(types(&app, &bob).await.is_empty() && types(&app, &cat).await.is_empty());

    // Assignment: the new owner is told, not the one who assigned; taking it oneself
    // tells nobody.
    let deal = create(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        &[("stage", Value::Text("Prospecting".into()))],
    )
    .await;
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        deal,
        "owner_id",
        Value::Int(bob.id),
    )
    .await;
    let got = notices(&app, &bob).await;
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.items[0].ntype, NoticeType::Assigned);
    assert_eq!(got.items[0].actor, Some(ann.id));
    assert_eq!(
        got.items[0].link.as_deref(),
        Some(format!("/w/{slug}/deals/{deal}").as_str())
    );
    assert_eq!(got.unread, 1);
    set(
        &app,
        &bob,
        &slug,
        RecordKind::Deal,
        deal,
        "owner_id",
        Value::Int(bob.id),
    )
    .await;
    set(
        &app,
        &cat,
        &slug,
        RecordKind::Deal,
        deal,
        "owner_id",
        Value::Int(cat.id),
    )
    .await;
    assert_eq!(
        types(&app, &bob).await.len(),
        1,
        "nothing for what one does oneself"
    );
    assert!(types(&app, &cat).await.is_empty(), "cat took it herself");

    // Mentions: each member mentioned anew, once; an outsider mentioned gets nothing.
    let outsider = person(&app, "out@example.com").await;
    let acme = create(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        &[("name", Value::Text("Acme".into()))],
    )
    .await;
    let notes = format!("ask <@{}> and <@{}>, cc <@{}>", bob.id, outsider.id, ann.id);
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "notes",
        Value::Text(notes.clone()),
    )
    .await;
    let b = notices(&app, &bob).await;
    assert_eq!(b.items[0].ntype, NoticeType::Mention);
    assert!(
        b.items[0].title.contains("customer Acme"),
        "{}",
        b.items[0].title
    );
    assert!(
        b.items[0].body.contains("@bob@example.com"),
        "names shown: {}",
        b.items[0].body
    );
    assert!(
        types(&app, &outsider).await.is_empty(),
        "a non-member is never told"
    );
    assert_eq!(types(&app, &ann).await.len(), 2, "no mention of oneself");
    set(
        &app,
        &cat,
        &slug,
        RecordKind::Customer,
        acme,
        "notes",
        Value::Text(format!("{notes}!")),
    )
    .await;
    assert_eq!(
        types(&app, &bob).await.len(),
        2,
        "a mention already there is not news"
    );

    // Overwrite after a conflict: the one whose value was replaced is told.
    set(
        &app,
        &bob,
        &slug,
        RecordKind::Customer,
        acme,
        "sector",
        Value::Text("retail".into()),
    )
    .await;
    let mut overwrite = update_field(
        &slug,
        RecordKind::Customer,
        acme,
        "sector",
        Value::Null,
        Value::Text("media".into()),
    );
    overwrite.overwrite = Some(vec!["sector".into()]);
    app.run(&cat.http, overwrite).await.expect("overwrite");
    let b = notices(&app, &bob).await;
    assert_eq!(b.items[0].ntype, NoticeType::Overwritten);
    assert!(b.items[0].body.contains("Sector"));
    assert!(!types(&app, &cat).await.contains(&NoticeType::Overwritten));

    // High priority: owner and followers hear of any change; an unfollow stops it.
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "owner_id",
        Value::Int(bob.id),
    )
    .await;
    let follow = |p: &Person, on| {
        let args = SetFollowing {
            slug: slug.clone(),
            kind: RecordKind::Customer,
            id: acme,
            on,
        };
        let http = p.http.clone();
        let app = &app;
        async move { app.run(&http, args).await.expect("follow") }
    };
    follow(&cat, true).await;
    let before = (types(&app, &bob).await.len(), types(&app, &cat).await.len());
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "sector",
        Value::Text("energy".into()),
    )
    .await;
    assert_eq!(
        (types(&app, &bob).await.len(), types(&app, &cat).await.len()),
        before,
        "not high priority yet"
    );
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "priority",
        Value::Text("high".into()),
    )
    .await;
    assert_eq!(types(&app, &bob).await[0], NoticeType::PriorityChange);
    assert_eq!(types(&app, &cat).await[0], NoticeType::PriorityChange);
    follow(&cat, false).await;
    let cats = types(&app, &cat).await.len();
    set(
        &app,
        &bob,
        &slug,
        RecordKind::Customer,
        acme,
        "sector",
        Value::Text("retail".into()),
    )
    .await;
    assert_eq!(types(&app, &cat).await.len(), cats, "unfollowed");
    assert_eq!(
        types(&app, &bob)
            .await
            .iter()
            .filter(|t| **t == NoticeType::PriorityChange)
            .count(),
        1,
        "the owner is not told of their own change"
    );

    // Announcements: admins only; every other member is told, urgent stays urgent.
    let args = |priority| Announce {
        slug: slug.clone(),
        title: "Office closed Friday".into(),
        body: "Enjoy the weekend.".into(),
        priority: Some(priority),
    };
    assert!(matches!(
        app.run(&bob.http, args(Priority::Info)).await,
        Err(AppError::Forbidden(_))
    ));
    app.run(&ann.http, args(Priority::Urgent))
        .await
        .expect("announce");
    for p in [&bob, &cat] {
        let n = &notices(&app, p).await.items[0];
        assert_eq!(
            (n.ntype, n.priority),
            (NoticeType::Announcement, Priority::Urgent)
        );
    }
    assert_ne!(types(&app, &ann).await[0], NoticeType::Announcement);
}

#[tokio::test]
async fn missed_notifications_arrive_once_on_connect_and_read_state_follows_every_socket() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    let room = Room::User(bob.id);
    // Bob's tab loaded his list, then closed; two things happen while he has no socket.
    let seen = notices(&app, &bob).await.position.expect("position");
    let deal = create(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        &[("stage", Value::Text("Won".into()))],
    )
    .await;
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        deal,
        "owner_id",
        Value::Int(bob.id),
    )
    .await;
    let acme = create(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        &[("name", Value::Text("Acme".into()))],
    )
    .await;
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "notes",
        Value::Text(format!("<@{}>", bob.id)),
    )
    .await;

    // Reconnecting from where the tab was: both, in order, each once, and nothing more.
    let mut one = connect(&app, &bob).await;
    subscribe(&mut one, room, Some(seen)).await;
    let got = events(&mut one, room, 2).await;
    let ids: Vec<i64> = got
        .iter()
        .map(|(_, c)| match c {
            Change::Notice { notification, .. } => notification.id,
            other => panic!("expected a notice, got {other:?}"),
        })
        .collect();
    let listed: Vec<i64> = notices(&app, &bob)
        .await
        .items
        .iter()
        .rev()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, listed);
    assert!(
        until_pong(&mut one)
            .await
            .iter()
            .all(|f| !matches!(f, ServerFrame::Event { .. })),
        "no duplicate"
    );
    // A fresh page load lists both and subscribes from its own position: no replay.
    let page = notices(&app, &bob).await;
    assert_eq!((page.items.len(), page.unread), (2, 2));
    let mut two = connect(&app, &bob).await;
    subscribe(&mut two, room, page.position).await;
    assert!(until_pong(&mut two)
        .await
        .iter()
        .all(|f| !matches!(f, ServerFrame::Event { .. })));

    // Marking one read on one tab reaches both sockets; so does mark all read.
    let first = ids[0];
    let read = app
        .run(&bob.http, MarkNotificationsRead { ids: vec![first] })
        .await
        .expect("mark read");
    assert_eq!(read.len(), 1);
    for ws in [&mut one, &mut two] {
        match &events(ws, room, 1).await[0].1 {
            Change::Notice { notification, .. } => {
                assert_eq!(notification.id, first);
                assert!(notification.read_at.is_some());
            }
            other => panic!("expected a notice, got {other:?}"),
        }
    }
    assert_eq!(notices(&app, &bob).await.unread, 1);
    let upto = app
        .run(&bob.http, MarkAllNotificationsRead {})
        .await
        .expect("all read");
    assert_eq!(upto, ids[1]);
    for ws in [&mut one, &mut two] {
        assert!(
            matches!(&events(ws, room, 1).await[0].1, Change::NoticesRead { upto: u, .. } if *u == upto)
        );
    }
    assert_eq!(notices(&app, &bob).await.unread, 0);
    // Someone else's ids change nothing of theirs.
    let none = app
        .run(&ann.http, MarkNotificationsRead { ids: vec![first] })
        .await
        .expect("mark");
    assert!(none.is_empty());
}

#[tokio::test]
async fn preferences_are_honoured_per_type() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    let off = NoticePref {
        ntype: NoticeType::Assigned,
        in_app: false,
        sound: false,
        browser: false,
    };
    app.run(&bob.http, SetNotificationPref { pref: off })
        .await
        .expect("pref");
    let deal = create(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        &[("stage", Value::Text("Won".into()))],
    )
    .await;
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        deal,
        "owner_id",
        Value::Int(bob.id),
    )
    .await;
    assert!(types(&app, &bob).await.is_empty(), "assignments are off");
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Deal,
        deal,
        "notes",
        Value::Text(format!("<@{}>", bob.id)),
    )
    .await;
    assert_eq!(
        types(&app, &bob).await,
        vec![NoticeType::Mention],
        "mentions are on"
    );
    let prefs = app
        .run(&bob.http, app::api::notifications::GetNotificationPrefs {})
        .await
        .expect("prefs");
    assert_eq!(prefs.len(), NoticeType::ALL.len());
    assert_eq!(
        prefs.iter().find(|p| p.ntype == NoticeType::Assigned),
        Some(&off)
    );
}

#[tokio::test]
async fn nothing_crosses_workspaces() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let zed = person(&app, "zed@example.com").await;
    let other = app.create_workspace_as(&zed.http, "Other").await;
    let acme = create(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        &[("name", Value::Text("Acme".into()))],
    )
    .await;
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "notes",
        Value::Text(format!("<@{}>", zed.id)),
    )
    .await;
    assert!(
        types(&app, &zed).await.is_empty(),
        "zed is not a member of ann's workspace"
    );
    let feed = |slug: &str, feed| ListActivity {
        slug: slug.into(),
        feed,
        filter: None,
        before: None,
        limit: None,
    };
    // Nor does ann's workspace learn zed's name from a typed mention of his id.
    let acme_feed = FeedType::Record {
        kind: RecordKind::Customer,
        id: acme,
    };
    let page = app
        .run(&ann.http, feed(&slug, acme_feed))
        .await
        .expect("ann's feed");
    let notes = &page.entries[0].fields[0];
    assert_eq!(notes.after, format!("<@{}>", zed.id));
    let export = ann
        .http
        .get(format!(
            "{}/api/export_activity?workspace={slug}&feed={}",
            app.base,
            app::model::percent_encode(&serde_json::to_string(&acme_feed).expect("json"))
        ))
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("csv");
    assert!(!export.contains("zed@example.com"), "{export}");
    assert!(matches!(
        app.run(&zed.http, feed(&slug, FeedType::Global)).await,
        Err(AppError::NotFound(_))
    ));
    let record = FeedType::Record {
        kind: RecordKind::Customer,
        id: acme,
    };
    assert!(matches!(
        app.run(&zed.http, feed(&other, record)).await,
        Err(AppError::NotFound(_))
    ));
    let own = app
        .run(&zed.http, feed(&other, FeedType::Global))
        .await
        .expect("own feed");
    assert!(own
        .entries
        .iter()
        .all(|e| e.record != Some((RecordKind::Customer, acme))));
    let res = zed
        .http
        .get(format!("{}/api/export_activity?workspace={slug}", app.base))
        .send()
        .await
        .expect("export");
    assert_eq!(res.status().as_u16(), 404);
    let mut ws = connect(&app, &zed).await;
    crate::realtime::send(
        &mut ws,
        &app::realtime::protocol::ClientFrame::Subscribe {
            room: Room::User(ann.id),
            since: None,
        },
    )
    .await;
    assert!(until_pong(&mut ws)
        .await
        .iter()
        .any(|f| matches!(f, ServerFrame::Error { .. })));
}

#[tokio::test]
async fn a_record_feed_tells_who_changed_what_from_what() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    let acme = create(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        &[
            ("name", Value::Text("Acme".into())),
            ("sector", Value::Text("retail".into())),
        ],
    )
    .await;
    set(
        &app,
        &bob,
        &slug,
        RecordKind::Customer,
        acme,
        "sector",
        Value::Text("energy".into()),
    )
    .await;
    set(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        acme,
        "owner_id",
        Value::Int(bob.id),
    )
    .await;
    let feed = FeedType::Record {
        kind: RecordKind::Customer,
        id: acme,
    };
    let list = |filter: ActivityFilter| ListActivity {
        slug: slug.clone(),
        feed,
        filter: Some(filter),
        before: None,
        limit: None,
    };
    let all = app
        .run(&ann.http, list(ActivityFilter::default()))
        .await
        .expect("feed");
    let ops: Vec<ChangeOp> = all.entries.iter().map(|e| e.op).collect();
    assert_eq!(
        ops,
        vec![ChangeOp::Updated, ChangeOp::Updated, ChangeOp::Created]
    );
    let owner = &all.entries[0].fields[0];
    assert_eq!(
        (
            owner.caption.as_str(),
            owner.before.as_str(),
            owner.after.as_str()
        ),
        ("Owner", "", "bob@example.com")
    );
    let sector = &all.entries[1];
    assert_eq!(sector.actor_name, "bob@example.com");
    assert_eq!(
        (
            sector.fields[0].before.as_str(),
            sector.fields[0].after.as_str()
        ),
        ("retail", "energy")
    );
    let bobs = app
        .run(
            &ann.http,
            list(ActivityFilter {
                user: Some(bob.id),
                ..Default::default()
            }),
        )
        .await
        .expect("by user");
    assert_eq!(bobs.entries.len(), 1);
    let text = app
        .run(
            &ann.http,
            list(ActivityFilter {
                text: Some("ENERGY".into()),
                ..Default::default()
            }),
        )
        .await
        .expect("by text");
    assert_eq!(text.entries.len(), 1);
    // The member's own feed is what they did anywhere in the workspace.
    let mine = ListActivity {
        slug: slug.clone(),
        feed: FeedType::User { id: bob.id },
        filter: None,
        before: None,
        limit: None,
    };
    let mine = app.run(&ann.http, mine).await.expect("member feed");
    assert!(mine.entries.iter().all(|e| e.actor == Some(bob.id)));
    assert_eq!(mine.entries.len(), 2, "bob joined and changed the sector");
}

#[tokio::test]
async fn the_csv_export_of_ten_thousand_rows_matches_its_filter() {
    let app = spawn_app().await;
    let (ann, slug, ws) = workspace_with_owner(&app).await;
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    let acme = create(
        &app,
        &ann,
        &slug,
        RecordKind::Customer,
        &[("name", Value::Text("Acme".into()))],
    )
    .await;
    // 10,000 logged edits of Acme's sector, alternating Ann and Bob, written straight to
    // the log (the export reads only the log).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url)
        .await
        .expect("pool");
    let room = Room::Workspace(ws);
    let head = app.store.room_head(room).await.expect("head");
    let mut tx = pool.begin().await.expect("tx");
    for chunk in 0..100 {
        let mut sql = String::from(
            "INSERT INTO room_events (room, epoch, event_offset, payload, created_at, actor_id, op) VALUES ",
        );
        for i in 0..100 {
            let n = chunk * 100 + i + 1;
            let actor = if n % 2 == 0 { bob.id } else { ann.id };
            let change = Change::Updated {
                kind: RecordKind::Customer,
                id: acme,
                workspace_id: ws,
                version: n + 1,
                title: Some("Acme".into()),
                fields: Fields::from([("sector".into(), Value::Text(format!("s{n}")))]),
                before: Fields::from([("sector".into(), Value::Text(format!("s{}", n - 1)))]),
                titles: Default::default(),
                overwritten: Vec::new(),
                overwrote: Vec::new(),
                actor: Some(actor),
                at: 1_000 + n,
            };
            let payload = serde_json::to_string(&change)
                .expect("json")
                .replace('\'', "''");
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "('{}', {}, {}, '{payload}', {}, {actor}, 'updated')",
                room.name(),
                head.epoch,
                head.offset + n,
                1_000 + n
            ));
        }
        sqlx::query(&sql).execute(&mut *tx).await.expect("insert");
    }
    tx.commit().await.expect("commit");

    let filter = ActivityFilter {
        user: Some(bob.id),
        ops: vec![ChangeOp::Updated],
        ..Default::default()
    };
    let url = format!(
        "{}/api/export_activity?workspace={slug}&filter={}",
        app.base,
        app::model::percent_encode(&serde_json::to_string(&filter).expect("json"))
    );
    // A browser asks for it compressed: the compressed stream ends cleanly too.
    let zipped = ann
        .http
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("export");
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert!(!zipped.bytes().await.expect("the whole body").is_empty());
    let res = ann.http.get(url).send().await.expect("export");
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("attachment"));
    let text = res.text().await.expect("csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a csv row")).collect();
    assert_eq!(rows.len(), 5_000, "Bob's 5,000 edits, nothing else");
    assert!(rows
        .iter()
        .all(|r| &r[1] == "bob@example.com" && &r[2] == "updated" && &r[6] == "Sector"));
    // Newest first, each with its own before and after.
    assert_eq!((&rows[0][7], &rows[0][8]), ("s9999", "s10000"));
    assert_eq!((&rows[4_999][7], &rows[4_999][8]), ("s1", "s2"));
}

#[tokio::test]
async fn snoozed_and_dismissed_notifications_leave_the_list_and_the_count() {
    use app::api::notifications::{DismissNotification, SnoozeNotification};
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    for name in ["One", "Two"] {
        let fields = [
            ("name", Value::Text(name.into())),
            ("owner_id", Value::Int(bob.id)),
        ];
        create(&app, &ann, &slug, RecordKind::Customer, &fields).await;
    }
    let page = notices(&app, &bob).await;
    assert_eq!((page.items.len(), page.unread), (2, 2));
    let (newer, older) = (page.items[0].id, page.items[1].id);
    let hour = app::model::now_ms() + 60 * 60 * 1000;
    let snoozed = app
        .run(
            &bob.http,
            SnoozeNotification {
                id: newer,
                until: hour,
            },
        )
        .await
        .expect("snooze");
    assert_eq!(snoozed.snoozed_until, Some(hour));
    let page = notices(&app, &bob).await;
    assert_eq!(
        (page.items.len(), page.unread),
        (1, 1),
        "snoozed: out of list and count"
    );
    app.run(&bob.http, DismissNotification { id: older })
        .await
        .expect("dismiss");
    let page = notices(&app, &bob).await;
    assert_eq!((page.items.len(), page.unread), (0, 0));
    // A past time is refused; another user's notification is not found.
    let past = SnoozeNotification {
        id: newer,
        until: 1,
    };
    assert!(matches!(
        app.run(&bob.http, past).await,
        Err(AppError::Validation { .. })
    ));
    let theirs = DismissNotification { id: newer };
    assert!(matches!(
        app.run(&ann.http, theirs).await,
        Err(AppError::NotFound(_))
    ));
}
