//! The authorization matrix: every registered server function, every client frame type,
//! every kind of room and every plain route, tried by each kind of caller (signed out,
//! viewer, member, admin, owner, and a member of another workspace using this
//! workspace's slug and ids). What each caller must get is written once, in the tables
//! below; a server function, frame type or route that has no row fails the test with
//! its name, so nothing new ships without someone deciding who may call it.
//!
//! The lists come from the code, not from this file: server functions from Leptos's
//! registry (`server_fn_paths`), frame types from the client-frame decoder's own list of
//! variants, record kinds from `RecordKind::ALL`, routes from `server::PLAIN_ROUTES`.

use std::collections::BTreeSet;

use app::api::activity::ListActivity;
use app::api::auth::{GetCurrentUser, LogIn, LogOut};
use app::api::calendar::{AnswerInvitation, GetCalendar, ListFreeSlots, SetCalendar};
use app::api::chat::{
    AnswerChatInvitation, ChatRoomEdit, CreateChatRoom, DeleteChatMessage, EditChatMessage,
    EditChatRoom, GetChatRoom, GetDiscussion, InviteToChatRoom, LeaveChatRoom, ListChatMessages,
    ListChatRooms, MarkChatRead, ReactChatMessage, SearchChatMessages, SendChatMessage,
};
use app::api::import::{GetImportMapping, SaveImportMapping};
use app::api::members::{
    AcceptInvite, CreateInvite, ListInvites, ListMembers, PreviewInvite, RemoveMember,
    RevokeInvite, SetMemberRole,
};
use app::api::notifications::{
    Announce, DismissNotification, GetFollowing, GetNotificationPrefs, ListNotifications,
    MarkAllNotificationsRead, MarkNotificationsRead, SetFollowing, SetNotificationPref,
    SnoozeNotification,
};
use app::api::records::{
    CreateRecord, DeleteRecord, GetRecord, ListBoardTotals, ListChoices, ListFieldValues,
    ListFormChoices, ListMemberChoices, ListRecords, RestoreRecord, UpdateRecord,
};
use app::api::workspaces::{CreateWorkspace, ListWorkspaces, OpenWorkspace, RenameWorkspace};
use app::error::AppError;
use app::model::activity::FeedType;
use app::model::calendar::Calendar;
use app::model::chat::{ChatKind, ChatTarget};
use app::model::import::ImportMapping;
use app::model::notify::{NoticePref, NoticeType};
use app::model::{FieldKind, Fields, RecordKind, RecordQuery, Role, Value};
use app::realtime::protocol::{ClientFrame, Editing, ErrorCode, Room, ServerFrame, Status};
use serde_json::Value as Json;

use crate::common::{
    client, sign_up, spawn_app_with_settings, test_settings, update_field, TestApp,
};
use crate::realtime::{connect, connect_with, person_from, recv, send, Person, Ws};

/// Who calls, in the order of every row below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    SignedOut,
    Viewer,
    Member,
    Admin,
    Owner,
    /// A member (the owner) of another workspace, using this workspace's slug and ids.
    Outsider,
}

use Caller::*;

const CALLERS: [Caller; 6] = [SignedOut, Viewer, Member, Admin, Owner, Outsider];

/// What a call ends in: the [`AppError`] variant, or success (`Empty` when the answer
/// is `false` or an empty list: the call went through and gave nothing away).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Got {
    Ok,
    Empty,
    SignIn,
    Forbidden,
    NotFound,
    Gone,
    Invalid,
    Conflict,
    Limited,
    Failed,
}

use Got::*;

/// One row: what each caller gets, in [`CALLERS`] order.
type Row = [Got; 6];

/// Anyone, signed in or not.
const PUBLIC: Row = [Ok; 6];
/// Anyone signed in, about themselves (no workspace involved).
const SIGNED_IN: Row = [SignIn, Ok, Ok, Ok, Ok, Ok];
/// Every member reads; the outsider learns nothing, not even that the workspace exists.
const READ: Row = [SignIn, Ok, Ok, Ok, Ok, NotFound];
/// Members, admins and the owner write; a viewer is refused.
const WRITE: Row = [SignIn, Forbidden, Ok, Ok, Ok, NotFound];
/// Admins and the owner only.
const ADMIN: Row = [SignIn, Forbidden, Forbidden, Ok, Ok, NotFound];
/// Something of the owner's own (a notification, a chat invitation, a private room, a
/// message they wrote): everyone else is told it does not exist.
const OWNERS_OWN: Row = [SignIn, NotFound, NotFound, NotFound, Ok, NotFound];

/// The server-function table: every function registered under `/api/`, and what each
/// caller gets. The arguments of each are made by [`arrange`].
#[rustfmt::skip]
const FUNCTIONS: &[(&str, Row)] = &[
    // Signing in and out.
    ("sign_up", PUBLIC),
    ("log_in", PUBLIC),
    ("log_out", PUBLIC),
    ("get_current_user", PUBLIC),
    // The caller's own things.
    ("list_workspaces", SIGNED_IN),
    ("create_workspace", SIGNED_IN),
    ("list_notifications", SIGNED_IN),
    ("mark_all_notifications_read", SIGNED_IN),
    ("get_notification_prefs", SIGNED_IN),
    ("set_notification_pref", SIGNED_IN),
    ("set_calendar", SIGNED_IN),
    ("mark_notifications_read", [SignIn, Empty, Empty, Empty, Ok, Empty]),
    ("dismiss_notification", OWNERS_OWN),
    ("snooze_notification", OWNERS_OWN),
    // Invites: a link's token is the credential.
    ("preview_invite", PUBLIC),
    ("accept_invite", SIGNED_IN),
    // A workspace.
    ("open_workspace", READ),
    ("rename_workspace", ADMIN),
    ("list_members", READ),
    ("set_member_role", ADMIN),
    ("remove_member", ADMIN),
    ("create_invite", ADMIN),
    ("list_invites", ADMIN),
    ("revoke_invite", ADMIN),
    ("announce", ADMIN),
    ("get_import_mapping", ADMIN),
    ("save_import_mapping", ADMIN),
    ("list_activity", READ),
    // Records.
    ("list_records", READ),
    ("get_record", READ),
    ("create_record", WRITE),
    ("update_record", WRITE),
    ("delete_record", WRITE),
    ("restore_record", ADMIN),
    ("list_form_choices", READ),
    ("list_choices", READ),
    ("list_member_choices", READ),
    ("list_board_totals", READ),
    ("list_field_values", READ),
    ("get_following", [SignIn, Empty, Empty, Empty, Empty, NotFound]),
    ("set_following", READ),
    // Calendars and meetings.
    ("get_calendar", READ),
    ("list_free_slots", READ),
    ("answer_invitation", [SignIn, Ok, Ok, Ok, Ok, NotFound]),
    // Chat.
    ("list_chat_rooms", READ),
    ("get_chat_room", READ),
    ("get_discussion", READ),
    ("create_chat_room", WRITE),
    ("edit_chat_room", ADMIN),
    // A viewer may not invite at all; to anyone else another's private room is not there.
    ("invite_to_chat_room", [SignIn, Forbidden, NotFound, NotFound, Ok, NotFound]),
    ("answer_chat_invitation", OWNERS_OWN),
    ("leave_chat_room", OWNERS_OWN),
    ("list_chat_messages", READ),
    ("send_chat_message", WRITE),
    ("edit_chat_message", [SignIn, Forbidden, Forbidden, Forbidden, Ok, NotFound]),
    ("delete_chat_message", [SignIn, Forbidden, Forbidden, Forbidden, Ok, NotFound]),
    ("react_chat_message", WRITE),
    ("mark_chat_read", READ),
    ("search_chat_messages", READ),
];

/// The workspace every call is aimed at, its people, and the things the calls touch.
struct World {
    app: TestApp,
    slug: String,
    ws: i64,
    viewer: Person,
    member: Person,
    admin: Person,
    owner: Person,
    /// The owner of another workspace.
    outsider: Person,
    customer: i64,
    meeting: i64,
    channel: i64,
    /// A message of the owner's in `channel`.
    message: i64,
    /// An invite link's token (role member).
    invite: String,
}

/// Each person's email (password `password123`).
fn email(caller: Caller) -> &'static str {
    match caller {
        SignedOut => "",
        Viewer => "viewer@example.com",
        Member => "member@example.com",
        Admin => "admin@example.com",
        Owner => "owner@example.com",
        Outsider => "outsider@example.com",
    }
}

impl World {
    async fn new() -> World {
        // The matrix is about who may call what, not how often: the log-in limits make
        // room for the fresh sessions some cells need.
        let mut settings = test_settings();
        settings.limits.login_per_email_per_minute = 1_000;
        settings.limits.login_per_ip_per_minute = 1_000;
        let app = spawn_app_with_settings(settings).await;
        let http = client();
        let owner_id = app.sign_up_as(&http, email(Owner), "Owner").await;
        let slug = app.create_workspace_as(&http, "Acme").await;
        let owner = person_from(&app, http).await;
        assert_eq!(owner.id, owner_id);
        let ws = app.store.workspace_by_slug(&slug).await.expect("ws").id;
        let mut people = Vec::new();
        for (role, caller) in [("viewer", Viewer), ("member", Member), ("admin", Admin)] {
            let http = app
                .member_with_role(&owner.http, &slug, role, email(caller))
                .await;
            people.push(person_from(&app, http).await);
        }
        let admin = people.pop().expect("admin");
        let member = people.pop().expect("member");
        let viewer = people.pop().expect("viewer");
        let outsider = {
            let http = client();
            app.sign_up_as(&http, email(Outsider), "Outsider").await;
            app.create_workspace_as(&http, "Elsewhere").await;
            person_from(&app, http).await
        };
        let customer = create(&app, &owner, &slug, RecordKind::Customer, "name", "Globex").await;
        let ids = [owner.id, viewer.id, member.id, admin.id, outsider.id];
        let participants: Vec<String> = ids[..4].iter().map(i64::to_string).collect();
        let start = app::model::now_ms() + 86_400_000;
        let meeting_fields: Fields = [
            ("title", Value::Text("Review".into())),
            ("starts_at", Value::Int(start)),
            ("ends_at", Value::Int(start + 3_600_000)),
            ("status", Value::Text("scheduled".into())),
            ("participants", Value::Text(participants.join(","))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let meeting = app
            .run(
                &owner.http,
                CreateRecord {
                    slug: slug.clone(),
                    kind: RecordKind::Meeting,
                    fields: meeting_fields,
                },
            )
            .await
            .expect("meeting")
            .id;
        let channel = app
            .run(
                &owner.http,
                CreateChatRoom {
                    slug: slug.clone(),
                    kind: ChatKind::Channel,
                    name: "general".into(),
                    max_participants: None,
                },
            )
            .await
            .expect("channel")
            .id;
        let invite = app.invite_as(&owner.http, &slug, "member").await;
        let mut world = World {
            app,
            slug,
            ws,
            viewer,
            member,
            admin,
            owner,
            outsider,
            customer,
            meeting,
            channel,
            message: 0,
            invite,
        };
        world.message = world.owners_message("Hello, team").await;
        world
    }

    fn person(&self, caller: Caller) -> Option<&Person> {
        match caller {
            SignedOut => None,
            Viewer => Some(&self.viewer),
            Member => Some(&self.member),
            Admin => Some(&self.admin),
            Owner => Some(&self.owner),
            Outsider => Some(&self.outsider),
        }
    }

    /// The caller's browser: their signed-in client, or one with no session.
    fn http(&self, caller: Caller) -> reqwest::Client {
        self.person(caller).map_or_else(client, |p| p.http.clone())
    }

    /// A new browser of the caller's, signed in afresh (for calls that change the
    /// session: signing up, in or out).
    async fn fresh_session(&self, caller: Caller) -> reqwest::Client {
        let http = client();
        if caller != SignedOut {
            let args = LogIn {
                email: email(caller).into(),
                password: "password123".into(),
            };
            self.app.run(&http, args).await.expect("log in");
        }
        http
    }

    /// A new message of the owner's in the channel; returns its id.
    async fn owners_message(&self, body: &str) -> i64 {
        let args = SendChatMessage {
            slug: self.slug.clone(),
            target: ChatTarget::Room(self.channel),
            body: body.into(),
            reply_to: None,
            key: None,
        };
        self.app
            .run(&self.owner.http, args)
            .await
            .expect("message")
            .id
    }

    /// A new private room with only its maker (`by`) in it; returns its id.
    async fn private_room(&self, by: &Person) -> i64 {
        let args = CreateChatRoom {
            slug: self.slug.clone(),
            kind: ChatKind::Private,
            name: format!("private {}", rand::random::<u32>()),
            max_participants: None,
        };
        self.app.run(&by.http, args).await.expect("private room").id
    }

    /// A new notification of the owner's (an announcement by the admin); returns its id.
    async fn owners_notification(&self) -> i64 {
        let args = Announce {
            slug: self.slug.clone(),
            title: "Heads up".into(),
            body: format!("note {}", rand::random::<u32>()),
            priority: None,
        };
        self.app
            .run(&self.admin.http, args)
            .await
            .expect("announce");
        let page = self
            .app
            .run(
                &self.owner.http,
                ListNotifications {
                    before: None,
                    limit: None,
                },
            )
            .await
            .expect("notifications");
        page.items.first().expect("the announcement").id
    }

    /// A new member of the workspace; returns their id.
    async fn new_member(&self) -> i64 {
        let email = format!("new{}@example.com", rand::random::<u32>());
        let http = self
            .app
            .member_with_role(&self.owner.http, &self.slug, "member", &email)
            .await;
        person_from(&self.app, http).await.id
    }

    /// A new customer of the owner's named `name` (names are unique: make it so);
    /// returns its id and version.
    async fn new_customer(&self, name: &str) -> (i64, i64) {
        let args = CreateRecord {
            slug: self.slug.clone(),
            kind: RecordKind::Customer,
            fields: Fields::from([("name".into(), Value::Text(name.into()))]),
        };
        let r = self
            .app
            .run(&self.owner.http, args)
            .await
            .expect("customer");
        (r.id, r.version)
    }
}

/// Creates a `kind` record with one text field, as `p`; returns its id.
async fn create(
    app: &TestApp,
    p: &Person,
    slug: &str,
    kind: RecordKind,
    field: &str,
    text: &str,
) -> i64 {
    let args = CreateRecord {
        slug: slug.into(),
        kind,
        fields: Fields::from([(field.into(), Value::Text(text.into()))]),
    };
    app.run(&p.http, args).await.expect("create").id
}

/// A call's arguments, and whether it needs a session of its own.
struct Call {
    args: Json,
    fresh_session: bool,
}

fn call<T: serde::Serialize>(args: T) -> Call {
    Call {
        args: serde_json::to_value(args).expect("arguments serialize"),
        fresh_session: false,
    }
}

/// Makes the arguments of server function `name` for `caller`, aimed at this workspace
/// and its things, arranging whatever the call uses up (a record to delete, a member to
/// remove, a notification to dismiss) so that every cell starts alike. Panics with the
/// name of a function it does not know.
async fn arrange(w: &World, name: &str, caller: Caller) -> Call {
    let slug = w.slug.clone();
    let unique = rand::random::<u32>();
    match name {
        "sign_up" => Call {
            fresh_session: true,
            ..call(sign_up(
                &format!("someone{unique}@example.com"),
                "Someone",
                None,
            ))
        },
        "log_in" => Call {
            fresh_session: true,
            ..call(LogIn {
                email: if caller == SignedOut {
                    email(Owner)
                } else {
                    email(caller)
                }
                .into(),
                password: "password123".into(),
            })
        },
        "log_out" => Call {
            fresh_session: true,
            ..call(LogOut {})
        },
        "get_current_user" => call(GetCurrentUser {}),
        "list_workspaces" => call(ListWorkspaces {}),
        "create_workspace" => call(CreateWorkspace {
            name: format!("Workspace {unique}"),
            slug: None,
        }),
        "list_notifications" => call(ListNotifications {
            before: None,
            limit: None,
        }),
        "mark_all_notifications_read" => call(MarkAllNotificationsRead {}),
        "get_notification_prefs" => call(GetNotificationPrefs {}),
        "set_notification_pref" => call(SetNotificationPref {
            pref: NoticePref {
                ntype: NoticeType::ALL[0],
                in_app: true,
                sound: false,
                browser: false,
            },
        }),
        "set_calendar" => call(SetCalendar {
            calendar: Calendar::default(),
        }),
        "mark_notifications_read" => call(MarkNotificationsRead {
            ids: vec![w.owners_notification().await],
        }),
        "dismiss_notification" => call(DismissNotification {
            id: w.owners_notification().await,
        }),
        "snooze_notification" => call(SnoozeNotification {
            id: w.owners_notification().await,
            until: app::model::now_ms() + 3_600_000,
        }),
        "preview_invite" => call(PreviewInvite {
            token: w.invite.clone(),
        }),
        "accept_invite" => call(AcceptInvite {
            token: w.app.invite_as(&w.owner.http, &slug, "viewer").await,
        }),
        "open_workspace" => call(OpenWorkspace { slug }),
        "rename_workspace" => call(RenameWorkspace {
            slug,
            name: "Acme".into(),
        }),
        "list_members" => call(ListMembers { slug }),
        "set_member_role" => call(SetMemberRole {
            user_id: w.new_member().await,
            slug,
            role: Role::Viewer,
        }),
        "remove_member" => call(RemoveMember {
            user_id: w.new_member().await,
            slug,
        }),
        "create_invite" => call(CreateInvite {
            slug,
            role: Role::Member,
            expires_in_days: 7,
            max_uses: 1,
        }),
        "list_invites" => call(ListInvites { slug }),
        "revoke_invite" => {
            let token = w.app.invite_as(&w.owner.http, &slug, "member").await;
            let invites = w
                .app
                .run(&w.owner.http, ListInvites { slug: slug.clone() })
                .await
                .expect("invites");
            let invite = invites
                .iter()
                .find(|i| i.token == token)
                .expect("the invite");
            call(RevokeInvite {
                slug,
                invite_id: invite.id,
            })
        }
        "announce" => call(Announce {
            slug,
            title: "News".into(),
            body: "Something happened".into(),
            priority: None,
        }),
        "get_import_mapping" => call(GetImportMapping { slug }),
        "save_import_mapping" => call(SaveImportMapping {
            slug,
            mapping: ImportMapping::default(),
        }),
        "list_activity" => call(ListActivity {
            slug,
            feed: FeedType::Global,
            filter: None,
            before: None,
            limit: None,
        }),
        "list_records" => call(ListRecords {
            slug,
            kind: RecordKind::Customer,
            query: RecordQuery::default(),
        }),
        "get_record" => call(GetRecord {
            slug,
            kind: RecordKind::Customer,
            id: w.customer,
        }),
        "create_record" => call(CreateRecord {
            slug,
            kind: RecordKind::Customer,
            fields: Fields::from([("name".into(), Value::Text(format!("New {unique}")))]),
        }),
        "update_record" => {
            let before = format!("Before {unique}");
            let (id, _) = w.new_customer(&before).await;
            call::<UpdateRecord>(update_field(
                &slug,
                RecordKind::Customer,
                id,
                "name",
                Value::Text(before),
                Value::Text(format!("After {unique}")),
            ))
        }
        "delete_record" => {
            let (id, version) = w.new_customer(&format!("Doomed {unique}")).await;
            call(DeleteRecord {
                slug,
                kind: RecordKind::Customer,
                id,
                version,
            })
        }
        "restore_record" => {
            let (id, version) = w.new_customer(&format!("Deleted {unique}")).await;
            let args = DeleteRecord {
                slug: slug.clone(),
                kind: RecordKind::Customer,
                id,
                version,
            };
            w.app.run(&w.owner.http, args).await.expect("delete");
            call(RestoreRecord {
                slug,
                kind: RecordKind::Customer,
                id,
            })
        }
        "list_form_choices" => call(ListFormChoices { slug }),
        "list_choices" => call(ListChoices {
            slug,
            kind: RecordKind::Customer,
            search: "Glo".into(),
        }),
        "list_member_choices" => call(ListMemberChoices { slug }),
        "list_board_totals" => call(ListBoardTotals {
            slug,
            kind: RecordKind::Deal,
        }),
        "list_field_values" => call(ListFieldValues {
            slug,
            kind: RecordKind::Customer,
            field: "name".into(),
        }),
        "get_following" => call(GetFollowing {
            slug,
            kind: RecordKind::Customer,
            id: w.customer,
        }),
        "set_following" => call(SetFollowing {
            slug,
            kind: RecordKind::Customer,
            id: w.customer,
            on: true,
        }),
        "get_calendar" => call(GetCalendar {
            slug,
            user: Some(w.owner.id),
        }),
        "list_free_slots" => {
            let now = app::model::now_ms();
            call(ListFreeSlots {
                slug,
                users: vec![w.owner.id],
                from: now,
                to: now + 86_400_000,
                slot_minutes: None,
            })
        }
        "answer_invitation" => call(AnswerInvitation {
            slug,
            kind: RecordKind::Meeting,
            id: w.meeting,
            answer: "accepted".into(),
        }),
        "list_chat_rooms" => call(ListChatRooms { slug }),
        "get_chat_room" => call(GetChatRoom {
            slug,
            room_id: w.channel,
        }),
        "get_discussion" => call(GetDiscussion {
            slug,
            kind: RecordKind::Customer,
            record_id: w.customer,
        }),
        "create_chat_room" => call(CreateChatRoom {
            slug,
            kind: ChatKind::Private,
            name: format!("room {unique}"),
            max_participants: None,
        }),
        "edit_chat_room" => call(EditChatRoom {
            slug,
            room_id: w.channel,
            edit: ChatRoomEdit::Rename(format!("general {unique}")),
        }),
        "invite_to_chat_room" => call(InviteToChatRoom {
            room_id: w.private_room(&w.owner).await,
            slug,
            user_ids: vec![w.member.id],
            days: None,
        }),
        "answer_chat_invitation" => {
            let room = w.private_room(&w.admin).await;
            let args = InviteToChatRoom {
                slug: slug.clone(),
                room_id: room,
                user_ids: vec![w.owner.id],
                days: None,
            };
            let invitation = w.app.run(&w.admin.http, args).await.expect("invite");
            call(AnswerChatInvitation {
                slug,
                invitation_id: invitation[0].id,
                accept: true,
            })
        }
        "leave_chat_room" => call(LeaveChatRoom {
            room_id: w.private_room(&w.owner).await,
            slug,
            user_id: None,
        }),
        "list_chat_messages" => call(ListChatMessages {
            slug,
            room_id: w.channel,
            before: None,
            limit: None,
        }),
        "send_chat_message" => call(SendChatMessage {
            slug,
            target: ChatTarget::Room(w.channel),
            body: "Hi".into(),
            reply_to: None,
            key: None,
        }),
        "edit_chat_message" => call(EditChatMessage {
            message_id: w.owners_message("Draft").await,
            slug,
            room_id: w.channel,
            body: "Edited".into(),
        }),
        "delete_chat_message" => call(DeleteChatMessage {
            message_id: w.owners_message("Oops").await,
            slug,
            room_id: w.channel,
        }),
        "react_chat_message" => call(ReactChatMessage {
            slug,
            room_id: w.channel,
            message_id: w.message,
            emoji: "👍".into(),
            on: true,
        }),
        "mark_chat_read" => call(MarkChatRead {
            slug,
            room_id: w.channel,
            seq: 1,
        }),
        "search_chat_messages" => call(SearchChatMessages {
            slug,
            term: "Hello".into(),
        }),
        other => panic!("{other}: no arguments in `arrange`; add it there and to FUNCTIONS"),
    }
}

/// What a server function's answer says, as a [`Got`].
fn got(answer: Result<Json, AppError>) -> Got {
    match answer {
        Result::Ok(Json::Bool(false)) => Empty,
        Result::Ok(Json::Array(a)) if a.is_empty() => Empty,
        Result::Ok(_) => Ok,
        Err(AppError::Unauthorized) => SignIn,
        Err(AppError::Forbidden(_)) => Forbidden,
        Err(AppError::NotFound(_)) => NotFound,
        Err(AppError::Gone(_)) => Gone,
        Err(AppError::Validation { .. }) => Invalid,
        Err(AppError::Conflict(_)) => Conflict,
        Err(AppError::RateLimited { .. }) => Limited,
        Err(AppError::Internal | AppError::Request(_)) => Failed,
    }
}

/// The names of every server function the server registered, without the `/api/`.
fn registered_functions() -> BTreeSet<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| {
            path.strip_prefix("/api/")
                .unwrap_or_else(|| panic!("{path}: a server function outside /api/"))
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn every_server_function_answers_each_caller_as_its_row_says() {
    let registered = registered_functions();
    assert!(registered.len() >= FUNCTIONS.len(), "{registered:?}");
    let table: BTreeSet<String> = FUNCTIONS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(table.len(), FUNCTIONS.len(), "a function has two rows");
    let missing: Vec<_> = registered.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "server functions with no row in FUNCTIONS (decide who may call them): {missing:?}"
    );
    let stale: Vec<_> = table.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "rows for functions that no longer exist: {stale:?}"
    );

    let w = World::new().await;
    let mut wrong = Vec::new();
    for (name, row) in FUNCTIONS {
        for (caller, expected) in CALLERS.iter().zip(row) {
            let call = arrange(&w, name, *caller).await;
            let http = if call.fresh_session {
                w.fresh_session(*caller).await
            } else {
                w.http(*caller)
            };
            let answer = w.app.call_as::<Json>(&http, name, call.args).await;
            if *name == "accept_invite" && *caller == Outsider && answer.is_ok() {
                // The link made the outsider a member, as it should; the rows after this
                // one need them outside again.
                let args = RemoveMember {
                    slug: w.slug.clone(),
                    user_id: w.outsider.id,
                };
                w.app.run(&w.owner.http, args).await.expect("remove");
            }
            let outcome = got(answer.clone());
            if outcome != *expected {
                wrong.push(format!(
                    "{name} as {caller:?}: expected {expected:?}, got {answer:?}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Nothing above changed who is who: the owner still owns, the viewer still views.
    let members = w
        .app
        .run(
            &w.owner.http,
            ListMembers {
                slug: w.slug.clone(),
            },
        )
        .await
        .expect("members");
    for (p, role) in [
        (&w.owner, Role::Owner),
        (&w.admin, Role::Admin),
        (&w.member, Role::Member),
        (&w.viewer, Role::Viewer),
    ] {
        let m = members
            .iter()
            .find(|m| m.user.id == p.id)
            .expect("still a member");
        assert_eq!(m.role, role);
    }
}

/// The client-frame table: every frame type the decoder knows, and what each caller's
/// socket gets for it, aimed at this workspace's customer (`Ok`: no error frame before
/// the next pong; `SignIn`: no socket at all; otherwise the error frame's code as a
/// [`Got`]). Samples are made by [`sample_frame`].
#[rustfmt::skip]
const FRAMES: &[(&str, Row)] = &[
    ("hello", SOCKET),
    ("ping", SOCKET),
    ("subscribe", SOCKET_READ),
    // Leaving a room one is not in is a no-op, not a disclosure.
    ("unsubscribe", SOCKET),
    // Presence names a page and, when editing, a record: only one the caller may change.
    ("presence", SOCKET_WRITE),
    ("typing", SOCKET_WRITE),
    ("take_over", SOCKET_WRITE),
];

/// Any signed-in user's socket; signed out there is no socket.
const SOCKET: Row = [SignIn, Ok, Ok, Ok, Ok, Ok];
/// A room every member may follow; the outsider's socket is refused.
const SOCKET_READ: Row = [SignIn, Ok, Ok, Ok, Ok, Forbidden];
/// Something only those who may write do.
const SOCKET_WRITE: Row = [SignIn, Forbidden, Ok, Ok, Ok, Forbidden];
/// Something of the owner's own.
const SOCKET_OWNERS_OWN: Row = [SignIn, Forbidden, Forbidden, Forbidden, Ok, Forbidden];

/// The frame types of the client-frame decoder, read from the decoder itself: serde
/// lists them when asked for a type it does not know.
fn frame_types() -> Vec<String> {
    let err =
        serde_json::from_str::<ClientFrame>(r#"{"type": "?"}"#).expect_err("no such frame type");
    let text = err.to_string();
    let (_, list) = text
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("serde's message changed: {text}"));
    let list = list.split(" at line").next().unwrap_or(list);
    list.split(", ")
        .map(|t| t.trim_matches('`').to_string())
        .collect()
}

/// A frame of type `name` aimed at the workspace's customer. Panics with the name of a
/// type it cannot make.
fn sample_frame(name: &str, w: &World) -> ClientFrame {
    let room = Room::Record(RecordKind::Customer, w.customer);
    match name {
        "hello" => ClientFrame::Hello {
            version: app::realtime::protocol::PROTOCOL_VERSION,
        },
        "ping" => ClientFrame::Ping,
        "subscribe" => ClientFrame::Subscribe { room, since: None },
        "unsubscribe" => ClientFrame::Unsubscribe { room },
        "presence" => ClientFrame::Presence {
            status: Status::Online,
            page: format!("/w/{}/customers/{}", w.slug, w.customer),
            editing: Some(Editing {
                record: room,
                field: "name".into(),
            }),
        },
        "typing" => ClientFrame::Typing {
            room,
            field: Some("name".into()),
        },
        "take_over" => ClientFrame::TakeOver {
            room,
            field: "name".into(),
        },
        other => panic!(
            "client frame type {other}: no sample in `sample_frame`; add it there and to FRAMES"
        ),
    }
}

/// What an error frame's code means as a [`Got`].
fn got_code(code: ErrorCode) -> Got {
    match code {
        ErrorCode::Forbidden => Forbidden,
        ErrorCode::BadFrame => Invalid,
        ErrorCode::RateLimited | ErrorCode::Limit | ErrorCode::TooManySockets => Limited,
        ErrorCode::Version | ErrorCode::Internal => Failed,
    }
}

/// The caller's socket (welcomed, hello sent), or what refused it.
async fn socket(w: &World, caller: Caller) -> Result<Ws, Got> {
    match w.person(caller) {
        Some(p) => Result::Ok(connect(&w.app, p).await),
        None => match connect_with(&w.app, None, Some(&w.app.base)).await {
            Err(401) => Err(SignIn),
            Err(status) => panic!("a signed-out upgrade answered {status}"),
            Result::Ok(_) => panic!("a signed-out upgrade was accepted"),
        },
    }
}

/// Sends `frame` and then a ping (unless it is one); what came back before the pong,
/// as a [`Got`]: the first error frame's code, else `Ok`.
async fn outcome_of(ws: &mut Ws, frame: &ClientFrame) -> Got {
    send(ws, frame).await;
    if frame != &ClientFrame::Ping {
        send(ws, &ClientFrame::Ping).await;
    }
    let mut outcome = Ok;
    loop {
        match recv(ws).await {
            ServerFrame::Pong => return outcome,
            ServerFrame::Error { code, .. } if outcome == Ok => outcome = got_code(code),
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_client_frame_type_answers_each_caller_as_its_row_says() {
    let types = frame_types();
    assert!(types.len() >= 5, "{types:?}");
    let table: BTreeSet<&str> = FRAMES.iter().map(|(n, _)| *n).collect();
    let missing: Vec<_> = types
        .iter()
        .filter(|t| !table.contains(t.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "client frame types with no row in FRAMES (decide who may send them): {missing:?}"
    );
    let stale: Vec<_> = table
        .iter()
        .filter(|t| !types.iter().any(|n| n == *t))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for frame types that no longer exist: {stale:?}"
    );

    let w = World::new().await;
    let room = Room::Record(RecordKind::Customer, w.customer);
    let mut wrong = Vec::new();
    for (name, row) in FRAMES {
        let frame = sample_frame(name, &w);
        for (caller, expected) in CALLERS.iter().zip(row) {
            let outcome = match socket(&w, *caller).await {
                Err(refused) => refused,
                Result::Ok(mut ws) => {
                    if !matches!(frame, ClientFrame::Subscribe { .. }) {
                        // In the room first where the caller may be: what the frame is
                        // refused for is then the frame, not a missing subscription.
                        outcome_of(&mut ws, &ClientFrame::Subscribe { room, since: None }).await;
                    }
                    outcome_of(&mut ws, &frame).await
                }
            };
            if outcome != *expected {
                wrong.push(format!(
                    "{name} as {caller:?}: expected {expected:?}, got {outcome:?}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Values for each required field of `kind` (its first choice, the owner for a member, an hour from now for a time, else text).
fn required_fields(kind: RecordKind, owner: i64) -> Fields {
    let soon = app::model::now_ms() + 3_600_000;
    kind.fields()
        .iter()
        .filter(|f| f.required)
        .map(|f| {
            let value = match f.kind {
                FieldKind::Choice(choices) => Value::Text(choices[0].into()),
                FieldKind::Member => Value::Int(owner),
                FieldKind::DateTime | FieldKind::Date if f.name == "ends_at" => {
                    Value::Int(soon + 3_600_000)
                }
                FieldKind::DateTime | FieldKind::Date => Value::Int(soon),
                _ => Value::Text(format!("{} sample", kind.noun())),
            };
            (f.name.to_string(), value)
        })
        .collect()
}

/// What each caller's socket gets when it subscribes to a room of `room`'s kind in this
/// workspace. The match has no wildcard: a new kind of room does not compile until it
/// has a row here.
fn room_row(room: &Room, w: &World) -> Row {
    match room {
        Room::Workspace(_) | Room::Record(..) => SOCKET_READ,
        Room::Admins(_) => [SignIn, Forbidden, Forbidden, Ok, Ok, Forbidden],
        Room::User(_) => SOCKET_OWNERS_OWN,
        Room::Chat(id) if *id == w.channel => SOCKET_READ,
        Room::Chat(_) => SOCKET_OWNERS_OWN,
    }
}

#[tokio::test]
async fn every_kind_of_room_admits_each_caller_as_its_row_says() {
    let w = World::new().await;
    let mut rooms = vec![
        Room::Workspace(w.ws),
        Room::Admins(w.ws),
        Room::User(w.owner.id),
        Room::Chat(w.channel),
        Room::Chat(w.private_room(&w.owner).await),
    ];
    for kind in RecordKind::ALL {
        let args = CreateRecord {
            slug: w.slug.clone(),
            kind,
            fields: required_fields(kind, w.owner.id),
        };
        let id = w
            .app
            .run(&w.owner.http, args)
            .await
            .unwrap_or_else(|e| panic!("a {}: {e:?}", kind.noun()))
            .id;
        rooms.push(Room::Record(kind, id));
    }
    let mut sockets = Vec::new();
    for caller in CALLERS {
        sockets.push(socket(&w, caller).await);
    }
    let mut wrong = Vec::new();
    for room in rooms {
        let row = room_row(&room, &w);
        for ((caller, expected), ws) in CALLERS.iter().zip(row).zip(sockets.iter_mut()) {
            let outcome = match ws {
                Err(refused) => *refused,
                Result::Ok(ws) => {
                    let got = outcome_of(ws, &ClientFrame::Subscribe { room, since: None }).await;
                    // Leave again, so the socket stays under its room limit.
                    outcome_of(ws, &ClientFrame::Unsubscribe { room }).await;
                    got
                }
            };
            if outcome != expected {
                wrong.push(format!(
                    "{} as {caller:?}: expected {expected:?}, got {outcome:?}",
                    room.name()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The plain-route table: every path of `server::PLAIN_ROUTES` and what each caller
/// gets (by HTTP status: 2xx `Ok`, 401 `SignIn`, 403 `Forbidden`, 404 `NotFound`).
/// `/metrics` runs with a bearer token set, which no caller's session stands in for.
#[rustfmt::skip]
const ROUTES: &[(&str, Row)] = &[
    ("/healthz", PUBLIC),
    ("/readyz", PUBLIC),
    ("/metrics", [SignIn; 6]),
    ("/api/import_crm", ADMIN),
    ("/api/export_activity", READ),
    ("/ws", SIGNED_IN),
    ("/sse", SIGNED_IN),
    // A stream's frames may be posted only by the session that opened it (the owner's);
    // to anyone else it does not exist.
    ("/sse/{token}", [NotFound, NotFound, NotFound, NotFound, Ok, NotFound]),
];

/// What an HTTP status means as a [`Got`].
fn got_status(status: u16) -> Got {
    match status {
        200..=299 => Ok,
        401 => SignIn,
        403 => Forbidden,
        404 => NotFound,
        400 | 413 | 422 => Invalid,
        429 => Limited,
        _ => Failed,
    }
}

#[tokio::test]
async fn every_plain_route_answers_each_caller_as_its_row_says() {
    let table: BTreeSet<&str> = ROUTES.iter().map(|(p, _)| *p).collect();
    let missing: Vec<_> = server::PLAIN_ROUTES
        .iter()
        .filter(|p| !table.contains(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "routes with no row in ROUTES (decide who may call them): {missing:?}"
    );
    assert_eq!(
        table.len(),
        server::PLAIN_ROUTES.len(),
        "rows for routes that no longer exist"
    );

    let w = World::new().await;
    // The same database, served by a node with a metrics token.
    let mut settings = test_settings();
    settings.metrics_token = Some("s3cret".into());
    let node = w.app.another_node(settings).await;
    let owners_stream = crate::sse::open_stream(&node, &w.owner).await;
    let accounts = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/maven-crm/accounts.csv"
    ))
    .expect("the Maven accounts");
    let accounts: String = accounts.lines().take(3).map(|l| format!("{l}\n")).collect();
    let mut wrong = Vec::new();
    for (path, row) in ROUTES {
        for (caller, expected) in CALLERS.iter().zip(row) {
            let http = w.http(*caller);
            let cookie = w.person(*caller).map(|p| p.cookie.clone());
            let status = match *path {
                "/healthz" | "/readyz" | "/metrics" => http
                    .get(format!("{}{path}", node.base))
                    .send()
                    .await
                    .expect("GET")
                    .status()
                    .as_u16(),
                "/api/import_crm" => node
                    .upload_import(
                        &http,
                        &w.slug,
                        &[("accounts.csv", accounts.clone())],
                        None,
                        &[],
                    )
                    .await
                    .status()
                    .as_u16(),
                "/api/export_activity" => http
                    .get(format!(
                        "{}/api/export_activity?workspace={}",
                        node.base, w.slug
                    ))
                    .send()
                    .await
                    .expect("GET")
                    .status()
                    .as_u16(),
                "/ws" => match connect_with(&node, cookie.as_deref(), Some(&node.base)).await {
                    Result::Ok(_) => 200,
                    Err(status) => status,
                },
                "/sse" => http
                    .get(format!("{}/sse", node.base))
                    .send()
                    .await
                    .expect("GET /sse")
                    .status()
                    .as_u16(),
                "/sse/{token}" => {
                    crate::sse::post(
                        &node,
                        &owners_stream.token,
                        cookie.as_deref().unwrap_or(""),
                        r#"{"type": "ping"}"#,
                    )
                    .await
                }
                other => panic!("{other}: no request in this test; add one"),
            };
            let outcome = got_status(status);
            if outcome != *expected {
                wrong.push(format!(
                    "{path} as {caller:?}: expected {expected:?}, got {status}"
                ));
            }
        }
    }
    // The token opens /metrics.
    let with_token = client()
        .get(format!("{}/metrics", node.base))
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(with_token.status(), 200);
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
