//! The demo's accounts: one per role, with a documented password and a fixed TOTP secret, so a
//! newcomer can log in as each. Fictional people at fictional or real-named organisations; only
//! ever created together with the demo data.

use renkei_domain::accounts::{AccountRole, Email, OrganisationKind};
use renkei_domain::totp;
use renkei_store::{Store, StoreError};
use sha2::{Digest, Sha256};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "renkei-demo-2026";

/// Where a demo account works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workplace {
    /// Renkei's operators.
    System,
    /// 八尾市医師会 (the hub).
    Hub,
    /// The demo clinic of 八尾市.
    Clinic,
    /// The demo hospital of 八尾市 that takes respite admissions.
    Hospital,
    /// 大阪府.
    Prefecture,
}

/// (e-mail, display name, role, workplace) of the demo accounts.
const ACCOUNTS: [(&str, &str, AccountRole, Workplace); 6] = [
    (
        "admin@demo.renkei.example",
        "管理 太郎（デモ）",
        AccountRole::SystemAdmin,
        Workplace::System,
    ),
    (
        "coordinator@demo.renkei.example",
        "八尾 花子（デモ）",
        AccountRole::HubCoordinator,
        Workplace::Hub,
    ),
    (
        "clinic-admin@demo.renkei.example",
        "河内 一郎（デモ）",
        AccountRole::InstitutionAdmin,
        Workplace::Clinic,
    ),
    (
        "nurse@demo.renkei.example",
        "柏原 さくら（デモ）",
        AccountRole::InstitutionStaff,
        Workplace::Clinic,
    ),
    (
        "ward@demo.renkei.example",
        "生駒 みどり（デモ・地域医療連携室）",
        AccountRole::InstitutionStaff,
        Workplace::Hospital,
    ),
    (
        "prefecture@demo.renkei.example",
        "大阪 府子（デモ）",
        AccountRole::PrefectureViewer,
        Workplace::Prefecture,
    ),
];

/// The fixed TOTP secret of a demo account (derived from its address; demo accounts only).
pub fn demo_secret(email: &str) -> Vec<u8> {
    Sha256::digest(format!("renkei demo totp {email}").as_bytes())[..20].to_vec()
}

/// Creates the demo accounts; `clinic` and `hospital` are the (name, institution id) the
/// institutions' accounts work at (those accounts are left out when there is none).
pub async fn create(
    store: &Store,
    clinic: Option<(String, i64)>,
    hospital: Option<(String, i64)>,
) -> Result<(), StoreError> {
    let hash = argon2_hash(DEMO_PASSWORD)?;
    let system = store
        .ensure_organisation(OrganisationKind::System, "Renkei 運用（デモ）", None, None)
        .await?;
    let hub = store
        .ensure_organisation(OrganisationKind::Hub, "八尾市医師会", Some("yao"), None)
        .await?;
    let prefecture = store
        .ensure_organisation(OrganisationKind::Prefecture, "大阪府", None, None)
        .await?;
    let mut institutions = Vec::new();
    for place in [&clinic, &hospital] {
        institutions.push(match place {
            Some((name, id)) => Some(
                store
                    .ensure_organisation(OrganisationKind::Institution, name, None, Some(*id))
                    .await?,
            ),
            None => None,
        });
    }
    for (email, name, role, workplace) in ACCOUNTS {
        let organisation = match workplace {
            Workplace::System => system,
            Workplace::Hub => hub,
            Workplace::Prefecture => prefecture,
            Workplace::Clinic | Workplace::Hospital => {
                match institutions[usize::from(workplace == Workplace::Hospital)] {
                    Some(org) => org,
                    None => continue,
                }
            }
        };
        let email = Email::parse(email).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let user = store.create_user(&email, name, Some(&hash)).await?;
        store.add_membership(user, organisation, role).await?;
        if role.can_see_patient_data() {
            store
                .set_pending_totp(user, &totp::base32_encode(&demo_secret(email.as_str())))
                .await?;
            store.confirm_totp(user, 0, &[]).await?;
        }
    }
    Ok(())
}

/// One approved edit of the demo hospital's entry, so its history, the changes list and FHIR
/// Provenance have something to show: its liaison nurse names the desk to call, and the
/// administrator approves it, as they would in the browser (the hospital lies outside the demo
/// coordinator's area, and a coordinator decides only their own area's changes).
pub async fn approved_edit(store: &Store, hospital: i64) -> Result<(), StoreError> {
    let id_of = |email: &'static str| async move {
        let email = Email::parse(email).map_err(|e| StoreError::Invalid(e.to_string()))?;
        store
            .user_by_email(&email)
            .await?
            .map(|u| u.id)
            .ok_or_else(|| StoreError::NotFound(email.as_str().to_owned()))
    };
    let nurse = id_of("ward@demo.renkei.example").await?;
    let administrator = id_of("admin@demo.renkei.example").await?;
    let mut fields = store
        .public_fields(hospital)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("institution {hospital}")))?;
    fields.details.contact_person =
        Some("地域医療連携室（退院調整・レスパイト入院のご相談）".to_owned());
    // Tidied as the edit form tidies what is typed (full-width brackets become ASCII), so the
    // entry exports and imports back unchanged.
    let fields = fields
        .cleaned()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let change = store.propose_change(hospital, nurse, &fields).await?;
    store.approve_change(change, administrator).await?;
    Ok(())
}

fn argon2_hash(password: &str) -> Result<String, StoreError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The lines printed at start: every demo account with its password and TOTP key.
pub fn banner() -> String {
    let mut out = String::from(
        "デモ用アカウント（パスワードはすべて同じ） / demo accounts (same password for all):\n",
    );
    out.push_str(&format!("  パスワード / password: {DEMO_PASSWORD}\n"));
    for (email, _, role, _) in ACCOUNTS {
        let key = if role.can_see_patient_data() {
            format!(
                "TOTP キー / key: {}",
                totp::base32_encode(&demo_secret(email))
            )
        } else {
            "二要素認証なし / no second factor".to_owned()
        };
        out.push_str(&format!("  {:<34} {:<22} {key}\n", email, role.label_ja()));
    }
    out.push_str("  確認コードは認証アプリにキーを登録するか `renkei demo --code <メール>` で表示できます / get a code from an authenticator app or `renkei demo --code <email>`\n");
    out
}

/// The current TOTP code of a demo account, or `None` for an address that is not one.
pub fn current_code(email: &str, unix_seconds: u64) -> Option<String> {
    ACCOUNTS
        .iter()
        .find(|(e, _, role, _)| *e == email && role.can_see_patient_data())
        .map(|(e, _, _, _)| totp::code_at(&demo_secret(e), unix_seconds))
}
