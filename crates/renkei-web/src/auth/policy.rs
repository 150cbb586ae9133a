//! The two-factor policy: for which roles a second factor is mandatory. By default every role
//! that can see patient data; the system administrator can change it (setting
//! `two_factor.required_roles`).

use renkei_domain::accounts::AccountRole;
use renkei_store::{Store, StoreError};

/// Name of the setting holding the policy (comma-separated role codes).
pub const SETTING: &str = "two_factor.required_roles";

/// Roles for which a second factor is mandatory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorPolicy {
    required: Vec<AccountRole>,
}

impl Default for TwoFactorPolicy {
    fn default() -> Self {
        Self {
            required: AccountRole::ALL
                .into_iter()
                .filter(|r| r.can_see_patient_data())
                .collect(),
        }
    }
}

impl TwoFactorPolicy {
    /// The stored policy, or the default.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        Ok(match store.setting(SETTING).await? {
            Some(text) => Self::parse(&text),
            None => Self::default(),
        })
    }

    /// Parses the setting's text; unknown codes are ignored.
    pub fn parse(text: &str) -> Self {
        Self {
            required: text
                .split(',')
                .filter_map(|c| AccountRole::from_code(c.trim()))
                .collect(),
        }
    }

    /// The setting's text.
    pub fn to_setting(&self) -> String {
        self.required
            .iter()
            .map(|r| r.code())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A policy requiring exactly these roles, except that roles that can see patient data are
    /// always kept: the guideline leaves no choice there.
    pub fn with_required(roles: &[AccountRole]) -> Self {
        let mut required: Vec<AccountRole> = roles.to_vec();
        required.extend(
            AccountRole::ALL
                .into_iter()
                .filter(|r| r.can_see_patient_data()),
        );
        required.sort();
        required.dedup();
        Self { required }
    }

    /// Whether `role` must use a second factor.
    pub fn requires(&self, role: AccountRole) -> bool {
        self.required.contains(&role)
    }

    /// Whether a user with these roles must use a second factor.
    pub fn requires_any(&self, roles: &[AccountRole]) -> bool {
        roles.iter().any(|r| self.requires(*r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_data_roles_always_need_two_factors() {
        let default = TwoFactorPolicy::default();
        assert!(default.requires(AccountRole::InstitutionStaff));
        assert!(default.requires(AccountRole::SystemAdmin));
        assert!(!default.requires(AccountRole::PrefectureViewer));
        let relaxed = TwoFactorPolicy::with_required(&[]);
        assert_eq!(relaxed, default, "cannot drop the mandatory roles");
        let strict = TwoFactorPolicy::with_required(&[AccountRole::PrefectureViewer]);
        assert!(strict.requires(AccountRole::PrefectureViewer));
        assert_eq!(TwoFactorPolicy::parse(&strict.to_setting()), strict);
    }
}
