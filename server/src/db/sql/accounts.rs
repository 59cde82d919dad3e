//! Accounts: creating users and finding them by id or e-mail.

use super::*;

impl SqlStore {
    pub(super) async fn user_in(conn: &mut Conn, id: i64) -> Result<User, DbError> {
        let mut sql = Sql::new(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = "));
        sql.bind(id);
        let row = sql.one(&mut *conn).await?;
        user_from_row(&row).map_err(DbError::from)
    }

    /// Display names of users by id, read 500 at a time: only of members of `workspace`
    /// when given (for ids anyone could have typed, such as mentions), of anyone
    /// otherwise (the server's own ids: actors, who a member change concerns).
    pub(super) async fn user_names(
        conn: &mut Conn,
        workspace: Option<i64>,
        ids: &[i64],
    ) -> Result<HashMap<i64, String>, DbError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new("SELECT u.id, u.display_name FROM users u");
            if let Some(ws) = workspace {
                sql.push(" JOIN memberships m ON m.user_id = u.id AND m.workspace_id = ")
                    .bind(ws);
            }
            sql.push(" WHERE u.id IN ").push_ids(chunk);
            for row in sql.all(&mut *conn).await? {
                out.insert(row.try_get("id")?, row.try_get("display_name")?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, new: NewUser) -> Result<User, DbError> {
        let mut sql =
            Sql::new("INSERT INTO users (email, password_hash, display_name, created_at) VALUES (");
        sql.bind(Arg::Text(new.email))
            .push(", ")
            .bind(Arg::Text(new.password_hash))
            .push(", ");
        sql.bind(new.display_name)
            .push(", ")
            .bind(now_ms())
            .push(") RETURNING id");
        let mut conn = self.writer.acquire().await?;
        let id: i64 = sql
            .query()
            .fetch_one(&mut *conn)
            .await
            .map_err(unique_as("email"))?
            .try_get("id")?;
        Self::user_in(&mut conn, id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserAuthRow>, DbError> {
        let mut sql = Sql::new(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = "
        ));
        sql.bind(email);
        let Some(row) = sql.optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(Some(UserAuthRow {
            user: user_from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
        }))
    }

    async fn user(&self, id: i64) -> Result<User, DbError> {
        let mut conn = self.pool.acquire().await?;
        Self::user_in(&mut conn, id).await
    }

    async fn set_last_workspace(&self, user: i64, workspace: i64) -> Result<(), DbError> {
        let mut sql = Sql::new("UPDATE users SET last_workspace_id = ");
        sql.bind(workspace).push(" WHERE id = ").bind(user);
        self.write(sql).await?;
        Ok(())
    }
}
