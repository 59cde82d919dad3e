//! The change log: appending a committed change to its rooms (in the writer's
//! transaction), and reading rooms' heads and events back for subscribe and replay.

use super::*;

/// Appends `change` to `room`'s log (creating the room's head, with a new epoch, on its
/// first event) and returns it with its position. Runs in the caller's transaction, so
/// the offset is taken and the event written atomically with the change itself.
///
/// `epoch` is the database's: a room's head is created with it, so the position a reader
/// got for a room never written to (`epoch`, 0) stays valid across its first event.
pub(super) async fn append_change(
    conn: &mut Conn,
    epoch: i64,
    room: Room,
    change: &Change,
) -> Result<LoggedChange, DbError> {
    let mut logged = append_changes(conn, epoch, &[room], change).await?;
    logged.pop().ok_or(DbError::NotFound)
}

/// Appends `change` to the logs of `rooms` (distinct) in one round trip to the database
/// whatever their number: an upsert takes each room's next offset (creating a head on a
/// room's first event), and an insert writes the events at those offsets. Returns them
/// in the order of `rooms`.
///
/// On PostgreSQL the two are one statement (the upsert as a data-modifying `WITH`); on
/// SQLite, which has none, they are two statements of one query, which sqlx's SQLite
/// driver runs in turn on its worker thread, each binding its own `$n` arguments: one
/// hand-off to that thread instead of two, on every write.
pub(super) async fn append_changes(
    conn: &mut Conn,
    epoch: i64,
    rooms: &[Room],
    change: &Change,
) -> Result<Vec<LoggedChange>, DbError> {
    // A room named twice would take two offsets and log one event (on SQLite): a gap
    // every subscriber would resync over. Callers pass distinct rooms; refuse otherwise.
    if rooms
        .iter()
        .enumerate()
        .any(|(i, r)| rooms[..i].contains(r))
    {
        return Err(DbError::Other(
            format!("a change logged twice in one room: {rooms:?}").into(),
        ));
    }
    let sqlite = conn.backend_name() == "SQLite";
    let mut sql = Sql::new(if sqlite {
        "INSERT INTO room_heads (room, epoch, last_offset) VALUES "
    } else {
        "WITH heads AS (INSERT INTO room_heads (room, epoch, last_offset) VALUES "
    });
    for (i, room) in rooms.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" })
            .bind(room.name())
            .push(", ")
            .bind(epoch)
            .push(", 1)");
    }
    sql.push(" ON CONFLICT (room) DO UPDATE SET last_offset = room_heads.last_offset + 1");
    sql.push(if sqlite {
        "; "
    } else {
        " RETURNING room, epoch, last_offset) "
    });
    let payload = serde_json::to_string(change).map_err(|e| DbError::Other(Box::new(e)))?;
    sql.push(
        "INSERT INTO room_events (room, epoch, event_offset, payload, created_at, actor_id, op) \
         SELECT room, epoch, last_offset, ",
    );
    bind_event_columns(&mut sql, payload, change).push(if sqlite {
        " FROM room_heads WHERE room IN ("
    } else {
        " FROM heads WHERE room IN ("
    });
    for (i, room) in rooms.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(room.name());
    }
    sql.push(") RETURNING room, epoch, event_offset");
    let mut positions = HashMap::new();
    for row in sql.all(&mut *conn).await? {
        let room: String = row.try_get("room")?;
        let position = Position {
            epoch: row.try_get("epoch")?,
            offset: row.try_get("event_offset")?,
        };
        positions.insert(room, position);
    }
    rooms
        .iter()
        .map(|room| {
            let name = room.name();
            let position = positions
                .get(&name)
                .copied()
                .ok_or_else(|| DbError::Other(format!("no event logged for {name}").into()))?;
            Ok(LoggedChange {
                room: *room,
                position,
                change: change.clone(),
            })
        })
        .collect()
}

/// The start of a multi-row insert into the log, followed by [`push_event`]'s rows.
const EVENTS_INSERT: &str =
    "INSERT INTO room_events (room, epoch, event_offset, payload, created_at, actor_id, op) VALUES ";

/// Appends the `i`th row of an [`EVENTS_INSERT`]: `change` (as `payload`) at `position`
/// of `room`, with its time, actor and op as columns.
fn push_event(
    sql: &mut Sql,
    i: usize,
    room: Room,
    position: Position,
    payload: String,
    change: &Change,
) {
    sql.push(if i == 0 { "(" } else { ", (" })
        .bind(room.name())
        .push(", ")
        .bind(position.epoch)
        .push(", ")
        .bind(position.offset)
        .push(", ");
    bind_event_columns(sql, payload, change).push(")");
}

/// Binds an event's columns after its position, comma-separated: `change` as `payload`,
/// then its time, actor and op.
fn bind_event_columns<'s>(sql: &'s mut Sql, payload: String, change: &Change) -> &'s mut Sql {
    sql.bind(payload)
        .push(", ")
        .bind(change.at())
        .push(", ")
        .bind(change.actor())
        .push(", ")
        .bind(change.op().as_str())
}

/// `room`'s head read on `conn` (inside a caller's snapshot): its epoch and last offset,
/// or (`epoch`, 0) for a room never written to.
pub(super) async fn head_in(conn: &mut Conn, epoch: i64, room: Room) -> Result<Position, DbError> {
    let mut sql = Sql::new("SELECT epoch, last_offset FROM room_heads WHERE room = ");
    sql.bind(room.name());
    Ok(match sql.optional(&mut *conn).await? {
        Some(row) => Position {
            epoch: row.try_get("epoch")?,
            offset: row.try_get("last_offset")?,
        },
        None => Position { epoch, offset: 0 },
    })
}

/// Logs a change that is not a record's in `room` (a member change in the workspace's
/// room, an invite change in the admins' room).
pub(super) async fn log_change(
    conn: &mut Conn,
    epoch: i64,
    room: Room,
    change: Change,
) -> Result<LoggedChange, DbError> {
    append_change(conn, epoch, room, &change).await
}

/// A change of a workspace's members: `user` joined, left or changed role (`how`), by
/// `actor` if known.
pub(super) fn member_change(user: i64, how: MemberHow, actor: Option<i64>) -> Change {
    Change::Members {
        user,
        how: Some(how),
        actor,
        at: now_ms(),
    }
}

/// A change of a workspace's invite links: `invite` was made, revoked or used.
pub(super) fn invite_change(invite: i64) -> Change {
    Change::Invites {
        invite,
        actor: None,
        at: now_ms(),
    }
}

/// Logs that `user` joined through `invite`: a member change in the workspace's room and
/// the invite's use in the admins' room.
pub(super) async fn log_joined(
    conn: &mut Conn,
    epoch: i64,
    invite: &Invite,
    user: i64,
) -> Result<Vec<LoggedChange>, DbError> {
    let ws = invite.workspace_id;
    Ok(vec![
        log_change(
            conn,
            epoch,
            Room::Workspace(ws),
            member_change(user, MemberHow::Joined, Some(user)),
        )
        .await?,
        log_change(conn, epoch, Room::Admins(ws), invite_change(invite.id)).await?,
    ])
}

/// Logs a record's change in its workspace's room and in the record's own room.
pub(super) async fn log_record_change(
    conn: &mut Conn,
    epoch: i64,
    change: Change,
) -> Result<Vec<LoggedChange>, DbError> {
    let Some((kind, id, workspace)) = change.target() else {
        return Err(DbError::Other("a record change without its record".into()));
    };
    let rooms = [Room::Workspace(workspace), Room::Record(kind, id)];
    append_changes(conn, epoch, &rooms, &change).await
}

/// Who last changed each of `fields` of a record, and when (Unix milliseconds), read
/// from the newest `scan` events of the record's room (a conflict's "theirs, by whom and
/// when"). A field not changed within them is missing from the answer.
pub(super) async fn last_field_changes(
    conn: &mut Conn,
    room: Room,
    fields: &[&str],
    scan: i64,
) -> Result<HashMap<String, (Option<i64>, i64)>, DbError> {
    let mut sql = Sql::new("SELECT payload FROM room_events WHERE room = ");
    sql.bind(room.name())
        .push(" ORDER BY epoch DESC, event_offset DESC LIMIT ")
        .bind(scan);
    let mut found = HashMap::new();
    for row in sql.all(&mut *conn).await? {
        let payload: String = row.try_get("payload")?;
        let change = read_change(&payload)?;
        let changed: Vec<&String> = match &change {
            Change::Updated { fields: f, .. } => f.keys().collect(),
            other => other
                .record()
                .map(|r| r.fields.keys().collect())
                .unwrap_or_default(),
        };
        for name in changed {
            if fields.contains(&name.as_str()) && !found.contains_key(name) {
                found.insert(name.clone(), (change.actor(), change.at()));
            }
        }
        if found.len() == fields.len() {
            break;
        }
    }
    Ok(found)
}

/// A logged change's payload as a [`Change`]; an update logged before protocol 3 (the
/// whole record) is read as the patch it stands for. `Change` reads its `op` tag as the
/// object's first key, as serde wrote it (`app::realtime::tag_first`): the payload must
/// stay that text, a TEXT column on both databases. A JSONB column or a
/// `serde_json::Value` in between would reorder its keys and make it unreadable.
pub(super) fn read_change(payload: &str) -> Result<Change, DbError> {
    serde_json::from_str(payload).or_else(|e| {
        serde_json::from_str::<app::realtime::protocol::LegacyUpdate>(payload)
            .map(Change::from)
            .map_err(|_| DbError::Other(Box::new(e)))
    })
}

#[async_trait]
impl LogStore for SqlStore {
    fn set_change_sink(&self, sink: Arc<dyn ChangeSink>) {
        let _ = self.sink.set(sink);
    }

    async fn room_head(&self, room: Room) -> Result<Position, DbError> {
        head_in(&mut *self.pool.acquire().await?, self.epoch, room).await
    }

    async fn room_heads(&self, rooms: &[Room]) -> Result<Vec<(Room, Position)>, DbError> {
        let mut out = Vec::with_capacity(rooms.len());
        for chunk in rooms.chunks(500) {
            let by_name: HashMap<String, Room> = chunk.iter().map(|r| (r.name(), *r)).collect();
            let mut sql =
                Sql::new("SELECT room, epoch, last_offset FROM room_heads WHERE room IN (");
            for (i, name) in by_name.keys().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(name.clone());
            }
            sql.push(")");
            for row in sql.all(&self.pool).await? {
                let name: String = row.try_get("room")?;
                if let Some(room) = by_name.get(&name) {
                    let position = Position {
                        epoch: row.try_get("epoch")?,
                        offset: row.try_get("last_offset")?,
                    };
                    out.push((*room, position));
                }
            }
        }
        Ok(out)
    }

    async fn room_changes(
        &self,
        room: Room,
        epoch: i64,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<LoggedChange>, DbError> {
        let mut sql = Sql::new("SELECT event_offset, payload FROM room_events WHERE room = ");
        sql.bind(room.name()).push(" AND epoch = ").bind(epoch);
        sql.push(" AND event_offset > ")
            .bind(after)
            .push(" AND event_offset <= ")
            .bind(upto);
        sql.push(" ORDER BY event_offset LIMIT ").bind(limit.max(1));
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let offset: i64 = r.try_get("event_offset")?;
                let payload: String = r.try_get("payload")?;
                let change = read_change(&payload)?;
                Ok(LoggedChange {
                    room,
                    position: Position { epoch, offset },
                    change,
                })
            })
            .collect()
    }

    async fn prune_log(
        &self,
        keep_events: Option<i64>,
        keep_since: Option<i64>,
        batch: i64,
    ) -> Result<u64, DbError> {
        if keep_events.is_none() && keep_since.is_none() {
            return Ok(0);
        }
        // The batch by primary key (row values: SQLite and PostgreSQL alike), so the
        // delete is short and writers are not held behind one long statement.
        let mut sql = Sql::new(
            "DELETE FROM room_events WHERE (room, epoch, event_offset) IN (\
             SELECT e.room, e.epoch, e.event_offset FROM room_events e \
             JOIN room_heads h ON h.room = e.room WHERE 1 = 1",
        );
        if let Some(since) = keep_since {
            sql.push(" AND e.created_at < ").bind(since);
        }
        if let Some(n) = keep_events {
            sql.push(" AND (e.epoch <> h.epoch OR e.event_offset <= h.last_offset - ")
                .bind(n.max(0))
                .push(")");
        }
        sql.push(" LIMIT ").bind(batch.max(1)).push(")");
        self.write(sql).await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, DbError> {
        let mut sql = Sql::new("INSERT INTO leases (name, holder, expires_at) VALUES (");
        sql.bind(name)
            .push(", ")
            .bind(holder)
            .push(", ")
            .bind(now + ttl_ms)
            .push(
                ") ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at < ",
            )
            .bind(now);
        Ok(self.write(sql).await? == 1)
    }

    async fn record_workspace(&self, kind: RecordKind, id: i64) -> Result<i64, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT workspace_id FROM {} WHERE id = ",
            kind.table()
        ));
        sql.bind(id);
        let row = sql.one(&self.pool).await?;
        row.try_get("workspace_id").map_err(DbError::from)
    }
}

impl SqlStore {
    /// Bulk load for `tandem seed --log-rows`: appends `changes` to `room`'s log after its
    /// head in one transaction, in multi-row statements, without delivering them or
    /// making notifications (generated history, not news). Errors: the database fails.
    pub async fn append_log_bulk(&self, room: Room, changes: &[Change]) -> Result<(), DbError> {
        if changes.is_empty() {
            return Ok(());
        }
        let n = changes.len() as i64;
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("INSERT INTO room_heads (room, epoch, last_offset) VALUES (");
        sql.bind(room.name())
            .push(", ")
            .bind(self.epoch)
            .push(", ")
            .bind(n)
            .push(") ON CONFLICT (room) DO UPDATE SET last_offset = room_heads.last_offset + ")
            .bind(n)
            .push(" RETURNING epoch, last_offset");
        let row = sql.one(&mut *tx).await?;
        let epoch: i64 = row.try_get("epoch")?;
        let first = row.try_get::<i64, _>("last_offset")? - n + 1;
        for (c, chunk) in changes.chunks(500).enumerate() {
            let mut sql = Sql::new(EVENTS_INSERT);
            for (i, change) in chunk.iter().enumerate() {
                let payload =
                    serde_json::to_string(change).map_err(|e| DbError::Other(Box::new(e)))?;
                let offset = first + (c * 500 + i) as i64;
                push_event(
                    &mut sql,
                    i,
                    room,
                    Position { epoch, offset },
                    payload,
                    change,
                );
            }
            sql.run(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use app::model::{Record, RecordKind, Value};
    use app::realtime::protocol::Change;

    use super::read_change;

    #[test]
    fn payloads_of_every_protocol_read_back() {
        let record = Record {
            kind: RecordKind::Customer,
            id: 4,
            workspace_id: 1,
            version: 3,
            fields: [("sector".to_string(), Value::Text("retail".into()))].into(),
            titles: Default::default(),
            created_at: 1,
            created_by: None,
            updated_at: 1,
            updated_by: None,
            deleted_at: None,
            deleted_by: None,
        };
        // As logged today.
        let now = Change::updated(&record, &["sector".to_string()], Some(9), 5);
        let text = serde_json::to_string(&now).expect("serializes");
        assert_eq!(read_change(&text).expect("today's payload"), now);
        // An update as protocol 2 logged it: the whole record and the changed names.
        let old = format!(
            r#"{{"op":"updated","kind":"customer","id":4,"record":{},"fields":["sector"],"actor":9,"at":5}}"#,
            serde_json::to_string(&record).expect("serializes")
        );
        assert_eq!(read_change(&old).expect("a protocol 2 update"), now);
        // Neither: the error is kept.
        assert!(read_change(r#"{"op":"updated","kind":"customer"}"#).is_err());
    }
}
