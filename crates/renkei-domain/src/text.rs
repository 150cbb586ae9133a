//! Text normalisation used by every search and import: NFKC (全角/半角), one kind of space,
//! address hyphens, and hiragana/katakana folding for search keys.

use unicode_normalization::UnicodeNormalization;

/// Characters that people and Excel type where an address needs '-'.
const HYPHENS: [char; 11] = ['ー', 'ｰ', '－', '‐', '‑', '‒', '–', '—', '―', '−', '﹣'];

/// NFKC, whitespace collapsed to single ASCII spaces and trimmed, and hyphen-like characters
/// between ASCII letters or digits turned into '-' ("１ー２ー３" → "1-2-3"). 'ー' inside words
/// such as 「センター」 stays: it is the katakana long-vowel mark there.
pub fn normalize(s: &str) -> String {
    let nfkc: Vec<char> = s.nfkc().collect();
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for (i, &c) in nfkc.iter().enumerate() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        let between_ascii = i > 0
            && nfkc.get(i - 1).is_some_and(|p| p.is_ascii_alphanumeric())
            && nfkc.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric());
        if (HYPHENS.contains(&c) || c == '-') && between_ascii {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

/// The key a query and a stored text are compared by: [`normalize`], lowercase, hiragana folded
/// to katakana, no spaces. 「さくら　クリニック」, 「サクラクリニック」 and 「ｻｸﾗｸﾘﾆｯｸ」 share a key.
pub fn search_key(s: &str) -> String {
    // Removing spaces or lowercasing can put characters next to each other that NFKC composes
    // (「k」+「´」) or that make a hyphen an address hyphen, so fold until nothing changes;
    // real text settles in one or two rounds.
    let mut key = fold_once(s);
    for _ in 0..4 {
        let again = fold_once(&key);
        if again == key {
            break;
        }
        key = again;
    }
    key
}

fn fold_once(s: &str) -> String {
    to_katakana(&normalize(s).to_lowercase())
        .chars()
        .filter(|c| *c != ' ')
        .collect()
}

/// Hiragana folded to katakana (ゝゞ to ヽヾ); everything else unchanged.
pub fn to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// Katakana folded to hiragana (ヽヾ to ゝゞ); everything else unchanged.
pub fn to_hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' | '\u{30FD}' | '\u{30FE}' => {
                char::from_u32(c as u32 - 0x60).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// A query split into search keys: 「訪問診療　24時間 八尾」 → [訪問診療, 24時間, 八尾].
pub fn search_terms(query: &str) -> Vec<String> {
    normalize(query)
        .split(' ')
        .map(search_key)
        .filter(|k| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_and_half_width_meet() {
        assert_eq!(
            normalize("東大阪市荒本北１丁目１－１"),
            "東大阪市荒本北1丁目1-1"
        );
        assert_eq!(normalize("ｻｸﾗｸﾘﾆｯｸ"), "サクラクリニック");
        assert_eq!(
            normalize("  八尾市\u{3000}本町  一丁目\t"),
            "八尾市 本町 一丁目"
        );
        assert_eq!(normalize("１ー２ー３"), "1-2-3");
        assert_eq!(normalize("ケアプランセンター"), "ケアプランセンター");
        assert_eq!(normalize("ＡＢＣ‐１２"), "ABC-12");
    }

    #[test]
    fn search_keys_fold_kana_case_and_spaces() {
        let key = search_key("サクラクリニック");
        assert_eq!(search_key("さくら　クリニック"), key);
        assert_eq!(search_key("ｻｸﾗｸﾘﾆｯｸ"), key);
        assert_eq!(search_key("ABC Clinic"), "abcclinic");
        assert_eq!(
            search_terms("訪問診療　24時間 八尾"),
            ["訪問診療", "24時間", "八尾"]
        );
        assert_eq!(to_hiragana("ホウモンカンゴ"), "ほうもんかんご");
    }

    #[test]
    fn addresses_phones_and_postcodes_get_ascii_hyphens() {
        assert_eq!(normalize("八尾市本町一丁目"), "八尾市本町一丁目");
        assert_eq!(normalize("八尾市本町１ー２ー３"), "八尾市本町1-2-3");
        assert_eq!(normalize("柏原市安堂町1‐55"), "柏原市安堂町1-55");
        assert_eq!(normalize("〒５８１－０００３"), "〒581-0003");
        assert_eq!(normalize("０７２―９２２―３３２１"), "072-922-3321");
        assert_eq!(normalize("072−922−3321"), "072-922-3321");
        assert_eq!(normalize("ABC—12"), "ABC-12");
        // Next to kana or kanji the mark is a long vowel or a dash someone meant; it stays.
        assert_eq!(normalize("センター１－２"), "センター1-2");
        assert_eq!(normalize("本町ー1"), "本町ー1");
        assert_eq!(normalize("1 ー 2"), "1 ー 2");
    }

    #[test]
    fn katakana_words_keep_their_long_vowel_mark() {
        assert_eq!(normalize("ｹｱﾌﾟﾗｻﾞ"), "ケアプラザ");
        assert_eq!(normalize("ｾﾝﾀｰ"), "センター");
        assert_eq!(
            normalize("訪問看護ステーション　ケアセンター"),
            "訪問看護ステーション ケアセンター"
        );
        assert_eq!(
            search_key("ほうもんかんごすてーしょん"),
            "ホウモンカンゴステーション"
        );
    }

    #[test]
    fn small_ke_in_place_names_is_kept_as_written() {
        // 「ヶ」 is part of the official name and NFKC leaves it; only the half-width 「ｹ」 widens.
        assert_eq!(normalize("霞ヶ丘"), "霞ヶ丘");
        assert_eq!(normalize("霞ｹ丘"), "霞ケ丘");
        assert_eq!(search_key("ｶｽﾐｶﾞｵｶ"), search_key("かすみがおか"));
        assert_eq!(to_katakana("ゖ"), "ヶ");
        assert_eq!(to_hiragana("ヶ"), "ゖ");
    }

    #[test]
    fn whitespace_of_every_kind_becomes_one_space() {
        assert_eq!(
            normalize("\u{3000}八尾市\n本町\t\t一丁目\r\n"),
            "八尾市 本町 一丁目"
        );
        assert_eq!(normalize(" \u{3000}\t"), "");
        assert_eq!(
            search_key("八尾市　本町 一丁目"),
            search_key("八尾市本町一丁目")
        );
        assert!(search_terms(" \u{3000} ").is_empty());
        assert_eq!(search_terms("ＡＢＣ　ｸﾘﾆｯｸ"), ["abc", "クリニック"]);
    }

    #[test]
    fn iteration_marks_and_case_fold() {
        assert_eq!(to_katakana("いすゞ"), "イスヾ");
        assert_eq!(to_hiragana("イスヾ"), "いすゞ");
        assert_eq!(search_key("いすゞ"), search_key("イスヾ"));
        assert_eq!(search_key("ＡＢＣ　Ｃｌｉｎｉｃ"), "abcclinic");
        assert_eq!(to_katakana("八尾abc"), "八尾abc");
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent_and_tidy_on_any_text(s in any::<String>()) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            prop_assert!(once.chars().all(|c| c == ' ' || !c.is_whitespace()));
        }

        #[test]
        fn addresses_normalise_stably(s in "[0-9a-zA-Z０-９ー－‐‑‒–—―−﹣ｰ丁目番地号センタｱｲ \t\n\u{3000}-]{0,30}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert_eq!(search_key(&search_key(&s)), search_key(&s));
        }

        #[test]
        fn search_key_is_idempotent_on_any_text(s in any::<String>()) {
            let once = search_key(&s);
            prop_assert_eq!(search_key(&once), once.clone());
            prop_assert!(!once.contains(' '));
        }

        #[test]
        fn normalize_is_idempotent_and_tidy(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }

        #[test]
        fn search_key_is_idempotent(s in "\\PC{0,40}") {
            let once = search_key(&s);
            prop_assert_eq!(search_key(&once), once);
        }

        #[test]
        fn kana_forms_share_a_key(s in "[ぁ-ゖゝゞァ-ヶヽヾa-zA-Z0-9 ー]{0,20}") {
            prop_assert_eq!(search_key(&to_hiragana(&s)), search_key(&to_katakana(&s)));
        }

        #[test]
        fn full_width_ascii_matches_ascii(s in "[!-~]{0,30}") {
            let wide: String = s.chars().map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap()).collect();
            prop_assert_eq!(search_key(&wide), search_key(&s));
        }
    }
}
