//! A safety check as an OASIS CAP 1.2 alert (`urn:oasis:names:tc:emergency:cap:1.2`), so other
//! alerting systems can carry it: status `Exercise` for a drill and `Actual` for a real alert,
//! scope `Restricted` (it concerns the hub and its targets), one `info` in Japanese and one in
//! English, an `area` per targeted area with its municipality's JIS X 0402 code. Elements are
//! written in the schema's order (CAP's types are sequences); times carry `+09:00` and no
//! fraction, as the schema's pattern requires.

use renkei_store::safety::CheckRecord;

/// What the alert says beyond the check itself.
pub struct AlertContext<'a> {
    /// Renkei's public address (for `sender` and `web`).
    pub public_url: &'a str,
    /// The targeted areas: (name in Japanese, name in English, municipality code).
    pub areas: Vec<(String, String, String)>,
    /// The hubs of those areas (`senderName`).
    pub hubs: Vec<String>,
    /// Targets and answers so far.
    pub targets: i64,
    /// Answers so far.
    pub answered: i64,
}

/// XML text with the five special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A stored UTC time as CAP writes it: `2026-12-01T18:00:00+09:00`.
pub fn cap_time(stored: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stored)
        .map(|t| {
            t.with_timezone(&renkei_domain::japan::jst())
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_else(|_| stored.to_owned())
}

fn element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(&format!("{indent}<{name}>{}</{name}>\n", escape(text)));
}

/// The CAP 1.2 document of a check.
pub fn safety_check_alert(check: &CheckRecord, ctx: &AlertContext<'_>) -> String {
    let host = ctx
        .public_url
        .trim_end_matches('/')
        .split("://")
        .nth(1)
        .unwrap_or("renkei")
        .split('/')
        .next()
        .unwrap_or("renkei");
    let drill = check.kind == renkei_domain::safety::CheckKind::Drill;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n",
    );
    let a = "  ";
    element(
        &mut out,
        a,
        "identifier",
        &format!("renkei-safety-check-{}", check.id),
    );
    element(&mut out, a, "sender", &format!("renkei@{host}"));
    element(&mut out, a, "sent", &cap_time(&check.created_at));
    element(
        &mut out,
        a,
        "status",
        if drill { "Exercise" } else { "Actual" },
    );
    element(&mut out, a, "msgType", "Alert");
    element(&mut out, a, "scope", "Restricted");
    element(
        &mut out,
        a,
        "restriction",
        "連携の拠点と対象の医療機関等に限る / the hub and the institutions asked only",
    );
    if let Some(closed) = &check.closed_at {
        element(
            &mut out,
            a,
            "note",
            &format!("締め切り済み / closed {}", cap_time(closed)),
        );
    }
    let web = format!(
        "{}/hub/safety/{}",
        ctx.public_url.trim_end_matches('/'),
        check.id
    );
    let expires = check
        .closed_at
        .clone()
        .filter(|c| c < &check.deadline)
        .unwrap_or_else(|| check.deadline.clone());
    let infos = [
        (
            "ja-JP",
            if drill { "安否確認（訓練）" } else { "安否確認" },
            check.title.clone(),
            format!(
                "{}対象 {} 件、回答 {} 件。",
                if check.message.is_empty() {
                    String::new()
                } else {
                    format!("{}\n", check.message)
                },
                ctx.targets,
                ctx.answered
            ),
            "各医療機関等に届いた専用のリンクから、職員・患者の安否、建物、電気、水、受け入れられる患者数を回答してください。",
        ),
        (
            "en-US",
            if drill {
                "Safety check (drill)"
            } else {
                "Safety check"
            },
            check.title.clone(),
            format!(
                "{} institutions asked, {} answered.",
                ctx.targets, ctx.answered
            ),
            "Each institution answers through its own link: people, building, power, water and how many patients it can accept.",
        ),
    ];
    for (language, event, headline, description, instruction) in infos {
        out.push_str("  <info>\n");
        let b = "    ";
        element(&mut out, b, "language", language);
        element(&mut out, b, "category", "Health");
        element(&mut out, b, "event", event);
        element(&mut out, b, "responseType", "Assess");
        element(&mut out, b, "urgency", "Immediate");
        element(&mut out, b, "severity", "Unknown");
        element(&mut out, b, "certainty", "Unknown");
        element(
            &mut out,
            b,
            "audience",
            "医療機関・事業所 / healthcare institutions",
        );
        element(&mut out, b, "effective", &cap_time(&check.created_at));
        element(&mut out, b, "expires", &cap_time(&expires));
        if !ctx.hubs.is_empty() {
            element(&mut out, b, "senderName", &ctx.hubs.join("、"));
        }
        element(&mut out, b, "headline", &headline);
        element(&mut out, b, "description", &description);
        element(&mut out, b, "instruction", instruction);
        element(&mut out, b, "web", &web);
        for (name, value) in [
            ("renkei:targets", ctx.targets),
            ("renkei:answered", ctx.answered),
        ] {
            out.push_str("    <parameter>\n");
            element(&mut out, "      ", "valueName", name);
            element(&mut out, "      ", "value", &value.to_string());
            out.push_str("    </parameter>\n");
        }
        for (ja, en, municipality) in &ctx.areas {
            out.push_str("    <area>\n");
            let name = if language == "ja-JP" { ja } else { en };
            element(&mut out, "      ", "areaDesc", name);
            out.push_str("      <geocode>\n");
            element(&mut out, "        ", "valueName", "JIS X 0402");
            element(&mut out, "        ", "value", municipality);
            out.push_str("      </geocode>\n");
            out.push_str("    </area>\n");
        }
        out.push_str("  </info>\n");
    }
    out.push_str("</alert>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_domain::safety::{CheckKind, Targeting};

    fn check(kind: CheckKind) -> CheckRecord {
        CheckRecord {
            id: 7,
            title: "880万人訓練 <安否確認> & 連絡".into(),
            kind,
            message: "訓練です".into(),
            targeting: Targeting::default(),
            created_at: "2026-09-01T00:30:00.123456Z".into(),
            deadline: "2026-09-01T03:00:00.000000Z".into(),
            closed_at: None,
            reminders_before: vec![30],
            targets: 76,
            answered: 12,
        }
    }

    fn context() -> AlertContext<'static> {
        AlertContext {
            public_url: "https://renkei.example.jp",
            areas: vec![("八尾市".into(), "Yao".into(), "27212".into())],
            hubs: vec!["八尾市医師会".into()],
            targets: 76,
            answered: 12,
        }
    }

    /// The element names in document order.
    fn tags(xml: &str) -> Vec<String> {
        xml.split('<')
            .skip(1)
            .filter(|t| !t.starts_with('/') && !t.starts_with('?'))
            .map(|t| {
                t.split(|c: char| c == '>' || c.is_whitespace())
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn a_drill_is_an_exercise_in_the_schemas_order() {
        let xml = safety_check_alert(&check(CheckKind::Drill), &context());
        let t = tags(&xml);
        let alert: Vec<&str> = t.iter().take(8).map(String::as_str).collect();
        assert_eq!(
            alert,
            [
                "alert",
                "identifier",
                "sender",
                "sent",
                "status",
                "msgType",
                "scope",
                "restriction"
            ]
        );
        let info_at = t.iter().position(|x| x == "info").unwrap();
        let info: Vec<&str> = t[info_at + 1..info_at + 17]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(
            info,
            [
                "language",
                "category",
                "event",
                "responseType",
                "urgency",
                "severity",
                "certainty",
                "audience",
                "effective",
                "expires",
                "senderName",
                "headline",
                "description",
                "instruction",
                "web",
                "parameter"
            ]
        );
        assert!(xml.contains("<status>Exercise</status>"));
        assert!(xml.contains("<sent>2026-09-01T09:30:00+09:00</sent>"));
        assert!(xml.contains("<expires>2026-09-01T12:00:00+09:00</expires>"));
        assert!(xml.contains("880万人訓練 &lt;安否確認&gt; &amp; 連絡"));
        assert!(xml.contains("<value>27212</value>"));
        assert!(xml.contains("<language>en-US</language>"));
        for name in ["sent", "effective", "expires"] {
            let open = format!("<{name}>");
            for text in xml.split(&open).skip(1) {
                let time = text.split('<').next().unwrap();
                // The schema's pattern: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d
                assert_eq!(time.len(), 25, "{name}: {time}");
                assert!(
                    time.ends_with("+09:00") && !time.contains('.'),
                    "{name}: {time}"
                );
            }
        }
    }

    #[test]
    fn a_real_alert_is_actual_and_a_closed_one_expires_when_closed() {
        let mut c = check(CheckKind::Actual);
        c.closed_at = Some("2026-09-01T01:00:00.000000Z".into());
        let xml = safety_check_alert(&c, &context());
        assert!(xml.contains("<status>Actual</status>"));
        assert!(xml.contains("<expires>2026-09-01T10:00:00+09:00</expires>"));
        assert!(xml.contains("<note>"));
    }
}
