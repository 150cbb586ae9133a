//! Golden test of the prefecture report (資料2, 令和7年度, 中河内) against the real report it
//! reproduces: the seed `../shared/seed/000_639f8560a7069c29.txt`, a PDF-to-text conversion
//! (tables as tab-separated lines, `<p>`/`<li>` fragments, Markdown, some line breaks lost as a
//! single space).
//!
//! # Method
//!
//! The audit's method (`shared/reviews/seed-fidelity-audit.md`), made mechanical and structural.
//! The seed is read here, independently of the project's own parsing, through a line map
//! ([`HUBS`]; `the_seed_map_claims_every_seed_line_once` proves it claims each non-blank seed line
//! exactly once, so no seed text escapes). The Markdown rendered from
//! `data/ledger/nakakawachi-fy2025.toml` is parsed into hub → `###` section → `####` part → lines.
//! [`differences`]`(seed, md)` compares the two hub by hub, section by section, and lists every
//! difference in words; the main test asserts the list is empty. Two normalisations:
//! H = NFKC with whitespace removed; N = H with 「、」 removed.
//!
//! 1. Item sections （１）（３）（４）, per duty column ①〜⑤: the seed's entries (cut at their
//!    markers 「①」「②-1」「②・③」「②③」「②-3 ④-4 ⑤-2」) whose FIRST duty is the column, in seed
//!    order, must be N-EQUAL (not contained) to the column's bullets joined: a duplicate, a missing
//!    or extra item, a wrong order or a wrong column all fail. Each `####` heading is the seed's
//!    column header, exactly and once; nothing else stands in the section.
//! 2. Bullet boundaries, aligned character by character with the seed: a bullet starts exactly at
//!    a seed entry, at a line break (the seed's own, or one the conversion lost as a space, R3),
//!    or, in results and plans only, at a 「、」 between items (R2). A progress paragraph is never
//!    cut: 「…できればと思う。次回は11月頃を予定。」 is one bullet, and each paragraph has as many
//!    bullets as it has lines. A printed marker is followed by a space, on its entry's first bullet.
//! 3. （２）challenges: one bullet per seed paragraph, in order, H-equal; the marker is followed by
//!    a space in the raw Markdown (「②-1 ICT」, never 「②-1ICT」).
//! 4. Headings: each `###` heading is H-equal to the seed's and numbered （１）〜（４）; the active
//!    part's is exactly 「■ 積極的医療機関の取組について（任意）」 and its `####` are the seed's
//!    numbered parts (八尾: （1）取組計画, （2）進捗状況, （3）課題).
//! 5. 対応状況 (2-1, 2-3, 2-5): the heading line and six role lines H-equal to the seed's, once.
//!    八尾 (2-7) and 柏原 (2-9), which report none: neither 「対応状況」 nor any 「N件」 in their part.
//! 6. Active plans, progress, challenges and 八尾's footnote: bullet lists H-equal, one to one.
//! 7. Headers: 対象地域 / 連携の拠点 / 委託先 of every hub H-equal; the hub line.
//! 8. Nothing extra: every non-empty Markdown line is either matched with its seed counterpart or
//!    reported as extra, and the two counts must add up to the Markdown's lines.
//!
//! `the_comparison_fails_on_each_known_defect` applies the audit's defects (invented 0件 for 八尾,
//! duplicated multi-duty entries, split paragraphs, lost heading words, fused markers) and more to
//! the good Markdown and requires a difference for each.
//!
//! # Reading decisions (where the report differs from the seed on purpose)
//!
//! - R1 Width and spacing: compared under NFKC without whitespace (「(7回)」 = 「（7回）」,
//!   「(1)」 = 「（１）」, 「資料 2 - 1」, 「令和 6 年 6 月から 1 0 回」: the conversion's spaces).
//! - R2 「、」 between items: the seed runs a list together (「会議(7回)、会議(4回)」); the report
//!   prints one bullet per item without the 「、」. Allowed only at a bullet boundary, never inside
//!   brackets, never in the progress, and exactly as often as the seed separates items (39,
//!   counted by hand per hub in [`ITEM_SEPARATORS`]).
//! - R3 Lost line breaks: a space is a line break unless inside brackets, next to a digit, or
//!   padding of a half-width bracket (「検討会 (6月)」, 「実施 (年10回) 予定」). Two exceptions,
//!   both 柏原: line 267 「(9月、2月) 藤井寺」 is a break (line 271 writes 「(9月、2月)、藤井寺」);
//!   「難病児者 地域支援ネットワーク推進会議」 (267, 271) is one name the PDF wrapped.
//! - R4 A seed line that is only a parenthesis (2-5, lines 153 and 171: 「（年11回 ※…と共催）」)
//!   belongs to the item on the line before it (its count; ledger decision 13).
//! - R5 Headings: the seed's one typo 「（３）令和 7 度の取組計画」 (2-1, line 20) is printed
//!   「（３）令和7年度の取組計画」. Every other heading keeps the hub's own words.
//! - R6 Markers and list signs: a plain marker equal to its column (「①」 under ①) is not printed,
//!   except in 「⑤なし」; any other marker is printed once per entry, followed by a space. The
//!   seed's list signs 「- 」「・」「■」, HTML tags and table cells are layout; the footnote keeps 「※ 」.
//! - R7 Additions: the title 「# 連携の拠点の取組について（令和7年度）中河内」 (the seed's title with
//!   year and region); the hub line 「## 資料2-1 東大阪市（西地区）」; the header table (label
//!   「実施主体：連携の拠点」); 「出典：…」 under each 対応状況 (where the counts come from).
//! - R8 Layout not repeated: the per-hub 「■ 連携の拠点の取組について」 (the title, once); the duty
//!   column row (the `####` headings; （４）, which has none in the seed, uses the hub's); the
//!   「----」 rows; the active part's repeated header (checked equal to the hub's).
//!
//! # Result
//!
//! Differences left: 0 (資料2-1 0, 2-3 0, 2-5 0, 2-7 0, 2-9 0) beyond the reading decisions above.
//! Facts compared (printed by the main test with `--nocapture`): 5 hub lines, 15 header values,
//! 24 `###` headings, 75 duty cells (`####` headings) holding the seed's 70 entries as 150
//! bullets, their boundaries aligned over 41 line breaks, 47 non-break spaces and 114 「、」 (39
//! item separators), 19 markers, 23 progress paragraphs, 9 challenge paragraphs (5 markers), 12
//! active `####` headings, 7 subheadings, 81 active bullets, 18 対応状況 lines, 1 footnote, 2 hubs
//! without 対応状況; all 406 non-empty Markdown lines accounted for.

use renkei_domain::fiscal_year::FiscalYear;
use renkei_domain::ledger::{LedgerFile, NAKAKAWACHI_FY2025_TOML};
use renkei_domain::region::RegionDefinition;
use renkei_domain::report;
use std::collections::{BTreeMap, BTreeSet};
use unicode_normalization::UnicodeNormalization;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seed/000_639f8560a7069c29.txt"
);

/// R7: what the report's title adds to the seed's 「連携の拠点の取組について」.
const TITLE_ADDITION: &str = "（令和7年度）中河内";
/// R5: the seed's one heading typo (資料2-1, line 20) and how the report prints it, under H.
const HEADING_TYPO: (&str, &str) = ("(3)令和7度の取組計画", "(3)令和7年度の取組計画");
/// The active part's heading, exactly (the seed: 「■ 積極的医療機関の取組について (任意)」).
const ACTIVE_TITLE: &str = "■ 積極的医療機関の取組について（任意）";
/// R2: per hub, the 「、」 of the seed's results and plans that separate items (counted by hand,
/// 39 in all). The report drops exactly these, each at a bullet boundary: one more means an item
/// was cut at a 「、」 of its own text, one fewer that two items run together in one bullet.
const ITEM_SEPARATORS: [(&str, usize); 5] = [
    ("資料2-1", 8),
    ("資料2-3", 8),
    ("資料2-5", 2),
    ("資料2-7", 7),
    ("資料2-9", 14),
];
const ITEMS_SPLIT_AT_COMMA: &str = "「、」 between items (R2)";
/// R7: the line the report adds under each 対応状況 (where the counts come from).
const SOURCE_PREFIX: &str = "出典：";

// ---------------------------------------------------------------------------------------------
// The seed's map: where each hub's parts are (1-based lines, ranges inclusive). The test
// `the_seed_map_claims_every_seed_line_once` proves that these ranges cover every non-blank line
// of the seed exactly once, so no seed text escapes the comparison.
// ---------------------------------------------------------------------------------------------

/// A section of a hub: （１）results, （２）challenges, （３）plan or （４）progress.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Results,
    Challenges,
    Plan,
    Progress,
}

impl Kind {
    /// How the report numbers it (always full-width).
    fn number(self) -> &'static str {
        match self {
            Kind::Results => "（１）",
            Kind::Challenges => "（２）",
            Kind::Plan => "（３）",
            Kind::Progress => "（４）",
        }
    }
}

#[derive(Clone, Copy)]
struct Part {
    kind: Kind,
    /// The heading line (for a label cell, the body's own line).
    heading: usize,
    /// The row of duty column headers 「①会議の開催 ②…」, where the section has one.
    columns: Option<usize>,
    /// The Markdown table rule 「--------」 after it, where the conversion wrote one.
    rule: Option<usize>,
    body: (usize, usize),
}

const fn part(kind: Kind, heading: usize, columns: Option<usize>, body: (usize, usize)) -> Part {
    Part {
        kind,
        heading,
        columns,
        rule: None,
        body,
    }
}

const fn ruled(mut p: Part, rule: usize) -> Part {
    p.rule = Some(rule);
    p
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ActiveKind {
    Plan,
    Coverage,
    Progress,
    Challenges,
}

#[derive(Clone, Copy)]
struct ActivePart {
    kind: ActiveKind,
    heading: usize,
    /// 「他医療機関等への調整・支援等」 or 「積極的医療機関 7件における対応状況」.
    sub: Option<usize>,
    body: (usize, usize),
}

const fn ap(
    kind: ActiveKind,
    heading: usize,
    sub: Option<usize>,
    body: (usize, usize),
) -> ActivePart {
    ActivePart {
        kind,
        heading,
        sub,
        body,
    }
}

struct Active {
    title: usize,
    /// The first of the three repeated header lines.
    header: usize,
    parts: &'static [ActivePart],
    footnote: Option<usize>,
}

struct SeedHub {
    /// 「## ■ 連携の拠点の取組について」.
    title: usize,
    /// 「資料 2 - 1」.
    document: usize,
    /// The first of the three header lines (対象地域, 連携の拠点, 委託先).
    header: usize,
    parts: [Part; 4],
    active: Option<Active>,
}

use ActiveKind as A;
use Kind as K;

const HUBS: [SeedHub; 5] = [
    SeedHub {
        title: 3,
        document: 5,
        header: 7,
        parts: [
            part(K::Results, 11, Some(13), (14, 14)),
            part(K::Challenges, 16, None, (18, 18)),
            part(K::Plan, 20, Some(22), (23, 23)),
            part(K::Progress, 25, None, (27, 40)),
        ],
        active: Some(Active {
            title: 42,
            header: 44,
            parts: &[
                ap(A::Plan, 48, Some(50), (52, 64)),
                ap(A::Coverage, 66, Some(68), (70, 75)),
                ap(A::Challenges, 77, None, (79, 84)),
            ],
            footnote: None,
        }),
    },
    SeedHub {
        title: 86,
        document: 88,
        header: 90,
        parts: [
            part(K::Results, 93, Some(94), (95, 95)),
            part(K::Challenges, 96, None, (96, 96)),
            part(K::Plan, 97, Some(98), (99, 99)),
            part(K::Progress, 100, None, (100, 100)),
        ],
        active: Some(Active {
            title: 102,
            header: 104,
            parts: &[
                ap(A::Plan, 108, Some(110), (112, 116)),
                ap(A::Coverage, 118, Some(120), (122, 127)),
                ap(A::Challenges, 129, None, (131, 134)),
            ],
            footnote: None,
        }),
    },
    SeedHub {
        title: 136,
        document: 138,
        header: 140,
        parts: [
            ruled(part(K::Results, 144, Some(146), (149, 158)), 147),
            ruled(part(K::Challenges, 160, None, (160, 160)), 161),
            ruled(part(K::Plan, 163, Some(165), (168, 175)), 166),
            ruled(part(K::Progress, 177, None, (177, 177)), 178),
        ],
        active: Some(Active {
            title: 180,
            header: 182,
            parts: &[
                ap(A::Plan, 186, Some(188), (190, 200)),
                ap(A::Coverage, 202, Some(204), (206, 211)),
                ap(A::Challenges, 213, None, (215, 218)),
            ],
            footnote: None,
        }),
    },
    SeedHub {
        title: 220,
        document: 222,
        header: 224,
        parts: [
            part(K::Results, 228, Some(230), (231, 231)),
            ruled(part(K::Challenges, 233, None, (233, 233)), 234),
            part(K::Plan, 236, Some(238), (239, 239)),
            ruled(part(K::Progress, 241, None, (241, 241)), 242),
        ],
        active: Some(Active {
            title: 244,
            header: 246,
            parts: &[
                ap(A::Plan, 250, Some(251), (252, 252)),
                ap(A::Progress, 253, None, (253, 253)),
                ap(A::Challenges, 254, None, (254, 254)),
            ],
            footnote: Some(256),
        }),
    },
    SeedHub {
        title: 258,
        document: 260,
        header: 262,
        parts: [
            part(K::Results, 265, Some(266), (267, 267)),
            part(K::Challenges, 268, None, (268, 268)),
            part(K::Plan, 269, Some(270), (271, 271)),
            part(K::Progress, 272, None, (272, 272)),
        ],
        active: None,
    },
];

// ---------------------------------------------------------------------------------------------
// Normalisation.
// ---------------------------------------------------------------------------------------------

/// H (and N0): NFKC, whitespace removed. Used for headings, paragraphs and bullets that are
/// compared whole.
fn h(text: &str) -> String {
    text.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// N: H, and 「、」 removed (R2: the 「、」 between items of a list are not printed once each item
/// is a bullet; where one may go is checked separately, by [`align`]).
fn n(text: &str) -> String {
    h(text).chars().filter(|&c| c != '、').collect()
}

fn circled(c: char) -> Option<u8> {
    ('①'..='⑤').position(|x| x == c).map(|p| p as u8 + 1)
}

fn circled_char(d: u8) -> char {
    ('①'..='⑤').nth(usize::from(d) - 1).expect("a duty 1..=5")
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

// ---------------------------------------------------------------------------------------------
// Reading the seed (independent of the project's own parsing).
// ---------------------------------------------------------------------------------------------

/// Lines a..=b, each without empty cells and without a leading 「（2）…」 label cell.
fn cells(lines: &[&str], (a, b): (usize, usize)) -> String {
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
    let t = h(cell);
    t.starts_with('(') && t.chars().nth(2) == Some(')')
}

/// A heading line's text: its first non-empty cell without Markdown's 「#」.
fn heading_of(line: &str) -> String {
    line.split('\t')
        .map(str::trim)
        .find(|c| !c.is_empty())
        .unwrap_or("")
        .trim_start_matches('#')
        .trim()
        .to_owned()
}

/// The non-empty cells of a line.
fn row(line: &str) -> Vec<&str> {
    line.split('\t')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// HTML tags become line breaks; list signs (「- 」, 「・」, 「■」) go; lines are trimmed.
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

fn paragraphs(text: &str) -> Vec<String> {
    plain(text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The length (in chars) of a duty marker at `i` (「①」, 「②-1」, 「②・③」, 「②③」,
/// 「②-3 ④-4 ⑤-2」).
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

/// One entry of an item section: its marker, the duties it names, and its text (the seed's
/// line breaks and spaces kept).
#[derive(Debug, Clone)]
struct Block {
    duties: Vec<u8>,
    marker: String,
    text: String,
}

impl Block {
    /// The marker as the report must print it: a plain 「①」 (which only repeats the column) is
    /// not printed (R6); any other marker is.
    fn kept_marker(&self) -> &str {
        if self.marker.chars().count() == 1 {
            ""
        } else {
            &self.marker
        }
    }
}

/// An item section cut at its duty markers.
fn blocks(text: &str) -> Vec<Block> {
    let chars: Vec<char> = plain(text).chars().collect();
    let mut out: Vec<Block> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = i == 0 || chars[i - 1].is_whitespace();
        let len = if starts { marker_len(&chars, i) } else { 0 };
        if len > 0 {
            let marker: String = chars[i..i + len].iter().collect();
            out.push(Block {
                duties: marker.chars().filter_map(circled).collect(),
                marker,
                text: String::new(),
            });
            i += len;
            continue;
        }
        match out.last_mut() {
            Some(block) => block.text.push(chars[i]),
            None => assert!(
                chars[i].is_whitespace(),
                "text before the first duty marker"
            ),
        }
        i += 1;
    }
    for block in &mut out {
        block.text = block.text.trim().to_owned();
    }
    out
}

/// The three header rows: (label, value); the label's cells joined with 「：」 (R7).
fn header(lines: &[&str], first: usize) -> Vec<(String, String)> {
    (first..first + 3)
        .map(|k| {
            let cells = row(lines[k - 1]);
            let (value, label) = cells.split_last().expect("a header row");
            (label.join("："), (*value).to_owned())
        })
        .collect()
}

struct ExpSection {
    kind: Kind,
    heading: String,
    heading_line: usize,
    body: (usize, usize),
    /// 「①会議の開催」 … (item sections).
    columns: Vec<String>,
    blocks: Vec<Block>,
    /// The challenges' paragraphs.
    paragraphs: Vec<String>,
}

struct ExpPart {
    kind: ActiveKind,
    heading: String,
    line: usize,
    sub: Option<String>,
    lines: Vec<String>,
}

struct ExpActive {
    title: String,
    line: usize,
    header: Vec<(String, String)>,
    parts: Vec<ExpPart>,
    footnote: Option<String>,
}

struct ExpHub {
    document: String,
    header: Vec<(String, String)>,
    sections: Vec<ExpSection>,
    active: Option<ExpActive>,
}

impl ExpHub {
    fn has_coverage(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.parts.iter().any(|p| p.kind == ActiveKind::Coverage))
    }
}

struct Expected {
    title: String,
    hubs: Vec<ExpHub>,
}

fn expected(seed: &str) -> Expected {
    let lines: Vec<&str> = seed.split('\n').collect();
    let hubs = HUBS
        .iter()
        .map(|hub| {
            let mut columns: Vec<String> = Vec::new();
            let sections = hub
                .parts
                .iter()
                .map(|p| {
                    if let Some(c) = p.columns {
                        columns = row(lines[c - 1]).into_iter().map(str::to_owned).collect();
                    }
                    let body = cells(&lines, p.body);
                    let items = p.kind != Kind::Challenges;
                    ExpSection {
                        kind: p.kind,
                        heading: heading_of(lines[p.heading - 1]),
                        heading_line: p.heading,
                        body: p.body,
                        // The progress has no column row: it uses the hub's (the same five).
                        columns: if items { columns.clone() } else { Vec::new() },
                        blocks: if items { blocks(&body) } else { Vec::new() },
                        paragraphs: if items { Vec::new() } else { paragraphs(&body) },
                    }
                })
                .collect();
            let active = hub.active.as_ref().map(|a| ExpActive {
                title: heading_of(lines[a.title - 1]),
                line: a.title,
                header: header(&lines, a.header),
                parts: a
                    .parts
                    .iter()
                    .map(|p| ExpPart {
                        kind: p.kind,
                        heading: heading_of(lines[p.heading - 1]),
                        line: p.heading,
                        sub: p.sub.map(|s| heading_of(lines[s - 1])),
                        lines: paragraphs(&cells(&lines, p.body)),
                    })
                    .collect(),
                footnote: a.footnote.map(|f| lines[f - 1].trim().to_owned()),
            });
            ExpHub {
                document: h(lines[hub.document - 1]),
                header: header(&lines, hub.header),
                sections,
                active,
            }
        })
        .collect();
    Expected {
        title: heading_of(lines[HUBS[0].title - 1])
            .trim_start_matches('■')
            .trim()
            .to_owned(),
        hubs,
    }
}

/// The heading the report must print for a seed heading, under H (R5: the one typo).
fn expected_heading(seed: &str) -> String {
    let s = h(seed);
    if s == HEADING_TYPO.0 {
        HEADING_TYPO.1.to_owned()
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the Markdown.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum MdLine {
    Bullet(String),
    Plain(String),
}

impl MdLine {
    fn text(&self) -> String {
        match self {
            MdLine::Bullet(b) => format!("- {b}"),
            MdLine::Plain(p) => p.clone(),
        }
    }
}

struct MdSub {
    heading: String,
    body: Vec<MdLine>,
}

struct MdSection {
    heading: String,
    body: Vec<MdLine>,
    subs: Vec<MdSub>,
}

impl MdSection {
    fn lines(&self) -> usize {
        1 + self.body.len() + self.subs.iter().map(|s| 1 + s.body.len()).sum::<usize>()
    }
}

struct MdHub {
    line: String,
    rows: Vec<String>,
    stray: Vec<String>,
    sections: Vec<MdSection>,
    raw: String,
}

struct Md {
    titles: Vec<String>,
    stray: Vec<String>,
    hubs: Vec<MdHub>,
    lines: usize,
}

/// Every non-empty line lands in exactly one place of the model.
fn parse_md(md: &str) -> Md {
    let mut out = Md {
        titles: Vec::new(),
        stray: Vec::new(),
        hubs: Vec::new(),
        lines: 0,
    };
    for line in md.lines() {
        if line.trim().is_empty() {
            continue;
        }
        out.lines += 1;
        if let Some(t) = line.strip_prefix("# ") {
            out.titles.push(t.to_owned());
            continue;
        }
        if let Some(hub) = line.strip_prefix("## ") {
            out.hubs.push(MdHub {
                line: hub.to_owned(),
                rows: Vec::new(),
                stray: Vec::new(),
                sections: Vec::new(),
                raw: String::new(),
            });
        }
        let Some(hub) = out.hubs.last_mut() else {
            out.stray.push(line.to_owned());
            continue;
        };
        hub.raw.push_str(line);
        hub.raw.push('\n');
        if line.starts_with("## ") {
            continue;
        }
        if let Some(heading) = line.strip_prefix("### ") {
            hub.sections.push(MdSection {
                heading: heading.to_owned(),
                body: Vec::new(),
                subs: Vec::new(),
            });
            continue;
        }
        if let Some(heading) = line.strip_prefix("#### ") {
            match hub.sections.last_mut() {
                Some(section) => section.subs.push(MdSub {
                    heading: heading.to_owned(),
                    body: Vec::new(),
                }),
                None => hub.stray.push(line.to_owned()),
            }
            continue;
        }
        if line.starts_with('|') && hub.sections.is_empty() {
            hub.rows.push(line.to_owned());
            continue;
        }
        let item = match line
            .strip_prefix("- ")
            .or(if line == "-" { Some("") } else { None })
        {
            Some(b) => MdLine::Bullet(b.to_owned()),
            None => MdLine::Plain(line.to_owned()),
        };
        match hub.sections.last_mut() {
            None => hub.stray.push(line.to_owned()),
            Some(section) => match section.subs.last_mut() {
                Some(sub) => sub.body.push(item),
                None => section.body.push(item),
            },
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The comparison.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Check {
    diffs: Vec<String>,
    facts: BTreeMap<&'static str, usize>,
    /// Markdown lines compared with a seed counterpart.
    accounted: usize,
    /// Markdown lines reported as having no seed counterpart.
    extras: usize,
    /// Per hub, the bullets that start at a 「、」 of the seed (R2).
    split_at_comma: BTreeMap<String, usize>,
    /// Hubs with a column whose text differs (its boundaries were then not aligned).
    unaligned: BTreeSet<String>,
}

impl Check {
    fn fact(&mut self, name: &'static str, count: usize) {
        *self.facts.entry(name).or_default() += count;
    }

    fn diff(&mut self, message: String) {
        self.diffs.push(message);
    }

    fn extra(&mut self, place: &str, line: &str) {
        self.extras += 1;
        self.diffs
            .push(format!("{place}: a line the seed does not have: «{line}»"));
    }

    fn extra_lines(&mut self, place: &str, what: &str, lines: usize) {
        self.extras += lines;
        self.diffs.push(format!(
            "{place}: «{what}» ({lines} lines) is not in the seed"
        ));
    }
}

/// Where two normalised strings part.
fn show(expected: &str, actual: &str) -> String {
    let e: Vec<char> = expected.chars().collect();
    let a: Vec<char> = actual.chars().collect();
    let k = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let from = k.saturating_sub(12);
    let cut = |v: &[char]| -> String { v[from..(k + 24).min(v.len())].iter().collect() };
    format!(
        " at char {k}:\n    seed: …{}…\n    md:   …{}…",
        cut(&e),
        cut(&a)
    )
}

/// Pairs expected and printed parts: by position where the counts agree, else by `same`.
fn pair<E, M>(
    expected: &[E],
    md: &[M],
    same: impl Fn(&E, &M) -> bool,
) -> Vec<(Option<usize>, Option<usize>)> {
    if expected.len() == md.len() {
        return (0..md.len()).map(|k| (Some(k), Some(k))).collect();
    }
    let mut used = vec![false; md.len()];
    let mut out = Vec::new();
    for (k, e) in expected.iter().enumerate() {
        match (0..md.len()).find(|&j| !used[j] && same(e, &md[j])) {
            Some(j) => {
                used[j] = true;
                out.push((Some(k), Some(j)));
            }
            None => out.push((Some(k), None)),
        }
    }
    out.extend((0..md.len()).filter(|&j| !used[j]).map(|j| (None, Some(j))));
    out
}

/// Compares the report (Markdown) with the seed; every difference, in words.
fn differences(seed: &str, md: &str) -> Vec<String> {
    check(seed, md).diffs
}

fn check(seed: &str, md: &str) -> Check {
    let expected = expected(seed);
    let md = parse_md(md);
    let mut c = Check::default();
    // The document title: one line, the seed's title plus the declared addition (R7).
    let title = format!("{}{TITLE_ADDITION}", expected.title);
    for (k, t) in md.titles.iter().enumerate() {
        if k == 0 && *t == title {
            c.accounted += 1;
            c.fact("title (declared addition)", 1);
        } else if k == 0 {
            c.accounted += 1;
            c.diff(format!("title «# {t}», expected «# {title}»"));
        } else {
            c.extra("document", &format!("# {t}"));
        }
    }
    if md.titles.is_empty() {
        c.diff(format!("no title «# {title}»"));
    }
    for line in &md.stray {
        c.extra("before the first hub", line);
    }
    for (e, m) in pair(&expected.hubs, &md.hubs, |e, m| {
        m.line.split(' ').next() == Some(e.document.as_str())
    }) {
        match (e, m) {
            (Some(e), Some(m)) => compare_hub(&mut c, &expected.hubs[e], &md.hubs[m]),
            (Some(e), None) => c.diff(format!("{}: hub missing", expected.hubs[e].document)),
            (None, Some(m)) => {
                let hub = &md.hubs[m];
                let lines = hub.raw.lines().count();
                c.extra_lines("document", &format!("## {}", hub.line), lines);
            }
            (None, None) => {}
        }
    }
    for (doc, separators) in ITEM_SEPARATORS {
        let split = c.split_at_comma.get(doc).copied().unwrap_or(0);
        if split != separators && !c.unaligned.contains(doc) {
            c.diff(format!(
                "{doc}: the report starts {split} bullets at a 「、」 of the seed; the seed has \
                 {separators} 「、」 that separate items (R2)"
            ));
        }
    }
    if c.accounted + c.extras != md.lines {
        c.diff(format!(
            "{} of {} Markdown lines were neither compared nor reported",
            md.lines - c.accounted - c.extras,
            md.lines
        ));
    }
    c.fact("Markdown lines accounted for", c.accounted);
    c
}

fn compare_hub(c: &mut Check, e: &ExpHub, m: &MdHub) {
    let place = e.document.clone();
    // The hub line: 資料 number and 対象地域 (R7: layout).
    c.accounted += 1;
    match m.line.split_once(' ') {
        Some((doc, label)) if doc == e.document && h(label) == h(&e.header[0].1) => {
            c.fact("hub lines (資料 number and 対象地域)", 1);
        }
        _ => c.diff(format!(
            "{place}: hub line «## {}», expected «## {} {}»",
            m.line, e.document, e.header[0].1
        )),
    }
    // The header table: 対象地域 / 実施主体：連携の拠点 / 市町村医介連携事業（委託先）.
    let expected_rows = [
        Some(&e.header[0]),
        None,
        Some(&e.header[1]),
        Some(&e.header[2]),
    ];
    for (k, r) in m.rows.iter().enumerate() {
        let Some(slot) = expected_rows.get(k) else {
            c.extra(&place, r);
            continue;
        };
        c.accounted += 1;
        let cells: Vec<&str> = r
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        match slot {
            None if cells == ["---", "---"] => {}
            None => c.diff(format!("{place}: header rule «{r}»")),
            Some((label, value)) => {
                if cells.len() == 2 && h(cells[0]) == h(label) && h(cells[1]) == h(value) {
                    c.fact("header values", 1);
                } else {
                    c.diff(format!(
                        "{place}: header row «{r}», seed «{label}：{value}»"
                    ));
                }
            }
        }
    }
    if m.rows.len() < expected_rows.len() {
        c.diff(format!(
            "{place}: header table has {} rows, not 4",
            m.rows.len()
        ));
    }
    for line in &m.stray {
        c.extra(&place, line);
    }
    // R8: the active part repeats the hub's header; the report does not print it again, which
    // loses nothing only if it is the same.
    if let Some(active) = &e.active {
        for (a, b) in active.header.iter().zip(&e.header) {
            if h(&a.1) != h(&b.1) {
                c.diff(format!(
                    "{place}: the active part's header «{}» differs from the hub's «{}»",
                    a.1, b.1
                ));
            }
        }
    }
    // The ### sections: （１）（２）（３）（４） and the active part.
    enum Top<'a> {
        Section(&'a ExpSection),
        Active(&'a ExpActive),
    }
    let tops: Vec<Top> = e
        .sections
        .iter()
        .map(Top::Section)
        .chain(e.active.iter().map(Top::Active))
        .collect();
    let seed_heading = |t: &Top| match t {
        Top::Section(s) => (s.heading.clone(), s.heading_line),
        Top::Active(a) => (a.title.clone(), a.line),
    };
    for (t, s) in pair(&tops, &m.sections, |t, s| {
        expected_heading(&seed_heading(t).0) == h(&s.heading)
    }) {
        match (t, s) {
            (Some(t), Some(s)) => {
                let (seed, line) = seed_heading(&tops[t]);
                let section = &m.sections[s];
                c.accounted += 1;
                c.fact("### headings", 1);
                if expected_heading(&seed) != h(&section.heading) {
                    c.diff(format!(
                        "{place}: heading «### {}», seed line {line} «{seed}»",
                        section.heading
                    ));
                }
                if h(&seed) == HEADING_TYPO.0 {
                    c.fact("R5 heading typo read", 1);
                }
                match &tops[t] {
                    Top::Section(exp) => {
                        if !section.heading.starts_with(exp.kind.number()) {
                            c.diff(format!(
                                "{place}: heading «### {}» is not numbered {}",
                                section.heading,
                                exp.kind.number()
                            ));
                        }
                        if exp.kind == Kind::Challenges {
                            compare_challenges(c, &place, exp, section);
                        } else {
                            compare_items(c, &place, exp, section);
                        }
                    }
                    Top::Active(exp) => {
                        if section.heading != ACTIVE_TITLE {
                            c.diff(format!(
                                "{place}: heading «### {}», expected exactly «### {ACTIVE_TITLE}»",
                                section.heading
                            ));
                        }
                        compare_active(c, &place, exp, section);
                    }
                }
            }
            (Some(t), None) => {
                let (seed, line) = seed_heading(&tops[t]);
                c.diff(format!(
                    "{place}: section missing: seed line {line} «{seed}»"
                ));
            }
            (None, Some(s)) => {
                let section = &m.sections[s];
                c.extra_lines(&place, &format!("### {}", section.heading), section.lines());
            }
            (None, None) => {}
        }
    }
    // 対応状況: where the seed has none, the report has none, and no count (「0件」) either.
    if !e.has_coverage() {
        c.fact("hubs checked for no 対応状況", 1);
        if m.raw.contains("対応状況") {
            c.diff(format!(
                "{place}: the report prints a 対応状況 the seed does not have"
            ));
        }
        let chars: Vec<char> = m.raw.chars().collect();
        if chars.windows(2).any(|w| is_digit(w[0]) && w[1] == '件') {
            c.diff(format!(
                "{place}: the report prints a count 「…件」 the seed does not have"
            ));
        }
    }
}

fn compare_items(c: &mut Check, place: &str, e: &ExpSection, m: &MdSection) {
    let here = format!("{place} {}", e.kind.number());
    for line in &m.body {
        c.extra(&here, &line.text());
    }
    let mut used = vec![false; m.subs.len()];
    for (k, column) in e.columns.iter().enumerate() {
        let found: Vec<usize> = (0..m.subs.len())
            .filter(|&j| m.subs[j].heading == *column)
            .collect();
        if found.len() != 1 {
            c.diff(format!(
                "{here}: «#### {column}» is printed {} times, not once",
                found.len()
            ));
        }
        let Some(&j) = found.first() else { continue };
        used[j] = true;
        c.accounted += 1;
        c.fact("#### duty headings", 1);
        compare_cell(c, &here, e, k as u8 + 1, &m.subs[j]);
    }
    for (sub, _) in m.subs.iter().zip(&used).filter(|(_, used)| !**used) {
        c.extra_lines(&here, &format!("#### {}", sub.heading), 1 + sub.body.len());
    }
}

/// Test 1 and 2: one duty column of an item section.
fn compare_cell(c: &mut Check, here: &str, e: &ExpSection, d: u8, sub: &MdSub) {
    let here = format!("{here} {}", sub.heading);
    let mut raw: Vec<&str> = Vec::new();
    for line in &sub.body {
        match line {
            MdLine::Bullet(b) => {
                c.accounted += 1;
                raw.push(b);
            }
            MdLine::Plain(p) => c.extra(&here, p),
        }
    }
    let blocks: Vec<&Block> = e
        .blocks
        .iter()
        .filter(|b| b.duties.first() == Some(&d))
        .collect();
    // 「⑤なし」: the plain marker equal to the column, dropped on both sides (R6).
    let nothing = format!("{}なし", circled_char(d));
    let shown: Vec<String> = raw
        .iter()
        .map(|b| {
            if *b == nothing {
                "なし".to_owned()
            } else {
                (*b).to_owned()
            }
        })
        .collect();
    c.fact("duty cells compared (hub × section × duty)", 1);
    c.fact("seed entries (marker blocks)", blocks.len());
    c.fact("item bullets", raw.len());
    if e.kind == Kind::Progress {
        c.fact("progress paragraphs", blocks.len());
    }
    let expected: String = blocks
        .iter()
        .map(|b| n(&format!("{}{}", b.kept_marker(), b.text)))
        .collect();
    let actual: String = shown.iter().map(|b| n(b)).collect();
    if expected != actual {
        c.diff(format!(
            "{here} (seed lines {}–{}): the column differs from the seed's entries{}",
            e.body.0,
            e.body.1,
            show(&expected, &actual)
        ));
        let doc = here.split(' ').next().unwrap_or_default().to_owned();
        c.unaligned.insert(doc);
        return;
    }
    if shown.iter().any(|b| h(b).is_empty()) {
        c.diff(format!("{here}: an empty bullet"));
    }
    align(c, &here, e, &blocks, &shown, &raw);
}

/// A unit of the seed's text, for [`align`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A new entry (a marker or a 「<p>」).
    Block(usize),
    /// A line break: the seed's own, or one the conversion turned into a space (R3).
    Break,
    /// A space that is not a line break (R3).
    Pad,
    /// 「、」; true inside brackets (「（6月13日、10月17日）」), where it never separates items.
    Comma(bool),
    Char(char),
}

/// The seed's whitespace between `chars[i]` and `chars[j]` (both exclusive of the run), read
/// as a line break or not (R3, R4).
fn classify(c: &mut Check, chars: &[char], i: usize, j: usize, depth: i32) -> Tok {
    let prev = chars[i - 1];
    let next = chars[j];
    let before: String = chars[..i].iter().collect();
    let after: String = chars[j..].iter().collect();
    if chars[i..j].contains(&'\n') {
        if matches!(next, '（' | '(') {
            // R4: a line that is only a parenthesis (「（年11回 ※…と共催）」) annotates the
            // item on the line before it.
            c.fact("R4 parenthesis line read as part of the item before it", 1);
            return Tok::Pad;
        }
        return Tok::Break;
    }
    if depth > 0 || is_digit(prev) || is_digit(next) {
        // Spaces inside brackets and next to digits: 「令和 6 年 6 月から 1 0 回」,
        // 「（年11回 ※枚岡…）」.
        return Tok::Pad;
    }
    if before.ends_with("(9月、2月)") && after.starts_with("藤井寺") {
        // R3: the one lost line break next to a bracket: line 271 writes the same list
        // 「(9月、2月)、藤井寺…」.
        c.fact("R3 lost break after a bracket (line 267)", 1);
        return Tok::Break;
    }
    if prev == ')' || next == '(' {
        // Spaces the conversion put around half-width brackets: 「検討会 (6月、12月)」,
        // 「会議を実施 (年10回) 予定。」.
        return Tok::Pad;
    }
    if before.ends_with("難病児者") && after.starts_with("地域支援") {
        // R3: a name the PDF wrapped: 「藤井寺保健所管内難病児者 地域支援ネットワーク推進会議」.
        c.fact("R3 name wrapped in the PDF (lines 267, 271)", 1);
        return Tok::Pad;
    }
    Tok::Break
}

fn tokens(c: &mut Check, text: &str, out: &mut Vec<Tok>) {
    let chars: Vec<char> = text.chars().collect();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<Tok>| {
        out.extend(run.nfkc().map(Tok::Char));
        run.clear();
    };
    let mut depth = 0i32;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch.is_whitespace() {
            flush(&mut run, out);
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            out.push(classify(c, &chars, i, j, depth));
            i = j;
            continue;
        }
        match ch {
            '（' | '(' => depth += 1,
            '）' | ')' => depth = (depth - 1).max(0),
            '、' => {
                flush(&mut run, out);
                out.push(Tok::Comma(depth > 0));
                i += 1;
                continue;
            }
            _ => {}
        }
        run.push(ch);
        i += 1;
    }
    flush(&mut run, out);
}

/// Test 2: the bullets' boundaries against the seed's text. A bullet starts exactly where the
/// seed starts an entry or breaks a line (its own break or a lost one, R3), or, in the results
/// and the plan, at a 「、」 between items (R2), which is then not printed; a 「、」 is dropped
/// nowhere else. In the progress (paragraphs), a bullet starts only at an entry or a line
/// break: a paragraph is never cut at 「、」 or between two sentences the seed wrote together.
/// Also: a printed marker is followed by a space.
fn align(
    c: &mut Check,
    here: &str,
    e: &ExpSection,
    blocks: &[&Block],
    shown: &[String],
    raw: &[&str],
) {
    let strict = e.kind == Kind::Progress;
    let mut m: Vec<char> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    for b in shown {
        starts.push(m.len());
        m.extend(h(b).chars());
    }
    let mut toks = Vec::new();
    for (k, block) in blocks.iter().enumerate() {
        toks.push(Tok::Block(k));
        toks.extend(h(block.kept_marker()).chars().map(Tok::Char));
        tokens(c, &block.text, &mut toks);
    }
    let ctx = |i: usize| -> String {
        let a: String = m[i.saturating_sub(10)..i].iter().collect();
        let b: String = m[i..(i + 10).min(m.len())].iter().collect();
        format!("…{a}‖{b}…")
    };
    let start_of = |i: usize| starts.iter().position(|&s| s == i);
    let mut block_bullet = vec![None; blocks.len()];
    let mut i = 0;
    let mut fresh = true;
    for tok in toks {
        match tok {
            Tok::Block(k) => {
                c.fact("entry starts checked", 1);
                match start_of(i) {
                    Some(b) => block_bullet[k] = Some(b),
                    None => c.diff(format!(
                        "{here}: the entry 「{}{}」 runs on in the bullet before it: {}",
                        blocks[k].marker,
                        blocks[k].text.chars().take(12).collect::<String>(),
                        ctx(i)
                    )),
                }
                fresh = true;
            }
            Tok::Break => {
                c.fact("line breaks checked (seed's own or lost)", 1);
                if strict {
                    c.fact("progress: paragraph pieces beyond the first", 1);
                }
                if start_of(i).is_none() {
                    c.diff(format!(
                        "{here}: the seed breaks the line here but the report runs it on: {}",
                        ctx(i)
                    ));
                }
                fresh = true;
            }
            Tok::Pad => {
                c.fact("spaces checked (not line breaks)", 1);
                if start_of(i).is_some() && !fresh {
                    c.diff(format!(
                        "{here}: the report starts a bullet where the seed has a space, not a line break: {}",
                        ctx(i)
                    ));
                    fresh = true;
                }
            }
            Tok::Comma(inside) => {
                c.fact("「、」 checked", 1);
                if start_of(i).is_some() && !fresh {
                    if strict {
                        c.diff(format!(
                            "{here}: a paragraph is split at 「、」: {}",
                            ctx(i)
                        ));
                    } else if inside {
                        c.diff(format!(
                            "{here}: an item is split at a 「、」 inside brackets: {}",
                            ctx(i)
                        ));
                    } else {
                        c.fact(ITEMS_SPLIT_AT_COMMA, 1);
                        let doc = here.split(' ').next().unwrap_or_default().to_owned();
                        *c.split_at_comma.entry(doc).or_default() += 1;
                    }
                    fresh = true;
                } else if m.get(i) == Some(&'、') {
                    i += 1;
                    fresh = false;
                } else {
                    c.diff(format!(
                        "{here}: 「、」 dropped inside a bullet (items run together?): {}",
                        ctx(i)
                    ));
                    fresh = false;
                }
            }
            Tok::Char(ch) => {
                if start_of(i).is_some() && !fresh {
                    c.diff(format!(
                        "{here}: the report starts a bullet in the middle of the seed's text (no break there): {}",
                        ctx(i)
                    ));
                }
                if m.get(i) != Some(&ch) {
                    c.diff(format!("{here}: text differs: {}", ctx(i)));
                    return;
                }
                i += 1;
                fresh = false;
            }
        }
    }
    if i != m.len() {
        c.diff(format!("{here}: the report has more text: {}", ctx(i)));
    }
    // The marker is printed once, on the entry's first bullet, followed by a space.
    for (k, block) in blocks.iter().enumerate() {
        let marker = block.kept_marker();
        if marker.is_empty() {
            continue;
        }
        c.fact("markers checked (printed once, then a space)", 1);
        let Some(b) = block_bullet[k] else { continue };
        let bullet = raw[b];
        if !(bullet.starts_with(&format!("{marker} ")) || bullet == format!("{marker}なし")) {
            c.diff(format!(
                "{here}: the marker 「{marker}」 is not followed by a space: «- {bullet}»"
            ));
        }
    }
}

/// Test 3: the （２） challenges: one bullet per seed paragraph, marker + space.
fn compare_challenges(c: &mut Check, place: &str, e: &ExpSection, m: &MdSection) {
    let here = format!("{place} （２）");
    for sub in &m.subs {
        c.extra_lines(&here, &format!("#### {}", sub.heading), 1 + sub.body.len());
    }
    let mut bullets = Vec::new();
    for line in &m.body {
        match line {
            MdLine::Bullet(b) => bullets.push(b.as_str()),
            MdLine::Plain(p) => c.extra(&here, p),
        }
    }
    if bullets.len() != e.paragraphs.len() {
        c.diff(format!(
            "{here}: {} bullets for the seed's {} paragraphs (line {})",
            bullets.len(),
            e.paragraphs.len(),
            e.body.0
        ));
    }
    for (k, bullet) in bullets.iter().enumerate() {
        let Some(para) = e.paragraphs.get(k) else {
            c.extra(&here, &format!("- {bullet}"));
            continue;
        };
        c.accounted += 1;
        c.fact("challenge paragraphs", 1);
        if h(bullet) != h(para) {
            c.diff(format!(
                "{here} paragraph {} (line {}): differs{}",
                k + 1,
                e.body.0,
                show(&h(para), &h(bullet))
            ));
        }
        let chars: Vec<char> = para.chars().collect();
        let len = marker_len(&chars, 0);
        if len > 0 {
            let marker: String = chars[..len].iter().collect();
            c.fact("challenge markers (followed by a space)", 1);
            if !bullet.starts_with(&format!("{marker} ")) {
                c.diff(format!(
                    "{here}: the marker 「{marker}」 is not followed by a space: «- {bullet}»"
                ));
            }
        }
    }
}

/// Tests 4–6: the active institutions' part.
fn compare_active(c: &mut Check, place: &str, e: &ExpActive, m: &MdSection) {
    let here = format!("{place} ■");
    for line in &m.body {
        c.extra(&here, &line.text());
    }
    let last = m.subs.len().saturating_sub(1);
    for (p, s) in pair(&e.parts, &m.subs, |p, s| {
        expected_heading(&p.heading) == h(&s.heading)
    }) {
        match (p, s) {
            (Some(p), Some(j)) => {
                let (part, sub) = (&e.parts[p], &m.subs[j]);
                c.accounted += 1;
                c.fact("#### active headings", 1);
                if expected_heading(&part.heading) != h(&sub.heading) {
                    c.diff(format!(
                        "{here}: heading «#### {}», seed line {} «{}»",
                        sub.heading, part.line, part.heading
                    ));
                }
                let footnote = if j == last {
                    e.footnote.as_deref()
                } else {
                    None
                };
                compare_active_part(c, &format!("{here} {}", sub.heading), part, sub, footnote);
            }
            (Some(p), None) => {
                let part = &e.parts[p];
                c.diff(format!(
                    "{here}: part missing: seed line {} «{}»",
                    part.line, part.heading
                ));
            }
            (None, Some(j)) => {
                let sub = &m.subs[j];
                c.extra_lines(&here, &format!("#### {}", sub.heading), 1 + sub.body.len());
            }
            (None, None) => {}
        }
    }
    if e.footnote.is_some() && m.subs.is_empty() {
        c.diff(format!("{here}: the footnote is missing"));
    }
}

fn compare_active_part(
    c: &mut Check,
    here: &str,
    part: &ExpPart,
    sub: &MdSub,
    footnote: Option<&str>,
) {
    let mut body: &[MdLine] = &sub.body;
    if let Some(expected) = &part.sub {
        match body.first() {
            Some(MdLine::Plain(t)) => {
                c.accounted += 1;
                c.fact("active subheadings", 1);
                if h(t) != h(expected) {
                    c.diff(format!("{here}: subheading «{t}», seed «{expected}»"));
                }
                body = &body[1..];
            }
            _ => c.diff(format!("{here}: the subheading «{expected}» is missing")),
        }
    }
    if let Some(note) = footnote {
        match body.last() {
            Some(MdLine::Plain(t)) if t.starts_with("※ ") => {
                c.accounted += 1;
                c.fact("footnotes", 1);
                if h(t) != h(note) {
                    c.diff(format!("{here}: footnote «{t}», seed «{note}»"));
                }
                body = &body[..body.len() - 1];
            }
            _ => c.diff(format!("{here}: the footnote «{note}» is missing")),
        }
    }
    if part.kind == ActiveKind::Coverage {
        match body.last() {
            Some(MdLine::Plain(t))
                if t.starts_with(SOURCE_PREFIX)
                    && t.chars().count() > SOURCE_PREFIX.chars().count() =>
            {
                c.accounted += 1;
                c.fact("出典 lines (declared addition)", 1);
                body = &body[..body.len() - 1];
            }
            _ => c.diff(format!("{here}: the 「{SOURCE_PREFIX}…」 line is missing")),
        }
    }
    let mut bullets = Vec::new();
    for line in body {
        match line {
            MdLine::Bullet(b) => bullets.push(b.as_str()),
            MdLine::Plain(p) => c.extra(here, p),
        }
    }
    if bullets.len() != part.lines.len() {
        c.diff(format!(
            "{here}: {} bullets for the seed's {} (from line {})",
            bullets.len(),
            part.lines.len(),
            part.line
        ));
    }
    let name = if part.kind == ActiveKind::Coverage {
        "対応状況 lines"
    } else {
        "active bullets"
    };
    for (k, bullet) in bullets.iter().enumerate() {
        let Some(line) = part.lines.get(k) else {
            c.extra(here, &format!("- {bullet}"));
            continue;
        };
        c.accounted += 1;
        c.fact(name, 1);
        if h(bullet) != h(line) {
            c.diff(format!(
                "{here} bullet {}: «{bullet}», seed «{line}»",
                k + 1
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

fn seed() -> String {
    std::fs::read_to_string(SEED).expect("the seed report in ../shared/seed/")
}

fn render() -> String {
    let region = RegionDefinition::nakakawachi();
    let ledger = LedgerFile::parse(NAKAKAWACHI_FY2025_TOML, &region).unwrap();
    let md = report::build(
        &ledger.hubs,
        FiscalYear::new(2025).unwrap(),
        &region.region.name,
        None,
    )
    .markdown();
    if let Ok(path) = std::env::var("RENKEI_DUMP_REPORT") {
        std::fs::write(path, &md).unwrap();
    }
    md
}

#[test]
fn the_report_has_the_seeds_structure_and_nothing_else() {
    let check = check(&seed(), &render());
    println!("facts compared:");
    for (name, count) in &check.facts {
        println!("  {count:>5}  {name}");
    }
    assert!(
        check.diffs.is_empty(),
        "{} differences from the seed:\n{}",
        check.diffs.len(),
        check.diffs.join("\n")
    );
    // The declared readings fire exactly where the header says, and nowhere else.
    let fact = |name: &str| check.facts.get(name).copied().unwrap_or(0);
    assert_eq!(fact("R5 heading typo read"), 1);
    assert_eq!(
        fact("R4 parenthesis line read as part of the item before it"),
        2
    );
    assert_eq!(fact("R3 lost break after a bracket (line 267)"), 1);
    assert_eq!(fact("R3 name wrapped in the PDF (lines 267, 271)"), 2);
    // Everything was looked at.
    assert_eq!(fact("hub lines (資料 number and 対象地域)"), 5);
    assert_eq!(fact("header values"), 15);
    assert_eq!(fact("### headings"), 24);
    assert_eq!(fact("#### duty headings"), 75);
    assert_eq!(fact("#### active headings"), 12);
    assert_eq!(fact("対応状況 lines"), 18);
    assert_eq!(fact("active subheadings"), 7);
    assert_eq!(fact("challenge paragraphs"), 9);
    assert_eq!(fact("footnotes"), 1);
    assert_eq!(fact("hubs checked for no 対応状況"), 2);
    assert_eq!(fact("seed entries (marker blocks)"), 70);
    assert_eq!(fact("item bullets"), 150);
    assert_eq!(fact("progress paragraphs"), 23);
    assert_eq!(fact("active bullets"), 81);
}

#[test]
fn the_comparison_fails_on_each_known_defect() {
    let seed = seed();
    let good = render();
    assert!(
        differences(&seed, &good).is_empty(),
        "the report must pass first"
    );
    let replace = |from: &str, to: &str| -> String {
        assert!(good.contains(from), "«{from}» is not in the report");
        good.replacen(from, to, 1)
    };
    // Finds the anchors in turn; returns the offset after (or at) the last.
    let find = |anchors: &[&str], after: bool| -> usize {
        let mut at = 0;
        for (k, a) in anchors.iter().enumerate() {
            let found = good[at..]
                .find(a)
                .unwrap_or_else(|| panic!("«{a}» not found"));
            at += found;
            if k + 1 < anchors.len() || after {
                at += a.len();
            }
        }
        at
    };
    let insert = |anchors: &[&str], after: bool, text: &str| -> String {
        let at = find(anchors, after);
        format!("{}{text}{}", &good[..at], &good[at..])
    };
    let zero_coverage = "#### （2）対応状況\n\n積極的医療機関 6件における対応状況\n\n\
        - ①急変時の診療支援 現状対応可 0件\n\
        - ②在宅療養に移行する患者への医療・介護、障害福祉サービスの確保 現状対応可 0件\n\
        - ③地域医療研修の機会確保 現状対応可 0件\n\
        - ④災害時における医療提供のための計画策定 現状対応可 0件\n\
        - ⑤地域包括支援センター等との協働 現状対応可 0件\n\
        - ⑥患者の急変時の入院受入れ（入院機能を有する医療機関） 0件\n\n出典：拠点の報告\n\n";
    let msw = "- 東大阪市在宅医療介護連携推進コーディネーターによるMSW交流会（3月13日）\n";
    let mutations: Vec<(&str, String)> = vec![
        (
            "(a) 八尾: a 対応状況 with 0件",
            insert(&["## 資料2-7", "#### （2）進捗状況"], false, zero_coverage),
        ),
        (
            "(b) 八尾: 「②・③」 entry duplicated under ③",
            insert(
                &["## 資料2-7", "### （３）", "#### ③急変時対応等の体制構築等\n\n"],
                true,
                "- ②・③ 積極的医療機関との個別面談（6回）\n",
            ),
        ),
        (
            "(c) 2-3 progress ① split at 「次回」",
            replace("できればと思う。次回は", "できればと思う。\n- 次回は"),
        ),
        (
            "(d) 「（任意）」 dropped",
            replace(
                "### ■ 積極的医療機関の取組について（任意）",
                "### ■ 積極的医療機関の取組について",
            ),
        ),
        (
            "(e) 「取り組み」 → 「取組」 in a （２） heading",
            replace(
                "### （２）令和6年度の取り組みを通じた課題",
                "### （２）令和6年度の取組を通じた課題",
            ),
        ),
        (
            "(f) 2-9 「②-1 ICT」 fused",
            replace("- ②-1 ICTの活用", "- ②-1ICTの活用"),
        ),
        (
            "(g) two bullets of a cell swapped",
            replace(
                "- 三医師会合同災害対策会議（令和6年6月から10回開催）\n- 布施医師会災害対策会議（令和6年4月から8回開催）",
                "- 布施医師会災害対策会議（令和6年4月から8回開催）\n- 三医師会合同災害対策会議（令和6年6月から10回開催）",
            ),
        ),
        ("(h) a bullet moved to another duty", {
            let at = find(&["## 資料2-3", "### （１）", "#### ④在宅医療に係る研修\n\n"], true);
            let moved = format!("{}{msw}{}", &good[..at], &good[at..]);
            assert!(moved.matches(msw).count() == 2);
            moved.replacen(msw, "", 1)
        }),
        (
            "(i) 八尾 「（2）進捗状況」 unnumbered",
            replace("#### （2）進捗状況", "#### 進捗状況"),
        ),
        (
            "(j) two items fused into one bullet",
            replace("開催）\n- 布施医師会災害対策会議", "開催）布施医師会災害対策会議"),
        ),
        (
            "(k) a stray line",
            insert(&["## 資料2-5", "### （３）"], false, "メモ\n\n"),
        ),
        (
            "(l) a sub-marker repeated on the second bullet of its run",
            replace("- 柏原市障害者自立支援協議会子ども部会（9月、2月）", "- ②-1 柏原市障害者自立支援協議会子ども部会（9月、2月）"),
        ),
        (
            "(m) a 「、」 dropped inside an item",
            replace("防災訓練を実施し、実際に", "防災訓練を実施し実際に"),
        ),
        (
            "(n) a 対応状況 count changed",
            replace("現状対応可 5件", "現状対応可 6件"),
        ),
        (
            "(o) a header value changed",
            replace("| 市町村医介連携事業（委託先） | 八尾市 |", "| 市町村医介連携事業（委託先） | 八尾市医師会 |"),
        ),
        (
            "(p) a progress paragraph split between two sentences",
            replace("通常の電話相談窓口実施。積極的", "通常の電話相談窓口実施。\n- 積極的"),
        ),
        (
            "(q) a progress paragraph split at 「、」",
            replace("前年度の課題を踏まえ、連携ツール", "前年度の課題を踏まえ\n- 連携ツール"),
        ),
        (
            "(r) an item cut at a 「、」 of its own text",
            replace("防災訓練を実施し、実際に", "防災訓練を実施し\n- 実際に"),
        ),
        (
            "(s) two items run together, 「、」 kept",
            replace(
                "- 連携の拠点会議（7回）\n- 八尾市",
                "- 連携の拠点会議（7回）、八尾市",
            ),
        ),
        (
            "(t) 柏原's 「②-3 ④-4 ⑤-2」 progress paragraph repeated under ④",
            insert(
                &["## 資料2-9", "### （４）", "#### ④在宅医療に係る研修\n\n"],
                true,
                "- ②-3 ④-4 ⑤-2 がん診療拠点病院である市立柏原病院が、連携における会議を実施（年10回）予定。また、ACP等をテーマに多職種連携研修会（年2回）、サロンなどで市民啓発（年6回）を実施予定。\n",
            ),
        ),
        (
            "(u) an active bullet dropped",
            replace("- 医師確保。\n", ""),
        ),
    ];
    for (name, md) in &mutations {
        assert_ne!(md, &good, "{name}: the mutation changed nothing");
        let diffs = differences(&seed, md);
        println!("{name}: {} difference(s)", diffs.len());
        for d in &diffs {
            println!("    {d}");
        }
        assert!(!diffs.is_empty(), "{name}: not detected");
    }
}

#[test]
fn the_seed_map_claims_every_seed_line_once() {
    let seed = seed();
    let lines: Vec<&str> = seed.split('\n').collect();
    assert_eq!(lines.len(), 272);
    let mut owner: BTreeMap<usize, String> = BTreeMap::new();
    let mut claim = |line: usize, who: String| {
        if let Some(other) = owner.get(&line) {
            assert_eq!(*other, who, "line {line} claimed twice");
        }
        owner.insert(line, who);
    };
    let line = |k: usize| h(lines[k - 1]);
    for (x, hub) in HUBS.iter().enumerate() {
        let id = format!("hub{x}");
        assert_eq!(line(hub.title), "##■連携の拠点の取組について");
        assert!(
            line(hub.document).starts_with("資料2-"),
            "line {}",
            hub.document
        );
        claim(hub.title, format!("{id} title"));
        claim(hub.document, format!("{id} document"));
        for (k, label) in ["対象地域", "連携の拠点", "委託先"].iter().enumerate() {
            assert!(
                line(hub.header + k).contains(label),
                "line {}",
                hub.header + k
            );
            claim(hub.header + k, format!("{id} header"));
        }
        for (k, p) in hub.parts.iter().enumerate() {
            let who = format!("{id} part{k}");
            let number = format!("({})", k + 1);
            assert!(
                h(&heading_of(lines[p.heading - 1])).starts_with(&number),
                "line {} is not heading {number}",
                p.heading
            );
            claim(p.heading, who.clone());
            if let Some(col) = p.columns {
                assert_eq!(row(lines[col - 1]).len(), 5, "line {col}");
                assert_eq!(row(lines[col - 1])[0], "①会議の開催", "line {col}");
                claim(col, who.clone());
            }
            if let Some(rule) = p.rule {
                assert!(line(rule).starts_with("---"), "line {rule}");
                claim(rule, who.clone());
            }
            for b in p.body.0..=p.body.1 {
                claim(b, who.clone());
            }
            assert!(!h(&cells(&lines, p.body)).is_empty(), "{who} is empty");
        }
        if let Some(a) = &hub.active {
            assert!(line(a.title).contains("積極的医療機関の取組について"));
            claim(a.title, format!("{id} active"));
            for k in 0..3 {
                claim(a.header + k, format!("{id} active"));
            }
            for (k, p) in a.parts.iter().enumerate() {
                let who = format!("{id} active{k}");
                let number = format!("({})", k + 1);
                assert!(
                    h(&heading_of(lines[p.heading - 1])).starts_with(&number),
                    "line {} is not heading {number}",
                    p.heading
                );
                claim(p.heading, who.clone());
                if let Some(s) = p.sub {
                    claim(s, who.clone());
                }
                for b in p.body.0..=p.body.1 {
                    claim(b, who.clone());
                }
            }
            if let Some(f) = a.footnote {
                assert!(lines[f - 1].starts_with("※"));
                claim(f, format!("{id} active footnote"));
            }
        }
    }
    let nonblank: BTreeSet<usize> = (1..=lines.len())
        .filter(|&k| !lines[k - 1].trim().is_empty())
        .collect();
    let claimed: BTreeSet<usize> = owner
        .keys()
        .copied()
        .filter(|k| nonblank.contains(k))
        .collect();
    assert_eq!(
        nonblank.difference(&claimed).collect::<Vec<_>>(),
        Vec::<&usize>::new(),
        "seed lines no part claims"
    );
}

#[test]
fn nothing_is_marked_missing() {
    let markdown = render();
    assert!(!markdown.contains("未入力"), "{markdown}");
    assert!(!markdown.contains(report::MISSING), "{markdown}");
}
