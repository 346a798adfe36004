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
    format!(
        "/services/T{:X}/B{:X}/{nanos:x}",
        std::process::id(),
        nanos % 0xFFFF_FFFF
    )
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
        site.send(
            &session,
            "q1",
            &format!("customer {n} here, I want to talk to a person"),
        )
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

#[test]
fn churn_risks_reach_slack_and_webhooks_at_once_and_each_once() {
    use crate::identity::{now, unique_email};
    use crate::integrations::{customer_session, deliver_signed, set_up, stripe_customer};
    use crate::webhooks::{Receiver, add_endpoint, check_signed};

    let site = site_with_articles();
    set_up(&site);
    let hook = unique_hook();
    let body = json!({
        "url": format!("{}{hook}", edge().mail_url),
        "format": "slack",
        "events": ["customer.churn_risk"],
    });
    edge()
        .json("POST", &site.path("/webhooks"), Some(&site.admin_key), &body)
        .expect_ok(201);
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["customer.churn_risk"])));
    let email = unique_email("leaving");
    let customer = stripe_customer(json!({ "email": email, "name": "Lee" }));
    let customer_id = customer["id"].as_str().unwrap();
    let session = customer_session(&site, &email, "attached");
    let conversation = crate::support::conversation_of(&site, &session);

    // Lee sets the subscription to end with the period: staff hear of it at once.
    let cancel =
        json!({"id": "evt_cancel_1", "object": "event", "type": "customer.subscription.updated", "created": now(),
        "data": {"object": {"id": "sub_1", "object": "subscription", "customer": customer_id, "status": "active",
            "cancel_at_period_end": true, "items": {"data": [{"price": {"nickname": "Pro"}}]}},
            "previous_attributes": {"cancel_at_period_end": false}}})
        .to_string();
    deliver_signed(&site, &cancel).expect_ok(200);
    let event = check_signed(&receiver.wait_for(1)[0], &secret);
    assert_eq!(event["type"], "customer.churn_risk");
    let data = &event["data"];
    assert_eq!(
        data["risk"],
        json!({"kind": "cancel_scheduled", "plan": "Pro"}),
        "{event}"
    );
    assert_eq!(data["conversation"], conversation.as_str());
    assert_eq!(data["profile"]["traits"]["plan"]["value"], "Pro");
    assert!(data["profile"]["identities"].to_string().contains(&email));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while slack_messages(&hook)["messages"].as_array().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let slack = slack_messages(&hook);
    let text = slack["messages"][0]["body"].to_string();
    assert!(text.contains("Churn risk"), "{slack}");
    assert!(
        text.contains(&email) && text.contains("set their subscription (Pro) to end with this billing period"),
        "{text}"
    );

    // Stripe delivers it again: told once.
    deliver_signed(&site, &cancel).expect_ok(200);

    // A customer whose contacts jump (three in three days, none before) raises one alert.
    let jumpy = format!("jumpy-{}", now());
    let at = now() * 1000;
    // Each after more than a day's silence, so each is a contact of its own.
    let day = 86_400_000u64 + 7_200_000;
    let line = |n: u64, at: u64| {
        json!({"id": format!("{jumpy}-{n}"), "at": at, "conversation": jumpy, "channel": "email", "kind": "customer_message"})
            .to_string()
    };
    let import = |lines: Vec<String>| {
        let auth = format!("Bearer {}", site.admin_key);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/x-ndjson"),
        ];
        edge()
            .request(
                "POST",
                &site.path("/metrics/events"),
                &headers,
                Some(lines.join("\n").as_bytes()),
            )
            .expect_ok(200)
            .clone()
    };
    import(vec![
        line(1, at - 2 * day - 60_000),
        line(2, at - day - 60_000),
        line(3, at - 60_000),
    ]);
    let events = receiver.wait_for(2);
    let jumped = check_signed(&events[1], &secret);
    assert_eq!(jumped["data"]["risk"]["kind"], "contacts_jumped", "{jumped}");
    assert_eq!(jumped["data"]["risk"]["recent_contacts"], 3);
    assert_eq!(jumped["data"]["conversation"], jumpy.as_str());
    // Another contact the same week: no second alert.
    import(vec![line(4, at)]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(receiver.received.lock().unwrap().len(), 2, "each risk told once");
}
