//! The activity feed's shapes: which feed (a person's, a record's, the workspace's), its
//! filters, and an entry (who did what to which record, field by field with before and
//! after) made from a logged change, the same way on the server (pages, CSV export) and
//! in the browser (live entries).

use crate::model::chat::ChatKind;
use serde::{Deserialize, Serialize};

use super::{FieldKind, RecordKind, Value};
use crate::realtime::protocol::{Change, ChangeOp, Position};

/// Which feed: what one member did, what happened to one record, or everything in the
/// workspace. On the wire `{"type": "user", "id": 3}`, `{"type": "record", "kind":
/// "customer", "id": 7}`, `{"type": "global"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeedType {
    /// Everything one member did in the workspace.
    User {
        /// The member's user id.
        id: i64,
    },
    /// Everything that happened to one record.
    Record {
        /// Its kind.
        kind: RecordKind,
        /// Its id.
        id: i64,
    },
    /// Everything in the workspace.
    Global,
}

/// What a feed shows; every part optional (`{}` shows everything).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityFilter {
    /// Only these kinds of change (none: every kind).
    pub ops: Vec<ChangeOp>,
    /// Only what this user did.
    pub user: Option<i64>,
    /// Only changes at or after this time, Unix milliseconds.
    pub from: Option<i64>,
    /// Only changes before this time, Unix milliseconds.
    pub to: Option<i64>,
    /// Only entries whose record title or changed values contain this text
    /// (case-insensitively).
    pub text: Option<String>,
}

impl ActivityFilter {
    /// Whether `entry` passes the filter (the browser's check of live entries; the server
    /// filters in SQL first, then with this for the text).
    pub fn matches(&self, entry: &ActivityEntry) -> bool {
        (self.ops.is_empty() || self.ops.contains(&entry.op))
            && self.user.is_none_or(|u| entry.actor == Some(u))
            && self.from.is_none_or(|t| entry.at >= t)
            && self.to.is_none_or(|t| entry.at < t)
            && self.text.as_deref().is_none_or(|t| {
                let t = t.trim().to_lowercase();
                t.is_empty() || entry.search_text().contains(&t)
            })
    }
}

/// One changed field of an entry, as people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The field's name.
    pub field: String,
    /// Its caption ("Owner").
    pub caption: String,
    /// The value before, formatted ("" when it was empty or is not known).
    pub before: String,
    /// The value after, formatted.
    pub after: String,
    /// Written by explicit overwrite over someone else's value after a conflict.
    pub overwritten: bool,
}

/// One entry of an activity feed: one logged change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityEntry {
    /// Its place in the feed's room log (entries are newest first by it).
    pub position: Position,
    /// When it committed, Unix milliseconds.
    pub at: i64,
    /// Who made it (`None` for the system).
    pub actor: Option<i64>,
    /// Their display name ("System" when none).
    pub actor_name: String,
    /// What it did.
    pub op: ChangeOp,
    /// The record it concerns, if any.
    pub record: Option<(RecordKind, i64)>,
    /// The record's title, or for a change of many records their kind's plural.
    pub record_title: String,
    /// One sentence: "updated customer Acme", "imported Customers: 3 created, 85 updated".
    pub summary: String,
    /// The changed fields with before and after (updates only).
    pub fields: Vec<FieldDiff>,
}

impl ActivityEntry {
    /// Makes the entry for `change`, logged at `position`; `name` gives a member's display
    /// name by id. `None` for changes no feed shows (invite links, notifications).
    pub fn from_change(
        change: &Change,
        position: Position,
        name: &dyn Fn(i64) -> Option<String>,
    ) -> Option<ActivityEntry> {
        let actor = change.actor();
        let actor_name = actor.and_then(name).unwrap_or_else(|| "System".to_string());
        let mut record = change.target().map(|(k, id, _)| (k, id));
        let mut fields = Vec::new();
        let (record_title, summary) = match change {
            Change::Created { record: r, .. } => (
                r.title(),
                format!("created {} {}", r.kind.noun(), r.title()),
            ),
            Change::Deleted { record: r, .. } => (
                r.title(),
                format!("deleted {} {}", r.kind.noun(), r.title()),
            ),
            Change::Restored { record: r, .. } => (
                r.title(),
                format!("restored {} {}", r.kind.noun(), r.title()),
            ),
            Change::Updated {
                kind,
                id,
                title,
                fields: after,
                titles,
                before,
                overwritten,
                ..
            } => {
                let title = title
                    .clone()
                    .unwrap_or_else(|| format!("{} #{id}", kind.noun()));
                for (field, value) in after {
                    let Some(def) = kind.field(field) else {
                        continue;
                    };
                    let show = |v: &Value, title: Option<&str>| match (def.kind, v) {
                        (FieldKind::Member, Value::Int(id)) => {
                            name(*id).unwrap_or_else(|| def.format_display(v, title))
                        }
                        (FieldKind::LongText, Value::Text(s)) => {
                            super::notify::show_mentions(s, name)
                        }
                        _ => def.format_display(v, title),
                    };
                    fields.push(FieldDiff {
                        field: field.clone(),
                        caption: def.caption.to_string(),
                        before: before.get(field).map(|v| show(v, None)).unwrap_or_default(),
                        after: show(value, titles.get(field).map(String::as_str)),
                        overwritten: overwritten.contains(field),
                    });
                }
                let verb = if overwritten.is_empty() {
                    "updated"
                } else {
                    "overwrote a conflicting edit of"
                };
                (title.clone(), format!("{verb} {} {title}", kind.noun()))
            }
            Change::Bulk { kind, counts, .. } => {
                let plural = kind.spec().plural.to_string();
                let summary = match counts {
                    Some(c) => format!(
                        "imported {plural}: {} created, {} updated, {} unchanged, {} skipped",
                        c.created, c.updated, c.unchanged, c.skipped
                    ),
                    None => format!("imported {plural}"),
                };
                (plural, summary)
            }
            Change::Members { user, how, .. } => {
                let who = name(*user).unwrap_or_else(|| format!("member #{user}"));
                let what = match how {
                    Some(h) => h.verb(),
                    None => "changed the membership of",
                };
                record = None;
                (who.clone(), format!("{what} {who}"))
            }
            Change::Announced { title, .. } => (title.clone(), format!("announced: {title}")),
            // Channels and discussions (the chat rooms every member sees) as they are made
            // and changed; what is said in them stays in chat.
            Change::ChatRoom { room, how, .. } if room.kind != ChatKind::Private => {
                use crate::model::chat::RoomHow;
                record = room.record;
                let what = match (room.kind, how) {
                    (ChatKind::Discussion, RoomHow::Created) => "started the discussion of",
                    (_, RoomHow::Created) => "created the channel",
                    (_, RoomHow::Renamed) => "renamed the channel to",
                    (_, RoomHow::Archived) if room.archived_at.is_some() => "archived the channel",
                    (_, RoomHow::Archived) => "brought back the channel",
                    _ => return None,
                };
                (room.name.clone(), format!("{what} {}", room.name))
            }
            Change::Invites { .. }
            | Change::Notice { .. }
            | Change::NoticesRead { .. }
            | Change::Message { .. }
            | Change::ChatRoom { .. }
            | Change::ChatInvitation { .. }
            | Change::ChatRead { .. } => return None,
        };
        Some(ActivityEntry {
            position,
            at: change.at(),
            actor,
            actor_name,
            op: change.op(),
            record,
            record_title,
            summary,
            fields,
        })
    }

    /// The lower-cased text a filter's `text` looks in: who, the summary, and the changed
    /// fields' captions and values.
    pub fn search_text(&self) -> String {
        let mut s = format!("{}\n{}", self.actor_name, self.summary);
        for f in &self.fields {
            s.push('\n');
            s.push_str(&f.caption);
            s.push('\n');
            s.push_str(&f.before);
            s.push('\n');
            s.push_str(&f.after);
        }
        s.to_lowercase()
    }

    /// The entry as CSV cells, in the order of [`ActivityEntry::CSV_HEADER`]: one row per
    /// changed field (one row with empty field cells when none changed).
    pub fn csv_rows(&self) -> Vec<[String; 9]> {
        let base = |f: Option<&FieldDiff>| {
            [
                crate::model::format_utc(self.at),
                self.actor_name.clone(),
                self.op_name().to_string(),
                self.record
                    .map(|(k, _)| k.noun().to_string())
                    .unwrap_or_default(),
                self.record_title.clone(),
                self.summary.clone(),
                f.map(|f| f.caption.clone()).unwrap_or_default(),
                f.map(|f| f.before.clone()).unwrap_or_default(),
                f.map(|f| f.after.clone()).unwrap_or_default(),
            ]
        };
        if self.fields.is_empty() {
            vec![base(None)]
        } else {
            self.fields.iter().map(|f| base(Some(f))).collect()
        }
    }

    /// The header of the feed's CSV export.
    pub const CSV_HEADER: [&'static str; 9] = [
        "time (UTC)",
        "who",
        "what",
        "kind",
        "record",
        "summary",
        "field",
        "before",
        "after",
    ];

    /// What it did as a word (`created`, `updated`, ...).
    pub fn op_name(&self) -> &'static str {
        self.op.as_str()
    }
}

/// The people a change names, whose names its entry shows, as (the server's own ids:
/// who made it, the member it concerns, members set in member fields; ids typed as
/// mentions in long texts, before and after), so a reader resolves typed ids only
/// among the workspace's members.
pub fn people(change: &Change) -> (Vec<i64>, Vec<i64>) {
    let mut out: Vec<i64> = change.actor().into_iter().collect();
    let mut typed = Vec::new();
    match change {
        Change::Members { user, .. } => out.push(*user),
        Change::Updated {
            kind,
            fields,
            before,
            ..
        } => {
            for (name, value) in fields.iter().chain(before.iter()) {
                match (kind.field(name).map(|d| d.kind), value) {
                    (Some(FieldKind::Member), Value::Int(id)) => out.push(*id),
                    (Some(FieldKind::LongText), Value::Text(s)) => {
                        typed.extend(super::notify::mentions(s))
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    (out, typed)
}

/// A page of a feed, newest first, with the room's position read before it (listen from
/// it to miss nothing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The entries, newest first.
    pub entries: Vec<ActivityEntry>,
    /// Pass as `before` for the next (older) page; `None` on the last.
    pub next: Option<Position>,
    /// The feed room's position before the page was read.
    pub position: Option<Position>,
}

/// How many entries a feed's page holds at most.
pub const MAX_PAGE: i64 = 200;
