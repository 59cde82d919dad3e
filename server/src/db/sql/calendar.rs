//! Time in SQL: the bookings a scheduled record keeps (one per person), the serialized
//! overlap check that makes booking atomic on both backends, members' calendars, and the
//! reminder scheduler's claim-then-notify.

use super::notify::{deliver, members_among};
use super::*;
use crate::notify::rules::Draft;
use app::model::calendar::{Busy, Calendar, Window};
use app::model::notify::{NoticeType, Priority};

impl SqlStore {
    /// Keeps `record`'s bookings as its kind's schedule says, in the writer's
    /// transaction: one row per person it takes while it is live, active and has a start;
    /// none otherwise. A person whose booking keeps its start keeps its reminder state.
    ///
    /// For an exclusive kind (meetings) each busy person's `booking_locks` row is written
    /// first, in ascending id order, so concurrent bookings of a person check one after
    /// the other (PostgreSQL waits on the row lock; SQLite has one writer); then an
    /// overlap with another busy exclusive booking of theirs, in any workspace, fails the
    /// write with `SlotTaken`. Errors: also `Invalid` for an end before the start.
    pub(super) async fn sync_bookings(conn: &mut Conn, record: &Record) -> Result<(), DbError> {
        let kind = record.kind;
        let Some(schedule) = &kind.spec().schedule else {
            return Ok(());
        };
        if record.deleted_at.is_none() {
            schedule
                .check(kind, &record.fields)
                .map_err(|(field, message)| DbError::Invalid { field, message })?;
        }
        let span = schedule.span(&record.fields);
        let mut wanted = match span {
            Some(_) if record.deleted_at.is_none() && schedule.is_active(&record.fields) => {
                schedule.people(&record.fields)
            }
            _ => Vec::new(),
        };
        // Only members: someone removed from the workspace stays in the field but takes
        // no time for it.
        if !wanted.is_empty() {
            let ids: Vec<i64> = wanted.iter().map(|(u, _)| *u).collect();
            let members =
                members_among(conn, record.workspace_id, Some(&ids), Role::Viewer).await?;
            wanted.retain(|(u, _)| members.contains(u));
        }
        // The old rows go, read back by the same statement: on PostgreSQL it waits for a
        // reminder claim of them in flight and returns the claimed `reminded_at`, so a
        // booking re-inserted below is not reminded twice.
        let mut old = Sql::new("DELETE FROM bookings WHERE record_kind = ");
        old.bind(kind.noun())
            .push(" AND record_id = ")
            .bind(record.id)
            .push(" RETURNING user_id, starts_at, reminded_at");
        let mut reminded: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
        for row in old.all(&mut *conn).await? {
            reminded.insert(
                row.try_get("user_id")?,
                (row.try_get("starts_at")?, row.try_get("reminded_at")?),
            );
        }
        let Some((start, end)) = span else {
            return Ok(());
        };
        let busy: Vec<i64> = wanted.iter().filter(|(_, b)| *b).map(|(u, _)| *u).collect();
        if schedule.exclusive && !busy.is_empty() {
            for user in &busy {
                let mut lock = Sql::new("INSERT INTO booking_locks (user_id, n) VALUES (");
                lock.bind(*user)
                    .push(", 1) ON CONFLICT (user_id) DO UPDATE SET n = booking_locks.n + 1");
                lock.run(&mut *conn).await?;
            }
            let mut taken = Sql::new(
                "SELECT u.display_name FROM bookings b JOIN users u ON u.id = b.user_id \
                 WHERE b.busy = 1 AND b.exclusive = 1 AND b.user_id IN ",
            );
            taken
                .push_ids(&busy)
                .push(" AND b.starts_at < ")
                .bind(end)
                .push(" AND b.ends_at > ")
                .bind(start)
                .push(" ORDER BY b.user_id LIMIT 1");
            if let Some(row) = taken.optional(&mut *conn).await? {
                return Err(DbError::SlotTaken {
                    field: schedule.start.to_string(),
                    who: row.try_get("display_name")?,
                });
            }
        }
        for (user, is_busy) in wanted {
            let kept = reminded
                .get(&user)
                .filter(|(s, _)| *s == start)
                .and_then(|(_, at)| *at);
            let mut row = Sql::new(
                "INSERT INTO bookings (record_kind, record_id, user_id, workspace_id, starts_at, \
                 ends_at, busy, exclusive, reminded_at) VALUES (",
            );
            row.bind(kind.noun())
                .push(", ")
                .bind(record.id)
                .push(", ")
                .bind(user)
                .push(", ")
                .bind(record.workspace_id)
                .push(", ")
                .bind(start)
                .push(", ")
                .bind(end)
                .push(", ")
                .bind(i64::from(is_busy))
                .push(", ")
                .bind(i64::from(schedule.exclusive))
                .push(", ")
                .bind(kept)
                .push(")");
            row.run(&mut *conn).await?;
        }
        Ok(())
    }

    /// Refuses a change of a [`FieldKind::Responses`] field (a meeting's RSVPs) that
    /// touches anyone's answer but the actor's, or gives an answer of an actor who is not
    /// among the record's people: each member answers for themselves, if invited.
    /// `current` is the record's stored fields (empty for a new record), `changed` the
    /// fields the write sets. Errors: `Invalid` naming the field.
    pub(super) fn check_own_answer(
        kind: RecordKind,
        actor: i64,
        current: &Fields,
        changed: &Fields,
    ) -> Result<(), DbError> {
        use app::model::record::responses;
        for (name, value) in changed {
            let Some(def) = kind.field(name).filter(|d| d.kind == FieldKind::Responses) else {
                continue;
            };
            let text = |v: Option<&Value>| {
                v.and_then(Value::as_text)
                    .map(responses)
                    .unwrap_or_default()
            };
            let (was, now) = (text(current.get(name)), text(Some(value)));
            let touched = was
                .iter()
                .filter(|p| !now.contains(p))
                .chain(now.iter().filter(|p| !was.contains(p)))
                .any(|(u, _)| *u != actor);
            if touched {
                return Err(DbError::Invalid {
                    field: name.clone(),
                    message: format!("{}: each member answers for themselves", def.caption),
                });
            }
            let mut after = current.clone();
            after.extend(changed.clone());
            let invited = kind
                .spec()
                .schedule
                .as_ref()
                .is_some_and(|s| s.people(&after).iter().any(|(u, _)| *u == actor));
            let answers = now.iter().any(|(u, _)| *u == actor) && was != now;
            if answers && !invited {
                return Err(DbError::Invalid {
                    field: name.clone(),
                    message: format!("{}: only those invited answer", def.caption),
                });
            }
        }
        Ok(())
    }
}

/// The reminder's notification for one claimed booking.
fn reminder(kind: RecordKind, id: i64, title: &str, starts_at: i64, now: i64) -> Draft {
    let minutes = ((starts_at - now) + 59_999) / 60_000;
    Draft {
        ntype: NoticeType::Reminder,
        priority: Priority::Warning,
        title: format!(
            "{} {title} starts in {minutes} min",
            capitalize(kind.noun())
        ),
        body: format!("At {}", app::model::format_utc(starts_at)),
        record: Some((kind, id)),
        audience: Vec::new(),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[async_trait]
impl CalendarStore for SqlStore {
    async fn calendar(&self, user: i64) -> Result<Calendar, DbError> {
        let mut sql =
            Sql::new("SELECT time_zone, reminder_minutes FROM calendars WHERE user_id = ");
        sql.bind(user);
        let Some(row) = sql.optional(&self.pool).await? else {
            return Ok(Calendar::default());
        };
        let mut weekly = Vec::new();
        let mut w =
            Sql::new("SELECT weekday, start_minute, end_minute FROM availability WHERE user_id = ");
        w.bind(user).push(" ORDER BY weekday, start_minute");
        for r in w.all(&self.pool).await? {
            weekly.push(Window {
                weekday: r.try_get("weekday")?,
                start_minute: r.try_get("start_minute")?,
                end_minute: r.try_get("end_minute")?,
            });
        }
        let mut d = Sql::new("SELECT day FROM availability_exceptions WHERE user_id = ");
        d.bind(user).push(" ORDER BY day");
        let days_off = d
            .all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("day"))
            .collect::<Result<_, _>>()?;
        Ok(Calendar {
            time_zone: row.try_get("time_zone")?,
            reminder_minutes: row.try_get("reminder_minutes")?,
            weekly,
            days_off,
            published: true,
        })
    }

    async fn set_calendar(&self, user: i64, calendar: &Calendar) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        let mut up = Sql::new(
            "INSERT INTO calendars (user_id, time_zone, reminder_minutes, updated_at) VALUES (",
        );
        up.bind(user)
            .push(", ")
            .bind(calendar.time_zone.clone())
            .push(", ")
            .bind(calendar.reminder_minutes)
            .push(", ")
            .bind(now_ms())
            .push(
                ") ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone, \
                 reminder_minutes = excluded.reminder_minutes, updated_at = excluded.updated_at",
            );
        up.run(&mut *tx).await?;
        for table in ["availability", "availability_exceptions"] {
            let mut clear = Sql::new(&format!("DELETE FROM {table} WHERE user_id = "));
            clear.bind(user);
            clear.run(&mut *tx).await?;
        }
        for w in &calendar.weekly {
            let mut sql = Sql::new(
                "INSERT INTO availability (user_id, weekday, start_minute, end_minute) VALUES (",
            );
            sql.bind(user)
                .push(", ")
                .bind(w.weekday)
                .push(", ")
                .bind(w.start_minute)
                .push(", ")
                .bind(w.end_minute)
                .push(")");
            sql.run(&mut *tx).await?;
        }
        let mut days = calendar.days_off.clone();
        days.sort();
        days.dedup();
        for day in days {
            let mut sql = Sql::new("INSERT INTO availability_exceptions (user_id, day) VALUES (");
            sql.bind(user).push(", ").bind(day).push(")");
            sql.run(&mut *tx).await?;
        }
        self.commit(tx, Vec::new()).await
    }

    async fn busy(
        &self,
        workspace: i64,
        users: &[i64],
        from: i64,
        to: i64,
    ) -> Result<Vec<Busy>, DbError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            "SELECT user_id, workspace_id, record_kind, record_id, starts_at, ends_at FROM bookings \
             WHERE busy = 1 AND exclusive = 1 AND user_id IN ",
        );
        sql.push_ids(users)
            .push(" AND starts_at < ")
            .bind(to)
            .push(" AND ends_at > ")
            .bind(from)
            .push(" ORDER BY starts_at, user_id");
        let mut out = Vec::new();
        let mut mine: BTreeMap<RecordKind, Vec<i64>> = BTreeMap::new();
        for row in sql.all(&self.pool).await? {
            let here = row.try_get::<i64, _>("workspace_id")? == workspace;
            let kind = RecordKind::from_noun(&row.try_get::<String, _>("record_kind")?);
            let record = kind
                .filter(|_| here)
                .map(|k| (k, row.try_get::<i64, _>("record_id")))
                .map(|(k, id)| id.map(|id| (k, id)))
                .transpose()?;
            if let Some((k, id)) = record {
                mine.entry(k).or_default().push(id);
            }
            out.push(Busy {
                user_id: row.try_get("user_id")?,
                starts_at: row.try_get("starts_at")?,
                ends_at: row.try_get("ends_at")?,
                record,
                title: None,
            });
        }
        for (kind, ids) in mine {
            let mut sql = Sql::new(&format!(
                "SELECT id, {} AS title FROM {} WHERE workspace_id = ",
                kind.title_field(),
                kind.table()
            ));
            sql.bind(workspace).push(" AND id IN ").push_ids(&ids);
            let mut titles = HashMap::new();
            for row in sql.all(&self.pool).await? {
                titles.insert(
                    row.try_get::<i64, _>("id")?,
                    row.try_get::<String, _>("title")?,
                );
            }
            for b in out
                .iter_mut()
                .filter(|b| b.record.is_some_and(|(k, _)| k == kind))
            {
                b.title = b.record.and_then(|(_, id)| titles.get(&id).cloned());
            }
        }
        Ok(out)
    }

    async fn send_due_reminders(&self, now: i64) -> Result<usize, DbError> {
        let mut tx = self.begin().await?;
        // The claim: one statement marks every due booking as reminded and returns it.
        // A second node running the same statement at once waits on the rows (or the
        // write lock) and then finds them reminded, so it claims none of them.
        let mut claim = Sql::new("UPDATE bookings SET reminded_at = ");
        claim
            .bind(now)
            .push(" WHERE reminded_at IS NULL AND busy = 1 AND starts_at > ")
            .bind(now)
            .push(" AND starts_at - 60000 * COALESCE((SELECT c.reminder_minutes FROM calendars c WHERE c.user_id = bookings.user_id), ")
            .bind(app::model::calendar::DEFAULT_REMINDER_MINUTES)
            .push(") <= ")
            .bind(now)
            .push(" RETURNING record_kind, record_id, user_id, workspace_id, starts_at");
        let mut rows = Vec::new();
        for row in claim.all(&mut *tx).await? {
            let kind: String = row.try_get("record_kind")?;
            rows.push((
                row.try_get::<i64, _>("user_id")?,
                kind,
                row.try_get::<i64, _>("record_id")?,
                row.try_get::<i64, _>("workspace_id")?,
                row.try_get::<i64, _>("starts_at")?,
            ));
        }
        // Users in ascending order, as every other writer locks their rooms.
        rows.sort_unstable();
        let mut logged = Vec::new();
        for (user, kind, id, workspace, starts_at) in rows {
            let Some(kind) = RecordKind::from_noun(&kind) else {
                continue;
            };
            // A record that cannot be read is skipped (its booking stays claimed), so
            // one bad row does not hold back everyone else's reminders.
            let record = match Self::fetch_record(&mut tx, workspace, kind, id).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, kind = kind.noun(), id, "a reminder's record is unreadable");
                    continue;
                }
            };
            let draft = reminder(kind, id, &record.title(), starts_at, now);
            // Only while they are a member of the record's workspace.
            let to = members_among(&mut tx, workspace, Some(&[user]), Role::Viewer).await?;
            logged.extend(deliver(&mut tx, self.epoch, workspace, &draft, to, None).await?);
        }
        let sent = logged.len();
        self.commit(tx, logged).await?;
        Ok(sent)
    }
}
