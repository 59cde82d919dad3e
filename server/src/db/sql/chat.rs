//! Chat in SQL: rooms and who may see them, invitations into private rooms, messages
//! (their positions, idempotency keys, replies, reactions, tombstones), read markers and
//! search. Every change is logged in its room's `chat:{id}` log in the write's
//! transaction; what a sidebar shows is logged where its viewers listen (channels and
//! discussions in the workspace's room, invitations and read markers in users' rooms).

use super::listing::like_pattern;
use super::notify::{deliver_at, members_among};
use super::*;
use crate::notify::rules::Draft;
use app::model::chat::{
    excerpt, ChatInvitation, ChatKind, ChatMessage, ChatOverview, ChatParticipant, ChatRoom,
    ChatRoomDetail, ChatTarget, InvitationStatus, MessagePage, Quote, RoomHow, MAX_MESSAGE_PAGE,
    REACTIONS,
};
use app::model::notify::{mentions, NoticeType, Priority};
use app::ssr::store::RoomEdit;

const ROOM_COLUMNS: &str = "r.id, r.workspace_id, r.kind, r.name, r.record_kind, r.record_id, \
     r.owner_id, r.max_participants, r.archived_at, r.created_at, r.last_seq, r.last_message_at";

/// Limits a query of `chat_rooms r` to the rooms `user` may see: any but private ones,
/// and the private ones they take part in.
fn visible_to(sql: &mut Sql, user: i64) {
    sql.push(
        " AND (r.kind <> 'private' OR EXISTS (SELECT 1 FROM chat_participants p \
         WHERE p.room_id = r.id AND p.user_id = ",
    )
    .bind(user)
    .push("))");
}

fn room_from_row(row: &AnyRow) -> Result<ChatRoom, DbError> {
    let kind: String = row.try_get("kind")?;
    let record_kind: Option<String> = row.try_get("record_kind")?;
    let record_id: Option<i64> = row.try_get("record_id")?;
    Ok(ChatRoom {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        kind: ChatKind::parse(&kind)
            .ok_or_else(|| DbError::Other(format!("a chat room of kind {kind:?}").into()))?,
        name: row.try_get("name")?,
        record: record_kind
            .and_then(|k| RecordKind::from_noun(&k))
            .zip(record_id),
        owner_id: row.try_get("owner_id")?,
        max_participants: row.try_get("max_participants")?,
        archived_at: row.try_get("archived_at")?,
        created_at: row.try_get("created_at")?,
        last_seq: row.try_get("last_seq")?,
        last_message_at: row.try_get("last_message_at")?,
        read_seq: row.try_get("read_seq").unwrap_or(0),
        unread: row.try_get("unread").unwrap_or(0),
    })
}

/// The rooms of `workspace` that `user` sees, with their read marker and unread count,
/// among those `filter` (SQL after `WHERE ...`, may be empty) picks, in `order`.
async fn rooms_where(
    conn: &mut Conn,
    workspace: i64,
    user: i64,
    filter: impl FnOnce(&mut Sql),
    order: &str,
) -> Result<Vec<ChatRoom>, DbError> {
    let mut sql = Sql::new(&format!(
        "SELECT {ROOM_COLUMNS}, COALESCE(cr.read_seq, 0) AS read_seq, \
         (SELECT COUNT(*) FROM chat_messages m WHERE m.room_id = r.id \
          AND m.seq > COALESCE(cr.read_seq, 0) AND m.deleted_at IS NULL \
          AND (m.author_id IS NULL OR m.author_id <> "
    ));
    sql.bind(user)
        .push(")) AS unread FROM chat_rooms r LEFT JOIN chat_reads cr ON cr.room_id = r.id AND cr.user_id = ")
        .bind(user)
        .push(" WHERE r.workspace_id = ")
        .bind(workspace);
    visible_to(&mut sql, user);
    filter(&mut sql);
    sql.push(order);
    sql.all(&mut *conn)
        .await?
        .iter()
        .map(room_from_row)
        .collect()
}

/// One room of the workspace, if `user` may see it. Errors: `NotFound`.
async fn room_in(
    conn: &mut Conn,
    workspace: i64,
    user: i64,
    room: i64,
) -> Result<ChatRoom, DbError> {
    rooms_where(
        conn,
        workspace,
        user,
        |s| {
            s.push(" AND r.id = ").bind(room);
        },
        "",
    )
    .await?
    .pop()
    .ok_or(DbError::NotFound)
}

/// A room as stored (no viewer's marker), for logging.
async fn room_row(conn: &mut Conn, room: i64) -> Result<ChatRoom, DbError> {
    let mut sql = Sql::new(&format!(
        "SELECT {ROOM_COLUMNS} FROM chat_rooms r WHERE r.id = "
    ));
    sql.bind(room);
    room_from_row(&sql.one(&mut *conn).await?)
}

/// Takes the room's row lock (PostgreSQL; SQLite has one writer): sends, joins and
/// answers of one room run one after another.
async fn lock_room(conn: &mut Conn, room: i64) -> Result<(), DbError> {
    let mut sql = Sql::new("UPDATE chat_rooms SET last_seq = last_seq WHERE id = ");
    sql.bind(room);
    sql.run(&mut *conn).await.map(|_| ())
}

/// A refusal for who the caller is, not for what they sent.
fn forbidden(why: &str) -> DbError {
    DbError::Forbidden(why.into())
}

fn invalid(field: &str, message: &str) -> DbError {
    DbError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.room_id, m.seq, m.author_id, m.body, m.reply_to, \
     m.client_key, m.created_at, m.edited_at, m.deleted_at, u.display_name AS author_name, \
     q.seq AS q_seq, q.body AS q_body, q.deleted_at AS q_deleted, qu.display_name AS q_author \
     FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id \
     LEFT JOIN chat_messages q ON q.id = m.reply_to LEFT JOIN users qu ON qu.id = q.author_id";

/// Messages read by `filter` (after [`MESSAGE_SELECT`]), with their reactions.
async fn messages_where(
    conn: &mut Conn,
    filter: impl FnOnce(&mut Sql),
) -> Result<Vec<ChatMessage>, DbError> {
    let mut sql = Sql::new(MESSAGE_SELECT);
    filter(&mut sql);
    let mut out = Vec::new();
    for row in sql.all(&mut *conn).await? {
        let author_id: Option<i64> = row.try_get("author_id")?;
        let reply_to: Option<i64> = row.try_get("reply_to")?;
        let q_seq: Option<i64> = row.try_get("q_seq")?;
        let reply_to = match (reply_to, q_seq) {
            (Some(id), Some(seq)) => {
                let deleted: Option<i64> = row.try_get("q_deleted")?;
                let body: String = row.try_get("q_body")?;
                Some(Quote {
                    id,
                    seq,
                    author_name: row
                        .try_get::<Option<String>, _>("q_author")?
                        .unwrap_or_else(|| "Someone".into()),
                    excerpt: if deleted.is_some() {
                        String::new()
                    } else {
                        excerpt(&body, 140)
                    },
                })
            }
            _ => None,
        };
        out.push(ChatMessage {
            id: row.try_get("id")?,
            room_id: row.try_get("room_id")?,
            seq: row.try_get("seq")?,
            author_id,
            author_name: row
                .try_get::<Option<String>, _>("author_name")?
                .unwrap_or_else(|| "Someone".into()),
            author_color: avatar_color(author_id.unwrap_or(0)),
            body: row.try_get("body")?,
            reply_to,
            reactions: BTreeMap::new(),
            client_key: row.try_get("client_key")?,
            created_at: row.try_get("created_at")?,
            edited_at: row.try_get("edited_at")?,
            deleted_at: row.try_get("deleted_at")?,
        });
    }
    let ids: Vec<i64> = out.iter().map(|m| m.id).collect();
    if !ids.is_empty() {
        let mut sql =
            Sql::new("SELECT message_id, emoji, user_id FROM chat_reactions WHERE message_id IN ");
        sql.push_ids(&ids).push(" ORDER BY user_id");
        let mut by_id: HashMap<i64, BTreeMap<String, Vec<i64>>> = HashMap::new();
        for row in sql.all(&mut *conn).await? {
            by_id
                .entry(row.try_get("message_id")?)
                .or_default()
                .entry(row.try_get("emoji")?)
                .or_default()
                .push(row.try_get("user_id")?);
        }
        for m in &mut out {
            if let Some(r) = by_id.remove(&m.id) {
                m.reactions = r;
            }
        }
    }
    Ok(out)
}

/// One message of a room. Errors: `NotFound`.
async fn message_in(conn: &mut Conn, room: i64, id: i64) -> Result<ChatMessage, DbError> {
    messages_where(conn, |s| {
        s.push(" WHERE m.room_id = ")
            .bind(room)
            .push(" AND m.id = ")
            .bind(id);
    })
    .await?
    .pop()
    .ok_or(DbError::NotFound)
}

const INVITATION_SELECT: &str = "SELECT i.id, i.room_id, r.name AS room_name, i.user_id, \
     u.display_name AS user_name, i.invited_by, b.display_name AS invited_by_name, i.status, \
     i.created_at, i.expires_at, i.answered_at FROM chat_invitations i \
     JOIN chat_rooms r ON r.id = i.room_id JOIN users u ON u.id = i.user_id \
     LEFT JOIN users b ON b.id = i.invited_by";

/// Invitations read by `filter` (after [`INVITATION_SELECT`]); a pending one past its
/// expiry at `now` reads as expired.
async fn invitations_where(
    conn: &mut Conn,
    now: i64,
    filter: impl FnOnce(&mut Sql),
) -> Result<Vec<ChatInvitation>, DbError> {
    let mut sql = Sql::new(INVITATION_SELECT);
    filter(&mut sql);
    let mut out = Vec::new();
    for row in sql.all(&mut *conn).await? {
        let status: String = row.try_get("status")?;
        let mut status = InvitationStatus::parse(&status)
            .ok_or_else(|| DbError::Other(format!("an invitation {status:?}").into()))?;
        let expires_at: i64 = row.try_get("expires_at")?;
        if status == InvitationStatus::Pending && expires_at <= now {
            status = InvitationStatus::Expired;
        }
        out.push(ChatInvitation {
            id: row.try_get("id")?,
            room_id: row.try_get("room_id")?,
            room_name: row.try_get("room_name")?,
            user_id: row.try_get("user_id")?,
            user_name: row.try_get("user_name")?,
            invited_by: row.try_get("invited_by")?,
            invited_by_name: row.try_get("invited_by_name")?,
            status,
            created_at: row.try_get("created_at")?,
            expires_at,
            answered_at: row.try_get("answered_at")?,
        });
    }
    Ok(out)
}

/// A room change as logged.
fn room_change(
    room: ChatRoom,
    how: RoomHow,
    user: Option<i64>,
    actor: impl Into<Option<i64>>,
) -> Change {
    Change::ChatRoom {
        room: Box::new(room),
        how,
        user,
        actor: actor.into(),
        at: now_ms(),
    }
}

/// Takes `participant` out of private room `room` (`how`: left, or removed by `actor`,
/// or with the workspace when `actor` is `None`): an owner who goes hands the room to the
/// longest-standing participant, and the last one out archives it. Logs the change in the
/// room (their subscriptions end on it) and in their user room (their other tabs drop
/// the room). Errors: `NotFound` when they are not in it.
pub(super) async fn drop_participant(
    conn: &mut Conn,
    epoch: i64,
    room: i64,
    participant: i64,
    how: RoomHow,
    actor: Option<i64>,
) -> Result<Vec<LoggedChange>, DbError> {
    lock_room(conn, room).await?;
    let mut sql = Sql::new("DELETE FROM chat_participants WHERE room_id = ");
    sql.bind(room)
        .push(" AND user_id = ")
        .bind(participant)
        .push(" RETURNING user_id");
    if sql.optional(&mut *conn).await?.is_none() {
        return Err(DbError::NotFound);
    }
    if room_row(conn, room).await?.owner_id == Some(participant) {
        let next = participant_ids(conn, room).await?.first().copied();
        let mut sql = Sql::new("UPDATE chat_rooms SET owner_id = ");
        sql.bind(next);
        if next.is_none() {
            sql.push(", archived_at = ").bind(now_ms());
        }
        sql.push(" WHERE id = ").bind(room);
        sql.run(&mut *conn).await?;
    }
    let stored = room_row(conn, room).await?;
    let change = room_change(stored, how, Some(participant), actor);
    let mut logged = log_room(conn, epoch, change.clone()).await?;
    logged.push(append_change(conn, epoch, Room::User(participant), &change).await?);
    Ok(logged)
}

/// The private rooms of `workspace` that `user` takes part in, by id.
pub(super) async fn private_rooms_of(
    conn: &mut Conn,
    workspace: i64,
    user: i64,
) -> Result<Vec<i64>, DbError> {
    let mut sql = Sql::new(
        "SELECT p.room_id FROM chat_participants p JOIN chat_rooms r ON r.id = p.room_id \
         WHERE r.workspace_id = ",
    );
    sql.bind(workspace)
        .push(" AND p.user_id = ")
        .bind(user)
        .push(" ORDER BY p.room_id");
    sql.all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("room_id").map_err(DbError::from))
        .collect()
}

/// Notifies the members `body` mentions (other than `user` and those in `already`) who
/// can see `room`: never someone outside a private room, whose name and words stay
/// inside.
#[allow(clippy::too_many_arguments)]
async fn notify_mentions(
    conn: &mut Conn,
    epoch: i64,
    workspace: i64,
    room: &ChatRoom,
    body: &str,
    user: i64,
    already: &[i64],
) -> Result<Vec<LoggedChange>, DbError> {
    let mut named: Vec<i64> = mentions(body)
        .into_iter()
        .filter(|u| *u != user && !already.contains(u))
        .collect();
    if room.kind == ChatKind::Private {
        let inside = participant_ids(conn, room.id).await?;
        named.retain(|u| inside.contains(u));
    }
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let to = members_among(conn, workspace, Some(&named), Role::Viewer).await?;
    let draft = Draft {
        ntype: NoticeType::Mention,
        priority: Priority::Info,
        title: format!("<@{user}> mentioned you in chat: {}", room.name),
        body: excerpt(body, 200),
        record: None,
        audience: Vec::new(),
    };
    let path = chat_path(room.id);
    deliver_at(conn, epoch, workspace, &draft, to, Some(user), Some(&path)).await
}

/// Empties the text of message `message` in every earlier event of its room's log (a
/// deletion takes the words away from replays too, not only from the history).
async fn scrub_logged_text(conn: &mut Conn, message: &ChatMessage) -> Result<(), DbError> {
    // The payload is serde_json's compact form of `Change::Message`, whose message
    // starts with its id and room: a prefix no other message's events share.
    let marker = format!(
        "%\"message\":{{\"id\":{},\"room_id\":{},%",
        message.id, message.room_id
    );
    let mut sql = Sql::new("SELECT epoch, event_offset, payload FROM room_events WHERE room = ");
    sql.bind(Room::Chat(message.room_id).name())
        .push(" AND op = 'message' AND payload LIKE ")
        .bind(marker);
    let rows = sql.all(&mut *conn).await?;
    for row in rows {
        let payload: String = row.try_get("payload")?;
        let Ok(Change::Message {
            message: mut m,
            actor,
            at,
        }) = serde_json::from_str::<Change>(&payload)
        else {
            continue;
        };
        if m.id != message.id || m.body.is_empty() {
            continue;
        }
        m.body = String::new();
        m.deleted_at = message.deleted_at;
        let scrubbed = serde_json::to_string(&Change::Message {
            message: m,
            actor,
            at,
        })
        .map_err(|e| DbError::Other(Box::new(e)))?;
        let mut sql = Sql::new("UPDATE room_events SET payload = ");
        sql.bind(scrubbed)
            .push(" WHERE room = ")
            .bind(Room::Chat(message.room_id).name())
            .push(" AND epoch = ")
            .bind(row.try_get::<i64, _>("epoch")?)
            .push(" AND event_offset = ")
            .bind(row.try_get::<i64, _>("event_offset")?);
        sql.run(&mut *conn).await?;
    }
    Ok(())
}

/// Logs a room change in the room's own log and, for a channel or a discussion (which
/// every member sees), in the workspace's room.
async fn log_room(
    conn: &mut Conn,
    epoch: i64,
    change: Change,
) -> Result<Vec<LoggedChange>, DbError> {
    let Change::ChatRoom { room, .. } = &change else {
        return Err(DbError::Other("log_room takes a room change".into()));
    };
    let mut rooms = vec![Room::Chat(room.id)];
    if room.kind != ChatKind::Private {
        rooms.push(Room::Workspace(room.workspace_id));
    }
    append_changes(conn, epoch, &rooms, &change).await
}

/// Logs `message` as it is now (sent, edited, deleted or reacted to by `actor`) in its
/// room's log.
async fn log_message(
    conn: &mut Conn,
    epoch: i64,
    message: &ChatMessage,
    actor: i64,
) -> Result<LoggedChange, DbError> {
    let change = Change::Message {
        message: Box::new(message.clone()),
        actor: Some(actor),
        at: now_ms(),
    };
    append_change(conn, epoch, Room::Chat(message.room_id), &change).await
}

/// The path (after `/w/{slug}/`) of a chat room's page.
fn chat_path(room: i64) -> String {
    format!("chat/{room}")
}

/// The participants of a private room, by id.
async fn participant_ids(conn: &mut Conn, room: i64) -> Result<Vec<i64>, DbError> {
    let mut sql = Sql::new("SELECT user_id FROM chat_participants WHERE room_id = ");
    sql.bind(room).push(" ORDER BY joined_at, user_id");
    sql.all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("user_id").map_err(DbError::from))
        .collect()
}

impl SqlStore {
    /// The discussion room of a record, made (with its record's title as name) if it has
    /// none; logs its making. Errors: `NotFound` for a record not in the workspace,
    /// `Invalid` for a deleted one.
    async fn discussion_room(
        &self,
        conn: &mut Conn,
        workspace: i64,
        user: i64,
        kind: RecordKind,
        id: i64,
        logged: &mut Vec<LoggedChange>,
    ) -> Result<i64, DbError> {
        let record = Self::fetch_record(conn, workspace, kind, id).await?;
        if record.deleted_at.is_some() {
            return Err(invalid(
                "room",
                "this record is deleted; restore it to discuss it",
            ));
        }
        let mut sql = Sql::new(
            "INSERT INTO chat_rooms (workspace_id, kind, name, record_kind, record_id, created_by, \
             created_at) VALUES (",
        );
        sql.bind(workspace)
            .push(", 'discussion', ")
            .bind(record.title())
            .push(", ")
            .bind(kind.noun())
            .push(", ")
            .bind(id)
            .push(", ")
            .bind(user)
            .push(", ")
            .bind(now_ms())
            .push(") ON CONFLICT (workspace_id, record_kind, record_id) DO NOTHING RETURNING id");
        if let Some(row) = sql.optional(&mut *conn).await? {
            let room: i64 = row.try_get("id")?;
            let stored = room_row(conn, room).await?;
            logged.extend(
                log_room(
                    conn,
                    self.epoch,
                    room_change(stored, RoomHow::Created, None, user),
                )
                .await?,
            );
            return Ok(room);
        }
        let mut sql = Sql::new("SELECT id FROM chat_rooms WHERE workspace_id = ");
        sql.bind(workspace)
            .push(" AND record_kind = ")
            .bind(kind.noun())
            .push(" AND record_id = ")
            .bind(id);
        Ok(sql.one(&mut *conn).await?.try_get("id")?)
    }
}

#[async_trait]
impl ChatStore for SqlStore {
    async fn chat_overview(
        &self,
        workspace: i64,
        user: i64,
        now: i64,
    ) -> Result<ChatOverview, DbError> {
        let mut conn = self.pool.acquire().await?;
        let mut rooms = rooms_where(
            &mut conn,
            workspace,
            user,
            |s| {
                s.push(" AND r.kind <> 'discussion'");
            },
            " ORDER BY r.name, r.id",
        )
        .await?;
        rooms.extend(
            rooms_where(
                &mut conn,
                workspace,
                user,
                |s| {
                    s.push(" AND r.kind = 'discussion' AND r.last_message_at IS NOT NULL");
                },
                " ORDER BY r.last_message_at DESC, r.id DESC LIMIT 50",
            )
            .await?,
        );
        let invitations = invitations_where(&mut conn, now, |s| {
            s.push(" WHERE r.workspace_id = ")
                .bind(workspace)
                .push(" AND i.user_id = ")
                .bind(user)
                .push(" AND i.status = 'pending' AND i.expires_at > ")
                .bind(now)
                .push(" ORDER BY i.id DESC");
        })
        .await?;
        Ok(ChatOverview {
            rooms,
            invitations,
            positions: BTreeMap::new(),
        })
    }

    async fn chat_room(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
    ) -> Result<ChatRoomDetail, DbError> {
        let mut conn = self.pool.acquire().await?;
        let room = room_in(&mut conn, workspace, user, room).await?;
        let mut participants = Vec::new();
        let mut invitations = Vec::new();
        if room.kind == ChatKind::Private {
            let mut sql = Sql::new(
                "SELECT p.user_id, p.joined_at, u.display_name FROM chat_participants p \
                 JOIN users u ON u.id = p.user_id WHERE p.room_id = ",
            );
            sql.bind(room.id)
                .push(" ORDER BY u.display_name, p.user_id");
            for row in sql.all(&mut *conn).await? {
                let user_id: i64 = row.try_get("user_id")?;
                participants.push(ChatParticipant {
                    user_id,
                    name: row.try_get("display_name")?,
                    color: avatar_color(user_id),
                    joined_at: row.try_get("joined_at")?,
                });
            }
            invitations = invitations_where(&mut conn, now_ms(), |s| {
                s.push(" WHERE i.room_id = ")
                    .bind(room.id)
                    .push(" ORDER BY i.id DESC LIMIT 100");
            })
            .await?;
        }
        Ok(ChatRoomDetail {
            room,
            participants,
            invitations,
        })
    }

    async fn discussion(
        &self,
        workspace: i64,
        user: i64,
        kind: RecordKind,
        id: i64,
    ) -> Result<Option<ChatRoom>, DbError> {
        let mut conn = self.pool.acquire().await?;
        Self::fetch_record(&mut conn, workspace, kind, id).await?;
        Ok(rooms_where(
            &mut conn,
            workspace,
            user,
            |s| {
                s.push(" AND r.record_kind = ")
                    .bind(kind.noun())
                    .push(" AND r.record_id = ")
                    .bind(id);
            },
            "",
        )
        .await?
        .pop())
    }

    async fn create_chat_room(
        &self,
        workspace: i64,
        user: i64,
        admin: bool,
        kind: ChatKind,
        name: &str,
        max_participants: Option<i64>,
    ) -> Result<ChatRoom, DbError> {
        match kind {
            ChatKind::Discussion => {
                return Err(invalid(
                    "kind",
                    "a discussion starts with its record's first message",
                ))
            }
            ChatKind::Channel if !admin => {
                return Err(forbidden("only admins and the owner can make channels"))
            }
            _ => {}
        }
        if max_participants.is_some_and(|m| !(2..=1000).contains(&m)) {
            return Err(invalid(
                "max_participants",
                "a limit must be 2 to 1,000 people",
            ));
        }
        let mut tx = self.begin().await?;
        let now = now_ms();
        let mut sql = Sql::new(
            "INSERT INTO chat_rooms (workspace_id, kind, name, owner_id, max_participants, \
             created_by, created_at) VALUES (",
        );
        sql.bind(workspace)
            .push(", ")
            .bind(kind.as_str())
            .push(", ")
            .bind(name)
            .push(", ")
            .bind((kind == ChatKind::Private).then_some(user))
            .push(", ")
            .bind(max_participants)
            .push(", ")
            .bind(user)
            .push(", ")
            .bind(now)
            .push(") RETURNING id");
        let id: i64 = sql
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_as("name"))?
            .try_get("id")?;
        if kind == ChatKind::Private {
            let mut sql =
                Sql::new("INSERT INTO chat_participants (room_id, user_id, joined_at) VALUES (");
            sql.bind(id)
                .push(", ")
                .bind(user)
                .push(", ")
                .bind(now)
                .push(")");
            sql.run(&mut *tx).await?;
        }
        let room = room_row(&mut tx, id).await?;
        let change = room_change(room.clone(), RoomHow::Created, Some(user), user);
        let mut logged = log_room(&mut tx, self.epoch, change.clone()).await?;
        if kind == ChatKind::Private {
            // The owner's other tabs list it (nobody else may know of it).
            logged.push(append_change(&mut tx, self.epoch, Room::User(user), &change).await?);
        }
        self.commit(tx, logged).await?;
        Ok(room)
    }

    async fn edit_chat_room(
        &self,
        workspace: i64,
        user: i64,
        admin: bool,
        room: i64,
        edit: RoomEdit,
    ) -> Result<ChatRoom, DbError> {
        let mut tx = self.begin().await?;
        let current = room_in(&mut tx, workspace, user, room).await?;
        let allowed = match current.kind {
            ChatKind::Channel => admin,
            ChatKind::Private => current.owner_id == Some(user),
            ChatKind::Discussion => false,
        };
        if !allowed {
            return Err(match current.kind {
                ChatKind::Channel => forbidden("only admins and the owner can change a channel"),
                ChatKind::Private => forbidden("only the room's owner can change it"),
                ChatKind::Discussion => invalid("room", "a record's discussion follows its record"),
            });
        }
        let (how, concerned) = match &edit {
            RoomEdit::Rename(name) => {
                let mut sql = Sql::new("UPDATE chat_rooms SET name = ");
                sql.bind(name.as_str()).push(" WHERE id = ").bind(room);
                // A channel's name is unique in its workspace (an index, so two at once
                // cannot both take it).
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(unique_as("name"))?;
                (RoomHow::Renamed, None)
            }
            RoomEdit::Archive(on) => {
                let mut sql = Sql::new("UPDATE chat_rooms SET archived_at = ");
                sql.bind(on.then(now_ms)).push(" WHERE id = ").bind(room);
                sql.run(&mut *tx).await?;
                (RoomHow::Archived, None)
            }
            RoomEdit::Owner(to) => {
                if current.kind != ChatKind::Private
                    || !participant_ids(&mut tx, room).await?.contains(to)
                {
                    return Err(invalid(
                        "user_id",
                        "hand the room to one of its participants",
                    ));
                }
                let mut sql = Sql::new("UPDATE chat_rooms SET owner_id = ");
                sql.bind(*to).push(" WHERE id = ").bind(room);
                sql.run(&mut *tx).await?;
                (RoomHow::Owner, Some(*to))
            }
        };
        let stored = room_row(&mut tx, room).await?;
        let logged = log_room(
            &mut tx,
            self.epoch,
            room_change(stored.clone(), how, concerned, user),
        )
        .await?;
        self.commit(tx, logged).await?;
        Ok(stored)
    }

    async fn invite_to_chat(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        invitees: &[i64],
        expires_at: i64,
    ) -> Result<Vec<ChatInvitation>, DbError> {
        let mut invitees = invitees.to_vec();
        invitees.sort_unstable();
        invitees.dedup();
        if invitees.is_empty() {
            return Err(invalid("user_ids", "choose someone to invite"));
        }
        let mut tx = self.begin().await?;
        let current = room_in(&mut tx, workspace, user, room).await?;
        if current.kind != ChatKind::Private {
            return Err(invalid(
                "room",
                "channels and discussions are open to every member",
            ));
        }
        if current.archived_at.is_some() {
            return Err(invalid("room", "this room is archived"));
        }
        lock_room(&mut tx, room).await?;
        let members = members_among(&mut tx, workspace, Some(&invitees), Role::Viewer).await?;
        if let Some(stranger) = invitees.iter().find(|u| !members.contains(u)) {
            return Err(invalid(
                "user_ids",
                &format!("user {stranger} is not a member of this workspace"),
            ));
        }
        let inside = participant_ids(&mut tx, room).await?;
        if invitees.iter().any(|u| inside.contains(u)) {
            return Err(invalid(
                "user_ids",
                "someone you chose is already in the room",
            ));
        }
        let now = now_ms();
        let pending = invitations_where(&mut tx, now, |s| {
            s.push(" WHERE i.room_id = ")
                .bind(room)
                .push(" AND i.status = 'pending'");
        })
        .await?;
        let open: Vec<&ChatInvitation> = pending
            .iter()
            .filter(|i| i.status == InvitationStatus::Pending)
            .collect();
        if let Some(max) = current.max_participants {
            let renewing = invitees
                .iter()
                .filter(|u| open.iter().any(|i| i.user_id == **u))
                .count();
            let total = inside.len() + open.len() + invitees.len() - renewing;
            if i64::try_from(total).unwrap_or(i64::MAX) > max {
                return Err(invalid(
                    "user_ids",
                    &format!("this room holds at most {max} people, invitations included"),
                ));
            }
        }
        let mut ids = Vec::new();
        for invitee in &invitees {
            // An older pending (or expired) invitation of the same person is withdrawn:
            // one open invitation per person.
            let mut sql =
                Sql::new("UPDATE chat_invitations SET status = 'cancelled', answered_at = ");
            sql.bind(now)
                .push(" WHERE room_id = ")
                .bind(room)
                .push(" AND user_id = ")
                .bind(*invitee)
                .push(" AND status = 'pending'");
            sql.run(&mut *tx).await?;
            let mut sql = Sql::new(
                "INSERT INTO chat_invitations (room_id, user_id, invited_by, status, created_at, \
                 expires_at) VALUES (",
            );
            sql.bind(room)
                .push(", ")
                .bind(*invitee)
                .push(", ")
                .bind(user)
                .push(", 'pending', ")
                .bind(now)
                .push(", ")
                .bind(expires_at)
                .push(") RETURNING id");
            ids.push(sql.one(&mut *tx).await?.try_get::<i64, _>("id")?);
        }
        let made = invitations_where(&mut tx, now, |s| {
            s.push(" WHERE i.id IN ")
                .push_ids(&ids)
                .push(" ORDER BY i.id");
        })
        .await?;
        let mut logged = Vec::new();
        let stored = room_row(&mut tx, room).await?;
        for invitation in &made {
            let change = Change::ChatInvitation {
                invitation: Box::new(invitation.clone()),
                actor: Some(user),
                at: now,
            };
            logged.extend(
                append_changes(
                    &mut tx,
                    self.epoch,
                    &[Room::User(invitation.user_id), Room::User(user)],
                    &change,
                )
                .await?,
            );
            logged.extend(
                log_room(
                    &mut tx,
                    self.epoch,
                    room_change(
                        stored.clone(),
                        RoomHow::Invited,
                        Some(invitation.user_id),
                        user,
                    ),
                )
                .await?,
            );
        }
        let draft = Draft {
            ntype: NoticeType::ChatInvite,
            priority: Priority::Info,
            title: format!("You are invited to {}", stored.name),
            body: format!("<@{user}> invited you: accept or decline on the chat page."),
            record: None,
            audience: Vec::new(),
        };
        logged.extend(
            deliver_at(
                &mut tx,
                self.epoch,
                workspace,
                &draft,
                invitees,
                Some(user),
                Some("chat"),
            )
            .await?,
        );
        self.commit(tx, logged).await?;
        Ok(made)
    }

    async fn answer_chat_invitation(
        &self,
        workspace: i64,
        user: i64,
        id: i64,
        accept: bool,
        now: i64,
    ) -> Result<ChatInvitation, DbError> {
        let mut tx = self.begin().await?;
        let invitation = invitations_where(&mut tx, now, |s| {
            s.push(" WHERE i.id = ")
                .bind(id)
                .push(" AND i.user_id = ")
                .bind(user)
                .push(" AND r.workspace_id = ")
                .bind(workspace);
        })
        .await?
        .pop()
        .ok_or(DbError::NotFound)?;
        let room = invitation.room_id;
        lock_room(&mut tx, room).await?;
        let refusal = match invitation.status {
            InvitationStatus::Pending => None,
            InvitationStatus::Expired => Some("this invitation has expired; ask for a new one"),
            InvitationStatus::Declined => Some("this invitation was declined; ask for a new one"),
            InvitationStatus::Accepted => Some("this invitation was already accepted"),
            InvitationStatus::Cancelled => Some("this invitation was withdrawn"),
        };
        if let Some(why) = refusal {
            return Err(invalid("invitation", why));
        }
        let stored = room_row(&mut tx, room).await?;
        if accept {
            if stored.archived_at.is_some() {
                return Err(invalid("invitation", "this room is archived"));
            }
            let inside = participant_ids(&mut tx, room).await?;
            if stored
                .max_participants
                .is_some_and(|max| i64::try_from(inside.len()).unwrap_or(i64::MAX) >= max)
            {
                return Err(invalid("invitation", "this room is full"));
            }
            let mut sql =
                Sql::new("INSERT INTO chat_participants (room_id, user_id, joined_at) VALUES (");
            sql.bind(room)
                .push(", ")
                .bind(user)
                .push(", ")
                .bind(now)
                .push(") ON CONFLICT (room_id, user_id) DO NOTHING");
            sql.run(&mut *tx).await?;
            // What was said before they came is history, not unread.
            let mut sql = Sql::new("INSERT INTO chat_reads (room_id, user_id, read_seq) VALUES (");
            sql.bind(room)
                .push(", ")
                .bind(user)
                .push(", ")
                .bind(stored.last_seq)
                .push(
                    ") ON CONFLICT (room_id, user_id) DO UPDATE SET read_seq = excluded.read_seq",
                );
            sql.run(&mut *tx).await?;
        }
        let mut sql = Sql::new("UPDATE chat_invitations SET status = ");
        sql.bind(if accept { "accepted" } else { "declined" })
            .push(", answered_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND status = 'pending' RETURNING id");
        if sql.optional(&mut *tx).await?.is_none() {
            return Err(invalid(
                "invitation",
                "this invitation was already answered",
            ));
        }
        let answered = invitations_where(&mut tx, now, |s| {
            s.push(" WHERE i.id = ").bind(id);
        })
        .await?
        .pop()
        .ok_or(DbError::NotFound)?;
        let change = Change::ChatInvitation {
            invitation: Box::new(answered.clone()),
            actor: Some(user),
            at: now,
        };
        // The inviter hears of the answer only while still in the room (someone who left
        // learns nothing more of it, not even its name).
        let inside = participant_ids(&mut tx, room).await?;
        let mut rooms = vec![Room::User(user)];
        rooms.extend(
            answered
                .invited_by
                .filter(|b| *b != user && inside.contains(b))
                .map(Room::User),
        );
        let mut logged = append_changes(&mut tx, self.epoch, &rooms, &change).await?;
        let how = if accept {
            RoomHow::Joined
        } else {
            RoomHow::Declined
        };
        logged.extend(
            log_room(
                &mut tx,
                self.epoch,
                room_change(stored, how, Some(user), user),
            )
            .await?,
        );
        self.commit(tx, logged).await?;
        Ok(answered)
    }

    async fn leave_chat_room(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        participant: i64,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        let current = room_in(&mut tx, workspace, user, room).await?;
        if current.kind != ChatKind::Private {
            return Err(invalid(
                "room",
                "channels and discussions have no participants to leave",
            ));
        }
        if participant != user && current.owner_id != Some(user) {
            return Err(forbidden("only the room's owner can remove participants"));
        }
        let how = if participant == user {
            RoomHow::Left
        } else {
            RoomHow::Removed
        };
        let logged =
            drop_participant(&mut tx, self.epoch, room, participant, how, Some(user)).await?;
        self.commit(tx, logged).await
    }

    async fn chat_messages(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<MessagePage, DbError> {
        let limit = limit.clamp(1, MAX_MESSAGE_PAGE);
        // The head and the page from one snapshot: a message committed meanwhile is in
        // both or in neither, so the page's listener, resuming from the head, gets it
        // exactly once.
        let mut conn = self.begin_snapshot().await?;
        let position = head_in(&mut conn, self.epoch, Room::Chat(room)).await?;
        let current = room_in(&mut conn, workspace, user, room).await?;
        let mut messages = messages_where(&mut conn, |s| {
            s.push(" WHERE m.room_id = ").bind(room);
            if let Some(before) = before {
                s.push(" AND m.seq < ").bind(before);
            }
            s.push(" ORDER BY m.seq DESC LIMIT ").bind(limit + 1);
        })
        .await?;
        let has_more = i64::try_from(messages.len()).unwrap_or(i64::MAX) > limit;
        messages.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(MessagePage {
            messages,
            has_more,
            position,
            read_seq: current.read_seq,
        })
    }

    async fn send_message(
        &self,
        workspace: i64,
        user: i64,
        target: ChatTarget,
        body: &str,
        reply_to: Option<i64>,
        key: Option<&str>,
    ) -> Result<ChatMessage, DbError> {
        let mut tx = self.begin().await?;
        let mut logged = Vec::new();
        let room = match target {
            ChatTarget::Room(id) => id,
            ChatTarget::Record(kind, id) => {
                self.discussion_room(&mut tx, workspace, user, kind, id, &mut logged)
                    .await?
            }
        };
        let current = room_in(&mut tx, workspace, user, room).await?;
        lock_room(&mut tx, room).await?;
        // A repeat is answered first: a message stored before the room was archived is
        // still the answer to its retry, not a refusal.
        if let Some(key) = key {
            let mut sql = Sql::new("SELECT id FROM chat_messages WHERE room_id = ");
            sql.bind(room)
                .push(" AND author_id = ")
                .bind(user)
                .push(" AND client_key = ")
                .bind(key);
            if let Some(row) = sql.optional(&mut *tx).await? {
                // Sent before (a retry after a lost answer): the first message, unchanged.
                let message = message_in(&mut tx, room, row.try_get("id")?).await?;
                return Ok(message);
            }
        }
        if current.archived_at.is_some() {
            return Err(invalid(
                "room",
                "this room is archived; nothing can be sent to it",
            ));
        }
        if let Some((kind, id)) = current.record {
            if Self::fetch_record(&mut tx, workspace, kind, id)
                .await?
                .deleted_at
                .is_some()
            {
                return Err(invalid(
                    "room",
                    "this record is deleted; restore it to discuss it",
                ));
            }
        }
        if let Some(quoted) = reply_to {
            let mut sql = Sql::new("SELECT id FROM chat_messages WHERE room_id = ");
            sql.bind(room).push(" AND id = ").bind(quoted);
            if sql.optional(&mut *tx).await?.is_none() {
                return Err(invalid(
                    "reply_to",
                    "the message replied to is not in this room",
                ));
            }
        }
        let now = now_ms();
        let mut sql = Sql::new("UPDATE chat_rooms SET last_seq = last_seq + 1, last_message_at = ");
        sql.bind(now)
            .push(" WHERE id = ")
            .bind(room)
            .push(" RETURNING last_seq");
        let seq: i64 = sql.one(&mut *tx).await?.try_get("last_seq")?;
        let mut sql = Sql::new(
            "INSERT INTO chat_messages (room_id, seq, author_id, body, search_text, reply_to, \
             client_key, created_at) VALUES (",
        );
        sql.bind(room)
            .push(", ")
            .bind(seq)
            .push(", ")
            .bind(user)
            .push(", ")
            .bind(body)
            .push(", ")
            .bind(body.to_lowercase())
            .push(", ")
            .bind(reply_to)
            .push(", ")
            .bind(Arg::Text(key.map(str::to_string)))
            .push(", ")
            .bind(now)
            .push(") RETURNING id");
        let id: i64 = sql.one(&mut *tx).await?.try_get("id")?;
        let message = message_in(&mut tx, room, id).await?;
        logged.push(log_message(&mut tx, self.epoch, &message, user).await?);
        logged.extend(
            notify_mentions(&mut tx, self.epoch, workspace, &current, body, user, &[]).await?,
        );
        self.commit(tx, logged).await?;
        Ok(message)
    }

    async fn change_message(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        message: i64,
        body: Option<&str>,
    ) -> Result<ChatMessage, DbError> {
        let mut tx = self.begin().await?;
        let current = room_in(&mut tx, workspace, user, room).await?;
        if current.archived_at.is_some() {
            return Err(invalid("room", "this room is archived"));
        }
        let before = message_in(&mut tx, room, message).await?;
        if before.author_id != Some(user) {
            return Err(forbidden("you can only change your own messages"));
        }
        if before.deleted_at.is_some() {
            return Err(invalid("message", "this message was deleted"));
        }
        let now = now_ms();
        let mut sql = Sql::new("UPDATE chat_messages SET ");
        match body {
            Some(text) => {
                sql.push("body = ")
                    .bind(text)
                    .push(", search_text = ")
                    .bind(text.to_lowercase())
                    .push(", edited_at = ")
                    .bind(now);
            }
            None => {
                sql.push("body = '', search_text = '', deleted_at = ")
                    .bind(now);
            }
        }
        // Only while it is not deleted: an edit that races a deletion must not put words
        // back on the tombstone.
        sql.push(" WHERE id = ")
            .bind(message)
            .push(" AND deleted_at IS NULL RETURNING id");
        if sql.optional(&mut *tx).await?.is_none() {
            return Err(invalid("message", "this message was deleted"));
        }
        if body.is_none() {
            let mut sql = Sql::new("DELETE FROM chat_reactions WHERE message_id = ");
            sql.bind(message);
            sql.run(&mut *tx).await?;
        }
        let after = message_in(&mut tx, room, message).await?;
        let mut logged = Vec::new();
        match body {
            // Members newly mentioned by the edit are told; those mentioned before were.
            Some(text) => logged.extend(
                notify_mentions(
                    &mut tx,
                    self.epoch,
                    workspace,
                    &current,
                    text,
                    user,
                    &mentions(&before.body),
                )
                .await?,
            ),
            None => scrub_logged_text(&mut tx, &after).await?,
        }
        logged.push(log_message(&mut tx, self.epoch, &after, user).await?);
        self.commit(tx, logged).await?;
        Ok(after)
    }

    async fn react(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        message: i64,
        emoji: &str,
        on: bool,
    ) -> Result<ChatMessage, DbError> {
        if !REACTIONS.contains(&emoji) {
            return Err(invalid(
                "emoji",
                &format!("react with one of {}", REACTIONS.join(" ")),
            ));
        }
        let mut tx = self.begin().await?;
        room_in(&mut tx, workspace, user, room).await?;
        let before = message_in(&mut tx, room, message).await?;
        if before.deleted_at.is_some() {
            return Err(invalid("message", "this message was deleted"));
        }
        let sql = if on {
            let mut sql =
                Sql::new("INSERT INTO chat_reactions (message_id, user_id, emoji) VALUES (");
            sql.bind(message)
                .push(", ")
                .bind(user)
                .push(", ")
                .bind(emoji)
                .push(") ON CONFLICT (message_id, user_id, emoji) DO NOTHING RETURNING message_id");
            sql
        } else {
            let mut sql = Sql::new("DELETE FROM chat_reactions WHERE message_id = ");
            sql.bind(message)
                .push(" AND user_id = ")
                .bind(user)
                .push(" AND emoji = ")
                .bind(emoji)
                .push(" RETURNING message_id");
            sql
        };
        let changed = sql.optional(&mut *tx).await?.is_some();
        let after = message_in(&mut tx, room, message).await?;
        let mut logged = Vec::new();
        if changed {
            logged.push(log_message(&mut tx, self.epoch, &after, user).await?);
        }
        self.commit(tx, logged).await?;
        Ok(after)
    }

    async fn mark_chat_read(
        &self,
        workspace: i64,
        user: i64,
        room: i64,
        seq: i64,
    ) -> Result<ChatRoom, DbError> {
        let mut tx = self.begin().await?;
        let before = room_in(&mut tx, workspace, user, room).await?;
        let seq = seq.clamp(0, before.last_seq);
        if seq <= before.read_seq {
            return Ok(before);
        }
        let mut sql = Sql::new("INSERT INTO chat_reads (room_id, user_id, read_seq) VALUES (");
        sql.bind(room)
            .push(", ")
            .bind(user)
            .push(", ")
            .bind(seq)
            .push(
                ") ON CONFLICT (room_id, user_id) DO UPDATE SET read_seq = CASE \
                 WHEN excluded.read_seq > chat_reads.read_seq THEN excluded.read_seq \
                 ELSE chat_reads.read_seq END",
            );
        sql.run(&mut *tx).await?;
        let after = room_in(&mut tx, workspace, user, room).await?;
        let change = Change::ChatRead {
            chat: room,
            seq: after.read_seq,
            unread: after.unread,
            at: now_ms(),
        };
        let logged = vec![append_change(&mut tx, self.epoch, Room::User(user), &change).await?];
        self.commit(tx, logged).await?;
        Ok(after)
    }

    async fn search_messages(
        &self,
        workspace: i64,
        user: i64,
        term: &str,
        limit: i64,
    ) -> Result<Vec<(ChatRoom, ChatMessage)>, DbError> {
        let limit = limit.clamp(1, 100);
        let mut conn = self.pool.acquire().await?;
        let mut sql = Sql::new("SELECT m.id, m.room_id FROM chat_messages m JOIN chat_rooms r ON r.id = m.room_id WHERE r.workspace_id = ");
        sql.bind(workspace);
        visible_to(&mut sql, user);
        sql.push(" AND m.deleted_at IS NULL AND m.search_text LIKE ")
            .bind(like_pattern(term.trim()))
            .push(" ESCAPE '\\' ORDER BY m.id DESC LIMIT ")
            .bind(limit);
        let hits: Vec<(i64, i64)> = sql
            .all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("room_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let ids: Vec<i64> = hits.iter().map(|h| h.0).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut messages: HashMap<i64, ChatMessage> = messages_where(&mut conn, |s| {
            s.push(" WHERE m.id IN ").push_ids(&ids);
        })
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
        let mut room_ids: Vec<i64> = hits.iter().map(|h| h.1).collect();
        room_ids.sort_unstable();
        room_ids.dedup();
        let rooms: HashMap<i64, ChatRoom> = rooms_where(
            &mut conn,
            workspace,
            user,
            |s| {
                s.push(" AND r.id IN ").push_ids(&room_ids);
            },
            "",
        )
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
        Ok(hits
            .into_iter()
            .filter_map(|(id, room)| Some((rooms.get(&room)?.clone(), messages.remove(&id)?)))
            .collect())
    }

    async fn chat_room_workspace(&self, room: i64, user: i64) -> Result<Option<i64>, DbError> {
        let mut sql = Sql::new("SELECT r.workspace_id FROM chat_rooms r WHERE r.id = ");
        sql.bind(room);
        visible_to(&mut sql, user);
        Ok(match sql.optional(&self.pool).await? {
            Some(row) => Some(row.try_get("workspace_id")?),
            None => None,
        })
    }
}
