//! Domain types shared by server and browser: people, workspaces, records and import reports.

pub mod activity;
pub mod calendar;
pub mod chat;
pub mod import;
pub mod notify;
pub mod record;

use serde::{Deserialize, Serialize};

pub use record::{
    FieldChange, FieldDef, FieldKind, Fields, Record, RecordKind, RecordQuery, SortDir, Value,
};

/// A member's role in a workspace, weakest first, so roles compare with `<` and `>=`.
///
/// Viewers read only; members read and write records; admins also manage members,
/// invites and imports and rename the workspace; the owner also makes and unmakes
/// admins (directly or by an admin invite) and can hand the workspace over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything in the workspace, changes nothing.
    Viewer,
    /// Reads and writes records.
    Member,
    /// Also manages members, invites and imports, and renames the workspace.
    Admin,
    /// Also makes and unmakes admins, deletes or hands over the workspace. Exactly one per
    /// workspace.
    Owner,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    /// The role's name as stored and sent on the wire (`"viewer"`, `"member"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Parses a stored role name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The capitalised name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Member => "Member",
            Role::Admin => "Admin",
            Role::Owner => "Owner",
        }
    }

    /// Whether this role may create, change or delete records.
    pub fn can_write(self) -> bool {
        self >= Role::Member
    }

    /// Whether this role may manage members, invites and imports.
    pub fn can_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// A person's account as others see it. `email` is `None` for a person created by an
/// import who has not yet joined through their invite link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Lower-cased e-mail address, unique; `None` until an imported person joins.
    pub email: Option<String>,
    /// Name shown to others.
    pub display_name: String,
    /// Avatar colour as a CSS hex colour (`#rrggbb`), derived from the id.
    pub color: String,
    /// The workspace opened last, remembered for the next sign-in.
    pub last_workspace_id: Option<i64>,
}

impl User {
    /// Up to two initials for the avatar, upper-cased ("Anna Snelling" -> "AS").
    pub fn initials(&self) -> String {
        initials(&self.display_name)
    }
}

/// Up to two upper-case initials of a display name.
pub fn initials(name: &str) -> String {
    let first: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    to_upper(&first)
}

/// `text` in upper case, by Unicode's rules (`élodie` -> `ÉLODIE`). In the browser it asks
/// JavaScript's `toUpperCase`, whose tables the browser already has: Rust's would add
/// about 30 KB to the first page's WASM.
pub fn to_upper(text: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        js_sys::JsString::from(text).to_upper_case().into()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        text.to_uppercase()
    }
}

/// A stable avatar colour for a user id, from a small palette with readable white text.
pub fn avatar_color(id: i64) -> String {
    const PALETTE: [&str; 8] = [
        "#1f6feb", "#8250df", "#bf3989", "#cf222e", "#bc4c00", "#4d7c0f", "#0e7490", "#57606a",
    ];
    PALETTE[id.rem_euclid(PALETTE.len() as i64) as usize].to_string()
}

/// A workspace: the unit of sharing. Every record belongs to exactly one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// Database id.
    pub id: i64,
    /// Name shown to people; can be renamed.
    pub name: String,
    /// URL name (`/w/{slug}/...`): lower-case letters, digits and dashes; fixed at creation.
    pub slug: String,
}

/// A workspace seen by one of its members, with that member's role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// The workspace.
    pub workspace: Workspace,
    /// The member's role in it.
    pub role: Role,
}

/// A row of a workspace's member list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The member's account.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// When they joined, Unix milliseconds.
    pub joined_at: i64,
    /// Whether they have an account they can sign in with (false for imported people
    /// who have not yet followed their invite link).
    pub joined: bool,
    /// Their region (the sales team's regional office), if known.
    pub region: Option<String>,
}

/// An invite link: whoever opens `/invite/{token}` while it is live joins with `role`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// Database id.
    pub id: i64,
    /// The workspace it joins.
    pub workspace_id: i64,
    /// Secret in the link: 32 URL-safe characters.
    pub token: String,
    /// Role given on acceptance.
    pub role: Role,
    /// Expiry, Unix milliseconds.
    pub expires_at: i64,
    /// How many acceptances it allows.
    pub max_uses: i64,
    /// How many acceptances it has had.
    pub uses: i64,
    /// Set when an admin revoked it, Unix milliseconds.
    pub revoked_at: Option<i64>,
    /// For an imported person: the account the link claims (the new user takes it over,
    /// with its deals). `None` for an ordinary invite.
    pub for_user: Option<i64>,
    /// Display name of `for_user`, if any.
    pub for_name: Option<String>,
}

impl Invite {
    /// The link's path, to append to the site's origin.
    pub fn path(&self) -> String {
        format!("/invite/{}", self.token)
    }

    /// Whether it can still be accepted at `now` (Unix milliseconds).
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && self.uses < self.max_uses
    }
}

/// What an invite link shows before it is accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitePreview {
    /// Name of the workspace it joins.
    pub workspace_name: String,
    /// Slug of that workspace.
    pub workspace_slug: String,
    /// Role given on acceptance.
    pub role: Role,
    /// For a claim link, the imported person's name (pre-filled on sign-up).
    pub for_name: Option<String>,
    /// Whether it can still be accepted.
    pub live: bool,
}

/// One page of a list in keyset order (Markus Winand, "We need tool support for keyset
/// pagination"): `next` and `prev` are opaque cursors for the pages after and before it,
/// so a page costs the same at row 10 as at row 1,000,000 (no `OFFSET` scan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The position of the list's room (the workspace's) read before the rows: a
    /// subscription `since` it misses no change made after the rows were read. `None`
    /// where the store fills a page without it.
    #[serde(default)]
    pub position: Option<crate::realtime::protocol::Position>,
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the query in all pages, counted up to [`Page::COUNT_CAP`].
    pub total: i64,
    /// Whether more rows match than were counted (`total` is then the cap: "10,000+").
    #[serde(default)]
    pub total_capped: bool,
    /// Cursor of the next page (`RecordQuery::after`); `None` on the last page.
    #[serde(default)]
    pub next: Option<String>,
    /// Cursor of the previous page (`RecordQuery::before`); `None` on the first page.
    #[serde(default)]
    pub prev: Option<String>,
    /// Page size asked for.
    pub limit: i64,
}

impl<T> Page<T> {
    /// How many matching rows a list counts at most: counting stops there, so a count
    /// costs at most this many index entries whatever the table's size.
    pub const COUNT_CAP: i64 = 10_000;

    /// The count as people read it: `"1,234"`, or `"10,000+"` when capped.
    pub fn total_text(&self) -> String {
        count_text(self.total, self.total_capped)
    }
}

/// A count as people read it, with thousands separators: `"1,234"`; `"10,000+"` when
/// `more` (the count stopped there).
pub fn count_text(n: i64, more: bool) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if more {
        out.push('+');
    }
    out
}

/// A column of a board with its totals over all its records, computed by the database
/// (not from the cards loaded): how many records and the sum of the board's amount field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardTotal {
    /// The column: an option of the board's field (a deal stage).
    pub column: String,
    /// Live records in it.
    pub count: i64,
    /// Sum of the board's amount field over them, in that field's unit (cents for money);
    /// 0 when the board has none.
    pub amount: i64,
}

/// A record with the position of its room read before it, so the page that shows it can
/// subscribe `since` that position and miss nothing committed in between. On the wire
/// the record's own fields plus `position`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordAt {
    /// The record.
    #[serde(flatten)]
    pub record: Record,
    /// Its room's position when it was read.
    pub position: crate::realtime::protocol::Position,
}

/// An option of a select control: a record or member id and its title (a record's
/// title field, a member's name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Id of the record or user.
    pub id: i64,
    /// What the option shows.
    pub title: String,
}

/// Formats Unix milliseconds as a UTC date and time (`2026-11-21 14:05 UTC`), the same
/// on the server and in the browser (so hydration sees the same text).
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = record::time::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Milliseconds since the Unix epoch, now (in the browser from JavaScript's clock, which
/// `SystemTime` does not reach there).
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// `s` percent-encoded for a URL's query string: RFC 3986's unreserved characters kept,
/// every other byte as `%XX`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("{\"a\": 1}~é"),
            "%7B%22a%22%3A%201%7D~%C3%A9"
        );
    }

    #[test]
    fn a_page_count_reads_with_separators_and_a_plus_when_capped() {
        let page = |total, total_capped| Page::<()> {
            position: None,
            items: Vec::new(),
            total,
            total_capped,
            next: None,
            prev: None,
            limit: 50,
        };
        assert_eq!(page(1, false).total_text(), "1");
        assert_eq!(page(999, false).total_text(), "999");
        assert_eq!(page(1234567, false).total_text(), "1,234,567");
        assert_eq!(page(10_000, true).total_text(), "10,000+");
    }

    #[test]
    fn roles_order_from_viewer_to_owner() {
        assert!(Role::Viewer < Role::Member && Role::Member < Role::Admin);
        assert!(!Role::Viewer.can_write() && Role::Member.can_write());
        assert!(!Role::Member.can_admin() && Role::Admin.can_admin());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn utc_times_format_as_calendar_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_305_900_000), "2026-11-22 00:05 UTC");
    }

    #[test]
    fn initials_take_two_words() {
        assert_eq!(initials("Anna Snelling"), "AS");
        assert_eq!(initials("mei-mei johns"), "MJ");
        assert_eq!(initials("Cher"), "C");
        assert_eq!(initials(""), "");
    }
}
