//! The site's rate limits: per conversation, per network address and for the whole site, on new
//! sessions, messages (over HTTP and the live socket) and codes; configurable per site, refused
//! with `429`, `Retry-After` and a message naming the limit, and never losing what was accepted.

use serde_json::json;

use crate::live::{connect, next};
use crate::support::{ORIGIN, Reply, Site, edge, site_with_articles};

fn set_limits(site: &Site, limits: serde_json::Value) -> serde_json::Value {
    let reply = edge().json(
        "PATCH",
        &site.path(""),
        Some(&site.admin_key),
        &json!({ "rate_limits": limits }),
    );
    reply.expect_ok(200)["rate_limits"].clone()
}

fn new_session(site: &Site) -> Reply {
    edge().request("POST", &site.path("/sessions"), &[("Origin", ORIGIN)], None)
}

fn expect_limited(reply: &Reply, naming: &str) {
    reply.expect_error(429, "rate_limited");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(naming), "{message}");
    assert!(reply.body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    let seconds: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&seconds), "{seconds}");
}

#[test]
fn limits_have_documented_defaults_and_bad_ones_are_refused_by_name() {
    let site = site_with_articles();
    let auth = format!("Bearer {}", site.admin_key);
    let view = edge().request("GET", &site.path(""), &[("Authorization", &auth)], None);
    let limits = view.expect_ok(200)["rate_limits"].clone();
    assert_eq!(limits["session_messages"], json!({ "burst": 10, "per_hour": 1200 }));
    assert_eq!(limits["ip_sessions"], json!({ "burst": 20, "per_hour": 600 }));
    for (limits, field) in [
        (
            json!({ "ip_messages": { "burst": 0, "per_hour": 10 } }),
            "rate_limits.ip_messages.burst",
        ),
        (
            json!({ "site_codes": { "burst": 1, "per_hour": 20_000_000 } }),
            "rate_limits.site_codes.per_hour",
        ),
        (json!({ "ip_message": { "burst": 1, "per_hour": 1 } }), "rate_limits"),
        (json!("lots"), "rate_limits"),
    ] {
        let reply = edge().json(
            "PATCH",
            &site.path(""),
            Some(&site.admin_key),
            &json!({ "rate_limits": limits }),
        );
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{limits}");
    }
    // A partial object keeps the other defaults.
    let changed = set_limits(&site, json!({ "site_messages": { "burst": 5, "per_hour": 60 } }));
    assert_eq!(changed["site_messages"]["burst"], 5);
    assert_eq!(changed["session_messages"], limits["session_messages"]);
}

#[test]
fn new_sessions_are_limited_per_address_but_renewals_are_not() {
    let site = site_with_articles();
    set_limits(&site, json!({ "ip_sessions": { "burst": 2, "per_hour": 60 } }));
    let first = new_session(&site);
    let token = first.expect_ok(201)["token"].as_str().unwrap().to_owned();
    new_session(&site).expect_ok(201);
    let refused = new_session(&site);
    expect_limited(&refused, "new sessions from this network address");
    // A visitor who already has a session keeps it, and their chat works.
    site.renew(&token).expect_ok(201);
    site.send(&token, "m1", "I forgot my password").expect_ok(200);
}

#[test]
fn the_whole_site_has_a_message_limit_across_conversations_and_sockets() {
    let site = site_with_articles();
    set_limits(&site, json!({ "site_messages": { "burst": 3, "per_hour": 60 } }));
    let alice = site.session();
    let bob = site.session();
    site.send(&alice, "a1", "I forgot my password").expect_ok(200);
    site.send(&alice, "a2", "can I get a refund").expect_ok(200);
    site.send(&bob, "b1", "money back").expect_ok(200);
    let refused = site.send(&bob, "b2", "still there?");
    expect_limited(&refused, "messages from all visitors of this site");
    // A resend of an accepted message is not a new one: answered from what was stored.
    let resent = site.send(&alice, "a1", "I forgot my password");
    assert_eq!(resent.expect_ok(200)["messages"].as_array().unwrap().len(), 2);
    // The live socket is held to the same limit.
    let mut socket = connect(&site, Some(&bob), None).unwrap();
    assert_eq!(next(&mut socket)["type"], "history");
    socket
        .send(tungstenite::Message::text(
            json!({ "type": "send", "id": "b3", "text": "hello?" }).to_string(),
        ))
        .unwrap();
    let frame = next(&mut socket);
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["reply_to"], "b3");
    assert_eq!(frame["error"]["code"], "rate_limited");
    // Nothing accepted was lost, nothing refused was stored.
    assert_eq!(site.transcript(&alice).len(), 4);
    assert_eq!(site.transcript(&bob).len(), 2);
}

#[test]
fn a_site_can_tighten_the_per_conversation_limit() {
    let site = site_with_articles();
    set_limits(&site, json!({ "session_messages": { "burst": 2, "per_hour": 60 } }));
    let token = site.session();
    site.send(&token, "m1", "I forgot my password").expect_ok(200);
    site.send(&token, "m2", "can I get a refund").expect_ok(200);
    let refused = site.send(&token, "m3", "money back");
    expect_limited(&refused, "in this conversation");
    assert_eq!(site.transcript(&token).len(), 4);
}
