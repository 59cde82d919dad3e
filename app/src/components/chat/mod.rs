//! Chat's view pieces: a room's live conversation ([`ChatRoomView`], used by the chat
//! page and by every record's discussion), the safe rendering of the markdown subset, and
//! the outbox that sends messages written offline ([`outbox`]).

pub mod outbox;

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::chat::{
    delete_chat_message, edit_chat_message, get_discussion, list_chat_messages, mark_chat_read,
    react_chat_message,
};
use crate::api::workspaces::WorkspaceView;
use crate::components::record_form::mentions::MentionArea;
use crate::components::{error_message, Avatar, LocalTime};
use crate::model::chat::{
    parse_markdown, typing_line, ChatMessage, ChatRoom, ChatTarget, Inline, REACTIONS,
};
use crate::model::notify::show_mentions;
use crate::model::{now_ms, Choice};
use crate::realtime::protocol::{Change, Room};
use crate::realtime::RoomEvent;

pub use outbox::{use_chat_outbox, ChatOutboxProvider};

/// How often a typing user tells the room, at most (ms).
const TYPING_EVERY_MS: i64 = 2_000;

/// How long "is typing" stays after the last frame (ms).
const TYPING_SHOWN_MS: i64 = 5_000;

/// Messages loaded per page of history.
const PAGE: i64 = 50;

/// Renders the markdown subset as elements (never as HTML): bold, italic, code, links
/// (opened in a new tab, without the opener) and mentions by name.
pub fn render_markdown(text: &str, name: &dyn Fn(i64) -> String) -> AnyView {
    render_pieces(parse_markdown(text), name)
}

fn render_pieces(pieces: Vec<Inline>, name: &dyn Fn(i64) -> String) -> AnyView {
    pieces
        .into_iter()
        .map(|p| match p {
            Inline::Text(t) => t.into_any(),
            Inline::Bold(inner) => {
                view! { <strong>{render_pieces(inner, name)}</strong> }.into_any()
            }
            Inline::Italic(inner) => view! { <em>{render_pieces(inner, name)}</em> }.into_any(),
            Inline::Code(c) => view! { <code>{c}</code> }.into_any(),
            Inline::Link { href, text } => {
                view! { <a href=href target="_blank" rel="noopener noreferrer nofollow">{text}</a> }
                    .into_any()
            }
            Inline::Mention(id) => {
                view! { <span class="mention">{format!("@{}", name(id))}</span> }.into_any()
            }
        })
        .collect_view()
        .into_any()
}

/// Names members by id from `members` ("someone" for one not among them).
pub(crate) fn namer(members: &[Choice]) -> impl Fn(i64) -> String + Clone + Send + Sync + 'static {
    let pairs: Vec<(i64, String)> = members.iter().map(|c| (c.id, c.title.clone())).collect();
    move |id| {
        pairs
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| "someone".into())
    }
}

/// Whether the tab is shown (a hidden tab does not mark messages read).
fn tab_visible() -> bool {
    #[cfg(feature = "hydrate")]
    {
        document().visibility_state() != web_sys::VisibilityState::Hidden
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

/// A room's conversation, live: history paged by position as you scroll up, a "new
/// messages" line and a jump to the first unread, messages sent optimistically (pending,
/// then confirmed; a refused one stays with "Retry"), replies, reactions, editing and
/// deleting one's own, @mentions with autocomplete, and who is typing. `target` is a room
/// or a record (its discussion, made by the first message). Needs the [`WorkspaceView`]
/// and the members (for names and mentions).
#[component]
pub fn ChatRoomView(
    /// Where messages go.
    target: ChatTarget,
    /// The room, when already loaded (the chat page has it).
    #[prop(optional)]
    room: Option<ChatRoom>,
    /// The workspace's members (names, mentions).
    members: Vec<Choice>,
) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let can_write = ws.role.can_write();
    let known = RwSignal::new(room);
    // A discussion: find its room (none before the first message), and follow its
    // making by anyone through the workspace's room.
    if let ChatTarget::Record(kind, id) = target {
        if known.get_untracked().is_none() {
            let slug = slug.clone();
            Effect::new(move |_| {
                let slug = slug.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(Some(r)) = get_discussion(slug, kind, id).await {
                        if known.get_untracked().is_none() {
                            known.set(Some(r));
                        }
                    }
                });
            });
            if let Some(rt) = crate::realtime::use_realtime() {
                rt.listen(Room::Workspace(ws.workspace.id), move |ev| {
                    if let RoomEvent::Change(c, _) = ev {
                        if let Change::ChatRoom { room, .. } = *c {
                            if room.record == Some((kind, id)) && known.get_untracked().is_none() {
                                known.set(Some(*room));
                            }
                        }
                    }
                });
            }
        }
    }
    let room_id = Memo::new(move |_| known.with(|r| r.as_ref().map(|r| r.id)));
    let members = StoredValue::new(members);
    // A conversation is the viewer's (unread line, pending messages), live: it renders
    // in the browser.
    let hydrated = crate::components::use_hydrated();
    view! {
        {move || hydrated.get().then(|| match room_id.get() {
            Some(id) => view! { <RoomBody id target known members=members.get_value()/> }.into_any(),
            None => view! {
                <div class="chat-room">
                    <p class="empty">"No messages yet: start the discussion."</p>
                    <Pending target members=members.get_value() stored=RwSignal::new(BTreeMap::new())/>
                    {can_write.then(|| view! {
                        <Composer target room=None members=members.get_value() reply=RwSignal::new(None) archived=Signal::from(false)/>
                    })}
                </div>
            }.into_any(),
        })}
    }
}

/// A room that exists: its messages, live.
#[component]
fn RoomBody(
    id: i64,
    target: ChatTarget,
    known: RwSignal<Option<ChatRoom>>,
    members: Vec<Choice>,
) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = StoredValue::new(ws.workspace.slug.clone());
    let me = ws.user.id;
    let can_write = ws.role.can_write();
    let _ = &slug;
    let feed = Feed {
        slug,
        id,
        messages: RwSignal::new(BTreeMap::new()),
        has_more: RwSignal::new(false),
        loading: RwSignal::new(false),
        error: RwSignal::new(None),
        opened_read: RwSignal::new(None),
        listener: StoredValue::new(None),
    };
    let Feed {
        messages,
        has_more,
        loading,
        error: load_error,
        opened_read,
        ..
    } = feed;
    let typing = RwSignal::new(BTreeMap::<i64, i64>::new());
    let reply = RwSignal::new(None::<ChatMessage>);
    let marked = StoredValue::new(0i64);
    let list = NodeRef::<leptos::html::Ol>::new();
    let name = namer(&members);
    let rt = crate::realtime::use_realtime();
    if let Some(rt) = rt {
        let listener = rt.listen(Room::Chat(id), move |ev| match ev {
            RoomEvent::Change(c, _) => match *c {
                Change::Message { message, .. } => {
                    if let Some(author) = message.author_id {
                        typing.update(|t| {
                            t.remove(&author);
                        });
                    }
                    messages.update(|m| {
                        m.insert(message.seq, *message);
                    });
                }
                Change::ChatRoom { room, .. } => known.set(Some(*room)),
                _ => {}
            },
            RoomEvent::Typing { user_id, .. } if user_id != me => {
                typing.update(|t| {
                    t.insert(user_id, now_ms() + TYPING_SHOWN_MS);
                });
            }
            RoomEvent::Resync => feed.load(None, None),
            _ => {}
        });
        feed.listener.set_value(Some(listener));
    }
    // The newest page first (in the browser: the list is per viewer and live there); the
    // listener resumes from the position read before it.
    Effect::new(move |_| feed.load(None, None));
    // Typing lines fade 5 s after the last frame.
    #[cfg(feature = "hydrate")]
    {
        if let Ok(h) = set_interval_with_handle(
            move || {
                let now = now_ms();
                if typing.with_untracked(|t| t.values().any(|e| *e <= now)) {
                    typing.update(|t| t.retain(|_, e| *e > now));
                }
            },
            std::time::Duration::from_millis(500),
        ) {
            on_cleanup(move || h.clear());
        }
    }
    // What is shown in a visible tab is read: the marker moves to the newest message
    // (every tab of the user follows through their user room).
    let visibility = leptos_use::use_document_visibility();
    Effect::new(move |_| {
        visibility.track();
        let newest = messages
            .with(|m| m.keys().next_back().copied())
            .unwrap_or(0);
        if newest > marked.get_value() && tab_visible() {
            marked.set_value(newest);
            let slug = slug.get_value();
            leptos::task::spawn_local(async move {
                let _ = mark_chat_read(slug, id, newest).await;
            });
        }
    });
    // Keep the newest in view when it arrives, if the reader was at the bottom.
    Effect::new(move |prev: Option<usize>| {
        let n = messages.with(BTreeMap::len);
        if let Some(el) = list.get() {
            let near_bottom = el.scroll_height() - el.scroll_top() - el.client_height() < 120;
            if prev.is_none_or(|p| p == 0) || near_bottom {
                request_animation_frame(move || el.set_scroll_top(el.scroll_height()));
            }
        }
        n
    });
    let older = move || {
        let oldest = messages.with_untracked(|m| m.keys().next().copied());
        if let (Some(oldest), true, false) =
            (oldest, has_more.get_untracked(), loading.get_untracked())
        {
            // Keep the reader's place when older messages come in above.
            let before_height = list.get_untracked().map(|e| e.scroll_height()).unwrap_or(0);
            feed.load(
                Some(oldest),
                Some(Box::new(move || {
                    request_animation_frame(move || {
                        if let Some(el) = list.get_untracked() {
                            el.set_scroll_top(el.scroll_height() - before_height);
                        }
                    })
                })),
            );
        }
    };
    let first_unread = move || {
        let read = opened_read.get()?;
        messages.with(|m| {
            m.values()
                .find(|x| x.seq > read && x.author_id != Some(me) && x.deleted_at.is_none())
                .map(|x| x.seq)
        })
    };
    let jump = move |_| {
        let Some(read) = opened_read.get_untracked() else {
            return;
        };
        let to_first = move || {
            request_animation_frame(move || {
                #[cfg(feature = "hydrate")]
                if let Some(seq) = first_unread() {
                    use wasm_bindgen::JsCast;
                    if let Some(el) = document().get_element_by_id(&format!("msg-{id}-{seq}")) {
                        el.scroll_into_view();
                        let _ = el.dyn_ref::<web_sys::HtmlElement>().map(|h| h.focus());
                    }
                }
            })
        };
        // Load back to it first (page by page), then jump.
        feed.load_back_to(read + 1, Box::new(to_first));
    };
    let typing_text = {
        let name = name.clone();
        move || {
            let names: Vec<String> = typing.with(|t| t.keys().map(|u| name(*u)).collect());
            typing_line(&names)
        }
    };
    let archived =
        Signal::derive(move || known.with(|r| r.as_ref().is_some_and(|r| r.archived_at.is_some())));
    let members_for_items = StoredValue::new(members.clone());
    view! {
        <div class="chat-room">
            {move || load_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="chat-tools">
                <Show when=move || has_more.get()>
                    <button type="button" on:click=move |_| older() disabled=move || loading.get()>"Load older messages"</button>
                </Show>
                <Show when=move || first_unread().is_some()>
                    <button type="button" on:click=jump>"Jump to first unread"</button>
                </Show>
            </div>
            <ol class="messages" role="log" aria-label="Messages" aria-live="polite" node_ref=list tabindex="0"
                on:scroll=move |_| {
                    if list.get_untracked().is_some_and(|el| el.scroll_top() == 0) {
                        older();
                    }
                }>
                <For each=move || messages.get().into_values() key=|m| (m.id, m.edited_at, m.deleted_at, m.reactions.clone()) let:m>
                    {
                        let line = first_unread() == Some(m.seq);
                        view! {
                            {line.then(|| view! { <li class="new-messages" role="separator" aria-label="New messages">"New messages"</li> })}
                            <MessageItem m room=id me can_write reply members=members_for_items.get_value()/>
                        }
                    }
                </For>
            </ol>
            <Pending target members=members.clone() stored=messages/>
            <p class="typing" aria-live="polite">{typing_text}</p>
            {can_write.then(|| view! { <Composer target room=Some(id) members=members.clone() reply archived/> })}
        </div>
    }
    .into_any()
}

/// A room's loaded history and how it loads more: pages by position, newest first.
#[derive(Clone, Copy)]
struct Feed {
    slug: StoredValue<String>,
    id: i64,
    messages: RwSignal<BTreeMap<i64, ChatMessage>>,
    has_more: RwSignal<bool>,
    loading: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// Read up to here when the room opened: the "new messages" line goes after it.
    opened_read: RwSignal<Option<i64>>,
    listener: StoredValue<Option<crate::realtime::RoomListener>>,
}

impl Feed {
    /// Loads older pages until position `seq` is held (or the history has no more),
    /// then calls `then`.
    fn load_back_to(self, seq: i64, then: Box<dyn FnOnce()>) {
        let oldest = self.messages.with_untracked(|m| m.keys().next().copied());
        match oldest {
            Some(from) if from > seq && self.has_more.get_untracked() => self.load(
                Some(from),
                Some(Box::new(move || self.load_back_to(seq, then))),
            ),
            _ => then(),
        }
    }

    /// Loads a page (before position `before`, or the newest, which replaces what is
    /// held and resumes the listener from the page's position), then calls `then`.
    fn load(self, before: Option<i64>, then: Option<Box<dyn FnOnce()>>) {
        self.loading.set(true);
        leptos::task::spawn_local(async move {
            match list_chat_messages(self.slug.get_value(), self.id, before, Some(PAGE)).await {
                Ok(page) => {
                    if before.is_none() {
                        self.messages.set(BTreeMap::new());
                        if self.opened_read.get_untracked().is_none() {
                            self.opened_read.set(Some(page.read_seq));
                        }
                    }
                    self.messages.update(|m| {
                        for x in page.messages {
                            m.entry(x.seq).or_insert(x);
                        }
                    });
                    self.has_more.set(page.has_more);
                    self.error.set(None);
                    if let (None, Some(l)) = (before, self.listener.get_value()) {
                        l.resume(page.position);
                    }
                }
                Err(e) => self.error.set(Some(error_message(&e))),
            }
            self.loading.set(false);
            if let Some(f) = then {
                f();
            }
        });
    }
}

/// One message: author, time, the quoted message it replies to, the text (or "deleted"),
/// reactions, and its actions (reply, react; edit and delete for its author).
#[component]
fn MessageItem(
    m: ChatMessage,
    room: i64,
    me: i64,
    can_write: bool,
    reply: RwSignal<Option<ChatMessage>>,
    members: Vec<Choice>,
) -> impl IntoView {
    let slug = StoredValue::new(expect_context::<WorkspaceView>().workspace.slug);
    let name = namer(&members);
    let mine = m.author_id == Some(me);
    let deleted = m.deleted_at.is_some();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(m.body.clone());
    let error = RwSignal::new(None::<String>);
    let picking = RwSignal::new(false);
    let id = m.id;
    let run = move |f: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ChatMessage, crate::error::AppError>>>,
    >| {
        leptos::task::spawn_local(async move {
            match f.await {
                Ok(_) => {
                    error.set(None);
                    editing.set(false);
                }
                Err(e) => error.set(Some(error_message(&e))),
            }
        });
    };
    let react = move |emoji: String, on: bool| {
        picking.set(false);
        run(Box::pin(react_chat_message(
            slug.get_value(),
            room,
            id,
            emoji,
            on,
        )));
    };
    let label = format!(
        "{} at {}",
        m.author_name,
        crate::model::format_utc(m.created_at)
    );
    let body = {
        let (text, name) = (m.body.clone(), name.clone());
        move || {
            if deleted {
                view! { <p class="deleted"><em>"This message was deleted"</em></p> }.into_any()
            } else {
                view! { <div class="body">{render_markdown(&text, &name)}</div> }.into_any()
            }
        }
    };
    let quote = m.reply_to.clone().map(|q| {
        let text = if q.excerpt.is_empty() { "a deleted message".to_string() } else { show_mentions(&q.excerpt, |i| Some(name(i))) };
        view! { <blockquote class="quote" aria-label=format!("Quoting {}", q.author_name)><strong>{q.author_name.clone()}</strong>": "{text}</blockquote> }
    });
    let reactions = m.reactions.clone();
    let for_reply = m.clone();
    let author = m.author_name.clone();
    view! {
        <li class="message" class:mine=mine id=format!("msg-{room}-{}", m.seq) aria-label=label tabindex="-1">
            <header>
                <Avatar name=m.author_name.clone() color=m.author_color.clone()/>
                <strong class="author">{m.author_name.clone()}</strong>
                <LocalTime ms=m.created_at/>
                {(m.edited_at.is_some() && !deleted).then(|| view! { <span class="edited">"(edited)"</span> })}
            </header>
            {quote}
            {move || if editing.get() {
                view! {
                    <form class="edit-message" on:submit=move |ev| {
                        ev.prevent_default();
                        run(Box::pin(edit_chat_message(slug.get_value(), room, id, draft.get_untracked())));
                    }>
                        <label>"Edit message"<textarea rows="2" bind:value=draft></textarea></label>
                        <button type="submit">"Save"</button>
                        <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </form>
                }.into_any()
            } else {
                body()
            }}
            {(!reactions.is_empty()).then(|| view! {
                <div class="reactions" role="group" aria-label="Reactions">
                    {reactions.clone().into_iter().map(|(emoji, who)| {
                        let pressed = who.contains(&me);
                        let n = who.len();
                        let e = emoji.clone();
                        view! {
                            <button type="button" aria-pressed=pressed.to_string() disabled=!can_write
                                aria-label=format!("{emoji} {n}") on:click=move |_| react(e.clone(), !pressed)>
                                {format!("{emoji} {n}")}
                            </button>
                        }
                    }).collect_view()}
                </div>
            })}
            {(can_write && !deleted).then(|| view! {
                <div class="message-actions">
                    <button type="button" aria-label=format!("Reply to {author}") on:click=move |_| reply.set(Some(for_reply.clone()))>"Reply"</button>
                    <button type="button" aria-expanded=move || picking.get().to_string() on:click=move |_| picking.update(|p| *p = !*p)>"React"</button>
                    <Show when=move || picking.get()>
                        <div class="reaction-picker" role="group" aria-label="Pick a reaction">
                            {REACTIONS.into_iter().map(|e| view! {
                                <button type="button" aria-label=format!("React with {e}") on:click=move |_| react(e.to_string(), true)>{e}</button>
                            }).collect_view()}
                        </div>
                    </Show>
                    {mine.then(|| view! {
                        <button type="button" on:click=move |_| editing.set(true)>"Edit"</button>
                        <button type="button" on:click=move |_| run(Box::pin(delete_chat_message(slug.get_value(), room, id)))>"Delete"</button>
                    })}
                </div>
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
    .into_any()
}

/// This user's messages to `target` still in the outbox: "Sending…" (or, offline,
/// "Waiting for the connection"), or refused with the reason, "Retry" and "Discard".
/// One the room already holds (same key) is not shown twice. Also shown where the room
/// cannot be loaded (offline after a reload), so what waits is never out of sight.
#[component]
pub fn Pending(
    target: ChatTarget,
    members: Vec<Choice>,
    stored: RwSignal<BTreeMap<i64, ChatMessage>>,
) -> impl IntoView {
    let Some(outbox) = use_chat_outbox() else {
        return ().into_any();
    };
    let me = expect_context::<WorkspaceView>().user.id;
    let name = namer(&members);
    let waiting = move || {
        let keys: Vec<String> =
            stored.with(|m| m.values().filter_map(|x| x.client_key.clone()).collect());
        outbox
            .entries()
            .get()
            .into_iter()
            .filter(|q| q.user == me && q.target == target && !keys.contains(&q.key))
            .collect::<Vec<_>>()
    };
    view! {
        <ol class="messages pending" aria-label="Messages not yet sent">
            <For each=waiting key=|q| (q.key.clone(), q.failed.clone()) let:q>
                {
                    let key = q.key.clone();
                    let key2 = q.key.clone();
                    let failed = q.failed.clone();
                    view! {
                        <li class="message pending" aria-label="Pending message">
                            <div class="body">{render_markdown(&q.body, &name)}</div>
                            {match failed {
                                None => view! { <span class="status">"Sending…"</span> }.into_any(),
                                Some(why) => view! {
                                    <p class="error" role="alert">{format!("Not sent: {why}")}</p>
                                    <button type="button" on:click=move |_| outbox.retry(&key)>"Retry"</button>
                                    <button type="button" on:click=move |_| outbox.remove(&key2)>"Discard"</button>
                                }.into_any(),
                            }}
                        </li>
                    }
                }
            </For>
        </ol>
    }
    .into_any()
}

/// The message box: @mentions with autocomplete, Enter sends (Shift+Enter breaks the
/// line), typing is announced at most every 2 s, and a reply shows what it answers.
#[component]
fn Composer(
    target: ChatTarget,
    room: Option<i64>,
    members: Vec<Choice>,
    reply: RwSignal<Option<ChatMessage>>,
    archived: Signal<bool>,
) -> impl IntoView {
    let ws = expect_context::<WorkspaceView>();
    let slug = ws.workspace.slug.clone();
    let me = ws.user.id;
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let last_typing = StoredValue::new(0i64);
    let rt = crate::realtime::use_realtime();
    let outbox = use_chat_outbox();
    let send = Callback::new(move |_: ()| {
        let body = text.get_untracked();
        match crate::model::chat::check_body(&body) {
            Err(m) => error.set(Some(m.to_string())),
            Ok(body) => {
                error.set(None);
                if let Some(o) = outbox {
                    o.push(
                        me,
                        slug.clone(),
                        target,
                        body,
                        reply.get_untracked().map(|m| m.id),
                    );
                }
                text.set(String::new());
                reply.set(None);
                last_typing.set_value(0);
            }
        }
    });
    let typed = Callback::new(move |_: ()| {
        let now = now_ms();
        if let (Some(rt), Some(id)) = (rt, room) {
            if now - last_typing.get_value() >= TYPING_EVERY_MS {
                last_typing.set_value(now);
                rt.typing(Room::Chat(id), None);
            }
        }
    });
    let field_id = match target {
        ChatTarget::Room(id) => format!("composer-{id}"),
        ChatTarget::Record(k, id) => format!("composer-{}-{id}", k.noun()),
    };
    let hint_id = format!("{field_id}-hint");
    view! {
        <form class="composer" on:submit=move |ev| { ev.prevent_default(); send.run(()); }>
            {move || reply.get().map(|m| view! {
                <p class="replying">{format!("Replying to {}", m.author_name)}
                    <button type="button" on:click=move |_| reply.set(None)>"Cancel reply"</button>
                </p>
            })}
            <Show when=move || !archived.get() fallback=|| view! { <p>"This room is archived: it can be read, not written to."</p> }>
                <label for=field_id.clone()>"Message"</label>
                <MentionArea id=field_id.clone() name="body" text locked=Signal::from(false) members=members.clone()
                    described_by=hint_id.clone() on_enter=send on_typed=typed rows=2/>
                <p class="hint" id=hint_id.clone()>"Enter sends, Shift+Enter breaks the line. **bold**, *italic*, `code`, [links](https://…) and @mentions."</p>
                <button type="submit">"Send"</button>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </form>
    }
    .into_any()
}
