//! Surveys through the router on SQLite and PostgreSQL: a coordinator builds a questionnaire
//! (from the 24-hour template, adding, moving and deleting questions), sends it to institutions
//! of the area, and follows it; each institution answers once through its own signed link
//! (mailed, or handed over when it has no address); a second answer through the same link, an
//! answer to a closed survey and a tampered link are refused plainly; reminders go only to
//! those who have not answered; the results show as charts and figures and download as Excel.
//! An event's questionnaire goes to those who came and keeps no name with the answers.

mod common;

use axum::http::StatusCode;
use common::*;
use renkei_domain::accounts::AccountRole;
use renkei_testkit::{both_backends, TestDb};

/// The link's token in a mail body.
fn link_in(body: &str) -> String {
    body.lines()
        .find(|l| l.contains("/surveys/answer/"))
        .unwrap()
        .split("/surveys/answer/")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned()
}

async fn set_contact(db: &TestDb, institution: i64, address: Option<&str>) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE institutions SET contact_email = $1 WHERE id = $2")
        .bind(address)
        .bind(institution)
        .execute(&pool)
        .await
        .unwrap();
}

async fn a_coordinator_surveys_institutions_and_reads_the_results(db: TestDb) {
    let w = world_with_demo_directory(&db).await;
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;

    // A survey needs a title; the template gives the 24-hour questions.
    let refused = hub
        .post(
            "/hub/surveys",
            "/hub/surveys",
            vec![("area", "yao".into()), ("title", " ".into())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("題名を入れてください"));
    let created = hub
        .post(
            "/hub/surveys",
            "/hub/surveys",
            vec![
                ("area", "yao".into()),
                ("title", "24時間体制に関する調査".into()),
                ("intro", "八尾市医師会 在宅医療コーディネーターまで".into()),
                ("closes_on", "２０２６-１２-２５".into()),
                ("template", "twenty_four_hour".into()),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let url = created.location().to_owned();
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let page = hub.get(&url).await.body;
    assert!(page.contains("質問（5問）") && page.contains("data-stage=\"draft\""));
    assert!(!page.contains('⟦') && !hub.get("/hub/surveys").await.body.contains('⟦'));
    assert!(page.contains("令和8年12月25日"), "closing day in 和暦");

    // Building: a choice needs two options; a question is added, moved up, deleted.
    let bad = hub
        .post(
            &url,
            &format!("{url}/questions"),
            vec![
                ("kind", "single".into()),
                ("text", "訪問診療をしていますか".into()),
                ("options", "はい\n".into()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("問6：選択肢を2つ以上"), "{}", bad.body);
    let added = hub
        .post(
            &url,
            &format!("{url}/questions"),
            vec![
                ("kind", "scale".into()),
                ("text", "拠点の支援の満足度".into()),
                ("required", "1".into()),
                ("low", "不満".into()),
                ("high", "満足".into()),
                ("options", "無視される\n選択肢".into()),
            ],
        )
        .await;
    assert_eq!(added.location(), format!("{url}?done=added#questions"));
    let moved = hub
        .post(
            &url,
            &format!("{url}/questions/change"),
            vec![("n", "6".into()), ("action", "up".into())],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    let s = w.store.survey(id).await.unwrap().unwrap();
    assert_eq!(s.survey.questions.len(), 6);
    assert_eq!(s.survey.questions[4].text, "拠点の支援の満足度");
    assert!(
        s.survey.questions[4].options.is_empty(),
        "scale takes no options"
    );
    hub.post(
        &url,
        &format!("{url}/questions/change"),
        vec![("n", "5".into()), ("action", "delete".into())],
    )
    .await;
    let s = w.store.survey(id).await.unwrap().unwrap();
    assert_eq!(s.survey.questions.len(), 5);
    assert_eq!(s.survey.questions[4].text, "拠点へのご意見・ご要望");
    let preview = hub.get(&format!("{url}/preview")).await;
    assert!(preview.body.contains("data-testid=\"preview-banner\""));
    assert!(!preview.body.contains("submit-answers"));

    // Sending: three institutions of the area (one without an address) and one of another area
    // (ignored).
    let yao = w.store.institutions_in_area("yao").await.unwrap();
    let (a, b, c) = (yao[0].id.0, yao[1].id.0, yao[2].id.0);
    let elsewhere = w.store.institutions_in_area("kashiwara").await.unwrap()[0]
        .id
        .0;
    set_contact(&db, a, Some("a@clinic.example.jp")).await;
    set_contact(&db, b, Some("b@clinic.example.jp")).await;
    set_contact(&db, c, None).await;
    let page = hub.get(&url).await.body;
    assert!(page.contains("data-testid=\"candidates\""));
    assert!(page.contains("メールアドレス未登録"));
    let nobody = hub.post(&url, &format!("{url}/send"), Vec::new()).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nobody.body.contains("1つ以上選んで"));
    let sent = hub
        .post(
            &url,
            &format!("{url}/send"),
            [a, b, c, elsewhere]
                .iter()
                .map(|i| ("institution", i.to_string()))
                .collect(),
        )
        .await;
    assert_eq!(sent.location(), format!("{url}?done=sent&n=3#follow-up"));
    let mails = w.store.recent_mails(20).await.unwrap();
    let mail_to = |to: &str| {
        mails
            .iter()
            .find(|m| m.to_address == to && m.subject.contains("24時間体制"))
            .unwrap()
            .clone()
    };
    let mail_a = mail_to("a@clinic.example.jp");
    assert!(mail_a.subject.starts_with("【アンケートのお願い】"));
    assert!(mail_a.body.contains("御中") && mail_a.body.contains("令和8年12月25日"));
    let link_a = link_in(&mail_a.body);
    let link_b = link_in(&mail_to("b@clinic.example.jp").body);
    let page = hub.get(&url).await.body;
    assert!(page.contains("data-stage=\"open\"") && page.contains("data-recipients=\"3\""));
    let handed = page
        .split("data-testid=\"hand-link\"")
        .next()
        .unwrap()
        .rsplit("value=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let link_c = handed.split("/surveys/answer/").nth(1).unwrap().to_owned();

    // Questions are frozen once sent.
    let frozen = hub
        .post(
            &url,
            &format!("{url}/questions"),
            vec![("kind", "text".into()), ("text", "追加".into())],
        )
        .await;
    assert_eq!(frozen.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(frozen.body.contains("変えられません"));

    // Institution A answers: first with mistakes (told per question, typed answers kept).
    let mut clinic = Browser::new(&w.app);
    let answer = format!("/surveys/answer/{link_a}");
    let form = clinic.get(&answer).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("御中") && form.body.contains("submit-answers"));
    assert!(!form.body.contains('⟦') && !form.body.contains("<script"));
    let wrong = clinic
        .post(
            &answer,
            &answer,
            vec![
                ("q0", "1".into()),
                ("q1", "三人".into()),
                ("q2", "4".into()),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("2か所、直すところがあります"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("数字で入れてください") && wrong.body.contains("value=\"三人\""));
    assert!(
        wrong.body.contains("value=\"4\" checked"),
        "a ticked box stays ticked"
    );
    let fields = vec![
        ("q0", "1".to_owned()),
        ("q1", "３".into()),
        ("q2", "0".into()),
        ("q2", "4".into()),
        ("q3", "1".into()),
        ("q4", "研修を増やしてほしい".into()),
    ];
    let done = clinic.post(&answer, &answer, fields.clone()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("data-testid=\"survey-thanks\""));
    assert!(done.body.contains("医師の負担、情報共有の手段") && done.body.contains("3 人"));
    // The same link again: refused, nothing added.
    // (a second tab still showing the form, or a double press)
    let mut again_fields = fields.clone();
    again_fields.push(("csrf_token", csrf_in(&form.body).unwrap()));
    let again = clinic.send("POST", &answer, Some(again_fields)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("回答は1回だけ"), "{}", again.body);
    assert!(clinic
        .get(&answer)
        .await
        .body
        .contains("data-testid=\"survey-already\""));
    // A tampered link opens nothing.
    let (rid, mac) = link_a.split_once('-').unwrap();
    let forged = format!("{}-{mac}", rid.parse::<i64>().unwrap() + 1);
    assert_eq!(
        clinic
            .get(&format!("/surveys/answer/{forged}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        clinic.get("/surveys/answer/1-00").await.status,
        StatusCode::NOT_FOUND
    );

    // The handed-over link works the same way; three presses at once give one answer.
    let answer_c = format!("/surveys/answer/{link_c}");
    let mut presses = Vec::new();
    for _ in 0..3 {
        let mut b = Browser::new(&w.app);
        let token = csrf_in(&b.get(&answer_c).await.body).unwrap();
        presses.push((b, token));
    }
    let statuses = futures_util::future::join_all(presses.into_iter().map(|(mut b, token)| {
        let answer_c = answer_c.clone();
        async move {
            let fields = vec![
                ("q0", "0".to_owned()),
                ("q1", "5".into()),
                ("q3", "0".into()),
                ("csrf_token", token),
            ];
            b.send("POST", &answer_c, Some(fields)).await.status
        }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        2
    );

    // A reminder goes only to B (not answered, with an address).
    let before = w.store.recent_mails(50).await.unwrap().len();
    let reminded = hub.post(&url, &format!("{url}/remind"), Vec::new()).await;
    assert_eq!(
        reminded.location(),
        format!("{url}?done=reminded&n=1#follow-up")
    );
    let mails = w.store.recent_mails(50).await.unwrap();
    assert_eq!(mails.len(), before + 1);
    let reminder = mails
        .iter()
        .find(|m| m.subject.starts_with("【再送・アンケートのお願い】"))
        .unwrap();
    assert_eq!(reminder.to_address, "b@clinic.example.jp");
    assert_eq!(link_in(&reminder.body), link_b, "the same link again");

    // Results: charts, figures, texts with the institution's name.
    let page = hub.get(&url).await.body;
    assert!(!page.contains('⟦'), "no missing catalogue text");
    assert!(page.contains("data-answered=\"2\""));
    assert!(page.contains("data-testid=\"chart-survey-q1\""));
    assert!(
        page.contains("合計 8 人") && page.contains("中央値 4 人"),
        "{page}"
    );
    assert!(page.contains("研修を増やしてほしい"));
    let (status, headers, bytes) = hub.get_bytes(&format!("{url}/results.xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[axum::http::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains(".xlsx"));
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("回答").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0][2].starts_with("問1 夜間・休日"));
    assert_eq!(rows[1][0], yao[0].name);
    assert_eq!(rows[1][4], "医師の負担、情報共有の手段");

    // Into the ledger as ② with the figures, once however often pressed; the report says it.
    for _ in 0..2 {
        let recorded = hub.post(&url, &format!("{url}/ledger"), Vec::new()).await;
        assert_eq!(recorded.location(), format!("{url}?done=recorded"));
    }
    let ledger = w.store.ledger("yao", 2026).await.unwrap().unwrap().ledger;
    let items: Vec<_> = ledger
        .items
        .iter()
        .filter(|i| i.title.starts_with("24時間体制に関する調査"))
        .collect();
    assert_eq!(items.len(), 1, "one item per survey, replaced");
    assert_eq!(items[0].duties, vec![2]);
    assert!(items[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("3機関に送付し、2機関から回答（回答率 66%）"));
    assert!(hub
        .get("/ledger/2026/report")
        .await
        .body
        .contains("24時間体制に関する調査（11月25日送付）"));

    // Closed while B had the form open: refused plainly.
    let answer_b = format!("/surveys/answer/{link_b}");
    let mut late = Browser::new(&w.app);
    let opened = late.get(&answer_b).await.body;
    hub.post(&url, &format!("{url}/close"), vec![("closed", "1".into())])
        .await;
    assert!(late
        .get(&answer_b)
        .await
        .body
        .contains("data-testid=\"survey-closed\""));
    let mut b_fields = vec![("q0", "2".into()), ("q1", "1".into()), ("q3", "2".into())];
    b_fields.push(("csrf_token", csrf_in(&opened).unwrap()));
    let closed = late.send("POST", &answer_b, Some(b_fields.clone())).await;
    assert_eq!(closed.status, StatusCode::GONE);
    assert!(closed.body.contains("締め切りました"), "{}", closed.body);
    hub.post(&url, &format!("{url}/close"), vec![("closed", "0".into())])
        .await;
    assert!(hub.get(&url).await.body.contains("data-stage=\"open\""));
    // After the closing day, answers are refused however the survey was left.
    w.clock.advance(chrono::Duration::days(31));
    let past = late.send("POST", &answer_b, Some(b_fields.clone())).await;
    assert_eq!(past.status, StatusCode::GONE);
    assert!(past.body.contains("令和8年12月25日で締め切りました"));
    assert_eq!(w.store.survey(id).await.unwrap().unwrap().answered, 2);

    // The hub's pages are the coordinator's.
    let mut staff = w.login(&email_of(AccountRole::InstitutionStaff)).await;
    assert_eq!(
        staff.get("/hub/surveys").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(staff.get(&url).await.status, StatusCode::FORBIDDEN);
}

async fn the_post_event_questionnaire_goes_to_those_who_came_and_keeps_no_names(db: TestDb) {
    let w = world(&db).await;
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;
    let created = hub
        .post(
            "/hub/events",
            "/hub/events",
            vec![
                ("title", "人生会議（ACP）講習会".into()),
                ("area", "yao".into()),
                ("kind", "lecture".into()),
                ("audience", "citizens".into()),
                ("starts_at", "2026-11-28T14:00".into()),
                ("ends_time", "16:00".into()),
                ("place", "八尾市文化会館".into()),
                ("public", "1".into()),
            ],
        )
        .await;
    let event_url = created.location().to_owned();
    let event: i64 = event_url.rsplit('/').next().unwrap().parse().unwrap();
    for (name, email) in [
        ("河内 太郎", "taro@example.jp"),
        ("八尾 花子", "hanako@example.jp"),
    ] {
        let mut citizen = Browser::new(&w.app);
        let page = format!("/events/{event}");
        let r = citizen
            .post(
                &page,
                &format!("{page}/register"),
                vec![
                    ("name", name.into()),
                    ("organisation", String::new()),
                    ("profession", String::new()),
                    ("email", email.into()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let regs = w.store.registrations(event).await.unwrap();
    hub.post(
        &event_url,
        &format!("/hub/events/{event}/attendance/{}", regs[0].id),
        vec![("attended", "1".into())],
    )
    .await;
    w.clock.advance(chrono::Duration::days(4));
    let mut hub = w.login(&email_of(AccountRole::HubCoordinator)).await;

    // One questionnaire per event, from the template.
    let page = hub.get(&event_url).await.body;
    assert!(page.contains("data-testid=\"event-survey\""));
    let made = hub
        .post(
            &event_url,
            &format!("/hub/events/{event}/survey"),
            Vec::new(),
        )
        .await;
    let url = made.location().to_owned();
    let again = hub
        .post(
            &event_url,
            &format!("/hub/events/{event}/survey"),
            Vec::new(),
        )
        .await;
    assert_eq!(again.location(), url);
    let page = hub.get(&url).await.body;
    assert!(page.contains("参加者アンケート") && page.contains("質問（4問）"));
    assert!(
        page.contains("1人に、回答のリンク"),
        "only the one checked in"
    );

    let sent = hub.post(&url, &format!("{url}/send"), Vec::new()).await;
    assert!(
        sent.location().contains("done=sent&n=1"),
        "{}",
        sent.location()
    );
    let mails = w.store.recent_mails(20).await.unwrap();
    let mail = mails
        .iter()
        .find(|m| m.subject.contains("参加者アンケート"))
        .unwrap();
    assert_eq!(mail.to_address, "taro@example.jp");
    assert!(mail.body.contains("河内 太郎 様"));
    let answer = format!("/surveys/answer/{}", link_in(&mail.body));
    let mut taro = Browser::new(&w.app);
    let done = taro
        .post(
            &answer,
            &answer,
            vec![
                ("q0", "5".into()),
                ("q1", "0".into()),
                ("q3", "家族と話し合うきっかけになった".into()),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // Nothing ties the answer to him: not the page, not the stored answer.
    let id: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    let stored = w.store.survey_responses(id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, None);
    assert_eq!(stored[0].submitted_at, "2026-11-29", "the day only");
    let page = hub.get(&url).await.body;
    assert!(page.contains("data-answered=\"1\"") && page.contains("平均 5.0"));
    assert!(page.contains("家族と話し合うきっかけになった"));
    assert!(!page.contains("河内 太郎"), "no name on the page");
}

both_backends!(
    a_coordinator_surveys_institutions_and_reads_the_results,
    the_post_event_questionnaire_goes_to_those_who_came_and_keeps_no_names
);
