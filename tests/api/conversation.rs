//! The conversation over HTTP: answers, the no-answer path, idempotent retries, persistence,
//! rate limiting and the hand-over to a person.

use serde_json::json;

use crate::support::{edge, site_with_articles};

#[test]
fn answers_from_an_article_and_says_so_when_none_fits() {
    let site = site_with_articles();
    let token = site.session();

    let reply = site.send(&token, "q1", "I forgot my password");
    let messages = reply.expect_ok(200)["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "visitor");
    assert_eq!(messages[1]["role"], "bot");
    assert_eq!(messages[1]["reply_to"], "q1");
    assert_eq!(messages[1]["bot"]["kind"], "answer");
    assert_eq!(messages[1]["bot"]["article"]["id"], "reset-password");
    assert_eq!(messages[1]["bot"]["article"]["url"], "https://help.example.com/reset");
    assert!(messages[1]["text"].as_str().unwrap().contains("Forgot password"));

    let reply = site.send(&token, "q2", "Do you deliver pizza to the moon?");
    let messages = reply.expect_ok(200)["messages"].as_array().unwrap().clone();
    assert_eq!(messages[1]["bot"]["kind"], "no_answer");
    assert_eq!(messages[1]["bot"]["reason"], "no_match");
}

#[test]
fn a_retried_message_is_stored_once() {
    let site = site_with_articles();
    let token = site.session();
    let first = site.send(&token, "same-id", "can I get a refund");
    let again = site.send(&token, "same-id", "can I get a refund");
    assert_eq!(first.expect_ok(200), again.expect_ok(200));
    let transcript = site.transcript(&token);
    assert_eq!(transcript.len(), 2, "{transcript:#?}");
    assert!(
        transcript
            .windows(2)
            .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
    );
}

#[test]
fn each_visitor_has_their_own_conversation() {
    let site = site_with_articles();
    let alice = site.session();
    let bob = site.session();
    site.send(&alice, "a1", "I forgot my password").expect_ok(200);
    assert_eq!(site.transcript(&alice).len(), 2);
    assert!(site.transcript(&bob).is_empty());
}

#[test]
fn sending_too_fast_is_rate_limited_without_losing_what_was_accepted() {
    let site = site_with_articles();
    let token = site.session();
    let burst = shared::limits::RATE_BURST_MESSAGES as usize;
    for i in 0..burst {
        site.send(&token, &format!("m{i}"), "money back").expect_ok(200);
    }
    let limited = site.send(&token, "one-too-many", "money back");
    limited.expect_error(429, "rate_limited");
    assert!(limited.body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(site.transcript(&token).len(), burst * 2);
}

#[test]
fn after_asking_for_a_person_the_bot_stays_quiet() {
    let site = site_with_articles();
    let token = site.session();
    site.send(&token, "q1", "something nobody wrote an article about")
        .expect_ok(200);
    let reply = edge().json(
        "POST",
        &site.path("/conversation/handoff"),
        Some(&token),
        &json!({ "id": "h1" }),
    );
    let messages = reply.expect_ok(200)["messages"].as_array().unwrap().clone();
    assert_eq!(messages[1]["bot"]["kind"], "handoff_requested");

    let reply = site.send(&token, "q2", "I forgot my password");
    let messages = reply.expect_ok(200)["messages"].as_array().unwrap().clone();
    assert_eq!(
        messages.len(),
        1,
        "no bot reply once a person has the conversation: {messages:#?}"
    );

    let auth = format!("Bearer {token}");
    let transcript = edge().request("GET", &site.path("/conversation"), &[("Authorization", &auth)], None);
    assert_eq!(transcript.expect_ok(200)["status"], "waiting_for_human");
}

fn status(site: &crate::support::Site, token: &str) -> String {
    let auth = format!("Bearer {token}");
    let reply = edge().request("GET", &site.path("/conversation"), &[("Authorization", &auth)], None);
    reply.expect_ok(200)["status"].as_str().unwrap().to_owned()
}

fn bot_reply(site: &crate::support::Site, token: &str, id: &str, text: &str) -> serde_json::Value {
    let reply = site.send(token, id, text);
    let messages = reply.expect_ok(200)["messages"].as_array().unwrap().clone();
    messages.get(1).cloned().unwrap_or(serde_json::Value::Null)
}

#[test]
fn asking_for_a_person_in_words_hands_over_and_the_bot_stays_quiet() {
    let site = site_with_articles();
    let token = site.session();
    let reply = bot_reply(&site, &token, "q1", "Can I speak to someone, please?");
    assert_eq!(reply["bot"]["kind"], "handoff_requested");
    assert_eq!(reply["bot"]["reason"], "visitor_asked");
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("won't need to repeat yourself")
    );
    assert_eq!(status(&site, &token), "waiting_for_human");
    assert_eq!(
        bot_reply(&site, &token, "q2", "I forgot my password"),
        serde_json::Value::Null
    );
}

#[test]
fn urgency_hands_over_at_once_and_says_so() {
    let site = site_with_articles();
    let token = site.session();
    let reply = bot_reply(&site, &token, "q1", "Our checkout is down, this is urgent");
    assert_eq!(reply["bot"]["reason"], "urgent");
    assert!(reply["text"].as_str().unwrap().contains("marked it urgent"));
    assert_eq!(status(&site, &token), "waiting_for_human");
}

#[test]
fn after_failing_twice_the_bot_hands_over_instead_of_failing_again() {
    let site = site_with_articles();
    let token = site.session();
    for (id, text) in [
        ("q1", "do you sell garden furniture"),
        ("q2", "what about patio umbrellas"),
    ] {
        assert_eq!(bot_reply(&site, &token, id, text)["bot"]["kind"], "no_answer");
        assert_eq!(status(&site, &token), "bot");
    }
    let third = bot_reply(&site, &token, "q3", "and deck chairs");
    assert_eq!(third["bot"]["kind"], "handoff_requested");
    assert_eq!(third["bot"]["reason"], "repeated_failure");
    assert_eq!(status(&site, &token), "waiting_for_human");
}

#[test]
fn the_site_keeps_topics_for_people() {
    let site = site_with_articles();
    let auth = format!("Bearer {}", site.admin_key);
    let patch = |body: serde_json::Value| {
        edge().request(
            "PATCH",
            &site.path(""),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    };
    patch(json!({"escalation_rules": {"max_bot_failures": "two"}})).expect_error(400, "invalid_field");
    let updated = patch(json!({"escalation_rules": {
        "human_only_articles": ["refunds"],
        "teams": [{"team": "billing", "articles": ["refunds"]}]
    }}));
    assert_eq!(
        updated.expect_ok(200)["escalation_rules"]["human_only_articles"],
        json!(["refunds"])
    );
    let token = site.session();
    // Answerable, but refunds go to a person here.
    let reply = bot_reply(&site, &token, "q1", "can I get a refund");
    assert_eq!(reply["bot"]["reason"], "human_only_topic");
    assert!(reply["text"].as_str().unwrap().contains("specialist"));
    // Other questions are still answered by the bot.
    let other = site.session();
    assert_eq!(
        bot_reply(&site, &other, "q1", "I forgot my password")["bot"]["kind"],
        "answer"
    );
}
