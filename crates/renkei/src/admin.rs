//! `renkei admin …` and `renkei audit verify`: account management and audit verification from
//! the command line, for the operator of the installation. Every action is audited.

use crate::config::Config;
use crate::database::{open_database, OpenedDatabase};
use crate::failure::Failure;
use renkei_domain::accounts::{check_name, AccountRole, Email, OrganisationKind};
use renkei_domain::audit::Outcome;
use renkei_store::audit::AuditEvent;
use renkei_store::{Store, StoreError};

/// What `renkei admin` was asked to do.
#[derive(Debug)]
pub enum AdminAction {
    /// Create a user.
    CreateUser {
        /// Address.
        email: String,
        /// Name.
        name: String,
        /// Role code.
        role: String,
        /// Organisation name.
        organisation: String,
        /// Hub area code.
        area: Option<String>,
        /// Institution id.
        institution: Option<i64>,
    },
    /// New random password.
    ResetPassword {
        /// Address.
        email: String,
    },
    /// Disable.
    DisableUser {
        /// Address.
        email: String,
    },
    /// List.
    ListUsers,
}

fn input(ja: impl Into<String>, en: impl Into<String>) -> Failure {
    Failure::new(2, ja, en)
}

/// Runs an admin action.
pub async fn run(config: Config, action: AdminAction) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let db = |e: StoreError| match e {
        StoreError::Invalid(m) | StoreError::NotFound(m) => input(m.clone(), m),
        other => Failure::database(&target, &other),
    };
    let result = match action {
        AdminAction::CreateUser {
            email,
            name,
            role,
            organisation,
            area,
            institution,
        } => create_user(
            &store,
            &email,
            &name,
            &role,
            &organisation,
            area.as_deref(),
            institution,
        )
        .await
        .map_err(db),
        AdminAction::ResetPassword { email } => reset_password(&store, &email).await.map_err(db),
        AdminAction::DisableUser { email } => disable_user(&store, &email).await.map_err(db),
        AdminAction::ListUsers => list_users(&store).await.map_err(db),
    };
    store.close().await;
    result
}

fn parse_email(email: &str) -> Result<Email, StoreError> {
    Email::parse(email).map_err(|e| StoreError::Invalid(format!("{e}: {email}")))
}

async fn create_user(
    store: &Store,
    email: &str,
    name: &str,
    role: &str,
    organisation: &str,
    area: Option<&str>,
    institution: Option<i64>,
) -> Result<(), StoreError> {
    let email = parse_email(email)?;
    let name = check_name(name).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let role = AccountRole::from_code(role).ok_or_else(|| {
        StoreError::Invalid(format!(
            "役割「{role}」はありません（system_admin, hub_coordinator, institution_admin, institution_staff, prefecture_viewer）"
        ))
    })?;
    let kind = role.organisation_kind();
    if kind == OrganisationKind::Hub && area.is_none() {
        return Err(StoreError::Invalid(
            "拠点コーディネーターには --area（例: yao）が必要です".into(),
        ));
    }
    if kind == OrganisationKind::Institution && institution.is_none() {
        return Err(StoreError::Invalid(
            "機関の役割には --institution（機関ID）が必要です".into(),
        ));
    }
    let org = store
        .ensure_organisation(kind, organisation, area, institution)
        .await?;
    let password = generated_password();
    let hash = hash(&password)?;
    let user = store.create_user(&email, &name, Some(&hash)).await?;
    store.add_membership(user, org, role).await?;
    store
        .append_audit(
            &AuditEvent::new(
                None,
                "admin.user.create",
                Outcome::Ok,
                format!("user:{}", user.0),
                "cli",
            )
            .with_details(serde_json_escape(&format!(
                "{{\"role\":\"{}\"}}",
                role.code()
            ))),
        )
        .await?;
    println!(
        "{email} を作成しました（{}）。初期パスワード / initial password: {password}",
        role.label_ja()
    );
    println!("初回ログイン時にパスワードの変更と二要素認証の設定を求めてください / ask them to change it and set up two-factor at first login");
    Ok(())
}

fn serde_json_escape(s: &str) -> String {
    s.to_owned()
}

async fn reset_password(store: &Store, email: &str) -> Result<(), StoreError> {
    let email = parse_email(email)?;
    let user = store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ユーザー {email}")))?;
    let password = generated_password();
    store.set_password(user.id, &hash(&password)?, None).await?;
    store
        .append_audit(&AuditEvent::new(
            None,
            "admin.user.reset_password",
            Outcome::Ok,
            format!("user:{}", user.id.0),
            "cli",
        ))
        .await?;
    println!("{email} のパスワードを再設定し、ログイン中のセッションを終了しました。新しいパスワード / new password: {password}");
    Ok(())
}

async fn disable_user(store: &Store, email: &str) -> Result<(), StoreError> {
    let email = parse_email(email)?;
    let user = store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ユーザー {email}")))?;
    store.set_disabled(user.id, true).await?;
    store
        .append_audit(&AuditEvent::new(
            None,
            "admin.user.disable",
            Outcome::Ok,
            format!("user:{}", user.id.0),
            "cli",
        ))
        .await?;
    println!("{email} を停止しました（セッションは終了しました） / disabled {email}; their sessions ended");
    Ok(())
}

async fn list_users(store: &Store) -> Result<(), StoreError> {
    println!("id,email,name,roles,two_factor,status");
    for u in store.users().await? {
        let roles: Vec<String> = u
            .memberships
            .iter()
            .map(|m| format!("{}@{}", m.role.code(), m.organisation.name))
            .collect();
        println!(
            "{},{},{},{},{},{}",
            u.id.0,
            u.email,
            u.display_name,
            roles.join(" "),
            if u.totp_enabled { "on" } else { "off" },
            if u.disabled { "disabled" } else { "active" }
        );
    }
    Ok(())
}

/// Appends `anchor` as one line to the anchor file `path` (created readable by its owner only).
pub(crate) fn append_anchor(
    path: &std::path::Path,
    anchor: &renkei_domain::audit::Anchor,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{}", anchor.to_line())?;
    file.sync_all()
}

/// `renkei audit anchor --out FILE`.
pub async fn write_audit_anchor(config: Config, out: &std::path::Path) -> Result<(), Failure> {
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let result = store.audit_anchor().await;
    store.close().await;
    let anchor = result.map_err(|e| Failure::database(&target, &e))?;
    append_anchor(out, &anchor).map_err(|e| {
        Failure::new(
            2,
            format!("アンカーファイル {} に書けません: {e}", out.display()),
            format!("cannot write the anchor file {}: {e}", out.display()),
        )
    })?;
    println!(
        "監査ログの先頭（記録 {}）を {} に書きました / wrote the audit head (entry {}) to {}",
        anchor.seq,
        out.display(),
        anchor.seq,
        out.display()
    );
    Ok(())
}

/// The anchors of an anchor file, or why it cannot be used.
fn read_anchors(path: &std::path::Path) -> Result<Vec<renkei_domain::audit::Anchor>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new(
            2,
            format!("アンカーファイル {} を読めません: {e}", path.display()),
            format!("cannot read the anchor file {}: {e}", path.display()),
        )
    })?;
    let anchors: Vec<_> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(renkei_domain::audit::Anchor::parse)
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Failure::new(
                1,
                format!(
                    "アンカーファイル {} に読めない行があります（改変されています）",
                    path.display()
                ),
                format!(
                    "the anchor file {} has a line that is not an anchor (altered)",
                    path.display()
                ),
            )
        })?;
    if anchors.is_empty() {
        return Err(Failure::new(
            2,
            format!("アンカーファイル {} にアンカーがありません", path.display()),
            format!("the anchor file {} holds no anchor", path.display()),
        ));
    }
    Ok(anchors)
}

/// `renkei audit verify [--anchor FILE]`.
pub async fn verify_audit(
    config: Config,
    anchor_file: Option<std::path::PathBuf>,
) -> Result<(), Failure> {
    let anchors = anchor_file.as_deref().map(read_anchors).transpose()?;
    let OpenedDatabase { store, target } = open_database(&config).await?;
    let result = store
        .verify_audit()
        .await
        .map_err(|e| Failure::database(&target, &e));
    let mut anchor_problem = None;
    if let (Ok(v), Some(anchors)) = (&result, &anchors) {
        if v.first_broken.is_none() {
            for anchor in anchors {
                match store.check_audit_anchor(anchor).await {
                    Ok(None) => {}
                    Ok(Some(problem)) => {
                        anchor_problem = Some((anchor.seq, problem));
                        break;
                    }
                    Err(e) => {
                        store.close().await;
                        return Err(Failure::database(&target, &e));
                    }
                }
            }
        }
    }
    store.close().await;
    let verification = result?;
    if let Some((seq, problem)) = anchor_problem {
        return Err(Failure::new(
            1,
            format!(
                "監査ログがアンカー（記録 {seq}）と一致しません: {}",
                problem.describe_in(false)
            ),
            format!(
                "the audit log does not match the anchor (entry {seq}): {}",
                problem.describe_in(true)
            ),
        ));
    }
    match verification.first_broken {
        None => {
            println!("監査ログは改ざんされていません（{} 件を確認） / audit log intact ({} entries checked)", verification.checked, verification.checked);
            if let Some(anchors) = &anchors {
                println!(
                    "アンカー {} 件と一致しました（最新: 記録 {}） / matches {} anchor(s) (newest: entry {})",
                    anchors.len(),
                    anchors.iter().map(|a| a.seq).max().unwrap_or(0),
                    anchors.len(),
                    anchors.iter().map(|a| a.seq).max().unwrap_or(0)
                );
            }
            Ok(())
        }
        Some(broken) => Err(Failure::new(
            1,
            format!(
                "監査ログの記録 {} で連鎖が壊れています: {}",
                broken.seq,
                broken.reason.describe_in(false)
            ),
            format!(
                "the audit chain breaks at entry {}: {}",
                broken.seq,
                broken.reason.describe_in(true)
            ),
        )),
    }
}

/// A random password that passes the policy: five groups of five letters and digits.
fn generated_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 25];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn hash(password: &str) -> Result<String, StoreError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(e.to_string()))
}
