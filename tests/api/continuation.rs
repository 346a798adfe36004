//! "Continue on another channel": the widget asks for a one-time code and deep link; sending the
//! code from the new channel verifies that channel's identity and joins it to the customer. The
//! channel-specific journeys live beside each channel's tests (WhatsApp, SMS, Telegram, email);
//! here: what the endpoint refuses, and its limit.

use serde_json::{Value, json};

use crate::support::{Site, edge, site_with_articles};

/// Asks for an invitation to continue on `channel`.
pub fn invite(site: &Site, session: &str, channel: &str) -> Value {
    let reply = edge().json(
        "POST",
        &site.path("/conversation/continue"),
        Some(session),
        &json!({ "channel": channel }),
    );
    let invitation = reply.expect_ok(201).clone();
    assert_eq!(invitation["channel"], channel);
    let code = invitation["code"].as_str().unwrap();
    assert_eq!(shared::continuation::find_code(code).as_deref(), Some(code));
    assert!(invitation["text"].as_str().unwrap().contains(code));
    invitation
}

/// The channels the widget offers.
pub fn channels(site: &Site, session: &str) -> Vec<String> {
    let reply = edge().request(
        "GET",
        &site.path("/conversation/continue"),
        &[("Authorization", &format!("Bearer {session}"))],
        None,
    );
    serde_json::from_value(reply.expect_ok(200)["channels"].clone()).unwrap()
}

/// The identity record `kind:value` in a profile.
pub fn identity<'a>(profile: &'a Value, kind: &str, value: &str) -> Option<&'a Value> {
    profile["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["value"] == value)
}

#[test]
fn continuing_needs_a_session_and_a_channel_the_site_set_up_and_is_limited() {
    let site = site_with_articles();
    let session = site.session();
    let path = site.path("/conversation/continue");
    edge()
        .request("GET", &path, &[], None)
        .expect_error(401, "missing_token");
    edge()
        .json("POST", &path, None, &json!({ "channel": "email" }))
        .expect_error(401, "missing_token");
    // Email is always there (the deployment has a provider); the rest need the site's set-up.
    assert_eq!(channels(&site, &session), ["email"]);
    for body in [json!({ "channel": "fax" }), json!({ "channel": 3 }), json!({})] {
        let reply = edge().json("POST", &path, Some(&session), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], "channel");
    }
    for channel in ["sms", "whatsapp", "telegram"] {
        edge()
            .json("POST", &path, Some(&session), &json!({ "channel": channel }))
            .expect_error(409, "channel_unavailable");
    }
    edge()
        .request(
            "POST",
            &path,
            &[
                ("Authorization", &format!("Bearer {session}")),
                ("Content-Type", "application/json"),
            ],
            Some(b"{\"channel\":"),
        )
        .expect_error(400, "malformed_json");

    // Each code is new; the session may ask for ten an hour.
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..shared::continuation::MAX_CODES_PER_HOUR {
        let invitation = invite(&site, &session, "email");
        assert!(invitation["link"].as_str().unwrap().starts_with("mailto:"));
        codes.insert(invitation["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(codes.len(), shared::continuation::MAX_CODES_PER_HOUR);
    let limited = edge().json("POST", &path, Some(&session), &json!({ "channel": "email" }));
    limited.expect_error(429, "rate_limited");
    assert!(limited.body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    // Another session is not affected.
    invite(&site, &site.session(), "email");
}
