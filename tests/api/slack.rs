//! Slack: notifications reach a channel through its incoming webhook at Slack's rate, one message
//! a second per webhook, however many events come at once: the stand-in
//! (scripts/slack-stand-in.mjs) answers 429 to anything faster, as Slack does, and checks each
//! message's Block Kit.

use serde_json::{Value, json};

use crate::support::{edge, site_with_articles};

/// A Slack incoming-webhook path of its own on the stand-in.
fn unique_hook() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("/services/T{:X}/B{:X}/{nanos:x}", std::process::id(), nanos % 0xFFFF_FFFF)
}

fn slack_messages(hook: &str) -> Value {
    edge().stand_in_get(&format!("slack?hook={hook}"))
}

#[test]
fn a_burst_of_escalations_reaches_slack_one_message_a_second_and_none_is_lost() {
    let site = site_with_articles();
    let hook = unique_hook();
    let body = json!({
        "url": format!("{}{hook}", edge().mail_url),
        "format": "slack",
        "events": ["conversation.escalated"],
    });
    edge()
        .json("POST", &site.path("/webhooks"), Some(&site.admin_key), &body)
        .expect_ok(201);

    // Five customers ask for a person within a moment of each other.
    const BURST: usize = 5;
    for n in 0..BURST {
        let session = site.session();
        site.send(&session, "q1", &format!("customer {n} here, I want to talk to a person"))
            .expect_ok(200);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let seen = loop {
        let seen = slack_messages(&hook);
        if seen["messages"].as_array().unwrap().len() >= BURST || std::time::Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    let messages = seen["messages"].as_array().unwrap();
    assert_eq!(messages.len(), BURST, "none lost, none doubled: {seen}");
    assert_eq!(seen["rate_limited"], 0, "never faster than Slack takes: {seen}");
    assert_eq!(seen["rejected"], json!([]), "valid Block Kit: {seen}");
    let at: Vec<u64> = messages.iter().map(|m| m["at"].as_u64().unwrap()).collect();
    for pair in at.windows(2) {
        assert!(pair[1] - pair[0] >= 1000, "a second apart: {at:?}");
    }
    for n in 0..BURST {
        let text = format!("customer {n} here");
        assert!(
            messages.iter().any(|m| m["body"].to_string().contains(&text)),
            "{text} reached Slack: {seen}"
        );
    }
}
