//! Chat's shapes, shared by server and browser: rooms (channels, record discussions,
//! private rooms), their participants and invitations, messages with replies and
//! reactions, and the safe markdown subset messages are written in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RecordKind;
use crate::realtime::protocol::Position;

/// Longest message body, characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// Longest room name, characters.
pub const MAX_ROOM_NAME_CHARS: usize = 80;

/// How long an invitation to a private room stays open unless told otherwise: 7 days, ms.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Messages in one page of history, at most.
pub const MAX_MESSAGE_PAGE: i64 = 200;

/// The one set of reactions a message can get.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😄", "🎉", "😮", "👀"];

/// What sort of chat room it is; decides who may see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// A workspace channel: every member sees it; admins create, rename and archive it.
    Channel,
    /// The discussion of one record: every member sees it; made by its first message.
    Discussion,
    /// A private room: only its participants see it (not even its name reaches others).
    Private,
}

impl ChatKind {
    /// The name stored in the database (`"channel"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Channel => "channel",
            ChatKind::Discussion => "discussion",
            ChatKind::Private => "private",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<ChatKind> {
        [ChatKind::Channel, ChatKind::Discussion, ChatKind::Private]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A chat room as a member who may see it sees it, with their own read marker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRoom {
    /// Database id (its realtime room is `chat:{id}`).
    pub id: i64,
    /// Its workspace.
    pub workspace_id: i64,
    /// Channel, discussion or private room.
    pub kind: ChatKind,
    /// Its name (a discussion's is its record's title when it was made).
    pub name: String,
    /// The record a discussion is about.
    pub record: Option<(RecordKind, i64)>,
    /// A private room's owner (who may remove participants and hand it over).
    pub owner_id: Option<i64>,
    /// A private room's participant limit, if any.
    pub max_participants: Option<i64>,
    /// Archived (read only), Unix ms.
    pub archived_at: Option<i64>,
    /// When it was made, Unix ms.
    pub created_at: i64,
    /// The position of its newest message (0 before the first).
    pub last_seq: i64,
    /// When its newest message was sent, Unix ms.
    pub last_message_at: Option<i64>,
    /// The viewer's read marker: the position of the last message they read.
    #[serde(default)]
    pub read_seq: i64,
    /// Messages by others after the viewer's read marker (not deleted).
    #[serde(default)]
    pub unread: i64,
}

impl ChatRoom {
    /// Its realtime room.
    pub fn room(&self) -> crate::realtime::protocol::Room {
        crate::realtime::protocol::Room::Chat(self.id)
    }
}

/// A participant of a private room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatParticipant {
    /// Their user id.
    pub user_id: i64,
    /// Display name.
    pub name: String,
    /// Avatar colour.
    pub color: String,
    /// When they joined, Unix ms.
    pub joined_at: i64,
}

/// Where an invitation to a private room stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Waiting for an answer (until it expires).
    Pending,
    /// Accepted: the invitee is a participant.
    Accepted,
    /// Declined: it cannot be accepted later.
    Declined,
    /// Not answered in time.
    Expired,
    /// Withdrawn, or its room is gone for the invitee (they left the workspace).
    Cancelled,
}

impl InvitationStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<InvitationStatus> {
        [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Declined,
            InvitationStatus::Expired,
            InvitationStatus::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An invitation of one member into a private room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatInvitation {
    /// Database id.
    pub id: i64,
    /// The room.
    pub room_id: i64,
    /// The room's name (shown to the invitee).
    pub room_name: String,
    /// The invitee.
    pub user_id: i64,
    /// The invitee's name.
    pub user_name: String,
    /// Who invited them.
    pub invited_by: Option<i64>,
    /// The inviter's name.
    pub invited_by_name: Option<String>,
    /// Where it stands (a pending one past `expires_at` reads as `Expired`).
    pub status: InvitationStatus,
    /// When it was made, Unix ms.
    pub created_at: i64,
    /// When it stops being acceptable, Unix ms.
    pub expires_at: i64,
    /// When it was answered, Unix ms.
    pub answered_at: Option<i64>,
}

/// The message a reply quotes: enough to show it above the reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// The quoted message's id.
    pub id: i64,
    /// Its position in the room.
    pub seq: i64,
    /// Its author's name.
    pub author_name: String,
    /// Its first 140 characters (empty if it was deleted).
    pub excerpt: String,
}

/// A chat message, as it is now (edits, deletion and reactions included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Database id.
    pub id: i64,
    /// Its room.
    pub room_id: i64,
    /// Its position in the room, consecutive from 1 (history pages and read markers
    /// count in these).
    pub seq: i64,
    /// Its author.
    pub author_id: Option<i64>,
    /// The author's name.
    pub author_name: String,
    /// The author's avatar colour.
    pub author_color: String,
    /// The text, in the markdown subset, with mentions stored as `<@id>`; empty once
    /// deleted.
    pub body: String,
    /// The message it replies to.
    pub reply_to: Option<Quote>,
    /// Reactions: emoji to the users who gave it, by id.
    pub reactions: BTreeMap<String, Vec<i64>>,
    /// The idempotency key it was sent with (the sender's client matches its pending
    /// copy by it).
    pub client_key: Option<String>,
    /// When it was sent, Unix ms.
    pub created_at: i64,
    /// When it was last edited, Unix ms.
    pub edited_at: Option<i64>,
    /// When it was deleted (a tombstone: shown as "deleted"), Unix ms.
    pub deleted_at: Option<i64>,
}

/// A page of a room's history, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessagePage {
    /// Messages, newest first.
    pub messages: Vec<ChatMessage>,
    /// Whether older messages exist before the last one here.
    pub has_more: bool,
    /// The room's log position read before the messages (listen from it).
    pub position: Position,
    /// The viewer's read marker.
    pub read_seq: i64,
}

/// Where a message goes: an existing room, or a record's discussion (made by its first
/// message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatTarget {
    /// A room by id.
    Room(i64),
    /// The discussion of this record.
    Record(RecordKind, i64),
}

/// A room with what the chat page's settings show: participants and invitations (a
/// private room's; empty for channels and discussions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRoomDetail {
    /// The room.
    pub room: ChatRoom,
    /// Its participants, by name.
    pub participants: Vec<ChatParticipant>,
    /// Its invitations, newest first (every status, so the inviter sees answers).
    pub invitations: Vec<ChatInvitation>,
}

/// What the chat page's sidebar lists: the rooms the viewer sees and their pending
/// invitations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatOverview {
    /// Channels, private rooms and the discussions with messages, newest activity first.
    pub rooms: Vec<ChatRoom>,
    /// The viewer's invitations still open.
    pub invitations: Vec<ChatInvitation>,
    /// Each listed room's log position, read before the rooms' counts: a listener that
    /// resumes from it misses no message, and counts one it already counted only if its
    /// position is at or below the room's `last_seq` (so it skips those).
    #[serde(default)]
    pub positions: BTreeMap<i64, Position>,
}

/// What happened to a chat room, carried by [`crate::realtime::protocol::Change::ChatRoom`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomHow {
    /// It was made.
    Created,
    /// Renamed.
    Renamed,
    /// Archived or brought back.
    Archived,
    /// Someone was invited (the invitation is in the change).
    Invited,
    /// An invitation was declined or withdrawn.
    Declined,
    /// Someone joined (accepted their invitation).
    Joined,
    /// Someone left.
    Left,
    /// Someone was removed by the owner.
    Removed,
    /// The owner handed it over.
    Owner,
}

impl RoomHow {
    /// Whether the change ends `user`'s access to the room (left or removed).
    pub fn ends_access(self) -> bool {
        matches!(self, RoomHow::Left | RoomHow::Removed)
    }
}

/// A piece of a message's text, as [`parse_markdown`] reads it. Rendered as elements
/// (never as HTML), so a message cannot inject markup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    /// Plain text.
    Text(String),
    /// `**bold**`.
    Bold(Vec<Inline>),
    /// `*italic*` or `_italic_`.
    Italic(Vec<Inline>),
    /// `` `code` ``: shown as is.
    Code(String),
    /// `[text](https://…)` or a bare `https://…`: only http, https and mailto links.
    Link {
        /// Where it goes.
        href: String,
        /// What it shows.
        text: String,
    },
    /// `<@id>`: a member named by the mention syntax.
    Mention(i64),
}

/// Reads the markdown subset of chat (bold, italic, inline code, links, mentions) into
/// [`Inline`] pieces; anything else, HTML included, is plain text. Unclosed markers are
/// text. Never fails.
pub fn parse_markdown(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    parse_into(text, &mut out, 0);
    out
}

fn push_text(out: &mut Vec<Inline>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Inline::Text(t)) = out.last_mut() {
        t.push_str(s);
    } else {
        out.push(Inline::Text(s.to_string()));
    }
}

/// Whether `href` is a link chat may show: http, https or mailto.
pub fn safe_href(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:"))
        && !href
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
}

/// Whether `s` starts with `prefix`, ASCII case ignored.
fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn parse_into(text: &str, out: &mut Vec<Inline>, depth: u8) {
    let mut i = 0;
    let mut plain = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let rest = &text[i..];
        let found: Option<(Inline, usize)> = match bytes[i] {
            b'`' => rest[1..]
                .find('`')
                .filter(|&e| e > 0)
                .map(|e| (Inline::Code(rest[1..1 + e].to_string()), e + 2)),
            b'*' if rest.starts_with("**") && depth < 4 => {
                rest[2..].find("**").filter(|&e| e > 0).map(|e| {
                    let mut inner = Vec::new();
                    parse_into(&rest[2..2 + e], &mut inner, depth + 1);
                    (Inline::Bold(inner), e + 4)
                })
            }
            b'*' | b'_' if depth < 4 => {
                let mark = &rest[..1];
                let starts_word = text[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
                rest[1..]
                    .find(mark)
                    .filter(|&e| e > 0 && starts_word && !rest[1..].starts_with(' '))
                    .map(|e| {
                        let mut inner = Vec::new();
                        parse_into(&rest[1..1 + e], &mut inner, depth + 1);
                        (Inline::Italic(inner), e + 2)
                    })
            }
            b'[' => rest.find("](").and_then(|m| {
                let close = rest[m + 2..].find(')')?;
                let href = &rest[m + 2..m + 2 + close];
                let label = &rest[1..m];
                (safe_href(href) && !label.is_empty() && !label.contains('[')).then(|| {
                    (
                        Inline::Link {
                            href: href.to_string(),
                            text: label.to_string(),
                        },
                        m + 3 + close,
                    )
                })
            }),
            b'<' if rest.starts_with("<@") => rest[2..].find('>').and_then(|e| {
                let id: i64 = rest[2..2 + e].parse().ok().filter(|i| *i > 0)?;
                Some((Inline::Mention(id), e + 3))
            }),
            b'h' | b'H' if starts_with_ci(rest, "https://") || starts_with_ci(rest, "http://") => {
                let starts_word = text[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric());
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
                    .unwrap_or(rest.len());
                // Trailing punctuation ends a sentence, not the link.
                let link = rest[..end].trim_end_matches(['.', ',', ')', '!', '?', ';', ':']);
                (starts_word && link.len() > 8 && safe_href(link)).then(|| {
                    (
                        Inline::Link {
                            href: link.to_string(),
                            text: link.to_string(),
                        },
                        link.len(),
                    )
                })
            }
            _ => None,
        };
        match found {
            Some((piece, len)) => {
                push_text(out, &text[plain..i]);
                out.push(piece);
                i += len;
                plain = i;
            }
            None => {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    push_text(out, &text[plain..]);
}

/// The first `n` characters of a message as plain text (mentions kept as `<@id>`).
pub fn excerpt(body: &str, n: usize) -> String {
    let mut s: String = body.chars().take(n).collect();
    if body.chars().count() > n {
        s.push('…');
    }
    s
}

/// "A is typing", "A and B are typing", "3 people are typing"; `None` for nobody.
pub fn typing_line(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [a] => Some(format!("{a} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        more => Some(format!("{} people are typing…", more.len())),
    }
}

/// Checks a room name: trimmed, 1 to [`MAX_ROOM_NAME_CHARS`] characters. Returns it
/// trimmed or what is wrong.
pub fn check_room_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        Err("give the room a name")
    } else if name.chars().count() > MAX_ROOM_NAME_CHARS {
        Err("at most 80 characters")
    } else {
        Ok(name.to_string())
    }
}

/// Checks a message body: not blank, at most [`MAX_MESSAGE_CHARS`] characters. Returns
/// it with trailing whitespace removed, or what is wrong.
pub fn check_body(body: &str) -> Result<String, &'static str> {
    let body = body.trim_end();
    if body.trim().is_empty() {
        Err("write something first")
    } else if body.chars().count() > MAX_MESSAGE_CHARS {
        Err("at most 4000 characters")
    } else {
        Ok(body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Inline {
        Inline::Text(s.into())
    }

    #[test]
    fn markdown_reads_the_subset_and_nothing_else() {
        assert_eq!(
            parse_markdown("a **b** *c* `d*e` [f](https://x.io/p) <@7>"),
            vec![
                text("a "),
                Inline::Bold(vec![text("b")]),
                text(" "),
                Inline::Italic(vec![text("c")]),
                text(" "),
                Inline::Code("d*e".into()),
                text(" "),
                Inline::Link {
                    href: "https://x.io/p".into(),
                    text: "f".into()
                },
                text(" "),
                Inline::Mention(7),
            ]
        );
        // HTML and unsafe links stay text.
        assert_eq!(
            parse_markdown("<b>x</b> [y](javascript:alert(1))"),
            vec![text("<b>x</b> [y](javascript:alert(1))")]
        );
        // Unclosed markers and snake_case words are text.
        assert_eq!(
            parse_markdown("2 * 3 and snake_case_name **open"),
            vec![text("2 * 3 and snake_case_name **open")]
        );
        // A bare link, without the full stop after it.
        assert_eq!(
            parse_markdown("see https://tandem.example/a."),
            vec![
                text("see "),
                Inline::Link {
                    href: "https://tandem.example/a".into(),
                    text: "https://tandem.example/a".into()
                },
                text(".")
            ]
        );
    }

    #[test]
    fn typing_lines_name_up_to_two() {
        let n = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(typing_line(&n(&[])), None);
        assert_eq!(typing_line(&n(&["Ada"])).unwrap(), "Ada is typing…");
        assert_eq!(
            typing_line(&n(&["Ada", "Bea"])).unwrap(),
            "Ada and Bea are typing…"
        );
        assert_eq!(
            typing_line(&n(&["Ada", "Bea", "Cy"])).unwrap(),
            "3 people are typing…"
        );
    }

    #[test]
    fn bodies_and_names_are_checked() {
        assert!(check_body("  \n ").is_err());
        assert_eq!(check_body("hi  \n").unwrap(), "hi");
        assert!(check_body(&"x".repeat(4001)).is_err());
        assert!(check_room_name(" ").is_err());
        assert_eq!(check_room_name(" Deals ").unwrap(), "Deals");
    }
}
