//! Every record kind's declaration: its fields and its [`KindSpec`], in one table that the
//! rest of the code reads instead of matching on the kind.

use super::fields::{field, required};
use super::{FieldDef, FieldKind, RecordKind};

/// Deal stages, in pipeline order.
pub const DEAL_STAGES: &[&str] = &["Prospecting", "Engaging", "Won", "Lost"];
/// Customer statuses.
pub const CUSTOMER_STATUSES: &[&str] = &["prospect", "active", "inactive"];
/// Call statuses, in the order a call goes through them.
pub const CALL_STATUSES: &[&str] = &[
    "scheduled",
    "in progress",
    "completed",
    "missed",
    "cancelled",
];
/// Task statuses, in board order.
pub const TASK_STATUSES: &[&str] = &["to do", "in progress", "done"];
/// Priorities of calls and tasks, weakest first.
pub const WORK_PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];
/// Meeting statuses: a cancelled meeting frees its participants' time.
pub const MEETING_STATUSES: &[&str] = &["scheduled", "cancelled"];
/// Customer priorities; a change to a `high` one notifies its owner and followers.
pub const CUSTOMER_PRIORITIES: &[&str] = &["normal", "high"];

const CUSTOMER_FIELDS: &[FieldDef] = &[
    required("name", "Name", FieldKind::Text { max: 200 }),
    field("sector", "Sector", FieldKind::Text { max: 100 }),
    field("status", "Status", FieldKind::Choice(CUSTOMER_STATUSES)),
    field(
        "priority",
        "Priority",
        FieldKind::Choice(CUSTOMER_PRIORITIES),
    ),
    field("owner_id", "Owner", FieldKind::Member),
    field(
        "year_established",
        "Year established",
        FieldKind::Integer {
            min: 1600,
            max: 2200,
        },
    ),
    field("revenue", "Revenue (USD millions)", FieldKind::Decimal),
    field(
        "employees",
        "Employees",
        FieldKind::Integer {
            min: 0,
            max: 100_000_000,
        },
    ),
    field(
        "office_location",
        "Office location",
        FieldKind::Text { max: 200 },
    ),
    field(
        "parent_id",
        "Parent customer",
        FieldKind::Ref(RecordKind::Customer),
    ),
    field("tags", "Tags", FieldKind::Tags),
    field("notes", "Notes", FieldKind::LongText),
];

const DEAL_FIELDS: &[FieldDef] = &[
    field("code", "Opportunity ID", FieldKind::Text { max: 40 }),
    field(
        "customer_id",
        "Customer",
        FieldKind::Ref(RecordKind::Customer),
    ),
    field("product_id", "Product", FieldKind::Ref(RecordKind::Product)),
    required("stage", "Stage", FieldKind::Choice(DEAL_STAGES)),
    field("owner_id", "Owner", FieldKind::Member),
    field("engage_date", "Engage date", FieldKind::Date),
    field("close_date", "Close date", FieldKind::Date),
    field("value", "Value (USD)", FieldKind::Money),
    field("notes", "Notes", FieldKind::LongText),
];

const CALL_FIELDS: &[FieldDef] = &[
    required("subject", "Subject", FieldKind::Text { max: 200 }),
    field(
        "customer_id",
        "Customer",
        FieldKind::Ref(RecordKind::Customer),
    ),
    field("assignee_id", "Assignee", FieldKind::Member),
    required("status", "Status", FieldKind::Choice(CALL_STATUSES)),
    field("priority", "Priority", FieldKind::Choice(WORK_PRIORITIES)),
    field("scheduled_at", "Scheduled at", FieldKind::DateTime),
    field("duration", "Duration", FieldKind::Duration),
    field("outcome", "Outcome", FieldKind::Text { max: 200 }),
    field("remarks", "Remarks", FieldKind::LongText),
];

const TASK_FIELDS: &[FieldDef] = &[
    required("title", "Title", FieldKind::Text { max: 200 }),
    field("description", "Description", FieldKind::LongText),
    required("status", "Status", FieldKind::Choice(TASK_STATUSES)),
    field("assignee_id", "Assignee", FieldKind::Member),
    field("due_date", "Due date", FieldKind::Date),
    field("priority", "Priority", FieldKind::Choice(WORK_PRIORITIES)),
    field(
        "regarding",
        "Regarding",
        FieldKind::AnyRef(&[
            RecordKind::Customer,
            RecordKind::Deal,
            RecordKind::Call,
            RecordKind::Meeting,
        ]),
    ),
];

const MEETING_FIELDS: &[FieldDef] = &[
    required("title", "Title", FieldKind::Text { max: 200 }),
    field(
        "customer_id",
        "Customer",
        FieldKind::Ref(RecordKind::Customer),
    ),
    required("organizer_id", "Organizer", FieldKind::Member),
    field("participants", "Participants", FieldKind::Members),
    required("starts_at", "Starts", FieldKind::DateTime),
    required("ends_at", "Ends", FieldKind::DateTime),
    field("location", "Location or link", FieldKind::Text { max: 300 }),
    required("status", "Status", FieldKind::Choice(MEETING_STATUSES)),
    field("rsvp", "RSVP", FieldKind::Responses),
    field("notes", "Notes", FieldKind::LongText),
];

const PRODUCT_FIELDS: &[FieldDef] = &[
    required("name", "Name", FieldKind::Text { max: 200 }),
    field("series", "Series", FieldKind::Text { max: 100 }),
    field("price", "Price (USD)", FieldKind::Money),
];

/// One record kind, declared once: where it is stored, what it is called, its fields and
/// how it is named, found, searched, sorted and related to other kinds. Storage,
/// validation, lists, forms, merge, the change log, live sync and import all read it;
/// nothing else in the code matches on the kind to find these facts.
#[derive(Debug)]
pub struct KindSpec {
    /// The kind this declares.
    pub kind: RecordKind,
    /// Table name in the database.
    pub table: &'static str,
    /// Name as a word for people, and the room prefix (`customer`).
    pub noun: &'static str,
    /// Path segment under `/w/{slug}/` for its pages (`customers`).
    pub path: &'static str,
    /// Heading of its list and its entry in the workspace's navigation (`Customers`).
    pub plural: &'static str,
    /// What its list shows: columns (the first links to the record) and filters.
    pub list: ListSpec,
    /// The fields, in form order.
    pub fields: &'static [FieldDef],
    /// The field that names a record for people (headings, pickers, references).
    pub title_field: &'static str,
    /// The field that identifies a record on import, unique among a workspace's live
    /// records of the kind (a unique index); `None` for kinds without one.
    pub natural_key: Option<&'static str>,
    /// Whether a record created without its natural key gets a generated one (a deal's
    /// opportunity id).
    pub generated_key: bool,
    /// Fields a list's text search looks in.
    pub search_fields: &'static [&'static str],
    /// The field a list sorts by when none is asked for.
    pub default_sort: &'static str,
    /// Lists of other kinds shown on a record's page (a customer's deals).
    pub related: &'static [Related],
    /// The kind's board, if it has one (the deals pipeline).
    pub board: Option<BoardSpec>,
    /// The member field that says who owns a record: setting it to someone else notifies
    /// them (an assignment).
    pub owner: Option<&'static str>,
    /// The choice field and value that mark a record high priority: any change to such a
    /// record notifies its owner and followers.
    pub urgent: Option<(&'static str, &'static str)>,
    /// When the kind's records take people's time (a meeting, a scheduled call): the
    /// store keeps a booking per person and record from it, refuses overlapping bookings
    /// of exclusive kinds, and the reminder scheduler reads it.
    pub schedule: Option<ScheduleSpec>,
}

/// How a kind's records take people's time. Read by the store (bookings, the overlap
/// check, reminders), the calendar and the notification rules.
#[derive(Debug)]
pub struct ScheduleSpec {
    /// The date-time field where it starts.
    pub start: &'static str,
    /// Where it ends.
    pub end: ScheduleEnd,
    /// The member fields ([`FieldKind::Member`] or [`FieldKind::Members`]) of the people
    /// whose time it takes.
    pub people: &'static [&'static str],
    /// The [`FieldKind::Responses`] field with their answers, if any: a member who
    /// declined is not kept busy.
    pub responses: Option<&'static str>,
    /// The choice field and the values in which the record takes time at all (a meeting
    /// while "scheduled"; cancelled, it frees the slot).
    pub active: (&'static str, &'static [&'static str]),
    /// Whether two such bookings of one person may not overlap: booking a taken slot
    /// fails with "this slot was just taken".
    pub exclusive: bool,
}

/// Where a scheduled record ends.
#[derive(Clone, Copy, Debug)]
pub enum ScheduleEnd {
    /// At the instant in this date-time field, which must be after the start.
    Field(&'static str),
    /// After the length in this duration field, which must be more than zero when set;
    /// unset, the given number of minutes.
    Duration(&'static str, i64),
}

impl ScheduleSpec {
    /// The (start, end) of a record with these fields, in Unix ms, if it has a start.
    pub fn span(&self, fields: &super::Fields) -> Option<(i64, i64)> {
        let start = fields.get(self.start)?.as_int()?;
        let end = match self.end {
            ScheduleEnd::Field(f) => fields.get(f).and_then(super::Value::as_int)?,
            ScheduleEnd::Duration(f, minutes) => {
                let secs = fields
                    .get(f)
                    .and_then(super::Value::as_int)
                    .unwrap_or(minutes * 60);
                start + secs * 1000
            }
        };
        Some((start, end))
    }

    /// Whether a record with these fields takes time (its status is an active one).
    pub fn is_active(&self, fields: &super::Fields) -> bool {
        let (field, values) = self.active;
        fields
            .get(field)
            .and_then(super::Value::as_text)
            .is_some_and(|v| values.contains(&v))
    }

    /// The people whose time a record with these fields takes, ascending, each once, with
    /// whether they are kept busy (not when they declined).
    pub fn people(&self, fields: &super::Fields) -> Vec<(i64, bool)> {
        let mut ids: Vec<i64> = Vec::new();
        for f in self.people {
            match fields.get(*f) {
                Some(super::Value::Int(id)) => ids.push(*id),
                Some(super::Value::Text(s)) => ids.extend(super::member_ids(s)),
                _ => {}
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let answers = self
            .responses
            .and_then(|f| fields.get(f))
            .and_then(super::Value::as_text)
            .map(super::responses)
            .unwrap_or_default();
        ids.into_iter()
            .map(|id| {
                let declined = answers.iter().any(|(u, a)| *u == id && *a == "declined");
                (id, !declined)
            })
            .collect()
    }

    /// Checks a record's times: the end after the start, a duration more than zero.
    /// Errors: (field, message for people).
    pub fn check(&self, kind: RecordKind, fields: &super::Fields) -> Result<(), (String, String)> {
        let caption = |f: &str| kind.field(f).map_or(f, |d| d.caption).to_string();
        match self.end {
            ScheduleEnd::Field(end) => {
                if let Some((start, stop)) = self.span(fields) {
                    if stop <= start {
                        return Err((
                            end.to_string(),
                            format!("{} must be after {}", caption(end), caption(self.start)),
                        ));
                    }
                }
            }
            ScheduleEnd::Duration(f, _) => {
                if fields.get(f).and_then(super::Value::as_int) == Some(0) {
                    return Err((
                        f.to_string(),
                        format!("{} must be more than zero", caption(f)),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A board of a kind's records: a column per option of a choice field, a record moved
/// between columns by an edit of that field.
#[derive(Debug)]
pub struct BoardSpec {
    /// The choice field whose options are the columns (a deal's `stage`).
    pub field: &'static str,
    /// The board's heading ("Deals pipeline").
    pub title: &'static str,
    /// The field shown under each card's title.
    pub subtitle: &'static str,
    /// Fields shown on a card's last line.
    pub meta: &'static [&'static str],
    /// The money field each column sums in its heading (a deal's `value`), if any.
    pub amount: Option<&'static str>,
}

/// A kind's list page: which fields are columns and which are offered as filters.
#[derive(Debug)]
pub struct ListSpec {
    /// Fields shown as columns, in order; the first links to the record.
    pub columns: &'static [&'static str],
    /// Fields offered as filters (choices, members, references, short text).
    pub filters: &'static [&'static str],
}

/// Records of another kind that point at a record through one of their fields, shown on
/// its page ("related: deals by customer").
#[derive(Debug)]
pub struct Related {
    /// The other kind.
    pub kind: RecordKind,
    /// Its reference field that points here.
    pub field: &'static str,
    /// The list's heading ("Deals").
    pub title: &'static str,
    /// Fields shown after each record's title.
    pub columns: &'static [&'static str],
}

/// Every kind's declaration, in the order of [`RecordKind`]'s variants.
pub(super) static KINDS: [KindSpec; 6] = [
    KindSpec {
        kind: RecordKind::Customer,
        table: "customers",
        noun: "customer",
        path: "customers",
        plural: "Customers",
        list: ListSpec {
            columns: &[
                "name",
                "sector",
                "owner_id",
                "office_location",
                "revenue",
                "employees",
            ],
            filters: &["sector", "owner_id"],
        },
        fields: CUSTOMER_FIELDS,
        title_field: "name",
        natural_key: Some("name"),
        generated_key: false,
        search_fields: &["name", "sector", "office_location", "tags"],
        default_sort: "name",
        related: &[
            Related {
                kind: RecordKind::Deal,
                field: "customer_id",
                title: "Deals",
                columns: &["product_id", "stage", "owner_id", "value"],
            },
            Related {
                kind: RecordKind::Call,
                field: "customer_id",
                title: "Calls",
                columns: &["status", "assignee_id", "scheduled_at"],
            },
            Related {
                kind: RecordKind::Meeting,
                field: "customer_id",
                title: "Meetings",
                columns: &["starts_at", "organizer_id", "status"],
            },
            Related {
                kind: RecordKind::Task,
                field: "regarding",
                title: "Tasks",
                columns: &["status", "assignee_id", "due_date"],
            },
        ],
        board: None,
        owner: Some("owner_id"),
        urgent: Some(("priority", "high")),
        schedule: None,
    },
    KindSpec {
        kind: RecordKind::Deal,
        table: "deals",
        noun: "deal",
        path: "deals",
        plural: "Deals",
        list: ListSpec {
            columns: &[
                "code",
                "customer_id",
                "product_id",
                "stage",
                "owner_id",
                "value",
                "close_date",
            ],
            filters: &["stage", "owner_id"],
        },
        fields: DEAL_FIELDS,
        title_field: "code",
        natural_key: Some("code"),
        generated_key: true,
        search_fields: &["code"],
        default_sort: "code",
        related: &[],
        board: Some(BoardSpec {
            field: "stage",
            title: "Deals pipeline",
            subtitle: "customer_id",
            meta: &["product_id", "owner_id", "value"],
            amount: Some("value"),
        }),
        owner: Some("owner_id"),
        urgent: None,
        schedule: None,
    },
    KindSpec {
        kind: RecordKind::Product,
        table: "products",
        noun: "product",
        path: "products",
        plural: "Products",
        list: ListSpec {
            columns: &["name", "series", "price"],
            filters: &["series"],
        },
        fields: PRODUCT_FIELDS,
        title_field: "name",
        natural_key: Some("name"),
        generated_key: false,
        search_fields: &["name", "series"],
        default_sort: "name",
        related: &[Related {
            kind: RecordKind::Deal,
            field: "product_id",
            title: "Deals",
            columns: &["customer_id", "stage", "owner_id", "value"],
        }],
        board: None,
        owner: None,
        urgent: None,
        schedule: None,
    },
    KindSpec {
        kind: RecordKind::Call,
        table: "calls",
        noun: "call",
        path: "calls",
        plural: "Calls",
        list: ListSpec {
            columns: &[
                "subject",
                "customer_id",
                "assignee_id",
                "status",
                "priority",
                "scheduled_at",
            ],
            filters: &["status", "priority", "assignee_id"],
        },
        fields: CALL_FIELDS,
        title_field: "subject",
        natural_key: None,
        generated_key: false,
        search_fields: &["subject", "outcome"],
        default_sort: "scheduled_at",
        related: &[Related {
            kind: RecordKind::Task,
            field: "regarding",
            title: "Tasks",
            columns: &["status", "assignee_id", "due_date"],
        }],
        board: None,
        owner: Some("assignee_id"),
        urgent: None,
        // A scheduled call takes its assignee's time (30 minutes when no duration is
        // set) and is reminded of; calls may overlap, so it is not exclusive.
        schedule: Some(ScheduleSpec {
            start: "scheduled_at",
            end: ScheduleEnd::Duration("duration", 30),
            people: &["assignee_id"],
            responses: None,
            active: ("status", &["scheduled"]),
            exclusive: false,
        }),
    },
    KindSpec {
        kind: RecordKind::Task,
        table: "tasks",
        noun: "task",
        path: "tasks",
        plural: "Tasks",
        list: ListSpec {
            columns: &["title", "status", "assignee_id", "due_date", "priority"],
            filters: &["status", "priority", "assignee_id"],
        },
        fields: TASK_FIELDS,
        title_field: "title",
        natural_key: None,
        generated_key: false,
        search_fields: &["title"],
        default_sort: "due_date",
        related: &[],
        board: Some(BoardSpec {
            field: "status",
            title: "Tasks board",
            subtitle: "assignee_id",
            meta: &["due_date", "priority"],
            amount: None,
        }),
        owner: Some("assignee_id"),
        urgent: None,
        schedule: None,
    },
    KindSpec {
        kind: RecordKind::Meeting,
        table: "meetings",
        noun: "meeting",
        path: "meetings",
        plural: "Meetings",
        list: ListSpec {
            columns: &[
                "title",
                "customer_id",
                "organizer_id",
                "starts_at",
                "ends_at",
                "status",
            ],
            filters: &["status", "organizer_id"],
        },
        fields: MEETING_FIELDS,
        title_field: "title",
        natural_key: None,
        generated_key: false,
        search_fields: &["title", "location"],
        default_sort: "starts_at",
        related: &[Related {
            kind: RecordKind::Task,
            field: "regarding",
            title: "Tasks",
            columns: &["status", "assignee_id", "due_date"],
        }],
        board: None,
        owner: Some("organizer_id"),
        urgent: None,
        // A meeting takes its organizer's and participants' time, and no one can be in
        // two at once.
        schedule: Some(ScheduleSpec {
            start: "starts_at",
            end: ScheduleEnd::Field("ends_at"),
            people: &["organizer_id", "participants"],
            responses: Some("rsvp"),
            active: ("status", &["scheduled"]),
            exclusive: true,
        }),
    },
];

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Customer,
        RecordKind::Deal,
        RecordKind::Product,
        RecordKind::Call,
        RecordKind::Task,
        RecordKind::Meeting,
    ];

    /// The kind's declaration.
    pub fn spec(self) -> &'static KindSpec {
        &KINDS[self as usize]
    }

    /// Table name in the database.
    pub fn table(self) -> &'static str {
        self.spec().table
    }

    /// Name as a word for people ("customer").
    pub fn noun(self) -> &'static str {
        self.spec().noun
    }

    /// Path segment under `/w/{slug}/` for this kind's pages.
    pub fn path(self) -> &'static str {
        self.spec().path
    }

    /// The kind's fields, in form order.
    pub fn fields(self) -> &'static [FieldDef] {
        self.spec().fields
    }

    /// The field definition called `name`, if the kind has one.
    pub fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The field that names a record for people.
    pub fn title_field(self) -> &'static str {
        self.spec().title_field
    }

    /// The field that identifies a record on import, if the kind has one.
    pub fn natural_key(self) -> Option<&'static str> {
        self.spec().natural_key
    }

    /// Fields a list's text search looks in.
    pub fn search_fields(self) -> &'static [&'static str] {
        self.spec().search_fields
    }

    /// The kind whose noun (room prefix) is `s` (`customer`); `None` for anything else.
    pub fn from_noun(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.noun() == s)
    }

    /// The kind whose path segment is `s` (`customers`); `None` for anything else.
    pub fn from_path(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.path() == s)
    }
}
