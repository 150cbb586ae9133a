//! What every page shares: language, catalogue, navigation, demo banner.

use crate::i18n::{catalog, Catalog, Lang};
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
}

/// The features of Renkei in navigation order, with the path of those already built.
const NAV: [(&str, Option<&str>); 7] = [
    ("nav.home", Some("/")),
    ("nav.directory", None),
    ("nav.activities", None),
    ("nav.disaster", None),
    ("nav.coordination", None),
    ("nav.careteam", None),
    ("nav.consultation", None),
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
    /// Whether to show the demo banner.
    pub demo: bool,
    /// Renkei's version.
    pub version: &'static str,
}

impl Chrome {
    /// The frame for a page at `path` in section `section` (a nav key).
    pub fn new(lang: Lang, path: &str, section: &str, demo: bool) -> Self {
        let nav = NAV
            .iter()
            .map(|&(key, href)| NavItem {
                key,
                href,
                current: key == section,
            })
            .collect();
        Self {
            lang,
            t: catalog(lang),
            next: encode_path(path),
            nav,
            demo,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Percent-encodes everything but unreserved characters and '/'.
fn encode_path(path: &str) -> String {
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
