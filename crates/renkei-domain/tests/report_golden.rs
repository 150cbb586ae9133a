//! Golden test of the prefecture report: the 令和7年度 report rendered from the ledger data must
//! hold, for every hub, every item, date and count of the real report (the seed, read here from
//! `../shared/seed/`) in the right section and under the right duty, and the active institutions'
//! 対応状況 counted from the demo directory must equal the seed's.
//!
//! The seed was converted from a PDF: its sections are located here by line (listed per hub
//! below), and its text is cut into phrases at 「、」 outside brackets, at line breaks and list
//! items, and at spaces not next to a digit (spaces next to digits are conversion artefacts, as
//! in 「令和 6 年 6 月から 1 0 回」). Both sides are compared after NFKC and without whitespace.

use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::region::RegionDefinition;
use renkei_domain::{demo, report, towns};
use std::collections::BTreeMap;
use unicode_normalization::UnicodeNormalization;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seed/000_639f8560a7069c29.txt"
);

/// Where each hub's parts are in the seed (1-based inclusive line ranges).
struct SeedHub {
    document: &'static str,
    results: (usize, usize),
    challenges: (usize, usize),
    plan: (usize, usize),
    progress: (usize, usize),
    active_plans: Option<(usize, usize)>,
    active_progress: Option<(usize, usize)>,
    active_challenges: Option<(usize, usize)>,
    footnote: Option<usize>,
    coverage: Option<(usize, usize)>,
}

const HUBS: [SeedHub; 5] = [
    SeedHub {
        document: "資料2-1",
        results: (14, 14),
        challenges: (18, 18),
        plan: (23, 23),
        progress: (27, 40),
        active_plans: Some((52, 64)),
        active_progress: None,
        active_challenges: Some((79, 84)),
        footnote: None,
        coverage: Some((68, 75)),
    },
    SeedHub {
        document: "資料2-3",
        results: (95, 95),
        challenges: (96, 96),
        plan: (99, 99),
        progress: (100, 100),
        active_plans: Some((112, 116)),
        active_progress: None,
        active_challenges: Some((131, 134)),
        footnote: None,
        coverage: Some((120, 127)),
    },
    SeedHub {
        document: "資料2-5",
        results: (149, 158),
        challenges: (160, 160),
        plan: (168, 175),
        progress: (177, 177),
        active_plans: Some((190, 200)),
        active_progress: None,
        active_challenges: Some((215, 218)),
        footnote: None,
        coverage: Some((204, 211)),
    },
    SeedHub {
        document: "資料2-7",
        results: (231, 231),
        challenges: (233, 233),
        plan: (239, 239),
        progress: (241, 241),
        active_plans: Some((252, 252)),
        active_progress: Some((253, 253)),
        active_challenges: Some((254, 254)),
        footnote: Some(256),
        coverage: None,
    },
    SeedHub {
        document: "資料2-9",
        results: (267, 267),
        challenges: (268, 268),
        plan: (271, 271),
        progress: (272, 272),
        active_plans: None,
        active_progress: None,
        active_challenges: None,
        footnote: None,
        coverage: None,
    },
];

/// NFKC without whitespace.
fn n(text: &str) -> String {
    text.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// A Markdown cell's text without its list bullets (one item per bullet; an author's sentence
/// may run over two items, as in 「…できればと思う。次回は11月頃を予定。」).
fn unlisted(markdown: &str) -> String {
    markdown
        .lines()
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect()
}

fn seed_lines() -> Vec<String> {
    let text = std::fs::read_to_string(SEED).expect("the seed report in ../shared/seed/");
    text.split('\n').map(str::to_owned).collect()
}

/// Lines a..=b, each without empty cells and without a leading 「（2）…」 label cell.
fn cells(lines: &[String], (a, b): (usize, usize)) -> String {
    lines[a - 1..b]
        .iter()
        .map(|line| {
            let mut parts: Vec<&str> = line.split('\t').filter(|p| !p.trim().is_empty()).collect();
            if parts.len() > 1 && is_label(parts[0]) {
                parts.remove(0);
            }
            parts.join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_label(cell: &str) -> bool {
    let t = n(cell);
    t.starts_with('(') && t.chars().nth(2) == Some(')')
}

/// HTML tags become line breaks; list bullets go.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push('\n');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.lines()
        .map(|l| {
            let t = l.trim();
            let t = t.strip_prefix("- ").unwrap_or(t);
            t.trim_start_matches(['・', '■']).trim_start().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn circled(c: char) -> Option<u8> {
    ('①'..='⑤').position(|x| x == c).map(|p| p as u8 + 1)
}

/// The length (in chars) of a duty marker at `i` (「①」, 「②-1」, 「②・③」, 「②-3 ④-4 ⑤-2」).
fn marker_len(chars: &[char], i: usize) -> usize {
    let one = |at: usize| -> usize {
        if chars.get(at).copied().and_then(circled).is_none() {
            return 0;
        }
        let mut len = 1;
        if chars.get(at + 1) == Some(&'-') && chars.get(at + 2).is_some_and(char::is_ascii_digit) {
            len = 2;
            while chars.get(at + len).is_some_and(char::is_ascii_digit) {
                len += 1;
            }
        }
        len
    };
    let mut len = one(i);
    if len == 0 {
        return 0;
    }
    loop {
        let sep = usize::from(matches!(chars.get(i + len), Some('・' | ' ')));
        let next = one(i + len + sep);
        if next == 0 {
            return len;
        }
        len += sep + next;
    }
}

/// An item section cut at its duty markers: (duties, text) blocks.
fn blocks(text: &str) -> Vec<(Vec<u8>, String)> {
    let chars: Vec<char> = plain(text).chars().collect();
    let mut out: Vec<(Vec<u8>, String)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = i == 0 || chars[i - 1].is_whitespace();
        let len = if starts { marker_len(&chars, i) } else { 0 };
        if len > 0 {
            let duties = chars[i..i + len]
                .iter()
                .filter_map(|&c| circled(c))
                .collect();
            out.push((duties, String::new()));
            i += len;
            continue;
        }
        if out.is_empty() {
            assert!(
                chars[i].is_whitespace(),
                "text before the first duty marker"
            );
            i += 1;
            continue;
        }
        let block = out.last_mut().expect("a block");
        block.1.push(chars[i]);
        i += 1;
    }
    out
}

/// Phrases of a text (see the module comment).
fn phrases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut depth = 0i32;
        let mut part = String::new();
        let mut parts = Vec::new();
        for c in line.chars() {
            match c {
                '（' | '(' => depth += 1,
                '）' | ')' => depth = (depth - 1).max(0),
                _ => {}
            }
            if c == '、' && depth == 0 {
                parts.push(std::mem::take(&mut part));
            } else {
                part.push(c);
            }
        }
        parts.push(part);
        for part in parts {
            let chars: Vec<char> = part.chars().collect();
            let mut piece = String::new();
            let mut i = 0;
            while i < chars.len() {
                if chars[i].is_whitespace() {
                    let mut j = i;
                    while j < chars.len() && chars[j].is_whitespace() {
                        j += 1;
                    }
                    let digit = |c: Option<&char>| c.is_some_and(|c| c.is_numeric());
                    if !(digit(i.checked_sub(1).and_then(|k| chars.get(k))) || digit(chars.get(j)))
                    {
                        out.push(std::mem::take(&mut piece));
                    }
                    i = j;
                } else {
                    piece.push(chars[i]);
                    i += 1;
                }
            }
            out.push(piece);
        }
    }
    out.into_iter()
        .map(|p| {
            let chars: Vec<char> = p.trim().chars().collect();
            let skip = marker_len(&chars, 0);
            chars[skip..].iter().collect::<String>().trim().to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// The Markdown report cut into hub → heading (### or ####) → text.
fn sections(markdown: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut hub = String::new();
    for line in markdown.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            hub = h.to_owned();
            out.entry(hub.clone()).or_default();
        } else if let Some(h) = line.strip_prefix("### ") {
            out.entry(hub.clone())
                .or_default()
                .push((format!("### {h}"), String::new()));
        } else if let Some(h) = line.strip_prefix("#### ") {
            out.entry(hub.clone())
                .or_default()
                .push((format!("#### {h}"), String::new()));
        } else if let Some(last) = out.entry(hub.clone()).or_default().last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

/// The text under a `###` heading starting with `section`, split by its `####` parts.
fn part<'a>(hub: &'a [(String, String)], section: &str) -> Vec<&'a (String, String)> {
    let start = hub
        .iter()
        .position(|(h, _)| h.starts_with(&format!("### {section}")))
        .unwrap_or_else(|| panic!("no section {section}"));
    let mut out = vec![&hub[start]];
    out.extend(
        hub[start + 1..]
            .iter()
            .take_while(|(h, _)| h.starts_with("#### ")),
    );
    out
}

fn render() -> String {
    let region = RegionDefinition::nakakawachi();
    let ledger = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
    let institutions = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    let coverage = report::coverage_of(&institutions);
    report::build(
        &ledger.hubs,
        FiscalYear::new(2025).unwrap(),
        &region.region.name,
        &coverage,
        None,
    )
    .markdown()
}

#[test]
fn every_item_date_and_count_of_the_seed_is_in_the_right_section() {
    let lines = seed_lines();
    let markdown = render();
    let hubs = sections(&markdown);
    let mut checked = 0;
    for seed in &HUBS {
        let (_, hub) = hubs
            .iter()
            .find(|(title, _)| title.starts_with(seed.document))
            .unwrap_or_else(|| panic!("{} missing", seed.document));
        for (range, heading) in [
            (seed.results, "（１）令和6年度"),
            (seed.plan, "（３）令和7年度"),
            (seed.progress, "（４）令和7年度"),
        ] {
            let section = part(hub, heading);
            for (duties, text) in blocks(&cells(&lines, range)) {
                for phrase in phrases(&text) {
                    for duty in &duties {
                        let mark = ('①'..='⑤').nth(usize::from(*duty) - 1).unwrap();
                        let (_, cell) = section
                            .iter()
                            .find(|(h, _)| h.starts_with(&format!("#### {mark}")))
                            .unwrap();
                        assert!(
                            n(&unlisted(cell)).contains(&n(&phrase)),
                            "{} {heading} {mark}: 「{phrase}」 missing from:\n{cell}",
                            seed.document
                        );
                        checked += 1;
                    }
                }
            }
        }
        let challenges = part(hub, "（２）令和6年度");
        for phrase in phrases(&plain(&cells(&lines, seed.challenges))) {
            assert!(
                n(&unlisted(&challenges[0].1)).contains(&n(&phrase)),
                "{} 課題: 「{phrase}」",
                seed.document
            );
            checked += 1;
        }
        let active = seed
            .active_plans
            .map(|_| part(hub, "積極的医療機関の取組について"));
        for (range, sub) in [
            (seed.active_plans, "#### （1）"),
            (seed.active_progress, "#### 進捗状況"),
            (seed.active_challenges, "#### （3）課題"),
        ] {
            let Some(range) = range else { continue };
            let active = active.as_ref().unwrap();
            let (_, text) = active.iter().find(|(h, _)| h.starts_with(sub)).unwrap();
            for phrase in phrases(&plain(&cells(&lines, range))) {
                assert!(
                    n(&unlisted(text)).contains(&n(&phrase)),
                    "{} {sub}: 「{phrase}」",
                    seed.document
                );
                checked += 1;
            }
        }
        if let Some(line) = seed.footnote {
            let all: String = active.unwrap().iter().map(|(_, t)| t.as_str()).collect();
            assert!(n(&all).contains(&n(&lines[line - 1])), "footnote");
        }
    }
    // The report's headers: 対象地域, 連携の拠点, 委託先 of every hub.
    for (first, hub) in [
        (7, "資料2-1"),
        (90, "資料2-3"),
        (140, "資料2-5"),
        (224, "資料2-7"),
        (262, "資料2-9"),
    ] {
        let header = markdown
            .split(&format!("## {hub}"))
            .nth(1)
            .and_then(|rest| rest.split("### ").next())
            .unwrap();
        for line in &lines[first - 1..first + 2] {
            let value = line.split('\t').rfind(|c| !c.trim().is_empty()).unwrap();
            assert!(
                n(header).contains(&n(value)),
                "{hub}: 「{value}」 not in the header:\n{header}"
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} phrases checked");
    // The seed has every section of every hub, so nothing is marked missing. This checks recall
    // (every seed phrase is in the report), not precision: text the report adds beyond the
    // seed is not caught here.
    assert!(!markdown.contains(report::MISSING), "{markdown}");
}

#[test]
fn the_coverage_counts_are_computed_and_equal_the_seeds() {
    let lines = seed_lines();
    let markdown = render();
    let hubs = sections(&markdown);
    for seed in HUBS.iter().filter(|h| h.coverage.is_some()) {
        let (_, hub) = hubs
            .iter()
            .find(|(title, _)| title.starts_with(seed.document))
            .unwrap();
        let active = part(hub, "積極的医療機関の取組について");
        let (_, table) = active
            .iter()
            .find(|(h, _)| h.starts_with("#### （2）対応状況"))
            .unwrap();
        let (a, b) = seed.coverage.unwrap();
        let mut compared = 0;
        for line in &lines[a - 1..b] {
            let line = plain(line.trim_start_matches('#').trim());
            if line.is_empty() {
                continue;
            }
            assert!(
                n(table).contains(&n(&line)),
                "{}: 「{line}」 not in\n{table}",
                seed.document
            );
            compared += 1;
        }
        assert_eq!(compared, 7, "the heading and six roles");
    }
    // The counts come from the directory: change a status and the report changes.
    let region = RegionDefinition::nakakawachi();
    let mut institutions = demo::institutions(
        &region,
        &towns::towns().unwrap(),
        &towns::postcodes().unwrap(),
    )
    .unwrap();
    let west = institutions
        .iter_mut()
        .find(|i| i.is_active && i.area.as_str() == "higashiosaka-west")
        .unwrap();
    west.is_active = false;
    let coverage = report::coverage_of(&institutions);
    assert_eq!(coverage["higashiosaka-west"].institutions, 6);
}
