//! `/w/{slug}/chat` and `/w/{slug}/chat/{room}`: the room list (channels, private rooms,
//! discussions with unread counts that follow every tab live, open invitations with
//! accept and decline, search, new rooms), the open room's conversation, who is in it
//! now, and its settings (participants, invitations, rename, archive, leave).

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::chat::{
    answer_chat_invitation, create_chat_room, edit_chat_room, get_chat_room, invite_to_chat_room,
    leave_chat_room, list_chat_rooms, search_chat_messages, ChatHit, ChatRoomEdit,
};
use crate::api::records::list_form_choices;
use crate::api::workspaces::WorkspaceView;
use crate::components::chat::{render_markdown, ChatRoomView, Pending};
use crate::components::{error_message, AfterHydration, PresenceIndicator, Ready};
use crate::model::chat::{
    ChatInvitation, ChatKind, ChatRoom, ChatRoomDetail, ChatTarget, InvitationStatus,
};
use crate::model::Choice;
use crate::realtime::protocol::{Change, Position, Room};
use crate::realtime::RoomEvent;

/// How many rooms of the sidebar follow their messages live (each is a subscription of
/// the tab's socket, which the server caps at 100 rooms).
const LIVE_ROOMS: usize = 60;

/// The chat page.
#[component]
pub fn ChatPage() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let me = ws.user.id;
    let params = use_params_map();
    let selected = Memo::new(move |_| {
        params
            .read()
            .get("room")
            .and_then(|r| r.parse::<i64>().ok())
    });
    let rooms = RwSignal::new(Vec::<ChatRoom>::new());
    let invitations = RwSignal::new(Vec::<ChatInvitation>::new());
    let positions = RwSignal::new(BTreeMap::<i64, Position>::new());
    let list_error = RwSignal::new(None::<String>);
    let reload = {
        let slug = slug.clone();
        move || {
            let slug = slug.clone();
            leptos::task::spawn_local(async move {
                match list_chat_rooms(slug).await {
                    Ok(o) => {
                        positions.set(o.positions);
                        rooms.set(o.rooms);
                        invitations.set(o.invitations);
                        list_error.set(None);
                    }
                    Err(e) => list_error.set(Some(error_message(&e))),
                }
            });
        }
    };
    let reload = StoredValue::new(reload);
    // Loaded in the browser (counts are per viewer and live from there).
    Effect::new(move |_| reload.with_value(|r| r()));
    if let Some(rt) = crate::realtime::use_realtime() {
        // Read markers, invitations and rooms joined or left, from every tab of the user.
        rt.listen(Room::User(me), move |ev| match ev {
            RoomEvent::Change(c, _) => match *c {
                Change::ChatRead {
                    chat, seq, unread, ..
                } => rooms.update(|rs| {
                    if let Some(r) = rs.iter_mut().find(|r| r.id == chat) {
                        r.read_seq = r.read_seq.max(seq);
                        r.unread = if seq >= r.last_seq { 0 } else { unread };
                    }
                }),
                Change::ChatInvitation { .. } | Change::ChatRoom { .. } => {
                    reload.with_value(|r| r())
                }
                _ => {}
            },
            RoomEvent::Resync => reload.with_value(|r| r()),
            _ => {}
        });
        // Channels and discussions made, renamed or archived.
        rt.listen(Room::Workspace(ws.workspace.id), move |ev| {
            if matches!(&ev, RoomEvent::Change(c, _) if matches!(**c, Change::ChatRoom { .. })) {
                reload.with_value(|r| r());
            }
        });
    }
    let members = Resource::new(|| (), {
        let slug = slug.clone();
        move |_| list_form_choices(slug.clone())
    });
    view! {
        <header class="page-header"><h1>"Chat"</h1></header>
        <div class="chat-page">
            <nav class="chat-sidebar" aria-label="Chat rooms">
                {move || list_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <Invitations invitations reload/>
                <RoomGroup title="Channels" kind=ChatKind::Channel rooms positions selected/>
                <RoomGroup title="Private rooms" kind=ChatKind::Private rooms positions selected/>
                <RoomGroup title="Discussions" kind=ChatKind::Discussion rooms positions selected/>
                <NewRoom/>
                <Search/>
            </nav>
            <section class="chat-main" aria-label="Conversation">
                // The open room is the viewer's, live: rendered in the browser.
                <AfterHydration>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let members = members.await.map(|c| c.members).unwrap_or_default();
                        view! {
                            {move || match selected.get() {
                                Some(id) => view! { <RoomPanel id members=members.clone() reload/> }.into_any(),
                                None => view! { <p>"Choose a room, or start one."</p> }.into_any(),
                            }}
                        }
                    })}
                </Suspense>
                </AfterHydration>
            </section>
        </div>
    }
}

/// The open invitations, each with Accept and Decline.
#[component]
fn Invitations(
    invitations: RwSignal<Vec<ChatInvitation>>,
    reload: StoredValue<impl Fn() + Send + Sync + 'static>,
) -> impl IntoView {
    let slug = StoredValue::new(expect_context::<WorkspaceView>().workspace.slug);
    let error = RwSignal::new(None::<String>);
    let navigate = StoredValue::new(use_navigate());
    let answer = move |id: i64, room: i64, accept: bool| {
        leptos::task::spawn_local(async move {
            match answer_chat_invitation(slug.get_value(), id, accept).await {
                Ok(_) => {
                    error.set(None);
                    reload.with_value(|r| r());
                    if accept {
                        navigate.with_value(|n| {
                            n(
                                &format!("/w/{}/chat/{room}", slug.get_value()),
                                Default::default(),
                            )
                        });
                    }
                }
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    };
    view! {
        <Show when=move || !invitations.with(Vec::is_empty)>
            <section class="chat-invitations" aria-labelledby="chat-invitations-heading">
                <h2 id="chat-invitations-heading">"Invitations"</h2>
                <ul>
                    <For each=move || invitations.get() key=|i| i.id let:i>
                        <li>
                            <span>{format!("{} invited you to {}", i.invited_by_name.clone().unwrap_or_else(|| "Someone".into()), i.room_name)}</span>
                            <Ready>
                            <button type="button" aria-label=format!("Accept the invitation to {}", i.room_name) on:click=move |_| answer(i.id, i.room_id, true)>"Accept"</button>
                            <button type="button" aria-label=format!("Decline the invitation to {}", i.room_name) on:click=move |_| answer(i.id, i.room_id, false)>"Decline"</button>
                            </Ready>
                        </li>
                    </For>
                </ul>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </section>
        </Show>
    }
}

/// The rooms of one kind, each a link with its unread count.
#[component]
fn RoomGroup(
    title: &'static str,
    kind: ChatKind,
    rooms: RwSignal<Vec<ChatRoom>>,
    positions: RwSignal<BTreeMap<i64, Position>>,
    selected: Memo<Option<i64>>,
) -> impl IntoView {
    let ids = move || {
        rooms.with(|rs| {
            rs.iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.id)
                .collect::<Vec<_>>()
        })
    };
    let heading = format!("chat-group-{}", kind.as_str());
    view! {
        <section aria-labelledby=heading.clone()>
            <h2 id=heading.clone()>{title}</h2>
            <ul class="chat-rooms">
                <For each=ids key=|id| *id let:id>
                    <RoomLink id rooms position=positions.get_untracked().get(&id).copied() selected/>
                </For>
            </ul>
        </section>
    }
}

/// One room in the sidebar, listening to it: a new message by someone else after the
/// viewer's marker adds one to its unread count.
#[component]
fn RoomLink(
    id: i64,
    rooms: RwSignal<Vec<ChatRoom>>,
    position: Option<Position>,
    selected: Memo<Option<i64>>,
) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let me = ws.user.id;
    // A socket may be in at most 100 rooms: the sidebar follows its first 60 live (the
    // others show their counts as of the last load).
    let live = rooms.with_untracked(|rs| rs.iter().position(|r| r.id == id)) < Some(LIVE_ROOMS);
    if let (Some(rt), true) = (crate::realtime::use_realtime(), live) {
        let listener = rt.listen(Room::Chat(id), move |ev| {
            if let RoomEvent::Change(c, _) = ev {
                if let Change::Message { message, .. } = *c {
                    rooms.update(|rs| {
                        if let Some(r) = rs.iter_mut().find(|r| r.id == id) {
                            // Each message counts once: those at or below `last_seq` are in
                            // the count already.
                            if message.seq > r.last_seq {
                                r.last_seq = message.seq;
                                r.last_message_at = Some(message.created_at);
                                if message.author_id != Some(me) && message.seq > r.read_seq {
                                    r.unread += 1;
                                }
                            }
                        }
                    });
                }
            }
        });
        if let Some(p) = position {
            listener.resume(p);
        }
    }
    let room = move || rooms.with(|rs| rs.iter().find(|r| r.id == id).cloned());
    let href = format!("/w/{}/chat/{id}", ws.workspace.slug);
    view! {
        {move || room().map(|r| {
            let unread = r.unread;
            let has_unread = unread > 0;
            let current = selected.get() == Some(id);
            view! {
                <li class:unread=has_unread>
                    <A href=href.clone() attr:aria-current=current.then_some("page")>
                        <span class="name">{r.name.clone()}</span>
                        {r.archived_at.is_some().then(|| view! { <span class="badge">" archived"</span> })}
                        {(unread > 0).then(|| view! { <span class="badge unread-count">{format!(" {unread} unread")}</span> })}
                    </A>
                </li>
            }
        })}
    }
}

/// Forms for a new private room (any member who writes) and a new channel (admins).
#[component]
fn NewRoom() -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    if !ws.role.can_write() {
        return ().into_any();
    }
    let slug = StoredValue::new(ws.workspace.slug.clone());
    let admin = ws.role.can_admin();
    let name = RwSignal::new(String::new());
    let limit = RwSignal::new(String::new());
    let kind = RwSignal::new(ChatKind::Private);
    let navigate = StoredValue::new(use_navigate());
    let create = Action::new_local(move |_: &()| {
        let max = limit.get_untracked().trim().parse::<i64>().ok();
        create_chat_room(
            slug.get_value(),
            kind.get_untracked(),
            name.get_untracked(),
            max,
        )
    });
    Effect::new(move |_| {
        if let Some(Ok(room)) = create.value().get() {
            name.set(String::new());
            limit.set(String::new());
            navigate.with_value(|n| {
                n(
                    &format!("/w/{}/chat/{}", slug.get_value(), room.id),
                    Default::default(),
                )
            });
        }
    });
    view! {
        <form class="new-room" aria-label="New room" on:submit=move |ev| { ev.prevent_default(); create.dispatch(()); }>
            <h2>"New room"</h2>
            <Ready>
            {admin.then(|| view! {
                <label for="new-room-kind">"Kind"</label>
                    <select id="new-room-kind" on:change=move |ev| kind.set(if event_target_value(&ev) == "channel" { ChatKind::Channel } else { ChatKind::Private })>
                        <option value="private">"Private room"</option>
                        <option value="channel">"Channel"</option>
                    </select>
            })}
            <label>"Room name"<input type="text" required maxlength="80" bind:value=name/></label>
            <Show when=move || kind.get() == ChatKind::Private>
                <label>"Participant limit (optional)"<input type="number" min="2" max="1000" bind:value=limit/></label>
            </Show>
            <button type="submit">"Create room"</button>
            </Ready>
            {move || match create.value().get() {
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{error_message(&e)}</p> }),
                _ => None,
            }}
        </form>
    }
    .into_any()
}

/// Search in the rooms the viewer sees.
#[component]
fn Search() -> impl IntoView {
    let slug = StoredValue::new(expect_context::<WorkspaceView>().workspace.slug);
    let term = RwSignal::new(String::new());
    // The hits, and the members' names their mentions show.
    let search = Action::new_local(move |_: &()| {
        let (slug, term) = (slug.get_value(), term.get_untracked());
        async move {
            let hits = search_chat_messages(slug.clone(), term).await?;
            let members = list_form_choices(slug)
                .await
                .map(|c| c.members)
                .unwrap_or_default();
            Ok::<_, crate::error::AppError>((hits, members))
        }
    });
    view! {
        <form class="chat-search" role="search" aria-label="Search messages" on:submit=move |ev| { ev.prevent_default(); search.dispatch(()); }>
            <Ready>
            <label>"Search messages"<input type="search" bind:value=term/></label>
            <button type="submit">"Search"</button>
            </Ready>
        </form>
        {move || search.value().get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_message(&e)}</p> }.into_any(),
            Ok((hits, _)) if hits.is_empty() => view! { <p>"No messages found."</p> }.into_any(),
            Ok((hits, members)) => view! { <SearchHits hits members/> }.into_any(),
        })}
    }
}

#[component]
fn SearchHits(hits: Vec<ChatHit>, members: Vec<Choice>) -> impl IntoView {
    let slug = expect_context::<WorkspaceView>().workspace.slug;
    let names = crate::components::chat::namer(&members);
    view! {
        <ul class="search-hits" aria-label="Messages found">
            {hits.into_iter().map(|h| view! {
                <li>
                    <A href=format!("/w/{slug}/chat/{}", h.room.id)>{format!("{} in {}", h.message.author_name, h.room.name)}</A>
                    <div class="body">{render_markdown(&h.message.body, &names)}</div>
                </li>
            }).collect_view()}
        </ul>
    }
}

/// The open room: its name, who is in it now, the conversation, and its settings. A
/// change to the room (renamed, someone invited or joining) reloads its details and
/// re-renders the header and settings only: the conversation (draft, scroll position,
/// "new messages" line) stays as it is.
#[component]
fn RoomPanel(
    id: i64,
    members: Vec<Choice>,
    reload: StoredValue<impl Fn() + Send + Sync + 'static>,
) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = StoredValue::new(ws.workspace.slug.clone());
    let me = ws.user.id;
    let detail = RwSignal::new(None::<Result<ChatRoomDetail, crate::error::AppError>>);
    let fetch = move || {
        leptos::task::spawn_local(async move {
            detail.set(Some(get_chat_room(slug.get_value(), id).await));
        })
    };
    Effect::new(move |_| fetch());
    let gone = RwSignal::new(false);
    if let Some(rt) = crate::realtime::use_realtime() {
        rt.listen(Room::Chat(id), move |ev| match ev {
            RoomEvent::Change(c, _) => {
                if c.ends_access_of(Room::Chat(id)) == Some(me) {
                    gone.set(true);
                    reload.with_value(|r| r());
                } else if matches!(*c, Change::ChatRoom { .. }) {
                    fetch();
                }
            }
            RoomEvent::Resync => fetch(),
            _ => {}
        });
    }
    // Whether the room could be opened, and why not: changes only when that does.
    let state = Memo::new(move |_| {
        detail.with(|d| {
            d.as_ref()
                .map(|r| r.as_ref().map(|_| ()).map_err(error_message))
        })
    });
    let members = StoredValue::new(members);
    view! {
        {move || match (gone.get(), state.get()) {
            (true, _) => view! { <p role="alert">"You are no longer in this room."</p> }.into_any(),
            (false, None) => view! { <p>"Loading…"</p> }.into_any(),
            (false, Some(Err(e))) => view! {
                <p class="error" role="alert">{e}</p>
                <Pending target=ChatTarget::Room(id) members=members.get_value() stored=RwSignal::new(BTreeMap::new())/>
            }.into_any(),
            (false, Some(Ok(()))) => {
                match detail.get_untracked().and_then(Result::ok) {
                    Some(d) => view! { <OpenRoom id detail first=d.room members=members.get_value()/> }.into_any(),
                    None => view! { <p>"Loading…"</p> }.into_any(),
                }
            }
        }}
    }
}

#[component]
fn OpenRoom(
    id: i64,
    detail: RwSignal<Option<Result<ChatRoomDetail, crate::error::AppError>>>,
    first: ChatRoom,
    members: Vec<Choice>,
) -> impl IntoView {
    let current = move || detail.with(|d| d.as_ref().and_then(|r| r.as_ref().ok()).cloned());
    let slug = expect_context::<WorkspaceView>().workspace.slug;
    let header = move || {
        current().map(|d| {
            let room = d.room;
            let kind_label = match room.kind {
                ChatKind::Channel => "Channel",
                ChatKind::Private => "Private room",
                ChatKind::Discussion => "Discussion",
            };
            let record_link = room.record.map(|(k, rid)| {
                view! {
                    <A href=format!("/w/{slug}/{}/{rid}", k.path())>{format!("Open the {}", k.noun())}</A>
                }
            });
            view! {
                <h2>{room.name.clone()}</h2>
                <span class="badge">{kind_label}</span>
                {room.archived_at.is_some().then(|| view! { <span class="badge">"Archived"</span> })}
                {record_link}
            }
        })
    };
    let settings_members = StoredValue::new(members.clone());
    view! {
        <header class="room-header">
            {header}
            <PresenceIndicator room=Room::Chat(id) label="In this room now" show_current_user=true max_visible=8/>
        </header>
        <ChatRoomView target=ChatTarget::Room(id) room=first members/>
        {move || current().map(|d| view! { <RoomSettings detail=d members=settings_members.get_value()/> })}
    }
}

/// Participants (with who is here now), invitations and their answers, and the owner's
/// and admins' controls.
#[component]
fn RoomSettings(detail: ChatRoomDetail, members: Vec<Choice>) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = StoredValue::new(ws.workspace.slug.clone());
    let me = ws.user.id;
    let room = detail.room.clone();
    let id = room.id;
    let owner = room.owner_id == Some(me);
    let private = room.kind == ChatKind::Private;
    let may_edit = (private && owner) || (room.kind == ChatKind::Channel && ws.role.can_admin());
    let error = RwSignal::new(None::<String>);
    let navigate = StoredValue::new(use_navigate());
    let done = move |r: Result<(), crate::error::AppError>| match r {
        Ok(()) => error.set(None),
        Err(e) => error.set(Some(error_message(&e))),
    };
    let edit = move |e: ChatRoomEdit| {
        leptos::task::spawn_local(async move {
            done(edit_chat_room(slug.get_value(), id, e).await.map(|_| ()))
        });
    };
    let remove = move |user: Option<i64>| {
        leptos::task::spawn_local(async move {
            let r = leave_chat_room(slug.get_value(), id, user).await;
            let left = r.is_ok() && user.is_none();
            done(r);
            if left {
                navigate.with_value(|n| {
                    n(&format!("/w/{}/chat", slug.get_value()), Default::default())
                });
            }
        });
    };
    let presence = crate::realtime::use_realtime().map(|rt| rt.presence(Room::Chat(id)));
    let here = move |user: i64| {
        presence
            .and_then(|p| {
                p.with(|entries| {
                    entries
                        .iter()
                        .find(|e| e.user_id == user)
                        .map(|e| e.status.label().to_string())
                })
            })
            .unwrap_or_else(|| "not here".into())
    };
    let inside: Vec<i64> = detail.participants.iter().map(|p| p.user_id).collect();
    let open_invites: Vec<i64> = detail
        .invitations
        .iter()
        .filter(|i| i.status == InvitationStatus::Pending)
        .map(|i| i.user_id)
        .collect();
    let invitable: Vec<Choice> = members
        .into_iter()
        .filter(|m| !inside.contains(&m.id) && !open_invites.contains(&m.id))
        .collect();
    let invitee = RwSignal::new(String::new());
    let new_name = RwSignal::new(room.name.clone());
    let archived = room.archived_at.is_some();
    view! {
        <section class="room-settings" aria-labelledby="room-settings-heading">
            <h2 id="room-settings-heading">"Room settings"</h2>
            {private.then(|| view! {
                <h3>"Participants"</h3>
                <ul class="participants" aria-label="Participants">
                    {detail.participants.iter().map(|p| {
                        let (pid, pname) = (p.user_id, p.name.clone());
                        view! {
                            <li>
                                <span>{p.name.clone()}</span>
                                {(detail.room.owner_id == Some(pid)).then(|| view! { <span class="badge">"Owner"</span> })}
                                <span class="status">{move || here(pid)}</span>
                                {(owner && pid != me).then(|| view! {
                                    <Ready>
                                    <button type="button" aria-label=format!("Remove {pname}") on:click=move |_| remove(Some(pid))>"Remove"</button>
                                    <button type="button" aria-label=format!("Make {pname} the owner") on:click=move |_| edit(ChatRoomEdit::Owner(pid))>"Make owner"</button>
                                    </Ready>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <h3>"Invitations"</h3>
                <ul class="room-invitations" aria-label="Invitations">
                    {detail.invitations.iter().map(|i| view! {
                        <li>{format!("{}: {}", i.user_name, match i.status {
                            InvitationStatus::Pending => "waiting for an answer",
                            InvitationStatus::Accepted => "accepted",
                            InvitationStatus::Declined => "declined",
                            InvitationStatus::Expired => "expired",
                            InvitationStatus::Cancelled => "withdrawn",
                        })}</li>
                    }).collect_view()}
                </ul>
                {(!archived && !invitable.is_empty()).then(|| view! {
                    <form class="invite" aria-label="Invite to this room" on:submit=move |ev| {
                        ev.prevent_default();
                        let Ok(user) = invitee.get_untracked().parse::<i64>() else { return };
                        leptos::task::spawn_local(async move {
                            done(invite_to_chat_room(slug.get_value(), id, vec![user], None).await.map(|_| ()));
                        });
                    }>
                        <Ready>
                        <label for=format!("invitee-{id}")>"Member to invite"</label>
                        <select id=format!("invitee-{id}") on:change=move |ev| invitee.set(event_target_value(&ev))>
                            <option value="">"Choose a member"</option>
                            {invitable.iter().map(|m| view! { <option value=m.id.to_string()>{m.title.clone()}</option> }).collect_view()}
                        </select>
                        <button type="submit">"Send invitation"</button>
                        </Ready>
                    </form>
                })}
                <Ready><button type="button" on:click=move |_| remove(None)>"Leave room"</button></Ready>
            })}
            {may_edit.then(|| view! {
                <form class="rename" aria-label="Rename room" on:submit=move |ev| {
                    ev.prevent_default();
                    edit(ChatRoomEdit::Rename(new_name.get_untracked()));
                }>
                    <Ready>
                    <label>"Room name"<input type="text" required maxlength="80" bind:value=new_name/></label>
                    <button type="submit">"Rename"</button>
                    </Ready>
                </form>
                <Ready>
                <button type="button" on:click=move |_| edit(ChatRoomEdit::Archive(!archived))>
                    {if archived { "Bring the room back" } else { "Archive room" }}
                </button>
                </Ready>
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}
