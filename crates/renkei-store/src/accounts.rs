//! Accounts: organisations, users, memberships, two-factor secrets, recovery codes, sessions,
//! login attempts and settings. Passwords arrive already hashed (Argon2id, in the web layer);
//! tokens are stored only as SHA-256 hashes.

use crate::connect::Store;
use crate::error::StoreError;
use renkei_domain::accounts::{AccountRole, Email, OrganisationId, OrganisationKind, UserId};
use sqlx::Row;

/// An organisation a user can belong to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Organisation {
    /// Identifier.
    pub id: OrganisationId,
    /// Kind code.
    pub kind: String,
    /// Name.
    pub name: String,
    /// For hub organisations: the area code served.
    pub area_code: Option<String>,
    /// For institution organisations: the institution.
    pub institution_id: Option<i64>,
}

/// A user's role in one organisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Membership {
    /// The organisation.
    pub organisation: Organisation,
    /// The role held there.
    #[serde(serialize_with = "role_code")]
    pub role: AccountRole,
}

fn role_code<S: serde::Serializer>(role: &AccountRole, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.code())
}

/// A user as the application sees it (no secrets).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// E-mail address (the login name).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Disabled users cannot log in and have no sessions.
    pub disabled: bool,
    /// Whether TOTP is enrolled.
    pub totp_enabled: bool,
    /// Whether a password is set (an invited user sets it on accepting).
    pub has_password: bool,
    /// Creation time.
    pub created_at: String,
    /// Roles in organisations.
    pub memberships: Vec<Membership>,
}

impl User {
    /// Whether the user holds `role` anywhere.
    pub fn has_role(&self, role: AccountRole) -> bool {
        self.memberships.iter().any(|m| m.role == role)
    }

    /// The roles held, without duplicates, in role order.
    pub fn roles(&self) -> Vec<AccountRole> {
        let mut roles: Vec<AccountRole> = self.memberships.iter().map(|m| m.role).collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

/// What login needs to check a password and a second factor.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user.
    pub user_id: UserId,
    /// Argon2id PHC string, when set.
    pub password_hash: Option<String>,
    /// Disabled?
    pub disabled: bool,
    /// Base32 TOTP secret, when enrolled.
    pub totp_secret: Option<String>,
    /// Base32 secret awaiting confirmation during enrolment.
    pub totp_pending_secret: Option<String>,
    /// Last TOTP step accepted (replay protection).
    pub totp_last_step: Option<i64>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// SHA-256 of the cookie token.
    pub token_hash: String,
    /// Owner.
    pub user_id: UserId,
    /// The synchroniser token forms must carry.
    pub csrf_token: String,
    /// Whether the second factor was given (or not needed).
    pub second_factor_done: bool,
    /// Creation time (UTC text).
    pub created_at: String,
    /// Last request time (UTC text).
    pub last_seen_at: String,
    /// Absolute end (UTC text).
    pub expires_at: String,
    /// Client address at creation.
    pub client: String,
    /// Browser at creation (shortened).
    pub user_agent: String,
}

impl Store {
    /// Finds or creates an organisation.
    pub async fn ensure_organisation(
        &self,
        kind: OrganisationKind,
        name: &str,
        area_code: Option<&str>,
        institution_id: Option<i64>,
    ) -> Result<OrganisationId, StoreError> {
        let area_id: Option<i64> = match area_code {
            Some(code) => Some(
                sqlx::query_scalar("SELECT id FROM areas WHERE code = $1")
                    .bind(code)
                    .fetch_optional(self.pool())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("地域「{code}」")))?,
            ),
            None => None,
        };
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM organisations WHERE kind = $1 AND name = $2
               AND COALESCE(area_id, 0) = $3 AND COALESCE(institution_id, 0) = $4",
        )
        .bind(kind.code())
        .bind(name)
        .bind(area_id.unwrap_or(0))
        .bind(institution_id.unwrap_or(0))
        .fetch_optional(self.pool())
        .await?;
        if let Some(id) = existing {
            return Ok(OrganisationId(id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO organisations (kind, name, area_id, institution_id, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(kind.code())
        .bind(name)
        .bind(area_id)
        .bind(institution_id)
        .bind(crate::now_text())
        .fetch_one(self.pool())
        .await?;
        Ok(OrganisationId(id))
    }

    /// Every organisation, by kind and name.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.kind, o.name, a.code AS area_code, o.institution_id
             FROM organisations o LEFT JOIN areas a ON a.id = o.area_id ORDER BY o.kind, o.name, o.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(organisation)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Creates a user; refuses an address already taken.
    pub async fn create_user(
        &self,
        email: &Email,
        display_name: &str,
        password_hash: Option<&str>,
    ) -> Result<UserId, StoreError> {
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_one(self.pool())
            .await?;
        if taken > 0 {
            return Err(StoreError::Invalid(format!(
                "メールアドレス {email} はすでに登録されています"
            )));
        }
        let now = crate::now_text();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, display_name, password_hash, password_changed_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(email.as_str())
        .bind(display_name)
        .bind(password_hash)
        .bind(password_hash.map(|_| now.clone()))
        .bind(&now)
        .bind(&now)
        .fetch_one(self.pool())
        .await?;
        Ok(UserId(id))
    }

    /// Gives a user a role in an organisation (idempotent).
    pub async fn add_membership(
        &self,
        user: UserId,
        organisation: OrganisationId,
        role: AccountRole,
    ) -> Result<(), StoreError> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships WHERE user_id = $1 AND organisation_id = $2 AND role = $3",
        )
        .bind(user.0)
        .bind(organisation.0)
        .bind(role.code())
        .fetch_one(self.pool())
        .await?;
        if exists == 0 {
            sqlx::query("INSERT INTO memberships (user_id, organisation_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(user.0)
                .bind(organisation.0)
                .bind(role.code())
                .bind(crate::now_text())
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Takes a role away and ends the user's sessions at once, so the change holds immediately.
    pub async fn remove_membership(
        &self,
        user: UserId,
        organisation: OrganisationId,
        role: AccountRole,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let removed = sqlx::query(
            "DELETE FROM memberships WHERE user_id = $1 AND organisation_id = $2 AND role = $3",
        )
        .bind(user.0)
        .bind(organisation.0)
        .bind(role.code())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// A user by id, with memberships.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, email, display_name, disabled, totp_secret, password_hash, created_at FROM users WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let memberships = self.memberships_of(&[id.0]).await?;
        Ok(Some(user_from(&row, memberships)?))
    }

    /// A user by e-mail.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(self.pool())
            .await?;
        match id {
            Some(id) => self.user(UserId(id)).await,
            None => Ok(None),
        }
    }

    /// Every user, by e-mail.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, email, display_name, disabled, totp_secret, password_hash, created_at FROM users ORDER BY email",
        )
        .fetch_all(self.pool())
        .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let memberships = self.memberships_of(&ids).await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let own = memberships
                    .iter()
                    .filter(|(u, _)| *u == id)
                    .cloned()
                    .collect();
                user_from(row, own)
            })
            .collect()
    }

    async fn memberships_of(&self, users: &[i64]) -> Result<Vec<(i64, Membership)>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        // One user (every request's session check) is looked up by key; a list of users (the
        // administrator's page) reads all memberships once and filters in memory, which keeps
        // the SQL free of engine-specific array parameters.
        let select =
            "SELECT m.user_id, m.role, o.id, o.kind, o.name, a.code AS area_code, o.institution_id
             FROM memberships m JOIN organisations o ON o.id = m.organisation_id
             LEFT JOIN areas a ON a.id = o.area_id";
        let rows = if let [only] = users {
            sqlx::query(&format!(
                "{select} WHERE m.user_id = $1 ORDER BY o.kind, o.name"
            ))
            .bind(*only)
            .fetch_all(self.pool())
            .await?
        } else {
            sqlx::query(&format!("{select} ORDER BY m.user_id, o.kind, o.name"))
                .fetch_all(self.pool())
                .await?
        };
        let mut out = Vec::new();
        for row in &rows {
            let user: i64 = row.try_get("user_id")?;
            if !users.contains(&user) {
                continue;
            }
            let role_code: String = row.try_get("role")?;
            let Some(role) = AccountRole::from_code(&role_code) else {
                continue;
            };
            out.push((
                user,
                Membership {
                    organisation: organisation(row)?,
                    role,
                },
            ));
        }
        Ok(out)
    }

    /// What login needs, by e-mail.
    pub async fn credentials(&self, email: &Email) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(
            "SELECT id, password_hash, disabled, totp_secret, totp_pending_secret, totp_last_step FROM users WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(credentials_from)
            .transpose()
            .map_err(StoreError::from)
    }

    /// What login needs, by id.
    pub async fn credentials_by_id(&self, user: UserId) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(
            "SELECT id, password_hash, disabled, totp_secret, totp_pending_secret, totp_last_step FROM users WHERE id = $1",
        )
        .bind(user.0)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(credentials_from)
            .transpose()
            .map_err(StoreError::from)
    }

    /// Sets a new password hash, ends every session but `keep` (the one changing it) and revokes
    /// every API token: after a password change or reset nothing made before it still works.
    pub async fn set_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_password_with_mail(user, password_hash, keep, &[])
            .await
            .map(|_| ())
    }

    /// [`Store::set_password`] with the mails that tell of it, written in the same transaction;
    /// returns the mails' ids.
    pub async fn set_password_with_mail(
        &self,
        user: UserId,
        password_hash: &str,
        keep: Option<&str>,
        mails: &[crate::mail::NewMail],
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = crate::now_text();
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $3 WHERE id = $4")
            .bind(password_hash)
            .bind(&now)
            .bind(&now)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        end_other_access(&mut tx, user, keep).await?;
        let ids = crate::mail::queue_in(&mut tx, mails).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Disables or re-enables a user; disabling ends every session at once.
    pub async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(disabled))
            .bind(crate::now_text())
            .bind(user.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Starts TOTP enrolment with a new secret (not active until confirmed).
    pub async fn set_pending_totp(
        &self,
        user: UserId,
        secret_base32: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET totp_pending_secret = $1, updated_at = $2 WHERE id = $3")
            .bind(secret_base32)
            .bind(crate::now_text())
            .bind(user.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Confirms the first enrolment: the pending secret becomes active, and the recovery codes
    /// (hashes) replace any earlier ones. Refused (`Invalid`) when no enrolment was started or
    /// the account already has a second factor (two tabs, or a half-logged-in session trying
    /// to re-bind it): replacing one goes through [`Store::replace_totp`].
    pub async fn confirm_totp(
        &self,
        user: UserId,
        step: i64,
        recovery_hashes: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = $1, updated_at = $2
             WHERE id = $3 AND totp_pending_secret IS NOT NULL AND totp_secret IS NULL",
        )
        .bind(step)
        .bind(crate::now_text())
        .bind(user.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::Invalid(
                "二要素認証の登録が開始されていません".into(),
            ));
        }
        replace_recovery_codes(&mut tx, user, recovery_hashes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an active second factor by the pending one (a new phone, after the password and
    /// a current code were checked): new recovery codes, every other session ended and every
    /// API token revoked, and `mails` queued, in one transaction; the mails' ids. `None` when
    /// nothing was pending or the account has no active second factor.
    pub async fn replace_totp(
        &self,
        user: UserId,
        step: i64,
        recovery_hashes: &[String],
        keep_session: Option<&str>,
        mails: &[crate::mail::NewMail],
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = $1, updated_at = $2
             WHERE id = $3 AND totp_pending_secret IS NOT NULL AND totp_secret IS NOT NULL",
        )
        .bind(step)
        .bind(crate::now_text())
        .bind(user.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        replace_recovery_codes(&mut tx, user, recovery_hashes).await?;
        end_other_access(&mut tx, user, keep_session).await?;
        let ids = crate::mail::queue_in(&mut tx, mails).await?;
        tx.commit().await?;
        Ok(Some(ids))
    }

    /// Resets a user's second factor (the administrator's help for a lost phone with no
    /// recovery code left): the factor and recovery codes are removed, every session ends,
    /// every API token is revoked and `mails` are queued, in one transaction, so the next login
    /// enrols a new factor. The mails' ids; `Invalid` for an unknown user.
    pub async fn reset_second_factor(
        &self,
        user: UserId,
        mails: &[crate::mail::NewMail],
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(crate::now_text())
        .bind(user.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        end_other_access(&mut tx, user, None).await?;
        if changed == 0 {
            return Err(StoreError::Invalid("no such user".into()));
        }
        let ids = crate::mail::queue_in(&mut tx, mails).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Turns TOTP off and removes the recovery codes.
    pub async fn disable_totp(&self, user: UserId) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(crate::now_text())
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a used TOTP step; false when this or a later step was already used (a replay,
    /// also between two requests racing each other).
    pub async fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user.0)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Uses a recovery code once; false when unknown or already used.
    pub async fn use_recovery_code(
        &self,
        user: UserId,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(crate::now_text())
        .bind(user.0)
        .bind(code_hash)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// How many unused recovery codes the user has left.
    pub async fn recovery_codes_left(&self, user: UserId) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.0)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Stores a new session.
    pub async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, second_factor_done, created_at, last_seen_at, expires_at, client, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.0)
        .bind(&session.csrf_token)
        .bind(i64::from(session.second_factor_done))
        .bind(&session.created_at)
        .bind(&session.last_seen_at)
        .bind(&session.expires_at)
        .bind(&session.client)
        .bind(&session.user_agent)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A session by its token hash, only while its user is enabled.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT s.token_hash, s.user_id, s.csrf_token, s.second_factor_done, s.created_at, s.last_seen_at, s.expires_at, s.client, s.user_agent
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND u.disabled = 0",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(session_from)
            .transpose()
            .map_err(StoreError::from)
    }

    /// The sessions of a user, newest first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT token_hash, user_id, csrf_token, second_factor_done, created_at, last_seen_at, expires_at, client, user_agent
             FROM sessions WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(session_from)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Records activity on a session.
    pub async fn touch_session(&self, token_hash: &str, now: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends one session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of a user ("log out everywhere").
    pub async fn delete_sessions_of(&self, user: UserId) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Removes sessions past their absolute end or idle beyond `idle_before`.
    pub async fn purge_sessions(&self, now: &str, idle_before: &str) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Records a login attempt under a throttle key (`account:…` or `client:…`).
    pub async fn record_login_attempt(
        &self,
        key: &str,
        succeeded: bool,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO login_attempts (throttle_key, at, succeeded) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(at)
            .bind(i64::from(succeeded))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Failures under a key since `since` and after the last success, with the latest time.
    pub async fn recent_failures(
        &self,
        key: &str,
        since: &str,
    ) -> Result<(i64, Option<String>), StoreError> {
        let last_success: Option<String> = sqlx::query_scalar(
            "SELECT MAX(at) FROM login_attempts WHERE throttle_key = $1 AND succeeded = 1",
        )
        .bind(key)
        .fetch_one(self.pool())
        .await?;
        let from = match last_success {
            Some(s) if s.as_str() > since => s,
            _ => since.to_owned(),
        };
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_attempts WHERE throttle_key = $1 AND succeeded = 0 AND at > $2",
        )
        .bind(key)
        .bind(&from)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("n")?, row.try_get("last")?))
    }

    /// Reserves one attempt under each of `keys` before it is judged, in one transaction that
    /// writes first (SQLite's write lock; an advisory lock on PostgreSQL), so attempts racing
    /// each other are ordered: each gets a tentative failure row per key and, for each key, the
    /// failures since `since` that came before it (after the key's last success) with the
    /// latest time. Concurrent attempts therefore cannot all see the same count and slip past a
    /// limit together. Settle every reservation with [`Store::settle_login_attempts`].
    pub async fn reserve_login_attempts(
        &self,
        keys: &[String],
        since: &str,
        at: &str,
    ) -> Result<Vec<LoginReservation>, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == crate::connect::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LOGIN_THROTTLE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let mut reserved = Vec::with_capacity(keys.len());
        for key in keys {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO login_attempts (throttle_key, at, succeeded) VALUES ($1, $2, 0) RETURNING id",
            )
            .bind(key)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let last_success: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM login_attempts WHERE throttle_key = $1 AND succeeded = 1 AND id < $2",
            )
            .bind(key)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_attempts
                 WHERE throttle_key = $1 AND succeeded = 0 AND at > $2 AND id > $3 AND id < $4",
            )
            .bind(key)
            .bind(since)
            .bind(last_success.unwrap_or(0))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            reserved.push(LoginReservation {
                id,
                key: key.clone(),
                failures_before: row.try_get("n")?,
                last_failure: row.try_get("last")?,
            });
        }
        tx.commit().await?;
        Ok(reserved)
    }

    /// Settles reserved attempts: `Failed` keeps the row as a failure, `Succeeded` marks it a
    /// success (which resets that key's count), `Forgotten` removes it (an attempt refused
    /// before it was judged, or a success that must not reset a key).
    pub async fn settle_login_attempts(
        &self,
        settled: &[(i64, AttemptOutcome)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for (id, outcome) in settled {
            match outcome {
                AttemptOutcome::Failed => {}
                AttemptOutcome::Succeeded => {
                    sqlx::query("UPDATE login_attempts SET succeeded = 1 WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                AttemptOutcome::Forgotten => {
                    sqlx::query("DELETE FROM login_attempts WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Failures under `key` since `since` (the account's warning mail counts them).
    pub async fn failures_since(&self, key: &str, since: &str) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_attempts WHERE throttle_key = $1 AND succeeded = 0 AND at > $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// A setting's value.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let value = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(value)
    }

    /// Sets a setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(value)
            .bind(crate::now_text())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Key of PostgreSQL's advisory lock that orders login-attempt reservations.
const LOGIN_THROTTLE_LOCK: i64 = 0x7265_6e6b_6569_0002;

/// One attempt reserved under one throttle key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginReservation {
    /// The attempt's row.
    pub id: i64,
    /// The throttle key.
    pub key: String,
    /// Failures under the key before this attempt (in the window, after the last success).
    pub failures_before: i64,
    /// When the latest of them happened.
    pub last_failure: Option<String>,
}

/// How a reserved attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It failed: it counts.
    Failed,
    /// It succeeded: the key's count starts again.
    Succeeded,
    /// It is removed: it neither counts nor resets.
    Forgotten,
}

/// Ends every session of `user` but `keep`, and revokes every live API token.
async fn end_other_access(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: UserId,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user.0)
        .bind(keep.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(crate::now_text())
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn replace_recovery_codes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: UserId,
    hashes: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut **tx)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user.0)
            .bind(hash)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn organisation(row: &sqlx::any::AnyRow) -> Result<Organisation, sqlx::Error> {
    Ok(Organisation {
        id: OrganisationId(row.try_get("id")?),
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        area_code: row.try_get("area_code")?,
        institution_id: row.try_get("institution_id")?,
    })
}

fn user_from(
    row: &sqlx::any::AnyRow,
    memberships: Vec<(i64, Membership)>,
) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        totp_enabled: row.try_get::<Option<String>, _>("totp_secret")?.is_some(),
        has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
        created_at: row.try_get("created_at")?,
        memberships: memberships.into_iter().map(|(_, m)| m).collect(),
    })
}

fn credentials_from(row: &sqlx::any::AnyRow) -> Result<Credentials, sqlx::Error> {
    Ok(Credentials {
        user_id: UserId(row.try_get("id")?),
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        totp_secret: row.try_get("totp_secret")?,
        totp_pending_secret: row.try_get("totp_pending_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
    })
}

fn session_from(row: &sqlx::any::AnyRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        token_hash: row.try_get("token_hash")?,
        user_id: UserId(row.try_get("user_id")?),
        csrf_token: row.try_get("csrf_token")?,
        second_factor_done: row.try_get::<i64, _>("second_factor_done")? != 0,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
        client: row.try_get("client")?,
        user_agent: row.try_get("user_agent")?,
    })
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Joining an organisation with a role.
    Invitation,
    /// Setting a new password.
    PasswordReset,
    /// Confirming an institution's directory entry.
    Confirmation,
}

impl TokenPurpose {
    fn code(self) -> &'static str {
        match self {
            TokenPurpose::Invitation => "invitation",
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::Confirmation => "confirmation",
        }
    }
}

/// A one-time token's record (the token itself is never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// For a password reset: the user.
    pub user_id: Option<UserId>,
    /// For an invitation: the invited address.
    pub email: Option<String>,
    /// For an invitation: the organisation joined.
    pub organisation_id: Option<OrganisationId>,
    /// For an invitation: the role given.
    pub role: Option<AccountRole>,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// For a confirmation: the institution.
    pub institution_id: Option<i64>,
    /// Expiry (UTC text).
    pub expires_at: String,
}

impl Store {
    /// Stores a new one-time token.
    pub async fn create_token(
        &self,
        purpose: TokenPurpose,
        token: &OneTimeToken,
    ) -> Result<(), StoreError> {
        self.create_token_with_mail(purpose, token, &[])
            .await
            .map(|_| ())
    }

    /// [`Store::create_token`] with the mail that carries its link, written in the same
    /// transaction (a link nobody received is never left behind, nor a mail with a link that
    /// does not exist); returns the mails' ids.
    pub async fn create_token_with_mail(
        &self,
        purpose: TokenPurpose,
        token: &OneTimeToken,
        mails: &[crate::mail::NewMail],
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO one_time_tokens (token_hash, purpose, user_id, email, organisation_id, role, created_by, created_at, expires_at, institution_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&token.token_hash)
        .bind(purpose.code())
        .bind(token.user_id.map(|u| u.0))
        .bind(&token.email)
        .bind(token.organisation_id.map(|o| o.0))
        .bind(token.role.map(|r| r.code()))
        .bind(token.created_by.map(|u| u.0))
        .bind(crate::now_text())
        .bind(&token.expires_at)
        .bind(token.institution_id)
        .execute(&mut *tx)
        .await?;
        let ids = crate::mail::queue_in(&mut tx, mails).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// A token that is unused and unexpired at `now`, without using it.
    pub async fn peek_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, email, organisation_id, role, created_by, expires_at, institution_id FROM one_time_tokens
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose.code())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(token_from)
            .transpose()
            .map_err(StoreError::from)
    }

    /// Uses a token once: true only for the first caller while it is valid (safe under races).
    pub async fn use_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .bind(purpose.code())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// An organisation by id.
    pub async fn organisation(
        &self,
        id: OrganisationId,
    ) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(
            "SELECT o.id, o.kind, o.name, a.code AS area_code, o.institution_id
             FROM organisations o LEFT JOIN areas a ON a.id = o.area_id WHERE o.id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(organisation)
            .transpose()
            .map_err(StoreError::from)
    }
}

fn token_from(row: &sqlx::any::AnyRow) -> Result<OneTimeToken, sqlx::Error> {
    let role: Option<String> = row.try_get("role")?;
    Ok(OneTimeToken {
        token_hash: row.try_get("token_hash")?,
        user_id: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
        email: row.try_get("email")?,
        organisation_id: row
            .try_get::<Option<i64>, _>("organisation_id")?
            .map(OrganisationId),
        role: role.as_deref().and_then(AccountRole::from_code),
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        institution_id: row.try_get("institution_id")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    /// The users holding any role in an organisation.
    pub async fn members_of(&self, organisation: OrganisationId) -> Result<Vec<User>, StoreError> {
        Ok(self
            .users()
            .await?
            .into_iter()
            .filter(|u| {
                u.memberships
                    .iter()
                    .any(|m| m.organisation.id == organisation)
            })
            .collect())
    }
}

/// An API token's record (the token itself is shown once and never stored).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiToken {
    /// Identifier.
    pub id: i64,
    /// Owner.
    pub user_id: UserId,
    /// A name the owner chose.
    pub name: String,
    /// Space-separated scopes, e.g. `read write`.
    pub scopes: String,
    /// Creation time.
    pub created_at: String,
    /// Last use.
    pub last_used_at: Option<String>,
    /// Revocation time, when revoked.
    pub revoked_at: Option<String>,
}

impl Store {
    /// Stores a new API token by its hash; returns its id.
    pub async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        scopes: &str,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user.0)
        .bind(name)
        .bind(token_hash)
        .bind(scopes)
        .bind(crate::now_text())
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// The tokens of a user, newest first.
    pub async fn api_tokens_of(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, scopes, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(api_token_from)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Revokes one of the user's tokens; false when it is not theirs or already revoked.
    pub async fn revoke_api_token(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(crate::now_text())
            .bind(id)
            .bind(user.0)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    /// The live token with this hash (not revoked, owner enabled), recording its use.
    pub async fn use_api_token(
        &self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.name, t.scopes, t.created_at, t.last_used_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(token) = row.as_ref().map(api_token_from).transpose()? else {
            return Ok(None);
        };
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token.id)
            .execute(self.pool())
            .await?;
        Ok(Some(token))
    }
}

fn api_token_from(row: &sqlx::any::AnyRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: UserId(row.try_get("user_id")?),
        name: row.try_get("name")?,
        scopes: row.try_get("scopes")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
