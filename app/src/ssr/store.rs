//! The `Store` trait: every read and write of Tandem's data, so that server functions,
//! the import and tests are written once against it and each database backend implements
//! it (the shape of atuin's `Database` trait).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use crate::error::FieldConflict;
use crate::model::activity::{ActivityFilter, ActivityPage, FeedType};
use crate::model::chat::{
    ChatInvitation, ChatKind, ChatMessage, ChatOverview, ChatRoom, ChatRoomDetail, ChatTarget,
    MessagePage,
};
use crate::model::import::ImportMapping;
use crate::model::notify::{NoticePage, NoticePref, Notification, Priority};
use crate::model::{
    Choice, FieldChange, Fields, Invite, Member, Membership, Page, Record, RecordKind, RecordQuery,
    Role, User, Workspace,
};
use crate::realtime::protocol::{Change, Position, Room};

/// Told how many rows of a long write are done so far (an import's progress).
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// How many rows a long write does between two calls of its [`Progress`].
pub const PROGRESS_EVERY: u64 = 250;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No such row in the workspace (or it is deleted).
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the payload names the constraint's subject
    /// (`email`, `slug`, `name`, ...).
    #[error("{0} is already taken")]
    Conflict(String),
    /// A field's value is refused by the database's rules (a reference to a record of
    /// another workspace, a parent that is the record itself).
    #[error("{field}: {message}")]
    Invalid {
        /// Field name.
        field: String,
        /// What is wrong, for people.
        message: String,
    },
    /// The caller may not do this to this row (someone else's message, a channel for a
    /// non-admin): the sentence says why, for people. Becomes [`AppError::Forbidden`].
    #[error("{0}")]
    Forbidden(String),
    /// An edit collided with another change (three-way merge per field); nothing was
    /// applied. `current` is the record as stored now.
    #[error("edit conflict")]
    EditConflict {
        /// The record as it is now.
        current: Box<Record>,
        /// Each conflicted field with base, mine and theirs.
        fields: Vec<FieldConflict>,
    },
    /// The record was deleted (tombstoned) by `by` at `at` (Unix milliseconds).
    #[error("deleted")]
    Deleted {
        /// Who deleted it.
        by: Option<i64>,
        /// Their display name, if known.
        by_name: Option<String>,
        /// When, Unix milliseconds.
        at: i64,
    },
    /// The invite is revoked, expired or used up, or its creator no longer has the
    /// rights it needs.
    #[error("this invite link is no longer valid")]
    InviteGone,
    /// A claim link (made for an imported person) was used as a plain invite.
    #[error("this link claims an imported account; open it signed out to claim it")]
    ClaimNotInvite,
    /// A booking overlaps another of the same person (an exclusive kind's slot, such as a
    /// meeting's, was taken first).
    #[error("this slot was just taken")]
    SlotTaken {
        /// The start field of the kind (where the form shows the error).
        field: String,
        /// The display name of a person who is no longer free then.
        who: String,
    },
    /// Anything else: the database failed.
    #[error("database error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for DbError {
    /// No row is `NotFound`; anything else is `Other`. A unique violation whose subject
    /// the caller knows is mapped where the statement runs (by the error's kind, never its
    /// text), before this.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => DbError::NotFound,
            other => DbError::Other(Box::new(other)),
        }
    }
}

/// A user row with its password hash, for signing in.
#[derive(Clone, Debug)]
pub struct UserAuthRow {
    /// The account.
    pub user: User,
    /// PHC-format argon2id hash; `None` for an imported person who has not joined.
    pub password_hash: Option<String>,
}

/// A new account. `email` and `password_hash` are `None` for a person created by an
/// import (they set both when they follow their invite link).
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Lower-cased e-mail.
    pub email: Option<String>,
    /// PHC-format argon2id hash.
    pub password_hash: Option<String>,
    /// Name shown to others.
    pub display_name: String,
}

/// A new invite link.
#[derive(Clone, Debug)]
pub struct NewInvite {
    /// Workspace it joins.
    pub workspace_id: i64,
    /// Secret token.
    pub token: String,
    /// Role given.
    pub role: Role,
    /// Expiry, Unix milliseconds.
    pub expires_at: i64,
    /// How many acceptances it allows.
    pub max_uses: i64,
    /// Who made it.
    pub created_by: Option<i64>,
    /// The imported account it claims, if any.
    pub for_user: Option<i64>,
}

/// What an import upsert did to one row. Ordered strongest first, so the outcome of a
/// row written twice is the `min` of both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Upserted {
    /// A record was created.
    Created,
    /// An existing record was changed.
    Updated,
    /// The existing record already held these values.
    Unchanged,
    /// The key matches a record deleted in this workspace (the row's id is the
    /// tombstone's); it was not restored and no copy was made.
    Deleted,
}

/// A person an import makes a member.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedPerson {
    /// The import's own key for the person (the sales agent's name in the source),
    /// stored on the membership: how a later import finds them again, whatever display
    /// name they or anyone else chose since.
    pub key: String,
    /// Display name given to a placeholder account the import creates.
    pub name: String,
    /// Role to give.
    pub role: Role,
    /// Region (regional office), if the import knows it.
    pub region: Option<String>,
}

/// What importing one person did.
#[derive(Clone, Debug)]
pub struct PersonUpsert {
    /// The person's user id.
    pub user_id: i64,
    /// Created, role updated, or unchanged.
    pub outcome: Upserted,
}

/// How an update is applied beyond the merge.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateOptions {
    /// Fields whose wanted value wins over someone else's (explicit last writer wins,
    /// confirmed by the user); logged in the change as `overwritten`.
    pub overwrite: std::collections::BTreeSet<String>,
    /// A key the client made for this edit (1 to 100 characters): a repeat within a day
    /// returns the first answer and changes nothing.
    pub idempotency_key: Option<String>,
}

/// A committed change with its place in one room's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedChange {
    /// The room whose log holds it.
    pub room: Room,
    /// Its epoch and offset there.
    pub position: Position,
    /// What changed.
    pub change: Change,
}

/// Receives every change once its transaction has committed, in commit order per room:
/// the realtime hub. The store calls it, so no caller can forget to publish.
pub trait ChangeSink: Send + Sync + 'static {
    /// Delivers committed changes (must not block: called on the writer's task).
    fn publish(&self, changes: &[LoggedChange]);
}

/// Every read and write of Tandem's data, by domain; every method taking a `workspace` id
/// only sees and touches that workspace's rows. Implementations: `server::db` (SQLite,
/// PostgreSQL), each domain's trait implemented in its own file of `server/src/db/sql/`.
/// Callers hold an `Arc<dyn Store>`, which has every domain's methods; code that
/// implements or names the domains imports them with `use app::ssr::store::prelude::*`.
pub trait Store:
    AccountStore
    + WorkspaceStore
    + RecordStore
    + ImportStore
    + LogStore
    + NotifyStore
    + ActivityStore
    + CalendarStore
    + ChatStore
{
}

impl<T> Store for T where
    T: AccountStore
        + WorkspaceStore
        + RecordStore
        + ImportStore
        + LogStore
        + NotifyStore
        + ActivityStore
        + CalendarStore
        + ChatStore
{
}

/// The store's traits, to bring every domain's methods into scope at once.
pub mod prelude {
    pub use super::{
        AccountStore, ActivityStore, CalendarStore, ChatStore, ImportStore, LogStore, NotifyStore,
        RecordStore, Store, WorkspaceStore,
    };
}

/// Accounts: creating them, finding them by e-mail or id, remembering their last workspace.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates an account. Errors: `Conflict("email")` when the e-mail is taken.
    async fn create_user(&self, new: NewUser) -> Result<User, DbError>;
    /// The account with this (lower-cased) e-mail, with its password hash.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserAuthRow>, DbError>;
    /// The account with this id. Errors: `NotFound`.
    async fn user(&self, id: i64) -> Result<User, DbError>;
    /// Remembers the workspace a user opened last.
    async fn set_last_workspace(&self, user: i64, workspace: i64) -> Result<(), DbError>;
}

/// Workspaces, their members and roles, and invite links (made, revoked, accepted, claimed).
#[async_trait]
pub trait WorkspaceStore: Send + Sync + 'static {
    /// Creates a workspace with `owner` as its owner. Errors: `Conflict("slug")`.
    async fn create_workspace(
        &self,
        name: &str,
        slug: &str,
        owner: i64,
    ) -> Result<Workspace, DbError>;
    /// The workspace with this id. Errors: `NotFound`.
    async fn workspace(&self, id: i64) -> Result<Workspace, DbError>;
    /// The workspace with this slug. Errors: `NotFound`.
    async fn workspace_by_slug(&self, slug: &str) -> Result<Workspace, DbError>;
    /// The workspaces a user belongs to, by name, with their role in each.
    async fn memberships(&self, user: i64) -> Result<Vec<Membership>, DbError>;
    /// A user's role in a workspace, `None` if not a member.
    async fn role(&self, workspace: i64, user: i64) -> Result<Option<Role>, DbError>;
    /// Renames a workspace. Errors: `NotFound`.
    async fn rename_workspace(&self, workspace: i64, name: &str) -> Result<Workspace, DbError>;
    /// A workspace's members, by name.
    async fn members(&self, workspace: i64) -> Result<Vec<Member>, DbError>;
    /// Adds a member with `role`; a current member keeps the role they have.
    async fn add_member(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError>;
    /// Changes a member's role. Errors: `NotFound` if not a member.
    async fn set_role(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError>;
    /// Removes a member. Errors: `NotFound` if not a member.
    async fn remove_member(&self, workspace: i64, user: i64) -> Result<(), DbError>;
    /// Stores a new invite link.
    async fn create_invite(&self, new: NewInvite) -> Result<Invite, DbError>;
    /// A workspace's invites, newest first.
    async fn invites(&self, workspace: i64) -> Result<Vec<Invite>, DbError>;
    /// The invite with this token. Errors: `NotFound`.
    async fn invite_by_token(&self, token: &str) -> Result<Invite, DbError>;
    /// Revokes an invite of the workspace at `now`. Errors: `NotFound`.
    async fn revoke_invite(&self, workspace: i64, id: i64, now: i64) -> Result<(), DbError>;
    /// Atomically uses one acceptance of a live invite and makes `user` a member (a
    /// current member keeps their role). Errors: `NotFound`, `InviteGone`.
    async fn accept_invite(&self, token: &str, user: i64, now: i64) -> Result<Workspace, DbError>;
    /// Atomically uses a live claim invite: the imported account it names gets `email`,
    /// `password_hash` and `display_name` and becomes a normal account.
    /// Errors: `NotFound`, `InviteGone`, `Conflict("email")`.
    async fn claim_invite(
        &self,
        token: &str,
        email: &str,
        password_hash: &str,
        display_name: &str,
        now: i64,
    ) -> Result<(User, Workspace), DbError>;
}

/// Records of every kind through one mechanism: lists, reads, creation, the three-way
/// merge of updates, tombstones, and the options of pickers and filters.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// A page of live records matching `query` in keyset order (the sort key, empty
    /// values last, then id), with reference labels, cursors of the pages around it and
    /// the count capped at [`Page::COUNT_CAP`].
    /// Errors: `Invalid` for an unknown sort or filter field, or a cursor of another sort.
    async fn list_records(
        &self,
        workspace: i64,
        kind: RecordKind,
        query: &RecordQuery,
    ) -> Result<Page<Record>, DbError>;
    /// One record. Errors: `NotFound`, `Deleted` (with who and when).
    async fn record(&self, workspace: i64, kind: RecordKind, id: i64) -> Result<Record, DbError>;
    /// Creates a record from already-validated fields. Errors: `Invalid` for a reference
    /// outside the workspace, `Conflict(natural key field)` for a duplicate natural key.
    async fn create_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        fields: Fields,
    ) -> Result<Record, DbError>;
    /// Applies validated field changes with a three-way merge per field
    /// ([`crate::model::record::merge::merge`]), in one transaction: a field nobody else
    /// changed since `base` is applied, one someone set to the same value counts as done,
    /// one set to another value is a conflict (with who stored it and when) and then
    /// nothing is applied, unless `options.overwrite` names it. Bumps `version` when
    /// anything changed. With `options.idempotency_key`, the first answer for the key is
    /// stored with the change (for a day) and a repeat returns it, changing nothing.
    /// Errors: `NotFound`, `Deleted`, `EditConflict`, `Invalid`, `Conflict`.
    async fn update_record_with(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        changes: BTreeMap<String, FieldChange>,
        options: UpdateOptions,
    ) -> Result<Record, DbError>;
    /// [`RecordStore::update_record_with`] without overwrite or idempotency key.
    async fn update_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        changes: BTreeMap<String, FieldChange>,
    ) -> Result<Record, DbError> {
        self.update_record_with(
            workspace,
            actor,
            kind,
            id,
            changes,
            UpdateOptions::default(),
        )
        .await
    }
    /// Brings a tombstoned record back (clears `deleted_at`/`deleted_by`, bumps its
    /// version) and logs it as `Change::Restored`. Errors: `NotFound`, `Invalid` (on the
    /// field `record`) when it is not deleted.
    async fn restore_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Record, DbError>;
    /// Tombstones a record if it is still at `base_version`.
    /// Errors: `NotFound`, `Deleted`, `EditConflict` (changed since, with no fields).
    async fn delete_record(
        &self,
        workspace: i64,
        actor: i64,
        kind: RecordKind,
        id: i64,
        base_version: i64,
    ) -> Result<(), DbError>;
    /// Distinct non-empty values of a text field among live records, sorted (for filters).
    async fn distinct_values(
        &self,
        workspace: i64,
        kind: RecordKind,
        field: &str,
    ) -> Result<Vec<String>, DbError>;
    /// Live records whose title contains `term` (case-insensitively; every record for an
    /// empty term) as (id, title), by title, at most `limit` (1 to 500): a reference
    /// picker's typeahead.
    async fn choices(
        &self,
        workspace: i64,
        kind: RecordKind,
        term: &str,
        limit: i64,
    ) -> Result<Vec<Choice>, DbError>;
    /// Each column of the kind's board (in its options' order) with how many live
    /// records it holds and the sum of the board's amount field, kept by the database as
    /// records change. Errors: `Invalid` for a kind without a board.
    async fn board_totals(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<Vec<crate::model::BoardTotal>, DbError>;
}

/// What an import needs: records and people matched by their keys, and the workspace's
/// column mapping.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Ids of live records by natural key.
    async fn ids_by_key(
        &self,
        workspace: i64,
        kind: RecordKind,
    ) -> Result<HashMap<String, i64>, DbError>;
    /// Import: creates or updates records by natural key (each row must hold the natural
    /// key), in one transaction. A row only compares and sets the fields it holds.
    /// `progress` is told the rows done every [`PROGRESS_EVERY`] rows. Returns, per row
    /// in order, the record id and what happened.
    async fn upsert_records(
        &self,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        rows: Vec<Fields>,
        progress: Progress<'_>,
    ) -> Result<Vec<(i64, Upserted)>, DbError>;
    /// Bulk load: inserts `rows` of `kind` as new records in one transaction, in
    /// multi-row statements, without reading them back or logging each (one bulk event
    /// tells open lists to reload). For seeding large workspaces (`tandem seed`): values
    /// are stored as given, references unchecked. Returns how many were inserted.
    /// Errors: `Conflict(natural key field)` when a natural key is taken.
    async fn insert_records(
        &self,
        workspace: i64,
        actor: Option<i64>,
        kind: RecordKind,
        rows: &[Fields],
    ) -> Result<usize, DbError>;
    /// Import: the column mapping saved for the workspace (empty when none was saved).
    async fn import_mapping(&self, workspace: i64) -> Result<ImportMapping, DbError>;
    /// Import: saves the workspace's column mapping, replacing the one before.
    async fn save_import_mapping(
        &self,
        workspace: i64,
        mapping: &ImportMapping,
    ) -> Result<(), DbError>;
    /// Import: the workspace's members that an import created, by import key.
    async fn import_keys(&self, workspace: i64) -> Result<HashMap<String, i64>, DbError>;
    /// Import: makes each person a member with the role and region given, matched by the
    /// import key on the membership (never by display name), creating placeholder
    /// accounts (no e-mail or password) for keys no member has. A placeholder whose role
    /// or region differs gets the new ones; a real account (one that can sign in, also a
    /// claimed placeholder) is never changed by an import.
    async fn upsert_people(
        &self,
        workspace: i64,
        people: Vec<ImportedPerson>,
    ) -> Result<Vec<PersonUpsert>, DbError>;
}

/// The change log the realtime hub reads: where committed changes go, rooms' heads, and
/// the logged changes of a room.
#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Sets where committed changes go (once, at start-up).
    fn set_change_sink(&self, sink: std::sync::Arc<dyn ChangeSink>);
    /// The room's head: its epoch and last offset (offset 0 before any event). Reads
    /// only: a room never written to has the database's epoch and offset 0, which its
    /// first event keeps.
    async fn room_head(&self, room: Room) -> Result<Position, DbError>;
    /// The heads of several rooms at once (for the hub's periodic check).
    async fn room_heads(&self, rooms: &[Room]) -> Result<Vec<(Room, Position)>, DbError>;
    /// The room's logged changes of `epoch` with offsets in `after+1 ..= upto`, in order,
    /// at most `limit` of them (replay is paged). Fewer than asked (and than `limit`)
    /// means the log no longer holds them (replay impossible).
    async fn room_changes(
        &self,
        room: Room,
        epoch: i64,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<LoggedChange>, DbError>;
    /// The workspace a record (live or deleted) belongs to. Errors: `NotFound`.
    async fn record_workspace(&self, kind: RecordKind, id: i64) -> Result<i64, DbError>;
    /// Prunes the change log: an event goes unless it is among the last `keep_events` of
    /// its room or was logged at or after `keep_since` (ms since the epoch); a bound left
    /// `None` keeps nothing by itself, and with both `None` nothing goes. Events of a
    /// room's earlier epochs count as beyond its last N. Deletes at most `batch` (one
    /// short statement; call again while it returns `batch`) and returns how many went.
    /// A replay that reaches below what is left answers `resync`; the activity feed
    /// shows what is left.
    async fn prune_log(
        &self,
        keep_events: Option<i64>,
        keep_since: Option<i64>,
        batch: i64,
    ) -> Result<u64, DbError>;
    /// Takes or renews the lease `name` for `holder` until `now + ttl_ms` (ms), when it is
    /// free, expired (before `now`) or already `holder`'s. Returns whether `holder` holds
    /// it now. Atomic: of several nodes asking at once, one gets it.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, DbError>;
}

/// Notifications: a user's list and its read, snoozed and dismissed states, preferences
/// per type, follows of records, and announcements. Notifications themselves are made by
/// the store when a change commits (`server/src/notify/rules.rs` says who gets what), in
/// the change's transaction, and each is logged as a [`Change::Notice`] in its user's
/// room; every state change here is logged there too, so the user's other tabs follow.
#[async_trait]
pub trait NotifyStore: Send + Sync + 'static {
    /// A page of `user`'s visible notifications (not dismissed, not snoozed past now),
    /// newest first, older than the id `before` if given, at most `limit` (1 to 200), with
    /// the unread count and the user room's position read before them.
    async fn notifications(
        &self,
        user: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<NoticePage, DbError>;
    /// Marks `user`'s notifications `ids` read (those already read are left alone);
    /// returns those it changed. Another user's ids change nothing.
    async fn mark_read(&self, user: i64, ids: &[i64]) -> Result<Vec<Notification>, DbError>;
    /// Marks every notification of `user` read; returns the newest id it covers (0 when
    /// there was none).
    async fn mark_all_read(&self, user: i64) -> Result<i64, DbError>;
    /// Dismisses (`until` = `None`) or snoozes until `until` (Unix milliseconds) one of
    /// `user`'s notifications. Errors: `NotFound` (also for another user's).
    async fn set_notice_state(
        &self,
        user: i64,
        id: i64,
        until: Option<i64>,
    ) -> Result<Notification, DbError>;
    /// `user`'s preference for every type, defaults where none was set.
    async fn notice_prefs(&self, user: i64) -> Result<Vec<NoticePref>, DbError>;
    /// Stores `user`'s preference for one type.
    async fn set_notice_pref(&self, user: i64, pref: NoticePref) -> Result<(), DbError>;
    /// Follows (`on`) or unfollows a record of the workspace. Errors: `NotFound` for a
    /// record not in the workspace.
    async fn set_following(
        &self,
        user: i64,
        workspace: i64,
        kind: RecordKind,
        id: i64,
        on: bool,
    ) -> Result<(), DbError>;
    /// Whether `user` follows the record.
    async fn following(&self, user: i64, kind: RecordKind, id: i64) -> Result<bool, DbError>;
    /// Logs an admin's announcement in the workspace's room (every other member is
    /// notified with `priority`).
    async fn announce(
        &self,
        workspace: i64,
        actor: i64,
        title: &str,
        body: &str,
        priority: Priority,
    ) -> Result<(), DbError>;
}

/// The activity feed, read from the change log.
#[async_trait]
pub trait ActivityStore: Send + Sync + 'static {
    /// A page of the workspace's `feed`, newest first, older than `before` if given: at
    /// most `limit` (1 to [`crate::model::activity::MAX_PAGE`]) entries that pass
    /// `filter`, with the feed room's position read before them. A text filter is looked
    /// for in a bounded number of log rows per call: a page may hold fewer entries than
    /// asked and still have a `next`. Errors: `NotFound` for a record feed of a record
    /// not in the workspace.
    async fn activity(
        &self,
        workspace: i64,
        feed: FeedType,
        filter: &ActivityFilter,
        before: Option<Position>,
        limit: i64,
    ) -> Result<ActivityPage, DbError>;
}

/// Members' calendars, the time scheduled records take and the reminders due for it.
/// Bookings themselves are kept by the record writes (a scheduled kind's create, update,
/// delete and restore), in their transactions.
#[async_trait]
pub trait CalendarStore: Send + Sync + 'static {
    /// `user`'s calendar, or the defaults ([`crate::model::calendar::Calendar::default`])
    /// if they never saved one.
    async fn calendar(&self, user: i64) -> Result<crate::model::calendar::Calendar, DbError>;
    /// Replaces `user`'s calendar (checked by the caller).
    async fn set_calendar(
        &self,
        user: i64,
        calendar: &crate::model::calendar::Calendar,
    ) -> Result<(), DbError>;
    /// The busy bookings of exclusive kinds (meetings) of `users` overlapping `from..to`
    /// (Unix ms), in any workspace, by start; record and title only for those of
    /// `workspace`.
    async fn busy(
        &self,
        workspace: i64,
        users: &[i64],
        from: i64,
        to: i64,
    ) -> Result<Vec<crate::model::calendar::Busy>, DbError>;
    /// Sends every reminder due at `now` (Unix ms): for each booking whose record starts
    /// after `now` and within its person's reminder lead, not yet reminded, a
    /// notification to that person. Each booking is claimed by one statement before its
    /// notification is made, in one transaction, so however many nodes run this at once
    /// each reminder is sent once; a reminder whose record started while no node ran is
    /// not sent. Returns how many were sent.
    async fn send_due_reminders(&self, now: i64) -> Result<usize, DbError>;
}

/// A change to a chat room's settings, by someone allowed to make it (checked by the
/// store: admins for channels, the owner for a private room).
#[derive(Clone, Debug, PartialEq)]
pub enum RoomEdit {
    /// A new name (already checked).
    Rename(String),
    /// Archive (`true`: read only) or bring back.
    Archive(bool),
    /// Hand a private room over to this participant.
    Owner(i64),
}

/// Chat: rooms (channels, record discussions, private rooms), the participants and
/// invitations of private rooms, messages, reactions and read markers. Every method
/// takes the workspace and the acting user, and answers `NotFound` for a room the user
/// may not see (a private room they are not in looks like no room at all). Each change
/// is logged in the room's `chat:{id}` log (and, for what the sidebar shows, in the
/// workspace's or the users' rooms), in the write's transaction.
///
/// Who may do what: any member reads channels and discussions; only participants read a
/// private room; writing (sending, reacting, making private rooms) needs the `Member`
/// role, which the caller checks; channels are made, renamed and archived by admins
/// (`admin`: the caller's role is admin or owner); a private room's owner renames it,
/// archives it, removes participants and hands it over; participants invite.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// The rooms `user` sees in the workspace (channels, their private rooms, and the 50
    /// discussions with the newest messages), newest activity first, each with the
    /// user's read marker and unread count; and their invitations still open at `now`.
    async fn chat_overview(
        &self,
        workspace: i64,
        user: i64,
        now: i64,
    ) -> Result<ChatOverview, DbError>;
    /// One room with its participants and invitations. Errors: `NotFound`.
    async fn chat_room(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
    ) -> Result<ChatRoomDetail, DbError>;
    /// The discussion of a record, if it has one. Errors: `NotFound` for a record not
    /// in the workspace.
    async fn discussion(
        &self,
        workspace: i64,
        user: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Option<ChatRoom>, DbError>;
    /// Makes a channel (`admin` must be true) or a private room owned by `user` (with an
    /// optional participant limit, 2 to 1,000). Errors: `Invalid` on `kind` for a
    /// discussion (only a first message makes one) or a channel by a non-admin,
    /// `Conflict("name")` for a channel name taken in the workspace.
    async fn create_chat_room(
        &self,
        workspace: i64,
        user: i64,
        admin: bool,
        kind: ChatKind,
        name: &str,
        max_participants: Option<i64>,
    ) -> Result<ChatRoom, DbError>;
    /// Renames, archives or hands over a room. Errors: `NotFound`, `Invalid` on `room`
    /// when `user` may not (not an admin for a channel, not the owner of a private room;
    /// a discussion), on `user_id` when the new owner is not a participant.
    async fn edit_chat_room(
        &self,
        workspace: i64,
        user: i64,
        admin: bool,
        room: i64,
        edit: RoomEdit,
    ) -> Result<ChatRoom, DbError>;
    /// Invites members of the workspace into a private room `user` takes part in, each
    /// until `expires_at` (a pending invitation of the same person is renewed). Errors:
    /// `NotFound`, `Invalid` on `user_ids` for someone not a member or already in, or
    /// past the participant limit; on `room` for a room that is not private, or archived.
    async fn invite_to_chat(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        invitees: &[i64],
        expires_at: i64,
    ) -> Result<Vec<ChatInvitation>, DbError>;
    /// Accepts (the user becomes a participant) or declines `user`'s invitation `id`.
    /// Errors: `NotFound` (also another user's), `Invalid` on `invitation` when it
    /// expired, was answered or withdrawn before, or the room is full.
    async fn answer_chat_invitation(
        &self,
        workspace: i64,
        user: i64,
        id: i64,
        accept: bool,
        now: i64,
    ) -> Result<ChatInvitation, DbError>;
    /// `user` leaves a private room (`participant == user`; an owner who leaves hands it
    /// to the longest-standing participant, the last one out archives it), or the owner
    /// removes `participant`. The one who goes loses the room at once: their
    /// subscriptions end with the change that says so. Errors: `NotFound`, `Invalid` on
    /// `user_id` when `user` may not remove them.
    async fn leave_chat_room(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        participant: i64,
    ) -> Result<(), DbError>;
    /// A page of a room's history, newest first: messages before position `before`
    /// (from the newest when `None`), at most `limit` (1 to
    /// [`crate::model::chat::MAX_MESSAGE_PAGE`]). Errors: `NotFound`.
    async fn chat_messages(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<MessagePage, DbError>;
    /// Sends a message (already checked) to a room or a record's discussion (made now if
    /// it has none), replying to `reply_to` (a message of the same room) if given. With a
    /// `key`, a second send with the same key by the same user to the same room returns
    /// the first message and changes nothing. Mentioned members who see the room are
    /// notified. Errors: `NotFound`, `Invalid` on `room` for an archived room, on
    /// `reply_to` for a message not in the room.
    async fn send_message(
        &self,
        workspace: i64,
        user: i64,
        target: ChatTarget,
        body: &str,
        reply_to: Option<i64>,
        key: Option<&str>,
    ) -> Result<ChatMessage, DbError>;
    /// Edits (`Some(body)`) or deletes (`None`: a tombstone, body emptied) one of
    /// `user`'s own messages. Errors: `NotFound`, `Invalid` on `message` for someone
    /// else's or a deleted one.
    async fn change_message(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        message: i64,
        body: Option<&str>,
    ) -> Result<ChatMessage, DbError>;
    /// Adds (`on`) or takes back `user`'s reaction `emoji` (one of
    /// [`crate::model::chat::REACTIONS`]) on a message. Errors: `NotFound`, `Invalid` on
    /// `emoji`.
    async fn react(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        message: i64,
        emoji: &str,
        on: bool,
    ) -> Result<ChatMessage, DbError>;
    /// Moves `user`'s read marker in a room forward to `seq` (capped at the newest
    /// message; never backwards) and logs it in their user room. Returns the room with
    /// the new marker and unread count. Errors: `NotFound`.
    async fn mark_chat_read(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        seq: i64,
    ) -> Result<ChatRoom, DbError>;
    /// Messages containing `term` (case-insensitively) in the rooms `user` sees, newest
    /// first, at most `limit` (1 to 100), each with its room.
    async fn search_messages(
        &self,
        workspace: i64,
        user: i64,
        term: &str,
        limit: i64,
    ) -> Result<Vec<(ChatRoom, ChatMessage)>, DbError>;
    /// Who may be in the realtime room `chat:{room}`: its workspace, if `user` may see
    /// it as a member of that workspace (`None`: no such room, or a private room they
    /// are not in). The socket checks the workspace role too.
    async fn chat_room_workspace(&self, room: i64, user: i64) -> Result<Option<i64>, DbError>;
}
