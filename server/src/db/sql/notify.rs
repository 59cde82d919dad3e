//! Notifications in SQL: turning a transaction's logged changes into stored notifications
//! (by [`crate::notify::rules`]) before it commits, each logged in its user's room; a
//! user's list and its states; preferences; follows; announcements.

use super::*;
use crate::notify::rules::{self, Audience, Draft};
use app::model::notify::{
    show_mentions, NoticePage, NoticePref, NoticeType, Notification, Priority,
};

const NOTICE_COLUMNS: &str = "id, workspace_id, type, priority, title, body, link, record_kind, \
     record_id, actor_id, actor_name, created_at, read_at, snoozed_until, dismissed";

fn notice_from_row(row: &AnyRow) -> Result<Notification, DbError> {
    let text = |c: &str| row.try_get::<String, _>(c);
    let kind: Option<String> = row.try_get("record_kind")?;
    let record_id: Option<i64> = row.try_get("record_id")?;
    let bad = |what: &str| DbError::Other(format!("a stored notification has {what}").into());
    Ok(Notification {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        ntype: NoticeType::parse(&text("type")?).ok_or_else(|| bad("an unknown type"))?,
        priority: Priority::parse(&text("priority")?).ok_or_else(|| bad("an unknown priority"))?,
        title: text("title")?,
        body: text("body")?,
        link: row.try_get("link")?,
        record: kind.and_then(|k| RecordKind::from_noun(&k)).zip(record_id),
        actor: row.try_get("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
        snoozed_until: row.try_get("snoozed_until")?,
        dismissed: row.try_get::<i64, _>("dismissed")? != 0,
    })
}

/// The user ids of a workspace's members among `ids` (all members when `None`), with
/// the roles at least `min`.
pub(super) async fn members_among(
    conn: &mut Conn,
    workspace: i64,
    ids: Option<&[i64]>,
    min: Role,
) -> Result<Vec<i64>, DbError> {
    let mut sql = Sql::new("SELECT user_id, role FROM memberships WHERE workspace_id = ");
    sql.bind(workspace);
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push(" AND user_id IN ").push_ids(ids);
    }
    let mut out = Vec::new();
    for row in sql.all(&mut *conn).await? {
        let role: String = row.try_get("role")?;
        if Role::parse(&role).is_some_and(|r| r >= min) {
            out.push(row.try_get("user_id")?);
        }
    }
    Ok(out)
}

/// The members a draft goes to: its audience, limited to the workspace's members, without
/// the actor, each once, in id order.
async fn recipients(
    conn: &mut Conn,
    workspace: i64,
    draft: &Draft,
    record: Option<&Record>,
    actor: Option<i64>,
) -> Result<Vec<i64>, DbError> {
    let mut wanted: Vec<i64> = Vec::new();
    for audience in &draft.audience {
        match audience {
            Audience::Users(ids) => {
                wanted.extend(members_among(conn, workspace, Some(ids), Role::Viewer).await?)
            }
            Audience::Owner => {
                let owner = record.and_then(|r| {
                    let field = r.kind.spec().owner?;
                    r.get(field).as_int()
                });
                if let Some(owner) = owner {
                    wanted.extend(
                        members_among(conn, workspace, Some(&[owner]), Role::Viewer).await?,
                    );
                }
            }
            Audience::Followers => {
                let Some((kind, id)) = draft.record else {
                    continue;
                };
                let mut sql = Sql::new(
                    "SELECT f.user_id FROM follows f JOIN memberships m ON m.user_id = f.user_id \
                     AND m.workspace_id = ",
                );
                sql.bind(workspace)
                    .push(" WHERE f.record_kind = ")
                    .bind(kind.noun())
                    .push(" AND f.record_id = ")
                    .bind(id);
                for row in sql.all(&mut *conn).await? {
                    wanted.push(row.try_get("user_id")?);
                }
            }
            Audience::Admins => {
                wanted.extend(members_among(conn, workspace, None, Role::Admin).await?)
            }
            Audience::Everyone => {
                wanted.extend(members_among(conn, workspace, None, Role::Viewer).await?)
            }
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    wanted.retain(|u| Some(*u) != actor);
    Ok(wanted)
}

/// Users among `users` who turned `ntype` off in the app.
async fn muted(conn: &mut Conn, users: &[i64], ntype: NoticeType) -> Result<Vec<i64>, DbError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT user_id FROM notification_prefs WHERE in_app = 0 AND type = ");
    sql.bind(ntype.as_str())
        .push(" AND user_id IN ")
        .push_ids(users);
    let mut out = Vec::new();
    for row in sql.all(&mut *conn).await? {
        out.push(row.try_get("user_id")?);
    }
    Ok(out)
}

/// Makes the notifications that `logged` (a transaction's changes, not yet committed)
/// calls for, in the same transaction, and returns each logged in its user's room.
/// Each change is looked at once, from its workspace room's copy. `known` is a record
/// the transaction already holds as it now stands (an update's result), used instead of
/// reading it back.
pub(super) async fn notify(
    conn: &mut Conn,
    epoch: i64,
    logged: &[LoggedChange],
    known: Option<&Record>,
) -> Result<Vec<LoggedChange>, DbError> {
    let mut out = Vec::new();
    for l in logged {
        let Room::Workspace(workspace) = l.room else {
            continue;
        };
        let change = &l.change;
        // The record as it is now, for rules that look past the change (the owner of a
        // high-priority record, a meeting's participants): carried whole by creations,
        // deletions and restores; for an update of a kind with a priority flag or a
        // schedule, the update's own result when it handed one over (`known`), else read
        // back.
        let fetched;
        let record = match (change.record(), change.target()) {
            (Some(r), _) => Some(r),
            (None, Some((kind, id, _)))
                if kind.spec().urgent.is_some() || kind.spec().schedule.is_some() =>
            {
                match known.filter(|r| r.kind == kind && r.id == id) {
                    Some(r) => Some(r),
                    None => {
                        fetched = SqlStore::fetch_record(conn, workspace, kind, id).await.ok();
                        fetched.as_ref()
                    }
                }
            }
            _ => None,
        };
        let drafts = rules::drafts(change, record);
        if drafts.is_empty() {
            continue;
        }
        let actor = change.actor();
        for draft in drafts {
            let to = recipients(conn, workspace, &draft, record, actor).await?;
            out.extend(deliver(conn, epoch, workspace, &draft, to, actor).await?);
        }
    }
    Ok(out)
}

/// Stores `draft` for each of `to` (members of `workspace`) who has not turned its type
/// off, naming `actor` (if any), and logs each in its user's room; returns the logged
/// changes. The rules' notifications and the reminder scheduler's go through here.
pub(super) async fn deliver(
    conn: &mut Conn,
    epoch: i64,
    workspace: i64,
    draft: &Draft,
    to: Vec<i64>,
    actor: Option<i64>,
) -> Result<Vec<LoggedChange>, DbError> {
    deliver_at(conn, epoch, workspace, draft, to, actor, None).await
}

/// [`deliver`], linking to `path` (after `/w/{slug}/`, such as `chat/12`) when given
/// instead of the draft's record.
pub(super) async fn deliver_at(
    conn: &mut Conn,
    epoch: i64,
    workspace: i64,
    draft: &Draft,
    mut to: Vec<i64>,
    actor: Option<i64>,
    path: Option<&str>,
) -> Result<Vec<LoggedChange>, DbError> {
    let off = muted(conn, &to, draft.ntype).await?;
    to.retain(|u| !off.contains(u));
    if to.is_empty() {
        return Ok(Vec::new());
    }
    let slug: String = {
        let mut sql = Sql::new("SELECT slug FROM workspaces WHERE id = ");
        sql.bind(workspace);
        sql.one(&mut *conn).await?.try_get("slug")?
    };
    let mut ids: Vec<i64> = app::model::notify::mentions(&draft.title);
    ids.extend(app::model::notify::mentions(&draft.body));
    ids.extend(actor);
    let names = SqlStore::user_names(conn, Some(workspace), &ids).await?;
    let name = |id: i64| names.get(&id).cloned();
    let title = show_mentions(&draft.title, name);
    let body = show_mentions(&draft.body, name);
    let link = match (draft.record, path) {
        (_, Some(path)) => format!("/w/{slug}/{path}"),
        (Some((kind, id)), None) => format!("/w/{slug}/{}/{id}", kind.path()),
        (None, None) if draft.ntype == NoticeType::InviteAccepted => {
            format!("/w/{slug}/members")
        }
        (None, None) => format!("/w/{slug}"),
    };
    let now = now_ms();
    let mut out = Vec::new();
    for user in to {
        let mut sql = Sql::new(
            "INSERT INTO notifications (user_id, workspace_id, type, priority, title, \
             body, link, record_kind, record_id, actor_id, actor_name, created_at) VALUES (",
        );
        sql.bind(user)
            .push(", ")
            .bind(workspace)
            .push(", ")
            .bind(draft.ntype.as_str())
            .push(", ")
            .bind(draft.priority.as_str())
            .push(", ")
            .bind(title.clone())
            .push(", ")
            .bind(body.clone())
            .push(", ")
            .bind(link.clone())
            .push(", ")
            .bind(Arg::Text(draft.record.map(|(k, _)| k.noun().to_string())))
            .push(", ")
            .bind(draft.record.map(|(_, id)| id))
            .push(", ")
            .bind(actor)
            .push(", ")
            .bind(Arg::Text(actor.and_then(name)))
            .push(", ")
            .bind(now)
            .push(") RETURNING ")
            .push(NOTICE_COLUMNS);
        let notification = notice_from_row(&sql.one(&mut *conn).await?)?;
        let change = Change::Notice {
            notification,
            at: now,
        };
        out.push(append_change(conn, epoch, Room::User(user), &change).await?);
    }
    Ok(out)
}

impl SqlStore {
    /// Logs `notifications`' current states in their user's room and commits.
    async fn commit_notices(
        &self,
        mut tx: WriteTx,
        user: i64,
        notifications: &[Notification],
    ) -> Result<(), DbError> {
        let mut logged = Vec::new();
        for n in notifications {
            let change = Change::Notice {
                notification: n.clone(),
                at: now_ms(),
            };
            logged.push(append_change(&mut tx, self.epoch, Room::User(user), &change).await?);
        }
        self.commit(tx, logged).await
    }
}

#[async_trait]
impl NotifyStore for SqlStore {
    async fn notifications(
        &self,
        user: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<NoticePage, DbError> {
        // One snapshot for the room's head, the page and the count: a notification made
        // meanwhile is in all three or in none, so a tab that counts what the room
        // replays after the head counts nothing twice.
        let mut tx = self.begin_snapshot().await?;
        let position = head_in(&mut tx, self.epoch, Room::User(user)).await?;
        let now = now_ms();
        let limit = limit.clamp(1, 200);
        let visible = |sql: &mut Sql| {
            sql.push(" AND dismissed = 0 AND (snoozed_until IS NULL OR snoozed_until <= ")
                .bind(now)
                .push(")");
        };
        let mut sql = Sql::new(&format!(
            "SELECT {NOTICE_COLUMNS} FROM notifications WHERE user_id = "
        ));
        sql.bind(user);
        visible(&mut sql);
        if let Some(before) = before {
            sql.push(" AND id < ").bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(limit + 1);
        let mut items = sql
            .all(&mut *tx)
            .await?
            .iter()
            .map(notice_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_before = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|n| n.id)
        } else {
            None
        };
        let mut sql = Sql::new("SELECT COUNT(*) AS n FROM notifications WHERE user_id = ");
        sql.bind(user).push(" AND read_at IS NULL");
        visible(&mut sql);
        let unread = sql.one(&mut *tx).await?.try_get("n")?;
        tx.commit().await?;
        Ok(NoticePage {
            items,
            next_before,
            unread,
            position: Some(position),
        })
    }

    async fn mark_read(&self, user: i64, ids: &[i64]) -> Result<Vec<Notification>, DbError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("UPDATE notifications SET read_at = ");
        sql.bind(now_ms())
            .push(" WHERE read_at IS NULL AND user_id = ")
            .bind(user)
            .push(" AND id IN ")
            .push_ids(&ids[..ids.len().min(500)])
            .push(" RETURNING ")
            .push(NOTICE_COLUMNS);
        let changed = sql
            .all(&mut *tx)
            .await?
            .iter()
            .map(notice_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.commit_notices(tx, user, &changed).await?;
        Ok(changed)
    }

    async fn mark_all_read(&self, user: i64) -> Result<i64, DbError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("SELECT MAX(id) AS upto FROM notifications WHERE user_id = ");
        sql.bind(user);
        let upto: Option<i64> = sql.one(&mut *tx).await?.try_get("upto")?;
        let Some(upto) = upto else {
            return Ok(0);
        };
        let now = now_ms();
        let mut sql = Sql::new("UPDATE notifications SET read_at = ");
        sql.bind(now)
            .push(" WHERE read_at IS NULL AND user_id = ")
            .bind(user)
            .push(" AND id <= ")
            .bind(upto);
        sql.run(&mut *tx).await?;
        let change = Change::NoticesRead { upto, at: now };
        let logged = vec![append_change(&mut tx, self.epoch, Room::User(user), &change).await?];
        self.commit(tx, logged).await?;
        Ok(upto)
    }

    async fn set_notice_state(
        &self,
        user: i64,
        id: i64,
        until: Option<i64>,
    ) -> Result<Notification, DbError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::new("UPDATE notifications SET ");
        match until {
            Some(t) => sql.push("snoozed_until = ").bind(t),
            None => sql.push("dismissed = 1"),
        };
        sql.push(" WHERE user_id = ")
            .bind(user)
            .push(" AND id = ")
            .bind(id)
            .push(" RETURNING ")
            .push(NOTICE_COLUMNS);
        let n = notice_from_row(&sql.optional(&mut *tx).await?.ok_or(DbError::NotFound)?)?;
        self.commit_notices(tx, user, std::slice::from_ref(&n))
            .await?;
        Ok(n)
    }

    async fn notice_prefs(&self, user: i64) -> Result<Vec<NoticePref>, DbError> {
        let mut sql = Sql::new(
            "SELECT type, in_app, sound, browser FROM notification_prefs WHERE user_id = ",
        );
        sql.bind(user);
        let mut set = HashMap::new();
        for row in sql.all(&self.pool).await? {
            let t: String = row.try_get("type")?;
            if let Some(ntype) = NoticeType::parse(&t) {
                let flag = |c: &str| row.try_get::<i64, _>(c).map(|v| v != 0);
                set.insert(
                    ntype,
                    NoticePref {
                        ntype,
                        in_app: flag("in_app")?,
                        sound: flag("sound")?,
                        browser: flag("browser")?,
                    },
                );
            }
        }
        Ok(NoticeType::ALL
            .into_iter()
            .map(|t| set.remove(&t).unwrap_or_else(|| NoticePref::default_for(t)))
            .collect())
    }

    async fn set_notice_pref(&self, user: i64, pref: NoticePref) -> Result<(), DbError> {
        let mut sql = Sql::new(
            "INSERT INTO notification_prefs (user_id, type, in_app, sound, browser) VALUES (",
        );
        sql.bind(user)
            .push(", ")
            .bind(pref.ntype.as_str())
            .push(", ")
            .bind(pref.in_app as i64)
            .push(", ")
            .bind(pref.sound as i64)
            .push(", ")
            .bind(pref.browser as i64)
            .push(
                ") ON CONFLICT (user_id, type) DO UPDATE SET in_app = excluded.in_app, \
                 sound = excluded.sound, browser = excluded.browser",
            );
        self.write(sql).await.map(drop)
    }

    async fn set_following(
        &self,
        user: i64,
        workspace: i64,
        kind: RecordKind,
        id: i64,
        on: bool,
    ) -> Result<(), DbError> {
        if self.record_workspace(kind, id).await? != workspace {
            return Err(DbError::NotFound);
        }
        let sql = if on {
            let mut s = Sql::new(
                "INSERT INTO follows (user_id, record_kind, record_id, created_at) VALUES (",
            );
            s.bind(user)
                .push(", ")
                .bind(kind.noun())
                .push(", ")
                .bind(id)
                .push(", ")
                .bind(now_ms())
                .push(") ON CONFLICT (user_id, record_kind, record_id) DO NOTHING");
            s
        } else {
            let mut s = Sql::new("DELETE FROM follows WHERE user_id = ");
            s.bind(user)
                .push(" AND record_kind = ")
                .bind(kind.noun())
                .push(" AND record_id = ")
                .bind(id);
            s
        };
        self.write(sql).await.map(drop)
    }

    async fn following(&self, user: i64, kind: RecordKind, id: i64) -> Result<bool, DbError> {
        let mut sql = Sql::new("SELECT COUNT(*) AS n FROM follows WHERE user_id = ");
        sql.bind(user)
            .push(" AND record_kind = ")
            .bind(kind.noun())
            .push(" AND record_id = ")
            .bind(id);
        Ok(sql.one(&self.pool).await?.try_get::<i64, _>("n")? > 0)
    }

    async fn announce(
        &self,
        workspace: i64,
        actor: i64,
        title: &str,
        body: &str,
        priority: Priority,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        let change = Change::Announced {
            workspace_id: workspace,
            title: title.to_string(),
            body: body.to_string(),
            priority,
            actor: Some(actor),
            at: now_ms(),
        };
        let logged =
            vec![append_change(&mut tx, self.epoch, Room::Workspace(workspace), &change).await?];
        self.commit(tx, logged).await
    }
}
