//! Support metrics over real conversations: what the bot resolved, what went to a person and
//! how long people took, ratings and "did that help?", as JSON and CSV, behind the admin key.

use serde_json::{Value, json};

use crate::support::{Reply, Site, conversation_of, edge, site_with_articles};

fn metrics(site: &Site, query: &str, key: &str) -> Reply {
    let auth = format!("Bearer {key}");
    edge().request(
        "GET",
        &site.path(&format!("/metrics{query}")),
        &[("Authorization", &auth)],
        None,
    )
}

fn feedback(site: &Site, token: &str, message: &str, helpful: bool) {
    let body = json!({ "message": message, "helpful": helpful });
    edge()
        .json("POST", &site.path("/conversation/feedback"), Some(token), &body)
        .expect_ok(200);
}

#[test]
fn metrics_count_deflections_escalations_and_ratings_from_real_conversations() {
    let site = site_with_articles();

    // Resolved by the bot: an answer, and "yes, that helped". A resend of the question counts once.
    let helped = site.session();
    let answer = site.send(&helped, "a1", "I forgot my password");
    let answer_id = answer.expect_ok(200)["messages"][1]["id"].as_str().unwrap().to_owned();
    site.send(&helped, "a1", "I forgot my password").expect_ok(200);
    feedback(&site, &helped, &answer_id, true);

    // Not helped, asks for a person, who replies and resolves; then a rating.
    let escalated = site.session();
    let answer = site.send(&escalated, "b1", "can I get a refund");
    let answer_id = answer.expect_ok(200)["messages"][1]["id"].as_str().unwrap().to_owned();
    feedback(&site, &escalated, &answer_id, false);
    site.send(&escalated, "b2", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &escalated);
    let staff = |rest: &str, body: Value| {
        edge()
            .json(
                "POST",
                &site.path(&format!("/conversations/{conversation}{rest}")),
                Some(&site.admin_key),
                &body,
            )
            .expect_ok(200)
            .clone()
    };
    staff("/replies", json!({ "id": "r1", "text": "Refund sent." }));
    staff("/resolve", json!({}));
    edge()
        .json(
            "POST",
            &site.path("/conversation/rating"),
            Some(&escalated),
            &json!({ "score": 4 }),
        )
        .expect_ok(200);

    // A question the bot cannot place, left there.
    let lost = site.session();
    site.send(&lost, "c1", "zebra quantum marmalade").expect_ok(200);

    let report = metrics(&site, "", &site.admin_key);
    let report = report.expect_ok(200);
    let total = &report["total"];
    assert_eq!(total["contacts"], 3, "{total}");
    assert_eq!(total["deflected"], 1);
    assert_eq!(total["deflection_rate"], 0.3333);
    assert_eq!(total["escalated"], 1);
    assert_eq!(total["human_resolved"], 1);
    assert_eq!(total["abandoned"], 1);
    assert_eq!(total["first_contact_resolution_rate"], 0.6667);
    assert_eq!(
        (total["ratings"].as_u64(), total["csat_mean"].as_f64()),
        (Some(1), Some(4.0))
    );
    assert_eq!(total["helpful_rate"], 0.5);
    assert_eq!(total["first_human_response_s"]["n"], 1);
    assert_eq!(total["human_resolution_s"]["n"], 1);
    assert_eq!(total["bot_resolution_s"]["n"], 1);
    assert_eq!(report["channels"]["chat"]["contacts"], 3);
    let reasons = report["escalation_reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["reason"] == "visitor_asked" && r["count"] == 1),
        "{reasons:?}"
    );
    let topics = report["topics"].as_array().unwrap();
    let reset = topics.iter().find(|t| t["article"] == "reset-password").unwrap();
    assert_eq!(reset["deflection_rate"], 1.0);
    let refunds = topics.iter().find(|t| t["article"] == "refunds").unwrap();
    assert_eq!(
        (refunds["escalated"].as_u64(), refunds["csat_mean"].as_f64()),
        (Some(1), Some(4.0))
    );
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    assert_eq!(days[29]["total"]["contacts"], 3, "today is the last day");
    assert_eq!(days[0]["total"]["contacts"], 0);

    // The same as CSV, for a spreadsheet.
    let today = days[29]["day"].as_str().unwrap();
    let query = format!("?from={today}&to={today}&format=csv");
    let csv = metrics(&site, &query, &site.admin_key);
    assert_eq!(csv.status, 200);
    assert!(csv.header("Content-Type").unwrap().starts_with("text/csv"));
    assert!(csv.header("Content-Disposition").unwrap().contains(".csv"));
    let auth = format!("Bearer {}", site.admin_key);
    let bytes = edge().request_bytes(
        "GET",
        &site.path(&format!("/metrics{query}")),
        &[("Authorization", &auth)],
    );
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("day,channel,contacts,deflected,deflection_rate"),
        "{text}"
    );
    assert!(lines[1].starts_with(&format!("{today},all,3,1,0.3333,")), "{text}");
    assert!(lines[2].starts_with(&format!("{today},chat,3,")), "{text}");
}

#[test]
fn metrics_are_for_the_admin_and_bad_ranges_are_named() {
    let site = site_with_articles();
    let visitor = site.session();
    site.send(&visitor, "m1", "I forgot my password").expect_ok(200);
    edge()
        .request("GET", &site.path("/metrics"), &[], None)
        .expect_error(401, "invalid_key");
    metrics(&site, "", "not-the-key").expect_error(401, "invalid_key");
    for (query, field) in [
        ("?from=2026-02-30", "from"),
        ("?to=tomorrow", "to"),
        ("?from=2026-11-20&to=2026-11-10", "from"),
        ("?from=2020-01-01&to=2026-01-01", "from"),
        ("?format=xml", "format"),
    ] {
        let reply = metrics(&site, query, &site.admin_key);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{query}");
    }
    // Refusals change nothing: the contact is still counted once.
    let report = metrics(&site, "", &site.admin_key);
    assert_eq!(report.expect_ok(200)["total"]["contacts"], 1);
}

#[test]
fn questions_the_bot_could_not_answer_are_grouped_by_topic_most_asked_first() {
    let site = site_with_articles();
    for (i, question) in [
        "Do you ship to Norway?",
        "zebra quantum marmalade",
        "do you deliver to norway",
        "shipping to Norway possible?",
    ]
    .iter()
    .enumerate()
    {
        let visitor = site.session();
        let reply = site.send(&visitor, &format!("u{i}"), question);
        assert_ne!(
            reply.expect_ok(200)["messages"][1]["bot"]["kind"],
            "answer",
            "{question}"
        );
    }
    let reply = metrics(&site, "/unanswered", &site.admin_key);
    let topics = reply.expect_ok(200)["topics"].as_array().unwrap().clone();
    assert_eq!(topics.len(), 2, "{topics:#?}");
    assert_eq!(topics[0]["count"], 3);
    assert_eq!(topics[0]["no_answer"], 3);
    assert!(topics[0]["label"].as_str().unwrap().to_lowercase().contains("norway"));
    assert_eq!(topics[1]["examples"][0], "zebra quantum marmalade");
    metrics(&site, "/unanswered?from=nope", &site.admin_key).expect_error(400, "invalid_field");
}

#[test]
fn a_customer_contacting_far_more_than_usual_is_on_the_churn_watch_list() {
    let site = site_with_articles();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let day = 86_400_000u64;
    let mut lines = Vec::new();
    let mut contact = |conversation: &str, at: u64| {
        let id = format!("{conversation}-{}", lines.len());
        lines.push(
            json!({ "id": id, "at": at, "conversation": conversation, "channel": "email", "kind": "customer_message" })
                .to_string(),
        );
        lines.push(json!({ "id": format!("{id}-a"), "at": at + 1_000, "conversation": conversation, "channel": "email", "kind": "bot_answer", "article": "refunds" }).to_string());
    };
    // Once a week for eight weeks, then four times in five days (each after more than a day's
    // silence, so each is a contact of its own).
    for week in 2..10 {
        contact("jumped", now - week * 7 * day);
    }
    for d in 0..4 {
        contact("jumped", now - d * (day + 7_200_000) - 3_600_000);
    }
    // Three a week, every week: busy, but as usual.
    for d in (0..84).step_by(2).take(36) {
        contact("steady", now - d * day - 7_200_000);
    }
    let auth = format!("Bearer {}", site.admin_key);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-ndjson"),
    ];
    let imported = edge().request(
        "POST",
        &site.path("/metrics/events"),
        &headers,
        Some(lines.join("\n").as_bytes()),
    );
    assert_eq!(imported.expect_ok(200)["recorded"], lines.len());

    let watch = metrics(&site, "/churn", &site.admin_key);
    let customers = watch.expect_ok(200)["customers"].as_array().unwrap().clone();
    assert_eq!(customers.len(), 1, "{customers:#?}");
    let jumped = &customers[0];
    assert_eq!(jumped["conversation"], "jumped");
    assert_eq!(jumped["recent_contacts"], 4);
    assert_eq!(jumped["usual_per_week"], 0.67);
    assert_eq!(jumped["jump"], 6.0);
    assert_eq!(jumped["topics"], json!(["refunds", "refunds", "refunds", "refunds"]));

    let bad = edge().request("POST", &site.path("/metrics/events"), &headers, Some(b"{\"id\": 1}"));
    bad.expect_error(400, "invalid_field");
    assert_eq!(bad.body["error"]["field"], "events");
}

#[test]
fn times_can_count_business_hours_only_in_the_teams_time_zone() {
    let site = site_with_articles();
    // Escalated on Friday 2026-11-20 at 16:30 in Berlin (15:30 UTC); the first reply came on
    // Monday at 09:30 Berlin time and the resolution at 11:00.
    let friday = 1_795_188_600_000u64;
    let minute = 60_000u64;
    let monday = friday + (2 * 24 + 17) * 60 * minute;
    let events = [
        (friday - 2 * minute, json!({ "kind": "customer_message" })),
        (friday, json!({ "kind": "escalated", "reasons": ["visitor_asked"] })),
        (monday, json!({ "kind": "agent_reply" })),
        (monday + 90 * minute, json!({ "kind": "resolved" })),
    ];
    let lines: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, (at, kind))| {
            let mut event = json!({ "id": format!("e{i}"), "at": at, "conversation": "weekend", "channel": "email" });
            event.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
            event.to_string()
        })
        .collect();
    let auth = format!("Bearer {}", site.admin_key);
    let imported = edge().request(
        "POST",
        &site.path("/metrics/events"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/x-ndjson"),
        ],
        Some(lines.join("\n").as_bytes()),
    );
    assert_eq!(imported.expect_ok(200)["recorded"], 4);
    let range = "?from=2026-11-16&to=2026-11-22";

    // Without opening hours there is no business clock to count by: refused by name.
    let refused = metrics(&site, &format!("{range}&hours=business"), &site.admin_key);
    refused.expect_error(400, "invalid_field");
    assert_eq!(refused.body["error"]["field"], "hours");
    let bad = metrics(&site, &format!("{range}&hours=weekdays"), &site.admin_key);
    bad.expect_error(400, "invalid_field");
    assert_eq!(bad.body["error"]["field"], "hours");

    let hours = json!({"widget": {"hours": {"time_zone": "Europe/Berlin",
        "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]}}});
    edge()
        .json("PATCH", &site.path(""), Some(&site.admin_key), &hours)
        .expect_ok(200);
    let wall = metrics(&site, range, &site.admin_key);
    let wall = wall.expect_ok(200);
    assert_eq!(wall["business_hours"], Value::Null);
    let business = metrics(&site, &format!("{range}&hours=business"), &site.admin_key);
    let business = business.expect_ok(200);
    assert_eq!(business["business_hours"], "Europe/Berlin");
    // A quantile is the middle of its histogram bucket: within a sixteenth of the true time.
    let seconds = |report: &Value, name: &str| report["channels"]["email"][name]["p50"].as_f64().unwrap();
    let near = |actual: f64, expected: f64| (actual - expected).abs() <= expected / 16.0;
    assert!(near(seconds(wall, "first_human_response_s"), 65.0 * 3600.0), "{wall:#}");
    // Half an hour on Friday and half an hour on Monday, on Berlin's clock (on UTC's it would
    // be an hour and a half).
    assert!(
        near(seconds(business, "first_human_response_s"), 3600.0),
        "{business:#}"
    );
    assert!(
        near(seconds(business, "human_resolution_s"), 2.5 * 3600.0),
        "{business:#}"
    );
    assert_eq!(business["total"]["contacts"], wall["total"]["contacts"]);
}
