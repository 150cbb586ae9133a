//! Accounts: organisations, roles, e-mail addresses and the password policy.
//!
//! The policy follows current practice (NIST SP 800-63B, and the MHLW guideline's call for
//! per-user accounts): length over composition rules, and refusal of passwords that are common or
//! easy to guess, measured with zxcvbn's dictionaries.

use std::fmt;

/// Database identifier of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// Database identifier of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct OrganisationId(pub i64);

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrganisationKind {
    /// The operator of this Renkei installation.
    System,
    /// A prefecture (都道府県), which reads every hub's report.
    Prefecture,
    /// An organisation running a hub (連携の拠点), e.g. a medical association.
    Hub,
    /// An institution of the directory.
    Institution,
}

impl OrganisationKind {
    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Prefecture => "prefecture",
            Self::Hub => "hub",
            Self::Institution => "institution",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::System, Self::Prefecture, Self::Hub, Self::Institution]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// A user's role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountRole {
    /// システム管理者: runs the installation, manages accounts and reads the audit log.
    SystemAdmin,
    /// 拠点コーディネーター: works for a hub.
    HubCoordinator,
    /// 機関管理者: institution staff who also manage their colleagues' accounts.
    InstitutionAdmin,
    /// 機関職員: staff of an institution.
    InstitutionStaff,
    /// 都道府県（閲覧）: reads every hub's data, changes nothing.
    PrefectureViewer,
}

impl AccountRole {
    /// Every role.
    pub const ALL: [AccountRole; 5] = [
        AccountRole::SystemAdmin,
        AccountRole::HubCoordinator,
        AccountRole::InstitutionAdmin,
        AccountRole::InstitutionStaff,
        AccountRole::PrefectureViewer,
    ];

    /// Code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Self::SystemAdmin => "system_admin",
            Self::HubCoordinator => "hub_coordinator",
            Self::InstitutionAdmin => "institution_admin",
            Self::InstitutionStaff => "institution_staff",
            Self::PrefectureViewer => "prefecture_viewer",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::SystemAdmin => "システム管理者",
            Self::HubCoordinator => "拠点コーディネーター",
            Self::InstitutionAdmin => "機関管理者",
            Self::InstitutionStaff => "機関職員",
            Self::PrefectureViewer => "都道府県（閲覧）",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::SystemAdmin => "System administrator",
            Self::HubCoordinator => "Hub coordinator",
            Self::InstitutionAdmin => "Institution administrator",
            Self::InstitutionStaff => "Institution staff",
            Self::PrefectureViewer => "Prefecture (read-only)",
        }
    }

    /// The kind of organisation this role is held in.
    pub fn organisation_kind(self) -> OrganisationKind {
        match self {
            Self::SystemAdmin => OrganisationKind::System,
            Self::HubCoordinator => OrganisationKind::Hub,
            Self::InstitutionAdmin | Self::InstitutionStaff => OrganisationKind::Institution,
            Self::PrefectureViewer => OrganisationKind::Prefecture,
        }
    }

    /// Whether the role can reach patient data (care teams, break-glass, or every account as
    /// the administrator): two-factor login is mandatory for these by default.
    pub fn can_see_patient_data(self) -> bool {
        !matches!(self, Self::PrefectureViewer)
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A normalised e-mail address: NFKC, trimmed, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Why an input about an account was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Not an e-mail address.
    #[error("メールアドレスの形式が正しくありません")]
    InvalidEmail,
    /// Password shorter than the minimum.
    #[error("パスワードは{0}文字以上にしてください")]
    PasswordTooShort(usize),
    /// Password longer than the maximum.
    #[error("パスワードは{0}文字以内にしてください")]
    PasswordTooLong(usize),
    /// Password that is common or easy to guess.
    #[error("このパスワードはよく使われているか推測されやすいため使えません。単語を組み合わせた長めの文にしてください")]
    PasswordGuessable,
    /// Password that contains the user's own name or address.
    #[error("パスワードに名前やメールアドレスを含めないでください")]
    PasswordPersonal,
    /// A display name that is empty or too long.
    #[error("氏名を1〜100文字で入力してください")]
    InvalidName,
}

impl Email {
    /// Parses and normalises an address; refuses anything without a local part and a dotted
    /// domain, with spaces, or over 254 characters.
    pub fn parse(input: &str) -> Result<Self, AccountError> {
        let normal = crate::text::normalize(input).to_lowercase();
        let Some((local, domain)) = normal.rsplit_once('@') else {
            return Err(AccountError::InvalidEmail);
        };
        let valid = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !normal.contains(' ')
            && normal.chars().count() <= 254;
        if valid {
            Ok(Self(normal))
        } else {
            Err(AccountError::InvalidEmail)
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in characters (Argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a new password: 12–128 characters of anything (spaces and Japanese included), not
/// guessable (zxcvbn score 3 or more, with the user's own name and address as dictionary words).
pub fn check_password(password: &str, personal: &[&str]) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AccountError::PasswordTooShort(MIN_PASSWORD_CHARS));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AccountError::PasswordTooLong(MAX_PASSWORD_CHARS));
    }
    let lower = password.to_lowercase();
    let personal_words: Vec<String> = personal
        .iter()
        .flat_map(|p| p.split(['@', '.', ' ', '_', '-']))
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect();
    if personal_words.iter().any(|w| lower.contains(w.as_str())) {
        return Err(AccountError::PasswordPersonal);
    }
    let inputs: Vec<&str> = personal_words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) < 3 {
        return Err(AccountError::PasswordGuessable);
    }
    Ok(())
}

/// Checks a display name.
pub fn check_name(name: &str) -> Result<String, AccountError> {
    let name = crate::text::normalize(name);
    if name.is_empty() || name.chars().count() > 100 {
        Err(AccountError::InvalidName)
    } else {
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Sato@Example.JP ").unwrap().as_str(),
            "sato@example.jp"
        );
        assert_eq!(
            Email::parse("ｓａｔｏ＠ｅｘａｍｐｌｅ．ｊｐ")
                .unwrap()
                .as_str(),
            "sato@example.jp"
        );
        for bad in [
            "",
            "sato",
            "@example.jp",
            "sato@localhost",
            "sa to@example.jp",
            "sato@.jp",
            "sato@example.",
        ] {
            assert_eq!(Email::parse(bad), Err(AccountError::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn passwords_favour_length_and_refuse_the_guessable() {
        assert_eq!(
            check_password("short", &[]),
            Err(AccountError::PasswordTooShort(12))
        );
        assert_eq!(
            check_password(&"a".repeat(129), &[]),
            Err(AccountError::PasswordTooLong(128))
        );
        for common in [
            "password1234",
            "123456789012",
            "qwertyuiop12",
            "aaaaaaaaaaaa",
            "iloveyou1234",
        ] {
            assert_eq!(
                check_password(common, &[]),
                Err(AccountError::PasswordGuessable),
                "{common}"
            );
        }
        assert_eq!(
            check_password("yamada-taro-2026!", &["yamada.taro@example.jp"]),
            Err(AccountError::PasswordPersonal)
        );
        assert_eq!(check_password("correct horse battery staple", &[]), Ok(()));
        assert_eq!(
            check_password("八尾の朝は在宅医療の連携から始まる", &[]),
            Ok(())
        );
    }

    #[test]
    fn roles_round_trip_and_patient_data_roles_need_two_factors() {
        for role in AccountRole::ALL {
            assert_eq!(AccountRole::from_code(role.code()), Some(role));
        }
        assert!(AccountRole::InstitutionStaff.can_see_patient_data());
        assert!(!AccountRole::PrefectureViewer.can_see_patient_data());
        assert_eq!(
            AccountRole::HubCoordinator.organisation_kind(),
            OrganisationKind::Hub
        );
    }
}
