//! What every page shares: language, catalogue, navigation, the signed-in user, demo banner.

use crate::auth::Viewer;
use crate::error::Ctx;
use crate::i18n::{catalog, Catalog, Lang};
use renkei_domain::accounts::AccountRole;
use std::sync::Arc;

/// One entry of the main navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Catalogue key of the label.
    pub key: &'static str,
    /// Where it leads; `None` while the feature is not built yet (shown as 準備中).
    pub href: Option<&'static str>,
    /// Whether this is the current section.
    pub current: bool,
    /// How many things there wait for the viewer (shown as a badge), if any.
    pub badge: Option<usize>,
}

/// The features of Renkei in navigation order, with the path of those already built.
const NAV: [(&str, Option<&str>); 7] = [
    ("nav.home", Some("/")),
    ("nav.directory", Some("/directory")),
    ("nav.activities", Some("/ledger")),
    ("nav.disaster", Some("/hub/safety")),
    ("nav.coordination", Some("/urgent")),
    ("nav.careteam", Some("/patients")),
    ("nav.consultation", Some("/events")),
];

/// The frame around every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Language of the page.
    pub lang: Lang,
    /// Its catalogue.
    pub t: Arc<Catalog>,
    /// Path of the page, percent-encoded for the language switch's `next`.
    pub next: String,
    /// Main navigation.
    pub nav: Vec<NavItem>,
    /// Links of the signed-in user's own tools (hub page, administration).
    pub tools: Vec<NavItem>,
    /// Whether to show the demo banner.
    pub demo: bool,
    /// The signed-in (or half-signed-in) user's name.
    pub user_name: Option<String>,
    /// The CSRF token every form of the page carries.
    pub csrf: String,
    /// Renkei's version.
    pub version: &'static str,
    /// The maps' tile URL template (empty: no tiles).
    pub tile_url: String,
    /// The tiles' credit.
    pub tile_attribution: String,
    /// Whether the interactive map library is built in (pages with maps load it).
    pub map_library: bool,
}

impl Chrome {
    /// The frame for the request in `ctx`, in section `section` (a nav key).
    pub fn new(ctx: &Ctx, section: &str, demo: bool) -> Self {
        let nav = NAV
            .iter()
            .map(|&(key, href)| NavItem {
                key,
                href,
                current: key == section,
                badge: match key {
                    "nav.coordination" => (ctx.waiting > 0).then_some(ctx.waiting),
                    "nav.careteam" => (ctx.mentions > 0).then_some(ctx.mentions),
                    _ => None,
                },
            })
            .collect();
        let mut tools = Vec::new();
        if let Some(user) = ctx.viewer.signed_in() {
            if [
                AccountRole::HubCoordinator,
                AccountRole::PrefectureViewer,
                AccountRole::SystemAdmin,
            ]
            .iter()
            .any(|r| user.has_role(*r))
            {
                tools.push(NavItem {
                    key: "nav.hub",
                    href: Some("/hub"),
                    current: section == "nav.hub",
                    badge: None,
                });
            }
            if user.has_role(AccountRole::InstitutionAdmin)
                || user.has_role(AccountRole::InstitutionStaff)
            {
                tools.push(NavItem {
                    key: "nav.institution",
                    href: Some("/institution"),
                    current: section == "nav.institution",
                    badge: None,
                });
            }
            if user.has_role(AccountRole::SystemAdmin) {
                tools.push(NavItem {
                    key: "nav.admin",
                    href: Some("/admin/users"),
                    current: section == "nav.admin",
                    badge: None,
                });
            }
            tools.push(NavItem {
                key: "nav.account",
                href: Some("/account"),
                current: section == "nav.account",
                badge: None,
            });
        }
        Self {
            lang: ctx.lang,
            t: catalog(ctx.lang),
            next: encode_path(&ctx.path),
            nav,
            tools,
            demo,
            user_name: ctx.viewer.user().map(|u| u.display_name.clone()),
            csrf: ctx.viewer.csrf_token().to_owned(),
            version: env!("CARGO_PKG_VERSION"),
            tile_url: ctx.map.tile_url.clone(),
            tile_attribution: ctx.map.attribution.clone(),
            map_library: crate::assets::map_library_present(),
        }
    }

    /// The frame when only the language is known (errors raised before a viewer exists).
    pub fn bare(lang: Lang) -> Self {
        let ctx = Ctx {
            lang,
            path: "/".into(),
            request_id: None,
            viewer: Viewer::Anonymous {
                csrf: String::new(),
            },
            map: Default::default(),
            waiting: 0,
            mentions: 0,
        };
        Self::new(&ctx, "", false)
    }
}

/// Percent-encodes everything but unreserved characters and '/'.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_for_the_next_parameter() {
        assert_eq!(encode_path("/areas/yao"), "/areas/yao");
        assert_eq!(encode_path("/a b?c&d"), "/a%20b%3Fc%26d");
    }
}
