//! UI text catalogues, one per language (`locales/*.toml`), and the request's language.
//!
//! Japanese is the default; English is chosen with `?lang=en` or the `lang` cookie that the
//! language switch sets.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// 日本語 (default).
    Ja,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag for `<html lang>` and the cookie value.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses a tag; anything unknown is `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        match tag {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// Of a Japanese and an English text (a closed set's labels), the one in this language.
    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// The texts of one language, keyed `section.key`.
#[derive(Debug)]
pub struct Catalog {
    lang: Lang,
    texts: HashMap<String, String>,
}

impl Catalog {
    /// The text for `key`; a missing key shows as `⟦key⟧` so it is seen and tested for.
    pub fn get(&self, key: &str) -> String {
        match self.texts.get(key) {
            Some(text) => text.clone(),
            None => format!("⟦{key}⟧"),
        }
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut text = self.get(key);
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), &value.to_string());
        }
        text
    }

    /// [`Catalog::fill`] with one value (for templates).
    pub fn fill1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.fill(key, &[(name, &value)])
    }

    /// [`Catalog::fill`] with two values (for templates).
    pub fn fill2(
        &self,
        key: &str,
        a: &str,
        a_value: impl std::fmt::Display,
        b: &str,
        b_value: impl std::fmt::Display,
    ) -> String {
        self.fill(key, &[(a, &a_value), (b, &b_value)])
    }

    /// The catalogue's language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Every key, for the consistency test.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.texts.keys()
    }
}

fn parse(lang: Lang, source: &str) -> Catalog {
    let table: toml::Table =
        toml::from_str(source).expect("embedded catalogue is valid TOML (tested)");
    let mut texts = HashMap::new();
    for (section, value) in table {
        if let toml::Value::Table(entries) = value {
            for (key, text) in entries {
                if let toml::Value::String(text) = text {
                    texts.insert(format!("{section}.{key}"), text);
                }
            }
        }
    }
    Catalog { lang, texts }
}

/// The catalogue of a language, parsed once.
pub fn catalog(lang: Lang) -> Arc<Catalog> {
    static JA: OnceLock<Arc<Catalog>> = OnceLock::new();
    static EN: OnceLock<Arc<Catalog>> = OnceLock::new();
    match lang {
        Lang::Ja => JA
            .get_or_init(|| Arc::new(parse(Lang::Ja, include_str!("../locales/ja.toml"))))
            .clone(),
        Lang::En => EN
            .get_or_init(|| Arc::new(parse(Lang::En, include_str!("../locales/en.toml"))))
            .clone(),
    }
}

/// Name of the cookie that remembers the language.
pub const LANG_COOKIE: &str = "lang";

/// Extractor: the language of this request (`?lang=` first, then the cookie, then Japanese).
#[derive(Debug, Clone, Copy)]
pub struct RequestLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for RequestLang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestLang(lang_of(parts)))
    }
}

/// The language of a request (also used by the error pages).
pub fn lang_of(parts: &Parts) -> Lang {
    lang_from(&parts.uri, &parts.headers)
}

/// The language from a request's URI (`?lang=`) and headers (the cookie).
pub fn lang_from(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Lang {
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::from_tag(v))
    });
    from_query
        .or_else(|| cookie_lang(headers))
        .unwrap_or(Lang::Ja)
}

fn cookie_lang(headers: &axum::http::HeaderMap) -> Option<Lang> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .and_then(|(_, v)| Lang::from_tag(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogues_have_the_same_keys_and_no_empty_text() {
        let ja: BTreeSet<_> = catalog(Lang::Ja).keys().cloned().collect();
        let en: BTreeSet<_> = catalog(Lang::En).keys().cloned().collect();
        assert_eq!(
            ja.difference(&en).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in en"
        );
        assert_eq!(
            en.difference(&ja).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "missing in ja"
        );
        assert!(ja.len() > 40);
        for key in &ja {
            if key != "home.count_suffix" {
                assert!(!catalog(Lang::En).get(key).is_empty(), "{key} empty in en");
            }
            assert!(!catalog(Lang::Ja).get(key).is_empty(), "{key} empty in ja");
        }
    }

    #[test]
    fn values_fill_their_places() {
        let t = catalog(Lang::Ja);
        assert_eq!(t.fill1("safety.count", "n", 3), "3件");
        assert_eq!(
            t.fill("safety.of", &[("a", &2), ("b", &7)]),
            "2／7",
            "every place filled"
        );
        assert_eq!(catalog(Lang::En).fill2("safety.of", "a", 2, "b", 7), "2/7");
        assert_eq!(Lang::En.pick("訓練", "Drill"), "Drill");
    }

    #[test]
    fn a_missing_key_is_visible() {
        assert_eq!(catalog(Lang::Ja).get("nope.nothing"), "⟦nope.nothing⟧");
    }
}
