//! Notifications: what concerns one person (an assignment, a mention, an overwritten edit,
//! ...), stored per user and delivered live on their `user:{id}` room; and the per-type
//! preferences that decide how each is delivered. Shared by the server (which stores and
//! sends them) and the browser's NotificationCenter.

use serde::{Deserialize, Serialize};

use super::RecordKind;

/// What a notification is about; each kind of trigger has one, and preferences are kept
/// per type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeType {
    /// A record's owner was set to you by someone else.
    Assigned,
    /// Someone @mentioned you in a record's notes.
    Mention,
    /// Someone overwrote your edit after a conflict (explicit last writer wins).
    Overwritten,
    /// Someone joined the workspace through an invite (to its admins).
    InviteAccepted,
    /// A high-priority record you own or follow changed.
    PriorityChange,
    /// An admin's announcement to the whole workspace.
    Announcement,
    /// You were added to a meeting's participants.
    Invited,
    /// A participant answered your meeting's invitation.
    Rsvp,
    /// A meeting you take part in moved, changed place or was cancelled.
    MeetingChanged,
    /// A meeting or a call of yours starts soon (the reminder scheduler).
    Reminder,
    /// You were invited into a private chat room.
    ChatInvite,
}

impl NoticeType {
    /// Every type, in the order the preferences page lists them.
    pub const ALL: [NoticeType; 11] = [
        NoticeType::Assigned,
        NoticeType::Mention,
        NoticeType::Overwritten,
        NoticeType::InviteAccepted,
        NoticeType::PriorityChange,
        NoticeType::Announcement,
        NoticeType::Invited,
        NoticeType::Rsvp,
        NoticeType::MeetingChanged,
        NoticeType::Reminder,
        NoticeType::ChatInvite,
    ];

    /// The name stored in the database and sent on the wire (`"assigned"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeType::Assigned => "assigned",
            NoticeType::Mention => "mention",
            NoticeType::Overwritten => "overwritten",
            NoticeType::InviteAccepted => "invite_accepted",
            NoticeType::PriorityChange => "priority_change",
            NoticeType::Announcement => "announcement",
            NoticeType::Invited => "invited",
            NoticeType::Rsvp => "rsvp",
            NoticeType::MeetingChanged => "meeting_changed",
            NoticeType::Reminder => "reminder",
            NoticeType::ChatInvite => "chat_invite",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<NoticeType> {
        NoticeType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The type's name for people (filters, group headings, the preferences page).
    pub fn label(self) -> &'static str {
        match self {
            NoticeType::Assigned => "Assigned to you",
            NoticeType::Mention => "Mentions",
            NoticeType::Overwritten => "Overwritten edits",
            NoticeType::InviteAccepted => "Invites accepted",
            NoticeType::PriorityChange => "High-priority changes",
            NoticeType::Announcement => "Announcements",
            NoticeType::Invited => "Meeting invitations",
            NoticeType::Rsvp => "Answers to your meetings",
            NoticeType::MeetingChanged => "Meeting changes",
            NoticeType::Reminder => "Reminders",
            NoticeType::ChatInvite => "Chat invitations",
        }
    }
}

/// How loud a notification is: toasts of `Urgent` ones stay until dismissed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// For information.
    #[default]
    Info,
    /// Something went well.
    Success,
    /// Something may need attention.
    Warning,
    /// Needs attention now; its toast stays until dismissed.
    Urgent,
}

impl Priority {
    /// Every priority, weakest first.
    pub const ALL: [Priority; 4] = [
        Priority::Info,
        Priority::Success,
        Priority::Warning,
        Priority::Urgent,
    ];

    /// The stored name (`"info"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "info",
            Priority::Success => "success",
            Priority::Warning => "warning",
            Priority::Urgent => "urgent",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One stored notification of one user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Database id; increases with creation.
    pub id: i64,
    /// The workspace it comes from.
    pub workspace_id: i64,
    /// What it is about.
    #[serde(rename = "type")]
    pub ntype: NoticeType,
    /// How loud it is.
    pub priority: Priority,
    /// One line ("Deal AB12CD34 assigned to you").
    pub title: String,
    /// More, possibly empty (the mention's context, the announcement's text).
    pub body: String,
    /// The app path of what it concerns (`/w/acme/deals/7`), if anything.
    pub link: Option<String>,
    /// The record it concerns, if any.
    pub record: Option<(RecordKind, i64)>,
    /// Who caused it (`None` for the system).
    pub actor: Option<i64>,
    /// Their display name when it was made.
    pub actor_name: Option<String>,
    /// When it was made, Unix milliseconds.
    pub created_at: i64,
    /// When it was read, Unix milliseconds; `None` while unread.
    pub read_at: Option<i64>,
    /// Hidden from the list and the count until then, Unix milliseconds.
    pub snoozed_until: Option<i64>,
    /// Dismissed: gone from the list for good.
    pub dismissed: bool,
}

impl Notification {
    /// Whether it counts as unread at `now` (Unix milliseconds): not read, not dismissed
    /// and not snoozed past `now`.
    pub fn unread_at(&self, now: i64) -> bool {
        self.read_at.is_none() && !self.dismissed && self.snoozed_until.is_none_or(|t| t <= now)
    }

    /// Whether the list shows it at `now`: not dismissed and not snoozed past `now`.
    pub fn visible_at(&self, now: i64) -> bool {
        !self.dismissed && self.snoozed_until.is_none_or(|t| t <= now)
    }
}

/// How a user wants one type of notification delivered. E-mail is not offered yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticePref {
    /// The type.
    #[serde(rename = "type")]
    pub ntype: NoticeType,
    /// Stored and shown in the app (bell, list, toast). Off: not made at all.
    pub in_app: bool,
    /// A short sound with the toast.
    pub sound: bool,
    /// A browser (system) notification, with the browser's permission.
    pub browser: bool,
}

impl NoticePref {
    /// The preference of a user who never set one: in the app, silent, no browser
    /// notification.
    pub fn default_for(ntype: NoticeType) -> NoticePref {
        NoticePref {
            ntype,
            in_app: true,
            sound: false,
            browser: false,
        }
    }
}

/// A page of a user's notifications, newest first, with the `user:{id}` room's position
/// read before them (listen from it to miss nothing) and their unread count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoticePage {
    /// The notifications, newest first.
    pub items: Vec<Notification>,
    /// The id to pass as `before` for the next (older) page; `None` on the last.
    pub next_before: Option<i64>,
    /// Unread, visible notifications in all (not only this page).
    pub unread: i64,
    /// The user room's position before the page was read.
    pub position: Option<crate::realtime::protocol::Position>,
}

/// Mentions in a long text: `<@42>` stands for the member with id 42 (shown as their
/// name). Returns the ids in order of first appearance, each once.
pub fn mentions(text: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        rest = &rest[i + 2..];
        let end = rest.find('>').unwrap_or(0);
        if end > 0 {
            if let Ok(id) = rest[..end].parse::<i64>() {
                if id > 0 && !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// `text` with each mention `<@id>` shown as `@Name` (`name` of the id); a mention of
/// someone `name` does not know (not a member, or gone) stays as it is, so an edit of the
/// text keeps it.
pub fn show_mentions(text: &str, name: impl Fn(i64) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after
            .find('>')
            .and_then(|e| Some((e, after[..e].parse::<i64>().ok()?)))
        {
            Some((end, id)) => {
                match name(id) {
                    Some(n) => {
                        out.push('@');
                        out.push_str(&n);
                    }
                    None => out.push_str(&rest[i..i + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("<@");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The stored form of a text typed with mentions shown as names: each `@Name` of a member
/// in `members` (id, display name) becomes `<@id>`, the longest name first where names
/// share a beginning, and only where the `@` starts a word and the name ends one (so an
/// e-mail address is left alone). The inverse of
/// [`show_mentions`] for members with distinct names.
pub fn encode_mentions(text: &str, members: &[(i64, String)]) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    let mut by_length: Vec<&(i64, String)> =
        members.iter().filter(|(_, n)| !n.is_empty()).collect();
    by_length.sort_by_key(|(_, n)| std::cmp::Reverse(n.len()));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('@') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let starts_word = out.chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let found = by_length.iter().filter(|_| starts_word).find(|(_, name)| {
            after.starts_with(name.as_str())
                && after[name.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_')
        });
        match found {
            Some((id, name)) => {
                out.push_str(&format!("<@{id}>"));
                rest = &after[name.len()..];
            }
            None => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_once_in_order() {
        assert_eq!(mentions("hi <@3> and <@12>, again <@3>"), vec![3, 12]);
        assert_eq!(
            mentions("no <@> or <@x> or <@-1> or <@4"),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn mentions_show_as_names() {
        let name = |id| (id == 3).then(|| "Ann".to_string());
        assert_eq!(
            show_mentions("hi <@3> and <@9>!", name),
            "hi @Ann and <@9>!"
        );
        assert_eq!(show_mentions("a <@b> c", name), "a <@b> c");
    }

    #[test]
    fn names_typed_after_an_at_become_mentions_and_back() {
        let members = vec![
            (3, "Ann".to_string()),
            (4, "Ann Lee".to_string()),
            (5, "Bo".to_string()),
        ];
        let stored = encode_mentions("hi @Ann Lee, @Ann and @Bob; mail a@Bo", &members);
        assert_eq!(stored, "hi <@4>, <@3> and @Bob; mail a@Bo");
        let name = |id| {
            members
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| n.clone())
        };
        assert_eq!(
            show_mentions(&stored, name),
            "hi @Ann Lee, @Ann and @Bob; mail a@Bo"
        );
    }

    #[test]
    fn snoozed_and_dismissed_do_not_count() {
        let mut n = Notification {
            id: 1,
            workspace_id: 1,
            ntype: NoticeType::Mention,
            priority: Priority::Info,
            title: "t".into(),
            body: String::new(),
            link: None,
            record: None,
            actor: None,
            actor_name: None,
            created_at: 0,
            read_at: None,
            snoozed_until: Some(100),
            dismissed: false,
        };
        assert!(!n.unread_at(50));
        assert!(n.unread_at(100));
        n.dismissed = true;
        assert!(!n.unread_at(200) && !n.visible_at(200));
    }
}
