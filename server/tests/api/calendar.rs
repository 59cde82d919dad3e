//! Meetings, calendars and reminders over HTTP, on SQLite and PostgreSQL: a slot is
//! booked once however many try at once, overlaps are refused and cancelling frees the
//! slot, availability follows time zones across a daylight-saving change, reminders go
//! out once across restarts and nodes, invitations are answered by the invited only,
//! and nothing crosses workspaces.

use std::sync::Arc;

use crate::common::{spawn_app, test_settings, update_field, TestApp};
use crate::realtime::{person_from, workspace_with_owner, Person};
use app::api::calendar::{AnswerInvitation, GetCalendar, ListFreeSlots, SetCalendar};
use app::api::notifications::ListNotifications;
use app::api::records::CreateRecord;
use app::error::AppError;
use app::model::calendar::{Calendar, Window};
use app::model::notify::NoticeType;
use app::model::record::time::parse_instant;
use app::model::{Fields, Record, RecordKind, Value};

fn ms(s: &str) -> i64 {
    parse_instant(s).expect("an instant")
}

const HOUR: i64 = 3_600_000;

/// A member of `slug` with `role`, invited by `admin`.
async fn member(app: &TestApp, admin: &Person, slug: &str, role: &str, email: &str) -> Person {
    let http = app.member_with_role(&admin.http, slug, role, email).await;
    person_from(app, http).await
}

/// The arguments that book a meeting `title` from `start` to `end` with `participants`
/// (the caller organizes it).
fn meeting(slug: &str, title: &str, start: i64, end: i64, participants: &[i64]) -> CreateRecord {
    let ids: Vec<String> = participants.iter().map(i64::to_string).collect();
    let fields: Fields = [
        ("title", Value::Text(title.into())),
        ("starts_at", Value::Int(start)),
        ("ends_at", Value::Int(end)),
        ("status", Value::Text("scheduled".into())),
        ("participants", Value::Text(ids.join(","))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    CreateRecord {
        slug: slug.into(),
        kind: RecordKind::Meeting,
        fields,
    }
}

/// Whether `r` is the refusal of a taken slot.
fn just_taken<T: std::fmt::Debug>(r: &Result<T, AppError>) -> bool {
    matches!(r, Err(AppError::Validation { field, message })
        if field == "starts_at" && message.contains("just taken"))
}

/// The types of `p`'s notifications, newest first.
async fn notice_types(app: &TestApp, p: &Person) -> Vec<NoticeType> {
    let page = app
        .run(
            &p.http,
            ListNotifications {
                before: None,
                limit: None,
            },
        )
        .await
        .expect("notifications");
    page.items.iter().map(|n| n.ntype).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_bookings_of_one_slot_leave_exactly_one() {
    let app = Arc::new(spawn_app().await);
    let (ann, slug, ws) = workspace_with_owner(&app).await;
    let zed = member(&app, &ann, &slug, "member", "zed@example.com").await;
    let mut bookers = Vec::new();
    for i in 0..10 {
        let email = format!("booker{i}@example.com");
        bookers.push(
            app.member_with_role(&ann.http, &slug, "member", &email)
                .await,
        );
    }
    let start = ms("2027-03-29T09:00Z");
    // 50 bookings of Zed's 9:00 hour from 10 clients, all at once, on their own tasks.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (app, client) = (app.clone(), bookers[i % 10].clone());
        let args = meeting(&slug, &format!("Demo {i}"), start, start + HOUR, &[zed.id]);
        tasks.push(tokio::spawn(async move { app.run(&client, args).await }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(r) => won.push(r),
            refused => assert!(just_taken(&refused), "{refused:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one booking of the slot succeeds");
    let busy = app
        .store
        .busy(ws, &[zed.id], start, start + HOUR)
        .await
        .expect("busy");
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].record, Some((RecordKind::Meeting, won[0].id)));

    // An overlapping, different slot is refused too; one that starts at the end is not.
    let c = &bookers[0];
    let half = start + HOUR / 2;
    let overlapping = app
        .run(c, meeting(&slug, "Late", half, half + HOUR, &[zed.id]))
        .await;
    assert!(just_taken(&overlapping), "{overlapping:?}");
    let inside = app
        .run(
            c,
            meeting(&slug, "Inside", start + 60_000, start + 120_000, &[zed.id]),
        )
        .await;
    assert!(just_taken(&inside), "{inside:?}");
    app.run(
        c,
        meeting(&slug, "Next", start + HOUR, start + 2 * HOUR, &[zed.id]),
    )
    .await
    .expect("an adjacent slot is free");
    // The organizer's own time counts as well: Zed cannot organize over his meeting.
    let own = app
        .run(&zed.http, meeting(&slug, "Own", half, half + 60_000, &[]))
        .await;
    assert!(just_taken(&own), "{own:?}");

    // Cancelling frees the slot.
    let first = &won[0];
    let cancel = update_field(
        &slug,
        RecordKind::Meeting,
        first.id,
        "status",
        Value::Text("scheduled".into()),
        Value::Text("cancelled".into()),
    );
    app.run(&ann.http, cancel).await.expect("cancel");
    app.run(c, meeting(&slug, "Late", half, half + HOUR / 2, &[zed.id]))
        .await
        .expect("a cancelled meeting frees its slot");
    // And a meeting moved onto a taken slot is refused, leaving it where it was.
    let moved = update_field(
        &slug,
        RecordKind::Meeting,
        first.id,
        "status",
        Value::Text("cancelled".into()),
        Value::Text("scheduled".into()),
    );
    assert!(just_taken(&app.run(&ann.http, moved).await));
    // An end before the start names the end.
    let backwards = app
        .run(
            c,
            meeting(&slug, "Backwards", start + 9 * HOUR, start + 8 * HOUR, &[]),
        )
        .await;
    assert!(
        matches!(&backwards, Err(AppError::Validation { field, .. }) if field == "ends_at"),
        "{backwards:?}"
    );
}

#[tokio::test]
async fn availability_follows_time_zones_across_a_daylight_saving_change() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let zed = member(&app, &ann, &slug, "member", "zed@example.com").await;
    let berlin = Calendar {
        time_zone: "Europe/Berlin".into(),
        reminder_minutes: 10,
        weekly: (0..5)
            .map(|weekday| Window {
                weekday,
                start_minute: 9 * 60,
                end_minute: 17 * 60,
            })
            .collect(),
        days_off: vec!["2027-03-30".into()],
        published: true,
    };
    let saved = app
        .run(
            &zed.http,
            SetCalendar {
                calendar: berlin.clone(),
            },
        )
        .await
        .expect("set");
    assert_eq!(saved, berlin);
    let wrong = Calendar {
        time_zone: "Europe/Atlantis".into(),
        ..berlin.clone()
    };
    assert!(matches!(
        app.run(&zed.http, SetCalendar { calendar: wrong }).await,
        Err(AppError::Validation { field, .. }) if field == "time_zone"
    ));
    // Berlin goes from UTC+1 to UTC+2 on Sunday 28 March 2027.
    let from = ms("2027-03-26T00:00Z");
    let free = |who: Vec<i64>| {
        let args = ListFreeSlots {
            slug: slug.clone(),
            users: who,
            from,
            to: from + 5 * 24 * HOUR,
            slot_minutes: Some(60),
        };
        let (http, app) = (ann.http.clone(), &app);
        async move { app.run(&http, args).await.expect("slots") }
    };
    let slots = free(vec![zed.id]).await;
    let friday: Vec<i64> = slots
        .slots
        .iter()
        .copied()
        .filter(|s| *s < ms("2027-03-27T00:00Z"))
        .collect();
    let monday: Vec<i64> = slots
        .slots
        .iter()
        .copied()
        .filter(|s| *s >= ms("2027-03-29T00:00Z"))
        .collect();
    assert_eq!(
        friday.first(),
        Some(&ms("2027-03-26T08:00Z")),
        "9:00 in Berlin is 08:00Z before"
    );
    assert_eq!(
        monday.first(),
        Some(&ms("2027-03-29T07:00Z")),
        "and 07:00Z after the change"
    );
    assert_eq!((friday.len(), monday.len()), (8, 8));
    assert_eq!(
        slots.slots.len(),
        16,
        "nothing at the weekend or on the day off"
    );
    assert_eq!(slots.zones, vec![(zed.id, "Europe/Berlin".to_string())]);

    // A meeting takes its hour away, for Zed and for anyone booking Zed with Ann (whose
    // default calendar is 9:00 to 17:00 UTC).
    app.run(
        &ann.http,
        meeting(
            &slug,
            "Kick-off",
            ms("2027-03-29T09:00Z"),
            ms("2027-03-29T10:00Z"),
            &[zed.id],
        ),
    )
    .await
    .expect("book");
    let after = free(vec![zed.id]).await;
    assert!(!after.slots.contains(&ms("2027-03-29T09:00Z")));
    assert_eq!(after.slots.len(), 15);
    assert_eq!(after.busy.len(), 1);
    assert_eq!(after.busy[0].title.as_deref(), Some("Kick-off"));
    let both = free(vec![zed.id, ann.id]).await;
    let monday_both: Vec<i64> = both
        .slots
        .iter()
        .copied()
        .filter(|s| *s >= ms("2027-03-29T00:00Z"))
        .collect();
    // Together: 09:00-15:00Z (Ann from 9 UTC, Zed until 17 Berlin), minus the meeting.
    assert_eq!(monday_both.first(), Some(&ms("2027-03-29T10:00Z")));
    assert_eq!(monday_both.len(), 5);
}

#[tokio::test]
async fn invitations_are_answered_by_the_invited_and_tell_the_people_concerned() {
    let app = spawn_app().await;
    let (ann, slug, ws) = workspace_with_owner(&app).await;
    let bob = member(&app, &ann, &slug, "member", "bob@example.com").await;
    let vic = member(&app, &ann, &slug, "viewer", "vic@example.com").await;
    let start = ms("2027-04-05T10:00Z");
    let m: Record = app
        .run(
            &ann.http,
            meeting(&slug, "Review", start, start + HOUR, &[bob.id, vic.id]),
        )
        .await
        .expect("book");
    assert_eq!(
        m.get("organizer_id"),
        &Value::Int(ann.id),
        "the booker organizes"
    );
    assert_eq!(notice_types(&app, &bob).await, vec![NoticeType::Invited]);
    assert_eq!(notice_types(&app, &vic).await, vec![NoticeType::Invited]);

    // A viewer answers for themselves; the organizer hears of it.
    let answer = |p: &Person, a: &str| {
        let args = AnswerInvitation {
            slug: slug.clone(),
            kind: RecordKind::Meeting,
            id: m.id,
            answer: a.into(),
        };
        let http = p.http.clone();
        let app = &app;
        async move { app.run(&http, args).await }
    };
    let r = answer(&vic, "declined").await.expect("answer");
    assert_eq!(r.get("rsvp"), &Value::Text(format!("{}:declined", vic.id)));
    assert_eq!(
        notice_types(&app, &ann).await.first(),
        Some(&NoticeType::Rsvp)
    );
    // Declining frees Vic's time; Bob's stays taken.
    let busy = app
        .store
        .busy(ws, &[bob.id, vic.id], start, start + HOUR)
        .await
        .expect("busy");
    assert_eq!(
        busy.iter().map(|b| b.user_id).collect::<Vec<_>>(),
        vec![bob.id]
    );
    let r = answer(&bob, "accepted").await.expect("answer");
    assert_eq!(
        r.get("rsvp"),
        &Value::Text(format!("{}:accepted,{}:declined", bob.id, vic.id))
    );
    assert!(matches!(
        answer(&bob, "maybe").await,
        Err(AppError::Validation { .. })
    ));
    // Someone not invited cannot answer, and no one answers for another.
    let cat = member(&app, &ann, &slug, "member", "cat@example.com").await;
    assert!(matches!(
        answer(&cat, "accepted").await,
        Err(AppError::Validation { .. })
    ));
    let forged = update_field(
        &slug,
        RecordKind::Meeting,
        m.id,
        "rsvp",
        r.get("rsvp").clone(),
        Value::Text(format!("{}:declined,{}:accepted", bob.id, vic.id)),
    );
    let refused = app.run(&cat.http, forged).await;
    assert!(
        matches!(&refused, Err(AppError::Validation { field, .. }) if field == "rsvp"),
        "{refused:?}"
    );

    // Vic leaves the workspace: her answer stays in the field, Bob still answers, and an
    // edit of the meeting books only members.
    let remove = app::api::members::RemoveMember {
        slug: slug.clone(),
        user_id: vic.id,
    };
    app.run(&ann.http, remove).await.expect("remove");
    let r = answer(&bob, "tentative")
        .await
        .expect("answer after a leaver");
    assert_eq!(
        r.get("rsvp"),
        &Value::Text(format!("{}:tentative,{}:declined", bob.id, vic.id))
    );
    let busy = app
        .store
        .busy(ws, &[ann.id, bob.id, vic.id], start, start + HOUR)
        .await
        .expect("busy");
    assert_eq!(busy.len(), 2, "Ann and Bob; Vic left");

    // Moving the meeting tells its participants, not the one who moved it.
    let moved = update_field(
        &slug,
        RecordKind::Meeting,
        m.id,
        "starts_at",
        Value::Int(start),
        Value::Int(start - HOUR / 2),
    );
    app.run(&ann.http, moved).await.expect("move");
    assert_eq!(
        notice_types(&app, &bob).await.first(),
        Some(&NoticeType::MeetingChanged)
    );
    assert_eq!(
        notice_types(&app, &vic).await.first(),
        Some(&NoticeType::Invited),
        "Vic left: she is not told"
    );
    assert_ne!(
        notice_types(&app, &ann).await.first(),
        Some(&NoticeType::MeetingChanged)
    );
}

#[tokio::test]
async fn the_new_functions_keep_to_roles_and_workspaces() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let vic = member(&app, &ann, &slug, "viewer", "vic@example.com").await;
    let out = crate::realtime::person(&app, "out@example.com").await;
    let other = app.create_workspace_as(&out.http, "Elsewhere").await;
    let start = ms("2027-04-05T10:00Z");
    let m: Record = app
        .run(
            &ann.http,
            meeting(&slug, "Plan", start, start + HOUR, &[vic.id]),
        )
        .await
        .expect("book");

    // A viewer cannot book.
    assert!(matches!(
        app.run(
            &vic.http,
            meeting(&slug, "No", start + 5 * HOUR, start + 6 * HOUR, &[])
        )
        .await,
        Err(AppError::Forbidden(_))
    ));
    // An outsider sees nothing of the workspace by any of them.
    let not_found = |r: Result<(), AppError>| matches!(r, Err(AppError::NotFound(_)));
    let cal = app
        .run(
            &out.http,
            GetCalendar {
                slug: slug.clone(),
                user: Some(ann.id),
            },
        )
        .await
        .map(drop);
    assert!(not_found(cal));
    let slots = ListFreeSlots {
        slug: slug.clone(),
        users: vec![ann.id],
        from: start,
        to: start + 24 * HOUR,
        slot_minutes: None,
    };
    assert!(not_found(app.run(&out.http, slots).await.map(drop)));
    let answer = AnswerInvitation {
        slug: slug.clone(),
        kind: RecordKind::Meeting,
        id: m.id,
        answer: "accepted".into(),
    };
    assert!(not_found(app.run(&out.http, answer).await.map(drop)));
    // Nor through their own workspace, with this one's ids.
    let cal = app
        .run(
            &out.http,
            GetCalendar {
                slug: other.clone(),
                user: Some(ann.id),
            },
        )
        .await
        .map(drop);
    assert!(not_found(cal));
    let slots = ListFreeSlots {
        slug: other.clone(),
        users: vec![ann.id],
        from: start,
        to: start + 24 * HOUR,
        slot_minutes: None,
    };
    assert!(not_found(app.run(&out.http, slots).await.map(drop)));
    let answer = AnswerInvitation {
        slug: other.clone(),
        kind: RecordKind::Meeting,
        id: m.id,
        answer: "accepted".into(),
    };
    assert!(not_found(app.run(&out.http, answer).await.map(drop)));
    // Sizes are checked.
    let many = ListFreeSlots {
        slug: slug.clone(),
        users: vec![ann.id],
        from: start,
        to: start + 99 * 24 * HOUR,
        slot_minutes: None,
    };
    assert!(matches!(
        app.run(&ann.http, many).await,
        Err(AppError::Validation { .. })
    ));
    // Signed out, nothing.
    let anon = crate::common::client();
    assert!(matches!(
        app.run(
            &anon,
            GetCalendar {
                slug: slug.clone(),
                user: None
            }
        )
        .await,
        Err(AppError::Unauthorized)
    ));
    let mine = app
        .run(
            &vic.http,
            GetCalendar {
                slug: slug.clone(),
                user: None,
            },
        )
        .await
        .expect("own");
    assert!(!mine.published, "defaults until saved");
    let bad = Calendar {
        reminder_minutes: -1,
        ..Calendar::default()
    };
    assert!(matches!(
        app.run(&vic.http, SetCalendar { calendar: bad }).await,
        Err(AppError::Validation { field, .. }) if field == "reminder_minutes"
    ));
}

/// Settings for a node that stands for a stopped server: it sends no reminders.
fn stopped() -> server::state::Settings {
    server::state::Settings {
        no_reminders: true,
        ..test_settings()
    }
}

#[tokio::test]
async fn a_reminder_due_while_the_server_was_down_is_sent_once_across_restarts_and_nodes() {
    let dir_holder = crate::common::spawn_app_with_settings(stopped()).await;
    let app = &dir_holder;
    let (ann, slug, _) = workspace_with_owner(app).await;
    let bob = member(app, &ann, &slug, "member", "bob@example.com").await;
    let cat = member(app, &ann, &slug, "member", "cat@example.com").await;
    // Bob wants 30 minutes' notice, Cat the default 10.
    let early = Calendar {
        reminder_minutes: 30,
        ..Calendar::default()
    };
    app.run(&bob.http, SetCalendar { calendar: early })
        .await
        .expect("set");
    let now = app::model::now_ms();
    // Starts in 20 minutes: due for Bob, not yet for Cat (nor for Ann, the organizer).
    app.run(
        &ann.http,
        meeting(
            &slug,
            "Standup",
            now + 20 * 60_000,
            now + 35 * 60_000,
            &[bob.id, cat.id],
        ),
    )
    .await
    .expect("book");
    // A call whose assignee is Cat, in 5 minutes: due for her.
    let call = CreateRecord {
        slug: slug.clone(),
        kind: RecordKind::Call,
        fields: [
            ("subject".to_string(), Value::Text("Renewal".into())),
            ("status".to_string(), Value::Text("scheduled".into())),
            ("assignee_id".to_string(), Value::Int(cat.id)),
            ("scheduled_at".to_string(), Value::Int(now + 5 * 60_000)),
        ]
        .into(),
    };
    app.run(&ann.http, call).await.expect("call");
    let reminders = |p: &Person, node: &TestApp| {
        let http = p.http.clone();
        let node_base = node.base.clone();
        async move {
            let page: app::model::notify::NoticePage = {
                let url = format!("{node_base}/api/list_notifications");
                let res = http
                    .post(url)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .expect("post");
                res.json().await.expect("json")
            };
            page.items
                .iter()
                .filter(|n| n.ntype == NoticeType::Reminder)
                .map(|n| n.title.clone())
                .collect::<Vec<_>>()
        }
    };
    assert!(
        reminders(&bob, app).await.is_empty(),
        "nothing is sent while no node sends"
    );

    // The server starts: what fell due is sent before it serves anyone.
    let restarted = app.another_node(test_settings()).await;
    let bob_got = reminders(&bob, &restarted).await;
    assert_eq!(bob_got.len(), 1, "{bob_got:?}");
    assert!(
        bob_got[0].starts_with("Meeting Standup starts in"),
        "{bob_got:?}"
    );
    let cat_got = reminders(&cat, &restarted).await;
    assert_eq!(cat_got.len(), 1, "{cat_got:?}");
    assert!(
        cat_got[0].starts_with("Call Renewal starts in"),
        "{cat_got:?}"
    );
    assert!(reminders(&ann, &restarted).await.is_empty());

    // Restarted again, and two nodes at once: nothing twice.
    let (again, other) = tokio::join!(
        app.another_node(test_settings()),
        app.another_node(test_settings())
    );
    for node in [&again, &other] {
        assert_eq!(reminders(&bob, node).await.len(), 1);
        assert_eq!(reminders(&cat, node).await.len(), 1);
    }
    // And the claim holds when two nodes race for the same due reminders.
    let now = app::model::now_ms();
    app.run(
        &ann.http,
        meeting(
            &slug,
            "Retro",
            now + 8 * 60_000,
            now + 9 * 60_000,
            &[bob.id, cat.id],
        ),
    )
    .await
    .expect("book");
    let (a, b) = tokio::join!(
        again.store.send_due_reminders(now),
        other.store.send_due_reminders(now)
    );
    assert_eq!(
        a.expect("a") + b.expect("b"),
        3,
        "one each for Ann, Bob and Cat"
    );
    assert_eq!(reminders(&ann, &again).await.len(), 1);
    assert_eq!(reminders(&bob, &again).await.len(), 2);
    assert_eq!(reminders(&cat, &again).await.len(), 2);
}
