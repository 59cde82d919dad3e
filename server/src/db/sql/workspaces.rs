//! Workspaces, members and invites: creation, roles, removal, invite links and their
//! acceptance (with the rules on who may still issue an invite).

use super::*;

impl SqlStore {
    /// Runs a statement changing one membership and logs the change, in one transaction.
    /// Errors: `NotFound` when no membership matched.
    pub(super) async fn change_members(
        &self,
        workspace: i64,
        user: i64,
        how: MemberHow,
        statement: Sql,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        if statement.run(&mut *tx).await? == 0 {
            return Err(DbError::NotFound);
        }
        let mut chat_logged = Vec::new();
        if how == MemberHow::Left {
            // Someone who left no longer spends their time on the workspace's meetings
            // (their other workspaces see them free again); a later edit of a meeting
            // does not book them again (`sync_bookings` books members only).
            let mut free = Sql::new("DELETE FROM bookings WHERE workspace_id = ");
            free.bind(workspace).push(" AND user_id = ").bind(user);
            free.run(&mut *tx).await?;
            // Nor is in the workspace's private chat rooms: taken out of each as the owner's
            // removal would (their subscriptions end on that change, the others see it, an
            // owner's room passes on), and their open invitations withdrawn.
            let rooms = super::chat::private_rooms_of(&mut tx, workspace, user).await?;
            for room in rooms {
                chat_logged.extend(
                    super::chat::drop_participant(
                        &mut tx,
                        self.epoch,
                        room,
                        user,
                        app::model::chat::RoomHow::Removed,
                        None,
                    )
                    .await?,
                );
            }
            let mut withdrawn =
                Sql::new("UPDATE chat_invitations SET status = 'cancelled', answered_at = ");
            withdrawn
                .bind(now_ms())
                .push(" WHERE status = 'pending' AND user_id = ")
                .bind(user)
                .push(" AND room_id IN (SELECT id FROM chat_rooms WHERE workspace_id = ")
                .bind(workspace)
                .push(")");
            withdrawn.run(&mut *tx).await?;
        }
        let mut logged = vec![
            log_change(
                &mut tx,
                self.epoch,
                Room::Workspace(workspace),
                member_change(user, how, None),
            )
            .await?,
        ];
        logged.extend(chat_logged);
        self.commit(tx, logged).await?;
        Ok(())
    }

    pub(super) async fn add_member_in(
        conn: &mut Conn,
        workspace: i64,
        user: i64,
        role: Role,
        now: i64,
    ) -> Result<bool, DbError> {
        let mut sql =
            Sql::new("INSERT INTO memberships (workspace_id, user_id, role, joined_at) VALUES (");
        sql.bind(workspace)
            .push(", ")
            .bind(user)
            .push(", ")
            .bind(role.as_str())
            .push(", ")
            .bind(now);
        sql.push(") ON CONFLICT (workspace_id, user_id) DO NOTHING");
        Ok(sql.run(&mut *conn).await? == 1)
    }

    /// Locks a live invite and uses one acceptance of it. The invite must still be one
    /// its creator could make: they are still an admin of its workspace, and the owner
    /// for an admin invite (an invite with no creator was made by the command line).
    /// Errors: `NotFound`, `InviteGone` (the caller's transaction then rolls back).
    pub(super) async fn use_invite(
        conn: &mut Conn,
        token: &str,
        now: i64,
    ) -> Result<Invite, DbError> {
        let mut sql = Sql::new("UPDATE invites SET uses = uses + 1 WHERE token = ");
        sql.bind(token)
            .push(" AND revoked_at IS NULL AND uses < max_uses AND expires_at > ")
            .bind(now)
            .push(" RETURNING created_by");
        let used = sql.optional(&mut *conn).await?;
        let invite = Self::invite_in(conn, token).await?;
        let Some(used) = used else {
            return Err(DbError::InviteGone);
        };
        if let Some(creator) = used.try_get::<Option<i64>, _>("created_by")? {
            // An admin link (plain or claim) needs the owner, as making an admin does.
            let needed = if invite.role == Role::Admin {
                Role::Owner
            } else {
                Role::Admin
            };
            if Self::role_in(conn, invite.workspace_id, creator)
                .await?
                .is_none_or(|r| r < needed)
            {
                return Err(DbError::InviteGone);
            }
        }
        Ok(invite)
    }

    pub(super) async fn role_in(
        conn: &mut Conn,
        workspace: i64,
        user: i64,
    ) -> Result<Option<Role>, DbError> {
        let mut sql = Sql::new("SELECT role FROM memberships WHERE workspace_id = ");
        sql.bind(workspace).push(" AND user_id = ").bind(user);
        match sql.optional(&mut *conn).await? {
            Some(row) => Ok(Some(role_from(&row.try_get::<String, _>("role")?)?)),
            None => Ok(None),
        }
    }

    pub(super) async fn invite_in(conn: &mut Conn, token: &str) -> Result<Invite, DbError> {
        let mut sql = Sql::new(INVITE_SELECT);
        sql.push(" WHERE i.token = ").bind(token);
        let row = sql.one(&mut *conn).await?;
        invite_from_row(&row).map_err(DbError::from)
    }

    pub(super) async fn workspace_in(conn: &mut Conn, id: i64) -> Result<Workspace, DbError> {
        let mut sql = Sql::new("SELECT id, name, slug FROM workspaces WHERE id = ");
        sql.bind(id);
        let row = sql.one(&mut *conn).await?;
        workspace_from_row(&row).map_err(DbError::from)
    }
}

#[async_trait]
impl WorkspaceStore for SqlStore {
    async fn create_workspace(
        &self,
        name: &str,
        slug: &str,
        owner: i64,
    ) -> Result<Workspace, DbError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let mut sql =
            Sql::new("INSERT INTO workspaces (name, slug, created_at, created_by) VALUES (");
        sql.bind(name)
            .push(", ")
            .bind(slug)
            .push(", ")
            .bind(now)
            .push(", ")
            .bind(owner)
            .push(") RETURNING id");
        let id: i64 = sql
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_as("slug"))?
            .try_get("id")?;
        Self::add_member_in(&mut tx, id, owner, Role::Owner, now).await?;
        tx.commit().await?;
        Ok(Workspace {
            id,
            name: name.to_string(),
            slug: slug.to_string(),
        })
    }

    async fn workspace(&self, id: i64) -> Result<Workspace, DbError> {
        let mut conn = self.pool.acquire().await?;
        Self::workspace_in(&mut conn, id).await
    }

    async fn workspace_by_slug(&self, slug: &str) -> Result<Workspace, DbError> {
        let mut sql = Sql::new("SELECT id, name, slug FROM workspaces WHERE slug = ");
        sql.bind(slug);
        let row = sql.one(&self.pool).await?;
        workspace_from_row(&row).map_err(DbError::from)
    }

    async fn memberships(&self, user: i64) -> Result<Vec<Membership>, DbError> {
        let mut sql = Sql::new(
            "SELECT w.id, w.name, w.slug, m.role FROM memberships m \
             JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = ",
        );
        sql.bind(user).push(" ORDER BY lower(w.name), w.id");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    workspace: workspace_from_row(r)?,
                    role: role_from(&r.try_get::<String, _>("role")?)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    async fn role(&self, workspace: i64, user: i64) -> Result<Option<Role>, DbError> {
        let mut conn = self.pool.acquire().await?;
        Self::role_in(&mut conn, workspace, user).await
    }

    async fn rename_workspace(&self, workspace: i64, name: &str) -> Result<Workspace, DbError> {
        let mut sql = Sql::new("UPDATE workspaces SET name = ");
        sql.bind(name).push(" WHERE id = ").bind(workspace);
        if self.write(sql).await? == 0 {
            return Err(DbError::NotFound);
        }
        self.workspace(workspace).await
    }

    async fn members(&self, workspace: i64) -> Result<Vec<Member>, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT {USER_COLUMNS}, m.role, m.joined_at, m.region, \
             CAST(CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS joined \
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = "
        ));
        sql.bind(workspace)
            .push(" ORDER BY lower(u.display_name), u.id");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user: user_from_row(r)?,
                    role: role_from(&r.try_get::<String, _>("role")?)?,
                    joined_at: r.try_get("joined_at")?,
                    joined: r.try_get::<i64, _>("joined")? == 1,
                    region: r.try_get("region")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    async fn add_member(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError> {
        let mut conn = self.writer.acquire().await?;
        Self::add_member_in(&mut conn, workspace, user, role, now_ms()).await?;
        Ok(())
    }

    async fn set_role(&self, workspace: i64, user: i64, role: Role) -> Result<(), DbError> {
        let mut sql = Sql::new("UPDATE memberships SET role = ");
        sql.bind(role.as_str())
            .push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND user_id = ")
            .bind(user);
        self.change_members(workspace, user, MemberHow::Role, sql)
            .await
    }

    async fn remove_member(&self, workspace: i64, user: i64) -> Result<(), DbError> {
        let mut sql = Sql::new("DELETE FROM memberships WHERE workspace_id = ");
        sql.bind(workspace).push(" AND user_id = ").bind(user);
        self.change_members(workspace, user, MemberHow::Left, sql)
            .await
    }

    async fn create_invite(&self, new: NewInvite) -> Result<Invite, DbError> {
        let mut sql = Sql::new(
            "INSERT INTO invites (workspace_id, token, role, expires_at, max_uses, created_by, created_at, for_user) VALUES (",
        );
        sql.bind(new.workspace_id)
            .push(", ")
            .bind(new.token.clone())
            .push(", ")
            .bind(new.role.as_str());
        sql.push(", ")
            .bind(new.expires_at)
            .push(", ")
            .bind(new.max_uses)
            .push(", ")
            .bind(new.created_by);
        sql.push(", ")
            .bind(now_ms())
            .push(", ")
            .bind(new.for_user)
            .push(") RETURNING id");
        let mut tx = self.begin().await?;
        let id: i64 = sql
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_as("token"))?
            .try_get("id")?;
        let room = Room::Admins(new.workspace_id);
        let logged = vec![log_change(&mut tx, self.epoch, room, invite_change(id)).await?];
        let invite = Self::invite_in(&mut tx, &new.token).await?;
        self.commit(tx, logged).await?;
        Ok(invite)
    }

    async fn invites(&self, workspace: i64) -> Result<Vec<Invite>, DbError> {
        let mut sql = Sql::new(INVITE_SELECT);
        sql.push(" WHERE i.workspace_id = ")
            .bind(workspace)
            .push(" ORDER BY i.id DESC");
        let rows = sql.all(&self.pool).await?;
        rows.iter()
            .map(invite_from_row)
            .collect::<Result<_, _>>()
            .map_err(DbError::from)
    }

    async fn invite_by_token(&self, token: &str) -> Result<Invite, DbError> {
        let mut conn = self.pool.acquire().await?;
        Self::invite_in(&mut conn, token).await
    }

    async fn revoke_invite(&self, workspace: i64, id: i64, now: i64) -> Result<(), DbError> {
        let mut sql = Sql::new("UPDATE invites SET revoked_at = ");
        sql.bind(now)
            .push(" WHERE workspace_id = ")
            .bind(workspace)
            .push(" AND id = ")
            .bind(id);
        let mut tx = self.begin().await?;
        if sql.run(&mut *tx).await? == 0 {
            return Err(DbError::NotFound);
        }
        let room = Room::Admins(workspace);
        let logged = vec![log_change(&mut tx, self.epoch, room, invite_change(id)).await?];
        self.commit(tx, logged).await
    }

    async fn accept_invite(&self, token: &str, user: i64, now: i64) -> Result<Workspace, DbError> {
        let mut logged = Vec::new();
        let mut tx = self.begin().await?;
        let invite = Self::invite_in(&mut tx, token).await?;
        if invite.for_user.is_some() {
            return Err(DbError::ClaimNotInvite);
        }
        // The membership first: of two acceptances by one user at once, only the one that
        // inserts it uses the invite (the other waits on the row, then finds it there).
        // Opening a link to a workspace you are already in uses nothing.
        if Self::add_member_in(&mut tx, invite.workspace_id, user, invite.role, now).await? {
            Self::use_invite(&mut tx, token, now).await?;
            logged = log_joined(&mut tx, self.epoch, &invite, user).await?;
        }
        let ws = Self::workspace_in(&mut tx, invite.workspace_id).await?;
        self.commit(tx, logged).await?;
        Ok(ws)
    }

    async fn claim_invite(
        &self,
        token: &str,
        email: &str,
        password_hash: &str,
        display_name: &str,
        now: i64,
    ) -> Result<(User, Workspace), DbError> {
        let mut tx = self.begin().await?;
        let invite = Self::use_invite(&mut tx, token, now).await?;
        let Some(user) = invite.for_user else {
            return Err(DbError::InviteGone);
        };
        let mut sql = Sql::new("UPDATE users SET email = ");
        sql.bind(email)
            .push(", password_hash = ")
            .bind(password_hash)
            .push(", display_name = ")
            .bind(display_name);
        sql.push(" WHERE id = ")
            .bind(user)
            .push(" AND password_hash IS NULL");
        if sql
            .query()
            .execute(&mut *tx)
            .await
            .map_err(unique_as("email"))?
            .rows_affected()
            == 0
        {
            return Err(DbError::InviteGone);
        }
        let ws = invite.workspace_id;
        Self::add_member_in(&mut tx, ws, user, invite.role, now).await?;
        let logged = log_joined(&mut tx, self.epoch, &invite, user).await?;
        let ws = Self::workspace_in(&mut tx, ws).await?;
        let user = Self::user_in(&mut tx, user).await?;
        self.commit(tx, logged).await?;
        Ok((user, ws))
    }
}
