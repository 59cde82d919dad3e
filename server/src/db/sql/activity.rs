//! The activity feed in SQL: a feed's room log read newest first by position (keyset on
//! the log's primary key, or on its actor index for one member's feed), filtered by op,
//! actor and time in SQL and by text on the entries.

use super::*;
use app::model::activity::{
    people, ActivityEntry, ActivityFilter, ActivityPage, FeedType, MAX_PAGE,
};

/// How many log rows one call reads at most while looking for a text filter's matches.
const TEXT_SCAN: usize = 5_000;

/// How many log rows one query reads while a text filter is on.
const TEXT_BATCH: i64 = 500;

#[async_trait]
impl ActivityStore for SqlStore {
    async fn activity(
        &self,
        workspace: i64,
        feed: FeedType,
        filter: &ActivityFilter,
        before: Option<Position>,
        limit: i64,
    ) -> Result<ActivityPage, DbError> {
        let (room, actor) = match feed {
            FeedType::Global => (Room::Workspace(workspace), filter.user),
            FeedType::User { id } => {
                if filter.user.is_some_and(|u| u != id) {
                    return Ok(ActivityPage::default());
                }
                (Room::Workspace(workspace), Some(id))
            }
            FeedType::Record { kind, id } => {
                if self.record_workspace(kind, id).await? != workspace {
                    return Err(DbError::NotFound);
                }
                (Room::Record(kind, id), filter.user)
            }
        };
        let position = self.room_head(room).await?;
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let text = filter
            .text
            .as_deref()
            .map(str::trim)
            .is_some_and(|t| !t.is_empty());
        let mut entries = Vec::new();
        let mut cursor = before;
        let mut scanned = 0;
        let next = loop {
            let batch = if text {
                TEXT_BATCH
            } else {
                (limit - entries.len()) as i64
            };
            let mut sql =
                Sql::new("SELECT epoch, event_offset, payload FROM room_events WHERE room = ");
            sql.bind(room.name());
            if let Some(actor) = actor {
                sql.push(" AND actor_id = ").bind(actor);
            }
            if !filter.ops.is_empty() {
                sql.push(" AND op IN (");
                for (i, op) in filter.ops.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(op.as_str());
                }
                sql.push(")");
            }
            if let Some(from) = filter.from {
                sql.push(" AND created_at >= ").bind(from);
            }
            if let Some(to) = filter.to {
                sql.push(" AND created_at < ").bind(to);
            }
            if let Some(c) = cursor {
                sql.push(" AND (epoch, event_offset) < (")
                    .bind(c.epoch)
                    .push(", ")
                    .bind(c.offset)
                    .push(")");
            }
            sql.push(" ORDER BY epoch DESC, event_offset DESC LIMIT ")
                .bind(batch);
            let rows = sql.all(&self.pool).await?;
            let mut changes = Vec::with_capacity(rows.len());
            for row in &rows {
                let position = Position {
                    epoch: row.try_get("epoch")?,
                    offset: row.try_get("event_offset")?,
                };
                let payload: String = row.try_get("payload")?;
                changes.push((position, read_change(&payload)?));
            }
            // The server's own ids by name; typed mentions only of the workspace's members.
            let (mut ids, mut typed) = (Vec::new(), Vec::new());
            for (_, c) in &changes {
                let (own, mentioned) = people(c);
                ids.extend(own);
                typed.extend(mentioned);
            }
            let mut conn = self.pool.acquire().await?;
            let mut names = Self::user_names(&mut conn, None, &ids).await?;
            names.extend(Self::user_names(&mut conn, Some(workspace), &typed).await?);
            let name = |id: i64| names.get(&id).cloned();
            for (position, change) in &changes {
                cursor = Some(*position);
                scanned += 1;
                if let Some(entry) = ActivityEntry::from_change(change, *position, &name) {
                    if filter.matches(&entry) {
                        entries.push(entry);
                    }
                }
                if entries.len() == limit {
                    break;
                }
            }
            if entries.len() == limit || (scanned >= TEXT_SCAN && !changes.is_empty()) {
                break cursor;
            }
            if (rows.len() as i64) < batch {
                break None;
            }
        };
        Ok(ActivityPage {
            entries,
            next,
            position: Some(position),
        })
    }
}
