//! The one place that turns a committed change into notifications: a function per
//! trigger, listed in [`RULES`]. A new trigger (a task assigned, a meeting moved) is a
//! function here and one line in the list. Rules are pure: they say what to tell and to
//! whom ([`Audience`]); the store resolves the audience to members of the change's
//! workspace, leaves out the actor and those whose preferences turn the type off, and
//! stores and delivers the rest.
//!
//! Titles and bodies may name members as `<@id>` (the mention syntax); they are shown
//! with the member's name when the notification is stored.

use app::model::notify::{mentions, NoticeType, Priority};
use app::model::{FieldKind, Record, RecordKind, Value};
use app::realtime::protocol::{Change, MemberHow};

/// Who a drafted notification goes to; always limited to the workspace's members, never
/// the change's actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// These users (each only if a member).
    Users(Vec<i64>),
    /// The record's owner (its kind's owner field, as it is after the change).
    Owner,
    /// Everyone who follows the record.
    Followers,
    /// The workspace's admins and owner.
    Admins,
    /// Every member.
    Everyone,
}

/// A notification a rule drafted, before its audience is resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// Its type (preferences are per type).
    pub ntype: NoticeType,
    /// How loud it is.
    pub priority: Priority,
    /// One line.
    pub title: String,
    /// More, possibly empty.
    pub body: String,
    /// The record it concerns (its link), if any.
    pub record: Option<(RecordKind, i64)>,
    /// Who gets it.
    pub audience: Vec<Audience>,
}

/// A trigger: the drafts for `change`, given `record` as it is after the change (the
/// whole record for creations, deletions and restores; for an update of a kind with a
/// priority flag, read back by the store; otherwise `None`).
pub type Rule = fn(change: &Change, record: Option<&Record>) -> Vec<Draft>;

/// Every trigger, in the order their notifications are made.
pub const RULES: &[Rule] = &[
    assigned,
    mentioned,
    overwritten,
    invite_accepted,
    priority_change,
    announcement,
    invited,
    answered,
    rescheduled,
];

/// Every draft for `change`.
pub fn drafts(change: &Change, record: Option<&Record>) -> Vec<Draft> {
    RULES.iter().flat_map(|rule| rule(change, record)).collect()
}

/// "customer Acme": a record's kind and title, as notifications name it.
fn named(kind: RecordKind, title: &str) -> String {
    format!("{} {title}", kind.noun())
}

/// The record's title from the change (an update carries it since protocol 4).
fn title_of(change: &Change) -> Option<String> {
    match change {
        Change::Updated { title: Some(t), .. } => Some(t.clone()),
        Change::Updated { kind, id, .. } => Some(format!("#{id} ({})", kind.noun())),
        other => other.record().map(Record::title),
    }
}

/// The fields a change set: (name, new value) pairs.
type SetFields<'a> = Vec<(&'a str, &'a Value)>;

/// The record a creation or update concerns and the fields it set, with their new values.
fn set_fields(change: &Change) -> Option<(RecordKind, i64, SetFields<'_>)> {
    match change {
        Change::Created { record, .. } => Some((
            record.kind,
            record.id,
            record.fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        )),
        Change::Updated {
            kind, id, fields, ..
        } => Some((
            *kind,
            *id,
            fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        )),
        _ => None,
    }
}

/// A record's owner set to someone (other than the actor, which the store ensures):
/// they are told it is theirs now.
pub fn assigned(change: &Change, _: Option<&Record>) -> Vec<Draft> {
    let Some((kind, id, set)) = set_fields(change) else {
        return Vec::new();
    };
    let Some(owner_field) = kind.spec().owner else {
        return Vec::new();
    };
    let Some(owner) = set
        .iter()
        .find(|(name, _)| *name == owner_field)
        .and_then(|(_, v)| v.as_int())
    else {
        return Vec::new();
    };
    let title = title_of(change).unwrap_or_default();
    vec![Draft {
        ntype: NoticeType::Assigned,
        priority: Priority::Info,
        title: format!("{} is assigned to you", capitalized(&named(kind, &title))),
        body: String::new(),
        record: Some((kind, id)),
        audience: vec![Audience::Users(vec![owner])],
    }]
}

/// Members @mentioned (`<@id>`) in a long text field they were not mentioned in before.
pub fn mentioned(change: &Change, _: Option<&Record>) -> Vec<Draft> {
    let Some((kind, id, set)) = set_fields(change) else {
        return Vec::new();
    };
    let before = match change {
        Change::Updated { before, .. } => Some(before),
        _ => None,
    };
    let title = title_of(change).unwrap_or_default();
    let mut out = Vec::new();
    for (name, value) in set {
        let Some(def) = kind.field(name) else {
            continue;
        };
        let (FieldKind::LongText, Some(text)) = (def.kind, value.as_text()) else {
            continue;
        };
        let old = before
            .and_then(|b| b.get(name))
            .and_then(Value::as_text)
            .map(mentions)
            .unwrap_or_default();
        let new: Vec<i64> = mentions(text)
            .into_iter()
            .filter(|m| !old.contains(m))
            .collect();
        if new.is_empty() {
            continue;
        }
        out.push(Draft {
            ntype: NoticeType::Mention,
            priority: Priority::Info,
            title: format!(
                "You were mentioned in the {} of {}",
                def.caption.to_lowercase(),
                named(kind, &title)
            ),
            body: excerpt(text, 200),
            record: Some((kind, id)),
            audience: vec![Audience::Users(new)],
        });
    }
    out
}

/// Whose values an explicit overwrite replaced after a conflict.
pub fn overwritten(change: &Change, _: Option<&Record>) -> Vec<Draft> {
    let Change::Updated {
        kind,
        id,
        overwritten,
        overwrote,
        ..
    } = change
    else {
        return Vec::new();
    };
    if overwrote.is_empty() {
        return Vec::new();
    }
    let captions: Vec<&str> = overwritten
        .iter()
        .filter_map(|f| kind.field(f).map(|d| d.caption))
        .collect();
    let title = title_of(change).unwrap_or_default();
    vec![Draft {
        ntype: NoticeType::Overwritten,
        priority: Priority::Warning,
        title: format!("Your edit of {} was overwritten", named(*kind, &title)),
        body: format!("Overwritten after a conflict: {}", captions.join(", ")),
        record: Some((*kind, *id)),
        audience: vec![Audience::Users(overwrote.clone())],
    }]
}

/// Someone joined through an invite: the admins are told.
pub fn invite_accepted(change: &Change, _: Option<&Record>) -> Vec<Draft> {
    match change {
        Change::Members {
            user,
            how: Some(MemberHow::Joined),
            ..
        } => vec![Draft {
            ntype: NoticeType::InviteAccepted,
            priority: Priority::Success,
            title: format!("<@{user}> joined the workspace"),
            body: "They accepted an invite link.".into(),
            record: None,
            audience: vec![Audience::Admins],
        }],
        _ => Vec::new(),
    }
}

/// Any change to a record marked high priority (or just unmarked): its owner and
/// followers are told.
pub fn priority_change(change: &Change, record: Option<&Record>) -> Vec<Draft> {
    let Some((kind, id, _)) = change.target() else {
        return Vec::new();
    };
    let Some((field, high)) = kind.spec().urgent else {
        return Vec::new();
    };
    let is_high = |v: Option<&Value>| v.and_then(Value::as_text) == Some(high);
    let was_high = match change {
        Change::Updated { before, .. } => is_high(before.get(field)),
        _ => false,
    };
    if !(was_high || is_high(record.map(|r| r.get(field)))) {
        return Vec::new();
    }
    let title = title_of(change).unwrap_or_default();
    let what = match change {
        Change::Updated { fields, .. } => {
            let captions: Vec<&str> = fields
                .keys()
                .filter_map(|f| kind.field(f).map(|d| d.caption))
                .collect();
            format!("Changed: {}", captions.join(", "))
        }
        other => format!("It was {}.", other.op().as_str()),
    };
    vec![Draft {
        ntype: NoticeType::PriorityChange,
        priority: Priority::Warning,
        title: format!("High-priority {} changed", named(kind, &title)),
        body: what,
        record: Some((kind, id)),
        audience: vec![Audience::Owner, Audience::Followers],
    }]
}

/// An admin's announcement: every member is told.
pub fn announcement(change: &Change, _: Option<&Record>) -> Vec<Draft> {
    match change {
        Change::Announced {
            title,
            body,
            priority,
            ..
        } => vec![Draft {
            ntype: NoticeType::Announcement,
            priority: *priority,
            title: title.clone(),
            body: body.clone(),
            record: None,
            audience: vec![Audience::Everyone],
        }],
        _ => Vec::new(),
    }
}

/// Members newly among the people a scheduled record takes (a meeting's participants),
/// while it is on (not cancelled): they are told they are invited.
pub fn invited(change: &Change, record: Option<&Record>) -> Vec<Draft> {
    let Some((kind, id, set)) = set_fields(change) else {
        return Vec::new();
    };
    let Some(schedule) = &kind.spec().schedule else {
        return Vec::new();
    };
    if record.is_some_and(|r| !schedule.is_active(&r.fields)) {
        return Vec::new();
    }
    let Some(answers) = schedule.responses else {
        return Vec::new();
    };
    let before = match change {
        Change::Updated { before, .. } => Some(before),
        _ => None,
    };
    let ids = |v: Option<&Value>| -> Vec<i64> {
        v.and_then(Value::as_text)
            .map(app::model::record::member_ids)
            .unwrap_or_default()
    };
    let mut new = Vec::new();
    for (name, value) in &set {
        if *name == answers || !matches!(kind.field(name).map(|d| d.kind), Some(FieldKind::Members))
        {
            continue;
        }
        let old = ids(before.and_then(|b| b.get(*name)));
        new.extend(ids(Some(value)).into_iter().filter(|u| !old.contains(u)));
    }
    if new.is_empty() {
        return Vec::new();
    }
    let title = title_of(change).unwrap_or_default();
    vec![Draft {
        ntype: NoticeType::Invited,
        priority: Priority::Info,
        title: format!("You are invited to {}", named(kind, &title)),
        body: String::new(),
        record: Some((kind, id)),
        audience: vec![Audience::Users(new)],
    }]
}

/// A participant answered (accepted, declined, tentative): the organizer (the kind's
/// owner) is told.
pub fn answered(change: &Change, _: Option<&Record>) -> Vec<Draft> {
    let Change::Updated {
        kind,
        id,
        fields,
        before,
        actor,
        ..
    } = change
    else {
        return Vec::new();
    };
    let Some(field) = kind.spec().schedule.as_ref().and_then(|s| s.responses) else {
        return Vec::new();
    };
    let Some(now) = fields.get(field) else {
        return Vec::new();
    };
    let answers = |v: Option<&Value>| {
        v.and_then(Value::as_text)
            .map(app::model::record::responses)
            .unwrap_or_default()
    };
    let old = answers(before.get(field));
    let changed: Vec<(i64, &str)> = answers(Some(now))
        .into_iter()
        .filter(|p| !old.contains(p))
        .collect();
    let Some((who, answer)) = changed
        .iter()
        .find(|(u, _)| Some(*u) == *actor)
        .or(changed.first())
    else {
        return Vec::new();
    };
    let title = title_of(change).unwrap_or_default();
    vec![Draft {
        ntype: NoticeType::Rsvp,
        priority: if *answer == "declined" {
            Priority::Warning
        } else {
            Priority::Info
        },
        title: format!("<@{who}> {answer} {}", named(*kind, &title)),
        body: String::new(),
        record: Some((*kind, *id)),
        audience: vec![Audience::Owner],
    }]
}

/// A meeting (a scheduled kind with invitations) moved, changed place or status, was
/// deleted or restored: its people are told, as they are after the change plus anyone
/// the same edit took off it, but not those the edit invited (the invitation tells them).
/// A call's assignee is not told of a new time; its reminder follows it.
pub fn rescheduled(change: &Change, record: Option<&Record>) -> Vec<Draft> {
    let Some((kind, id, _)) = change.target() else {
        return Vec::new();
    };
    let Some(schedule) = kind
        .spec()
        .schedule
        .as_ref()
        .filter(|s| s.responses.is_some())
    else {
        return Vec::new();
    };
    let Some(record) = record else {
        return Vec::new();
    };
    let mut people: Vec<i64> = schedule
        .people(&record.fields)
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    let title = title_of(change).unwrap_or_default();
    let (what, priority) = match change {
        Change::Updated { fields, before, .. } => {
            let (status, _) = schedule.active;
            let end = match schedule.end {
                app::model::record::ScheduleEnd::Field(f)
                | app::model::record::ScheduleEnd::Duration(f, _) => f,
            };
            let watched = [schedule.start, end, status, "location"];
            let captions: Vec<&str> = fields
                .keys()
                .filter(|f| watched.contains(&f.as_str()))
                .filter_map(|f| kind.field(f).map(|d| d.caption))
                .collect();
            if captions.is_empty() {
                return Vec::new();
            }
            // The people as they were before the edit: those it took off are told,
            // those it invited are not (their invitation tells them).
            let mut was = record.fields.clone();
            was.extend(before.clone());
            people = schedule.people(&was).into_iter().map(|(u, _)| u).collect();
            let was_active = schedule.is_active(&was);
            if was_active && !schedule.is_active(&record.fields) {
                ("It was cancelled.".to_string(), Priority::Warning)
            } else {
                (format!("Changed: {}", captions.join(", ")), Priority::Info)
            }
        }
        Change::Deleted { .. } => ("It was deleted.".to_string(), Priority::Warning),
        Change::Restored { .. } => ("It was restored.".to_string(), Priority::Info),
        _ => return Vec::new(),
    };
    people.sort_unstable();
    vec![Draft {
        ntype: NoticeType::MeetingChanged,
        priority,
        title: format!("{} changed", capitalized(&named(kind, &title))),
        body: what,
        record: Some((kind, id)),
        audience: vec![Audience::Users(people)],
    }]
}

/// `s` with its first letter upper-cased.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// At most `max` characters of `text`, with "…" when cut (never inside a mention).
fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    if let Some(open) = cut.rfind("<@") {
        if !cut[open..].contains('>') {
            cut.truncate(open);
        }
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::Fields;

    fn update(kind: RecordKind, fields: Fields, before: Fields) -> Change {
        Change::Updated {
            kind,
            id: 7,
            workspace_id: 1,
            version: 2,
            title: Some("Acme".into()),
            fields,
            before,
            titles: Default::default(),
            overwritten: Vec::new(),
            overwrote: Vec::new(),
            actor: Some(1),
            at: 0,
        }
    }

    fn fields(pairs: &[(&str, Value)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn owner_set_notifies_the_new_owner() {
        let c = update(
            RecordKind::Deal,
            fields(&[("owner_id", Value::Int(5))]),
            Fields::new(),
        );
        let d = drafts(&c, None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].ntype, NoticeType::Assigned);
        assert_eq!(d[0].audience, vec![Audience::Users(vec![5])]);
        let cleared = update(
            RecordKind::Deal,
            fields(&[("owner_id", Value::Null)]),
            Fields::new(),
        );
        assert!(drafts(&cleared, None).is_empty());
    }

    #[test]
    fn only_new_mentions_notify() {
        let c = update(
            RecordKind::Customer,
            fields(&[("notes", Value::Text("hi <@3> and <@4>".into()))]),
            fields(&[("notes", Value::Text("hi <@3>".into()))]),
        );
        let d = drafts(&c, None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].audience, vec![Audience::Users(vec![4])]);
        assert!(d[0].title.contains("notes of customer Acme"));
    }

    #[test]
    fn high_priority_changes_notify_owner_and_followers() {
        let c = update(
            RecordKind::Customer,
            fields(&[("sector", Value::Text("retail".into()))]),
            Fields::new(),
        );
        let mut r = Record {
            kind: RecordKind::Customer,
            id: 7,
            workspace_id: 1,
            version: 2,
            fields: Fields::new(),
            titles: Default::default(),
            created_at: 0,
            created_by: None,
            updated_at: 0,
            updated_by: None,
            deleted_at: None,
            deleted_by: None,
        };
        assert!(drafts(&c, Some(&r)).is_empty());
        r.fields
            .insert("priority".into(), Value::Text("high".into()));
        let d = drafts(&c, Some(&r));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].audience, vec![Audience::Owner, Audience::Followers]);
        assert_eq!(d[0].body, "Changed: Sector");
    }

    #[test]
    fn a_moved_meeting_tells_its_people_as_they_were_and_an_invitation_tells_the_new() {
        let now = fields(&[
            ("title", Value::Text("Plan".into())),
            ("organizer_id", Value::Int(1)),
            ("participants", Value::Text("2,4".into())),
            ("starts_at", Value::Int(7_200_000)),
            ("ends_at", Value::Int(9_000_000)),
            ("status", Value::Text("scheduled".into())),
        ]);
        let record = Record {
            kind: RecordKind::Meeting,
            id: 7,
            workspace_id: 1,
            version: 2,
            fields: now.clone(),
            titles: Default::default(),
            created_at: 0,
            created_by: None,
            updated_at: 0,
            updated_by: None,
            deleted_at: None,
            deleted_by: None,
        };
        // Moved, and participant 3 swapped for 4 in the same edit.
        let c = update(
            RecordKind::Meeting,
            fields(&[
                ("starts_at", Value::Int(7_200_000)),
                ("participants", Value::Text("2,4".into())),
            ]),
            fields(&[
                ("starts_at", Value::Int(3_600_000)),
                ("participants", Value::Text("2,3".into())),
            ]),
        );
        let d = drafts(&c, Some(&record));
        let of = |t: NoticeType| d.iter().find(|x| x.ntype == t).map(|x| x.audience.clone());
        assert_eq!(
            of(NoticeType::Invited),
            Some(vec![Audience::Users(vec![4])])
        );
        assert_eq!(
            of(NoticeType::MeetingChanged),
            Some(vec![Audience::Users(vec![1, 2, 3])]),
            "the people before the edit: 3 was taken off, 4 is told by the invitation"
        );
        // Cancelled: a warning; an invitation to a cancelled meeting is not sent.
        let mut off = record.clone();
        off.fields
            .insert("status".into(), Value::Text("cancelled".into()));
        let c = update(
            RecordKind::Meeting,
            fields(&[("status", Value::Text("cancelled".into()))]),
            fields(&[("status", Value::Text("scheduled".into()))]),
        );
        let d = drafts(&c, Some(&off));
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].body.as_str(), d[0].priority),
            ("It was cancelled.", Priority::Warning)
        );
        // An answer tells the organizer.
        let c = update(
            RecordKind::Meeting,
            fields(&[("rsvp", Value::Text("1:accepted".into()))]),
            Fields::new(),
        );
        let d = drafts(&c, Some(&record));
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].ntype, d[0].audience.clone()),
            (NoticeType::Rsvp, vec![Audience::Owner])
        );
        assert!(d[0].title.starts_with("<@1> accepted meeting"));
    }

    #[test]
    fn excerpts_never_cut_a_mention() {
        assert_eq!(excerpt("abc <@12> def", 6), "abc …");
        assert_eq!(excerpt("short", 10), "short");
    }
}
