//! Chat over HTTP and `/ws`, on SQLite and PostgreSQL: a private room is invisible to
//! whoever is not in it (every server function and its socket room), invitations expire
//! and a declined one stays declined, a removed participant stops receiving at once, an
//! idempotency key stores a message once however often (and however concurrently) it is
//! sent, and ten clients sending 200 messages each into one room while their sockets
//! drop and resume all end with every message once, in the same order.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::common::{spawn_app, TestApp};
use crate::realtime::{
    connect, person_from, recv, recv_until, send, subscribe, workspace_with_owner, Person, Ws,
};
use app::api::chat::*;
use app::error::AppError;
use app::model::chat::{ChatKind, ChatTarget, InvitationStatus, RoomHow};
use app::realtime::protocol::{Change, ClientFrame, ErrorCode, Position, Room, ServerFrame};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The arguments of a page of a room's history: messages before `before` (the newest
/// when `None`), at most `limit`.
fn history_args(
    slug: &str,
    room: i64,
    before: Option<i64>,
    limit: Option<i64>,
) -> ListChatMessages {
    ListChatMessages {
        slug: slug.into(),
        room_id: room,
        before,
        limit,
    }
}

/// A new channel named `name` in the workspace, made by `admin`; its id.
async fn channel(app: &TestApp, admin: &Person, slug: &str, name: &str) -> i64 {
    app.run(
        &admin.http,
        CreateChatRoom {
            slug: slug.into(),
            kind: ChatKind::Channel,
            name: name.into(),
            max_participants: None,
        },
    )
    .await
    .expect("channel")
    .id
}

async fn member(app: &TestApp, admin: &Person, slug: &str, role: &str, email: &str) -> Person {
    let http = app.member_with_role(&admin.http, slug, role, email).await;
    person_from(app, http).await
}

fn send_args(slug: &str, room: i64, body: &str, key: Option<&str>) -> SendChatMessage {
    SendChatMessage {
        slug: slug.into(),
        target: ChatTarget::Room(room),
        body: body.into(),
        reply_to: None,
        key: key.map(str::to_string),
    }
}

async fn private_room(app: &TestApp, owner: &Person, slug: &str, name: &str) -> i64 {
    let args = CreateChatRoom {
        slug: slug.into(),
        kind: ChatKind::Private,
        name: name.into(),
        max_participants: None,
    };
    app.run(&owner.http, args).await.expect("private room").id
}

/// Invites `who` into `room` and has them accept.
async fn join(app: &TestApp, inviter: &Person, who: &Person, slug: &str, room: i64) {
    let args = InviteToChatRoom {
        slug: slug.into(),
        room_id: room,
        user_ids: vec![who.id],
        days: None,
    };
    let invitation = app
        .run(&inviter.http, args)
        .await
        .expect("invite")
        .remove(0);
    let args = AnswerChatInvitation {
        slug: slug.into(),
        invitation_id: invitation.id,
        accept: true,
    };
    let answered = app.run(&who.http, args).await.expect("accept");
    assert_eq!(answered.status, InvitationStatus::Accepted);
}

fn is_not_found<T: std::fmt::Debug>(r: &Result<T, AppError>) -> bool {
    matches!(r, Err(AppError::NotFound(_)))
}

#[tokio::test]
async fn a_private_room_is_invisible_to_whoever_is_not_in_it() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let bea = member(&app, &ann, &slug, "member", "bea@example.com").await;
    let cy = member(&app, &ann, &slug, "member", "cy@example.com").await;
    // Someone of another workspace, using this one's slug and the room's id.
    let out = crate::realtime::person(&app, "out@example.com").await;
    app.create_workspace_as(&out.http, "Elsewhere").await;

    let room = private_room(&app, &ann, &slug, "Secret plans").await;
    join(&app, &ann, &bea, &slug, room).await;
    let said = app
        .run(
            &ann.http,
            send_args(&slug, room, "the launch is on friday", None),
        )
        .await
        .expect("send");

    for p in [&cy, &out] {
        let listed = app.run(&p.http, ListChatRooms { slug: slug.clone() }).await;
        if let Ok(overview) = &listed {
            assert!(
                overview
                    .rooms
                    .iter()
                    .all(|r| r.id != room && r.name != "Secret plans"),
                "the room is not listed"
            );
        }
        let s = || slug.clone();
        assert!(is_not_found(
            &app.run(
                &p.http,
                GetChatRoom {
                    slug: s(),
                    room_id: room
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(&p.http, history_args(&s(), room, None, None)).await
        ));
        assert!(is_not_found(
            &app.run(&p.http, send_args(&slug, room, "hello?", None))
                .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                EditChatRoom {
                    slug: s(),
                    room_id: room,
                    edit: ChatRoomEdit::Rename("Mine".into())
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                InviteToChatRoom {
                    slug: s(),
                    room_id: room,
                    user_ids: vec![p.id],
                    days: None
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                LeaveChatRoom {
                    slug: s(),
                    room_id: room,
                    user_id: None
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                MarkChatRead {
                    slug: s(),
                    room_id: room,
                    seq: 1
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                EditChatMessage {
                    slug: s(),
                    room_id: room,
                    message_id: said.id,
                    body: "x".into()
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                DeleteChatMessage {
                    slug: s(),
                    room_id: room,
                    message_id: said.id
                }
            )
            .await
        ));
        assert!(is_not_found(
            &app.run(
                &p.http,
                ReactChatMessage {
                    slug: s(),
                    room_id: room,
                    message_id: said.id,
                    emoji: "👍".into(),
                    on: true
                }
            )
            .await
        ));
        if let Ok(hits) = app
            .run(
                &p.http,
                SearchChatMessages {
                    slug: s(),
                    term: "launch".into(),
                },
            )
            .await
        {
            assert!(hits.is_empty(), "search finds nothing of the room");
        }
        // Nor its socket room.
        let mut ws = connect(&app, p).await;
        send(
            &mut ws,
            &ClientFrame::Subscribe {
                room: Room::Chat(room),
                since: None,
            },
        )
        .await;
        match recv_until(&mut ws, |f| {
            matches!(
                f,
                ServerFrame::Subscribed { .. } | ServerFrame::Error { .. }
            )
        })
        .await
        {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Forbidden),
            other => panic!("subscribed to a private room from outside: {other:?}"),
        }
    }
    // The participant sees it, and finds the message.
    let hits = app
        .run(
            &bea.http,
            SearchChatMessages {
                slug: slug.clone(),
                term: "LAUNCH".into(),
            },
        )
        .await
        .expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message.id, said.id);
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted_and_a_declined_one_stays_declined() {
    let app = spawn_app().await;
    let (ann, slug, ws) = workspace_with_owner(&app).await;
    let bea = member(&app, &ann, &slug, "member", "bea@example.com").await;
    let cy = member(&app, &ann, &slug, "member", "cy@example.com").await;
    let room = private_room(&app, &ann, &slug, "Pricing").await;

    // Bea's invitation expired a moment ago (made through the store: the API's shortest
    // is a day).
    let now = app::model::now_ms();
    let expired = app
        .store
        .invite_to_chat(ws, ann.id, room, &[bea.id], now - 1)
        .await
        .expect("invite")
        .remove(0);
    let answer = |id: i64, accept: bool| AnswerChatInvitation {
        slug: slug.clone(),
        invitation_id: id,
        accept,
    };
    match app.run(&bea.http, answer(expired.id, true)).await {
        Err(AppError::Validation { field, message }) => {
            assert_eq!(field, "invitation");
            assert!(message.contains("expired"), "{message}");
        }
        other => panic!("an expired invitation was answered: {other:?}"),
    }
    let overview = app
        .run(&bea.http, ListChatRooms { slug: slug.clone() })
        .await
        .expect("overview");
    assert!(
        overview.invitations.is_empty(),
        "an expired invitation is not listed as open"
    );
    assert!(overview.rooms.iter().all(|r| r.id != room));

    // Cy hears of the invitation live, declines, and cannot accept later.
    let mut cy_ws = connect(&app, &cy).await;
    subscribe(&mut cy_ws, Room::User(cy.id), None).await;
    let made = app
        .run(
            &ann.http,
            InviteToChatRoom {
                slug: slug.clone(),
                room_id: room,
                user_ids: vec![cy.id],
                days: None,
            },
        )
        .await
        .expect("invite")
        .remove(0);
    let heard = recv_until(&mut cy_ws, |f| {
        matches!(
            f,
            ServerFrame::Event {
                change: Change::ChatInvitation { .. },
                ..
            }
        )
    })
    .await;
    let ServerFrame::Event {
        change: Change::ChatInvitation { invitation, .. },
        ..
    } = heard
    else {
        unreachable!()
    };
    assert_eq!(
        (invitation.id, invitation.status),
        (made.id, InvitationStatus::Pending)
    );
    assert_eq!(invitation.room_name, "Pricing");
    // Someone else cannot answer it for Cy.
    assert!(is_not_found(
        &app.run(&bea.http, answer(made.id, true)).await
    ));
    let declined = app
        .run(&cy.http, answer(made.id, false))
        .await
        .expect("decline");
    assert_eq!(declined.status, InvitationStatus::Declined);
    match app.run(&cy.http, answer(made.id, true)).await {
        Err(AppError::Validation { message, .. }) => {
            assert!(message.contains("declined"), "{message}")
        }
        other => panic!("a declined invitation was accepted: {other:?}"),
    }
    assert!(is_not_found(
        &app.run(
            &cy.http,
            GetChatRoom {
                slug: slug.clone(),
                room_id: room
            }
        )
        .await
    ));
    // The inviter sees the answer in the room's invitations.
    let detail = app
        .run(
            &ann.http,
            GetChatRoom {
                slug: slug.clone(),
                room_id: room,
            },
        )
        .await
        .expect("room");
    let statuses: BTreeMap<i64, InvitationStatus> = detail
        .invitations
        .iter()
        .map(|i| (i.user_id, i.status))
        .collect();
    assert_eq!(statuses.get(&cy.id), Some(&InvitationStatus::Declined));
    assert_eq!(statuses.get(&bea.id), Some(&InvitationStatus::Expired));
    assert_eq!(detail.participants.len(), 1, "only the owner is in");
}

#[tokio::test]
async fn a_removed_participant_stops_receiving_at_once() {
    let app = spawn_app().await;
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let bea = member(&app, &ann, &slug, "member", "bea@example.com").await;
    let room = private_room(&app, &ann, &slug, "Deal desk").await;
    join(&app, &ann, &bea, &slug, room).await;
    // A channel both are in, whose event marks how far delivery has gone.
    let channel = channel(&app, &ann, &slug, "general").await;

    let mut bea_ws = connect(&app, &bea).await;
    subscribe(&mut bea_ws, Room::Chat(room), None).await;
    subscribe(&mut bea_ws, Room::Chat(channel), None).await;
    // Her own room, which the removal (also logged there) must not end.
    subscribe(&mut bea_ws, Room::User(bea.id), None).await;
    app.run(&ann.http, send_args(&slug, room, "before", None))
        .await
        .expect("send");
    app.run(
        &ann.http,
        LeaveChatRoom {
            slug: slug.clone(),
            room_id: room,
            user_id: Some(bea.id),
        },
    )
    .await
    .expect("remove");
    // Sent right after the removal returned: Bea must not get it.
    app.run(&ann.http, send_args(&slug, room, "after", None))
        .await
        .expect("send");
    app.run(&ann.http, send_args(&slug, channel, "mark", None))
        .await
        .expect("send");

    let mut bodies = Vec::new();
    // The removal reaches her through her own room and, unless the access re-check it
    // sets off ended the room's subscription first, through the room itself.
    let mut removed = false;
    let mut removed_in_room = false;
    let mut resynced = false;
    let mut told = false;
    loop {
        match recv(&mut bea_ws).await {
            ServerFrame::Event {
                room: r,
                change: Change::Message { message, .. },
                ..
            } => {
                if r == Room::Chat(channel) {
                    break;
                }
                assert!(
                    !removed,
                    "a message after the removal reached the removed participant"
                );
                bodies.push(message.body);
            }
            ServerFrame::Event {
                room: r,
                change: Change::ChatRoom { how, user, .. },
                ..
            } if how == RoomHow::Removed && user == Some(bea.id) => {
                removed = true;
                removed_in_room |= r == Room::Chat(room);
            }
            // A subscription that delivers the removal ends on it and asks the client to
            // resync, so it learns where it stands.
            ServerFrame::Resync { room: r, .. } if r == Room::Chat(room) => {
                assert!(removed_in_room, "the resync follows the removal");
                resynced = true;
            }
            ServerFrame::Error {
                code,
                room: Some(r),
                ..
            } if r == Room::Chat(room) => {
                assert_eq!(code, ErrorCode::Forbidden);
                told = true;
            }
            _ => {}
        }
    }
    assert!(removed, "the removal itself was delivered");
    assert_eq!(
        resynced, removed_in_room,
        "the socket was told to resync the room after its removal there"
    );
    assert_eq!(bodies, vec!["before".to_string()]);
    // The socket is told (the re-check may come after the marker: wait for it).
    if !told {
        match recv_until(&mut bea_ws, |f| matches!(f, ServerFrame::Error { .. })).await {
            ServerFrame::Error { code, room: r, .. } => {
                assert_eq!((code, r), (ErrorCode::Forbidden, Some(Room::Chat(room))))
            }
            _ => unreachable!(),
        }
    }
    // And cannot come back by subscribing or reading.
    send(
        &mut bea_ws,
        &ClientFrame::Subscribe {
            room: Room::Chat(room),
            since: None,
        },
    )
    .await;
    assert!(matches!(
        recv_until(&mut bea_ws, |f| matches!(
            f,
            ServerFrame::Subscribed { .. } | ServerFrame::Error { .. }
        ))
        .await,
        ServerFrame::Error {
            code: ErrorCode::Forbidden,
            ..
        }
    ));
    assert!(is_not_found(
        &app.run(&bea.http, history_args(&slug, room, None, None))
            .await
    ));
    // Her own room still delivers: a mention in the channel reaches her as a notice.
    app.run(
        &ann.http,
        send_args(&slug, channel, &format!("welcome back <@{}>", bea.id), None),
    )
    .await
    .expect("send");
    let notice = recv_until(&mut bea_ws, |f| {
        matches!(
            f,
            ServerFrame::Event {
                room: Room::User(_),
                change: Change::Notice { .. },
                ..
            }
        )
    })
    .await;
    assert!(matches!(notice, ServerFrame::Event { room: Room::User(u), .. } if u == bea.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_twice_with_one_key_is_stored_once() {
    let app = Arc::new(spawn_app().await);
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let channel = channel(&app, &ann, &slug, "general").await;
    let first = app
        .run(
            &ann.http,
            send_args(&slug, channel, "only once", Some("k-1")),
        )
        .await
        .expect("send");
    let again = app
        .run(
            &ann.http,
            send_args(&slug, channel, "only once", Some("k-1")),
        )
        .await
        .expect("send again");
    assert_eq!(first, again, "the repeat returns the first message");
    // Ten at once with a new key: one message.
    let ann = Arc::new(ann);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, ann, slug) = (app.clone(), ann.clone(), slug.clone());
        tasks.push(tokio::spawn(async move {
            app.run(&ann.http, send_args(&slug, channel, "burst", Some("k-2")))
                .await
                .expect("send")
                .id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("task"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry got the same message");
    let page = app
        .run(&ann.http, history_args(&slug, channel, None, None))
        .await
        .expect("history");
    let bodies: Vec<&str> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["burst", "only once"],
        "newest first, each once"
    );
    assert_eq!(page.messages[0].seq, 2);
    // The room's log holds one event per message.
    let log = app
        .store
        .room_changes(
            Room::Chat(channel),
            page.position.epoch,
            0,
            page.position.offset,
            100,
        )
        .await
        .expect("log");
    let messages = log
        .iter()
        .filter(|c| matches!(c.change, Change::Message { .. }))
        .count();
    assert_eq!(messages, 2, "one logged message event per message");
}

const CLIENTS: usize = 10;
const PER_CLIENT: usize = 200;

/// One client's copy of a room: the messages it applied, by position, and where it is.
struct Copy {
    ids: BTreeMap<i64, i64>,
    at: Position,
    resyncs: usize,
    drops: usize,
}

/// Reloads the whole history (after a resync): the page's position is where the socket
/// resumes from.
async fn reload(app: &TestApp, p: &Person, slug: &str, room: i64, copy: &mut Copy) {
    let mut before = None;
    let mut first = None;
    copy.ids.clear();
    loop {
        let page = app
            .run(&p.http, history_args(slug, room, before, Some(200)))
            .await
            .expect("history");
        first.get_or_insert(page.position);
        for m in &page.messages {
            copy.ids.insert(m.seq, m.id);
        }
        if !page.has_more {
            break;
        }
        before = page.messages.last().map(|m| m.seq);
    }
    copy.at = first.expect("a page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_clients_with_dropping_sockets_all_end_with_every_message_once_in_order() {
    let seed: u64 = std::env::var("CHAT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("chat seed {seed} (CHAT_SEED={seed} replays it)");
    let app = Arc::new(spawn_app().await);
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let channel = channel(&app, &ann, &slug, "floor").await;
    let mut people = vec![ann];
    for i in 1..CLIENTS {
        people.push(
            member(
                &app,
                &people[0],
                &slug,
                "member",
                &format!("p{i}@example.com"),
            )
            .await,
        );
    }
    let people: Vec<Arc<Person>> = people.into_iter().map(Arc::new).collect();
    let room = Room::Chat(channel);
    let total = (CLIENTS * PER_CLIENT) as i64;

    let mut readers = Vec::new();
    for (n, p) in people.iter().enumerate() {
        let (app, p, slug) = (app.clone(), p.clone(), slug.clone());
        let mut rng =
            StdRng::seed_from_u64(seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Every client is in the room before the first message is sent.
        let mut ws: Ws = connect(&app, &p).await;
        let (at, _) = subscribe(&mut ws, room, None).await;
        readers.push(tokio::spawn(async move {
            let mut copy = Copy {
                ids: BTreeMap::new(),
                at,
                resyncs: 0,
                drops: 0,
            };
            while (copy.ids.len() as i64) < total {
                let Ok(frame) =
                    tokio::time::timeout(std::time::Duration::from_secs(8), recv(&mut ws)).await
                else {
                    panic!(
                        "client {n} stalled at {:?} with {} messages",
                        copy.at,
                        copy.ids.len()
                    );
                };
                match frame {
                    ServerFrame::Event {
                        room: r,
                        position,
                        change,
                    } if r == room => {
                        assert_eq!(position.epoch, copy.at.epoch);
                        assert_eq!(
                            position.offset,
                            copy.at.offset + 1,
                            "client {n}: events in order, none twice, none missed"
                        );
                        copy.at = position;
                        if let Change::Message { message, .. } = change {
                            let before = copy.ids.insert(message.seq, message.id);
                            assert!(
                                before.is_none(),
                                "client {n}: message {} applied twice",
                                message.seq
                            );
                        }
                        // Now and then the connection drops (about every 150 events)
                        // and the client resumes from what it applied.
                        if rng.gen_range(0..150) == 0 {
                            copy.drops += 1;
                            drop(ws);
                            ws = connect(&app, &p).await;
                            subscribe(&mut ws, room, Some(copy.at)).await;
                        }
                    }
                    ServerFrame::Resync { room: r, .. } if r == room => {
                        copy.resyncs += 1;
                        reload(&app, &p, &slug, channel, &mut copy).await;
                        subscribe(&mut ws, room, Some(copy.at)).await;
                    }
                    _ => {}
                }
            }
            copy
        }));
    }
    let mut writers = Vec::new();
    for (n, p) in people.iter().enumerate() {
        let (app, p, slug) = (app.clone(), p.clone(), slug.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..PER_CLIENT {
                let key = format!("{n}-{i}");
                app.run(
                    &p.http,
                    send_args(&slug, channel, &format!("message {i} from {n}"), Some(&key)),
                )
                .await
                .expect("send");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let mut copies = Vec::new();
    for r in readers {
        copies.push(r.await.expect("reader"));
    }
    // Every client holds positions 1..=2000, with the same message at each.
    let reference: Vec<(i64, i64)> = copies[0].ids.iter().map(|(s, i)| (*s, *i)).collect();
    assert_eq!(reference.len() as i64, total);
    assert!(reference
        .iter()
        .enumerate()
        .all(|(i, (seq, _))| *seq == i as i64 + 1));
    let mut ids: Vec<i64> = reference.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as i64, total, "2,000 distinct messages");
    let drops: usize = copies.iter().map(|c| c.drops).sum();
    let resyncs: usize = copies.iter().map(|c| c.resyncs).sum();
    for (n, c) in copies.iter().enumerate() {
        let mine: Vec<(i64, i64)> = c.ids.iter().map(|(s, i)| (*s, *i)).collect();
        assert_eq!(
            mine, reference,
            "client {n} holds the same messages in the same order"
        );
    }
    println!("{CLIENTS} clients, {total} messages: {drops} socket drops, {resyncs} resyncs");
    assert!(drops > 0, "sockets dropped during the run (seed {seed})");
}

/// A room's history page and the position it comes with are one snapshot: while someone
/// sends without pause, a socket resuming from a page's position gets, as its first new
/// message, the one right after the page's newest (a message committed between reading
/// the head and the page would otherwise come twice, or, the other way round, never).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_page_and_its_position_agree_while_messages_arrive() {
    let app = Arc::new(spawn_app().await);
    let (ann, slug, _) = workspace_with_owner(&app).await;
    let channel = channel(&app, &ann, &slug, "busy").await;
    let ann = Arc::new(ann);
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (app, ann, slug, writing) = (app.clone(), ann.clone(), slug.clone(), writing.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                app.run(&ann.http, send_args(&slug, channel, &format!("m{i}"), None))
                    .await
                    .expect("send");
                i += 1;
            }
        })
    };
    for _ in 0..20 {
        let page = app
            .run(&ann.http, history_args(&slug, channel, None, Some(200)))
            .await
            .expect("history");
        let newest = page.messages.iter().map(|m| m.seq).max().unwrap_or(0);
        let mut ws = connect(&app, &ann).await;
        subscribe(&mut ws, Room::Chat(channel), Some(page.position)).await;
        let next = match recv_until(&mut ws, |f| {
            matches!(
                f,
                ServerFrame::Event {
                    change: Change::Message { .. },
                    ..
                }
            )
        })
        .await
        {
            ServerFrame::Event {
                change: Change::Message { message, .. },
                ..
            } => message.seq,
            _ => unreachable!(),
        };
        assert_eq!(
            next,
            newest + 1,
            "the first message after the page's position follows the page's newest"
        );
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    writer.await.expect("writer");
}
