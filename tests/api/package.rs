//! The escalation package: what the bot tried (with the customer's "did that help?"), the
//! transcript cut to fit a webhook body with a signed, expiring link to all of it, the team
//! learned from who resolved the topic before, staff's internal notes, and Slack's format.

use serde_json::{Value, json};

use crate::support::{ARTICLES, ORIGIN, OwnEdge, Site, edge, site_with_articles};
use crate::webhooks::{Receiver, add_endpoint, check_signed};

fn staff_key(site: &Site, name: &str, team: &str) -> String {
    let body = json!({ "name": name, "team": team });
    let reply = edge().json("POST", &site.path("/staff-keys"), Some(&site.admin_key), &body);
    let created = reply.expect_ok(201);
    assert_eq!(created["team"], team);
    created["key"].as_str().unwrap().to_owned()
}

fn feedback(site: &Site, token: &str, body: &Value) -> crate::support::Reply {
    edge().json("POST", &site.path("/conversation/feedback"), Some(token), body)
}

/// The path and query of an absolute URL on the edge.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

#[test]
fn the_package_says_what_the_bot_tried_and_links_the_whole_transcript() {
    let site = site_with_articles();
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    let token = site.session();
    let reply = site
        .send(&token, "q1", "how do I reset my password")
        .expect_ok(200)
        .clone();
    let answer = &reply["messages"][1];
    assert_eq!(answer["bot"]["kind"], "answer", "{reply}");
    let answer_id = answer["id"].as_str().unwrap();

    // "Did that help?": only on the bot's answers, with a clear error otherwise.
    feedback(&site, &token, &json!({ "message": "q1", "helpful": true })).expect_error(400, "invalid_field");
    feedback(&site, &token, &json!({ "message": "nope", "helpful": true })).expect_error(404, "not_found");
    feedback(&site, &token, &json!({ "message": answer_id })).expect_error(400, "invalid_field");
    let other = site.session();
    feedback(&site, &other, &json!({ "message": answer_id, "helpful": false })).expect_error(404, "not_found");
    let given = feedback(&site, &token, &json!({ "message": answer_id, "helpful": false }));
    assert_eq!(given.expect_ok(200)["message"]["helpful"], false);
    let transcript = site.transcript(&token);
    assert_eq!(transcript[1]["helpful"], false, "the transcript keeps the feedback");

    site.send(&token, "q2", "that did not work <b>at all</b>, talk to a human")
        .expect_ok(200);
    let got = receiver.wait_for(1);
    let event = check_signed(&got[0], &secret);
    let data = &event["data"];
    let attempts = data["bot_attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["outcome"], "answer");
    assert_eq!(attempts[0]["article"]["id"], "reset-password");
    assert_eq!(attempts[0]["helpful"], false);
    assert!(attempts[0]["confidence"].as_f64().unwrap() > 0.0);
    assert_eq!(
        data["transcript_truncated"],
        Value::Null,
        "a short conversation goes whole"
    );

    // The signed link shows the whole conversation to whoever holds it, until it expires.
    let url = data["transcript_url"].as_str().expect("a transcript link");
    let expires = data["transcript_url_expires_at"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now + 6 * 86_400..=now + 8 * 86_400).contains(&expires), "about a week");
    let whole = edge().request("GET", path_of(url), &[], None);
    let messages = whole.expect_ok(200)["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), site.transcript(&token).len());
    assert!(whole.header("cache-control").unwrap().contains("no-store"));
    let page = edge().request("GET", path_of(url), &[("Accept", "text/html")], None);
    assert_eq!(page.status, 200);
    // (The HTML page is not JSON, so its body is checked through the escaping unit test; here
    // its headers.)
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    // Tampered links are refused.
    let tampered = path_of(url).replace("signature=", "signature=0");
    edge()
        .request("GET", &tampered, &[], None)
        .expect_error(401, "invalid_token");
    let stretched = path_of(url).replace(&format!("expires={expires}"), &format!("expires={}", expires + 86_400));
    edge()
        .request("GET", &stretched, &[], None)
        .expect_error(401, "invalid_token");
    let unsigned = path_of(url).split('?').next().unwrap().to_owned();
    edge()
        .request("GET", &unsigned, &[], None)
        .expect_error(401, "invalid_token");
}

#[test]
fn teams_are_learned_from_who_resolved_the_topic_and_notes_stay_internal() {
    let site = site_with_articles();
    let billing = staff_key(&site, "Bea", "billing");
    let auth = format!("Bearer {billing}");
    // The newest conversation waiting in the queue.
    let newest_waiting = || -> String {
        let queue = edge().request("GET", &site.path("/queue"), &[("Authorization", &auth)], None);
        let entries = queue.expect_ok(200)["queue"].as_array().unwrap().clone();
        entries.last().unwrap()["conversation"].as_str().unwrap().to_owned()
    };
    let ask = |n: u32| -> (String, Value) {
        let token = site.session();
        site.send(
            &token,
            "q1",
            "I want my money back, can I talk to a human about a refund",
        )
        .expect_ok(200);
        let conversation = newest_waiting();
        let view = edge().request(
            "GET",
            &site.path(&format!("/conversations/{conversation}")),
            &[("Authorization", &auth)],
            None,
        );
        let escalation = view.expect_ok(200)["escalation"].clone();
        assert_eq!(escalation["topic"], "refunds", "conversation {n}: {escalation}");
        (conversation, escalation)
    };
    // Nobody has resolved refunds yet: the default team.
    for n in 0..2 {
        let (conversation, escalation) = ask(n);
        assert_eq!(escalation["team"], "support");
        assert_eq!(escalation["team_source"], "default");
        // Billing staff add an internal note and resolve it.
        let note = json!({ "id": "n1", "text": "Refund issued, ref R-1" });
        let path = site.path(&format!("/conversations/{conversation}/notes"));
        let created = edge().json("POST", &path, Some(&billing), &note);
        assert_eq!(created.expect_ok(201)["author"], "Bea");
        edge().json("POST", &path, Some(&billing), &note).expect_ok(201);
        let view = edge().request(
            "GET",
            &site.path(&format!("/conversations/{conversation}")),
            &[("Authorization", &auth)],
            None,
        );
        let view = view.expect_ok(200);
        assert_eq!(
            view["notes"].as_array().unwrap().len(),
            1,
            "a resent note is stored once"
        );
        assert!(!view["messages"].to_string().contains("R-1"), "notes are not messages");
        let resolve = site.path(&format!("/conversations/{conversation}/resolve"));
        edge()
            .request("POST", &resolve, &[("Authorization", &auth)], None)
            .expect_ok(200);
    }
    // Billing resolved refunds twice: the next one goes to billing, learned.
    let (_, escalation) = ask(2);
    assert_eq!(escalation["team"], "billing");
    assert_eq!(escalation["team_source"], "history");
    // Notes need a staff key and an existing conversation.
    let path = site.path("/conversations/v_0123456789abcdef0123456789abcdef/notes");
    edge()
        .json("POST", &path, Some(&billing), &json!({ "id": "n1", "text": "x" }))
        .expect_error(404, "unknown_conversation");
    let token = site.session();
    edge()
        .json("POST", &path, Some(&token), &json!({ "id": "n1", "text": "x" }))
        .expect_error(401, "invalid_key");
}

#[test]
fn slack_endpoints_get_a_block_kit_summary_with_a_link() {
    let site = site_with_articles();
    let bad = json!({ "url": "https://hooks.slack.com/services/T/B/X", "format": "teams" });
    edge()
        .json("POST", &site.path("/webhooks"), Some(&site.admin_key), &bad)
        .expect_error(400, "invalid_field");
    let receiver = Receiver::start(vec![]);
    let body = json!({ "url": receiver.url, "format": "slack", "events": ["conversation.escalated"] });
    let created = edge().json("POST", &site.path("/webhooks"), Some(&site.admin_key), &body);
    assert_eq!(created.expect_ok(201)["format"], "slack");
    let token = site.session();
    site.send(&token, "q1", "URGENT <!channel> I need a person now")
        .expect_ok(200);
    let got = receiver.wait_for(1);
    let message: Value = serde_json::from_slice(&got[0].body).unwrap();
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Urgent: a customer needs a person")
    );
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("&lt;!channel&gt;"),
        "customer text is escaped: {section}"
    );
    let url = blocks[3]["elements"][0]["url"].as_str().unwrap();
    edge().request("GET", path_of(url), &[], None).expect_ok(200);
    assert!(message["text"].as_str().is_some(), "a notification fallback");
}

#[test]
fn a_long_conversation_is_cut_to_fit_and_the_link_has_all_of_it() {
    // Its own edge without rate limits, to write a long conversation quickly.
    let own = OwnEdge::start(8792, "--var UNSAFE_NO_RATE_LIMITS:1");
    let other = &own.edge;
    let site = other.new_site(&[ORIGIN]);
    let receiver = Receiver::start(vec![]);
    let body = json!({ "url": receiver.url, "events": ["conversation.escalated"] });
    other
        .json("POST", &site.path("/webhooks"), Some(&site.admin_key), &body)
        .expect_ok(201);
    let session = other.request("POST", &site.path("/sessions"), &[("Origin", ORIGIN)], None);
    let token = session.expect_ok(201)["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {}", site.admin_key);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-ndjson"),
    ];
    other
        .request("PUT", &site.path("/articles"), &headers, Some(ARTICLES.as_bytes()))
        .expect_ok(200);
    // Questions the bot answers, so it stays in the conversation until asked for a person.
    for i in 0..120 {
        let message = json!({ "id": format!("m{i}"), "text": "how do I reset my password" });
        other
            .json("POST", &site.path("/conversation/messages"), Some(&token), &message)
            .expect_ok(200);
    }
    let ask = json!({ "id": "last", "text": "please let me talk to a human" });
    other
        .json("POST", &site.path("/conversation/messages"), Some(&token), &ask)
        .expect_ok(200);
    let got = receiver.wait_for(1);
    assert!(
        got[0].body.len() < 64 * 1024,
        "the body stays small: {} bytes",
        got[0].body.len()
    );
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    let data = &event["data"];
    let total = data["transcript_truncated"]["total"].as_u64().unwrap();
    let included = data["transcript_truncated"]["included"].as_u64().unwrap();
    assert_eq!(total, 241, "120 questions and answers, and the request for a person");
    let transcript = data["transcript"].as_array().unwrap();
    assert_eq!(included as usize, transcript.len());
    assert!(included < total);
    assert_eq!(
        transcript.last().unwrap()["text"],
        "please let me talk to a human",
        "the newest kept"
    );
    // The link has everything, including the hand-over reply written since.
    let url = data["transcript_url"].as_str().unwrap();
    let whole = other.request("GET", path_of(url), &[], None);
    assert_eq!(
        whole.expect_ok(200)["messages"].as_array().unwrap().len() as u64,
        total + 1
    );
}
