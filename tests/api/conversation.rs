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
