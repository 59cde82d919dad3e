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
        FieldKind::AnyRef(&[RecordKind::Customer, RecordKind::Deal, RecordKind::Call]),
    ),
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
pub(super) static KINDS: [KindSpec; 5] = [
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
        related: &[Related {
            kind: RecordKind::Deal,
            field: "customer_id",
            title: "Deals",
            columns: &["product_id", "stage", "owner_id", "value"],
        }],
        board: None,
        owner: Some("owner_id"),
        urgent: Some(("priority", "high")),
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
        related: &[],
        board: None,
        owner: Some("assignee_id"),
        urgent: None,
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
        board: None,
        owner: Some("assignee_id"),
        urgent: None,
    },
];

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Customer,
        RecordKind::Deal,
        RecordKind::Product,
        RecordKind::Call,
        RecordKind::Task,
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
