//! The bad-input catalogue: every endpoint that takes a JSON body gets malformed JSON, a
//! non-object, invalid UTF-8, the wrong content type, a body over the limit, and credentials
//! for another site. Each gets its documented 4xx with a JSON error that names the problem, and
//! nothing that was stored changes.

use serde_json::{Value, json};
use shared::limits::MAX_JSON_BODY_BYTES;

use crate::support::{Reply, Site, conversation_of, edge, site_with_articles};

#[derive(Clone, Copy, Debug)]
enum Who {
    Visitor,
    Admin,
}

/// Every JSON-body endpoint of a site, and who may call it (`{c}`: a conversation id).
const ENDPOINTS: [(&str, &str, Who); 15] = [
    ("POST", "/conversation/messages", Who::Visitor),
    ("POST", "/conversation/handoff", Who::Visitor),
    ("POST", "/conversation/feedback", Who::Visitor),
    ("POST", "/conversation/rating", Who::Visitor),
    ("POST", "/conversation/traits", Who::Visitor),
    ("POST", "/conversation/continue", Who::Visitor),
    ("POST", "/identify", Who::Visitor),
    ("POST", "/identify/email", Who::Visitor),
    ("POST", "/identify/email/verify", Who::Visitor),
    ("PATCH", "", Who::Admin),
    ("POST", "/webhooks", Who::Admin),
    ("PUT", "/channels/telegram", Who::Admin),
    ("POST", "/staff-keys", Who::Admin),
    ("POST", "/conversations/{c}/replies", Who::Admin),
    ("POST", "/conversations/{c}/notes", Who::Admin),
];

/// What an admin and the visitor can see of the site: must be the same after every refusal.
fn snapshot(site: &Site, token: &str, conversation: &str) -> Value {
    let auth = format!("Bearer {}", site.admin_key);
    let get = |path: &str| {
        edge()
            .request("GET", &site.path(path), &[("Authorization", &auth)], None)
            .expect_ok(200)
            .clone()
    };
    json!({
        "site": get(""),
        "webhooks": get("/webhooks"),
        "staff_keys": get("/staff-keys"),
        "channels": get("/channels"),
        "conversation": get(&format!("/conversations/{conversation}")),
        "visitor_view": site.transcript(token),
    })
}

fn expect_refused(reply: &Reply, status: u16, codes: &[&str], what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    let code = reply.body["error"]["code"].as_str().unwrap_or_default();
    assert!(codes.contains(&code), "{what}: code {code:?}, wanted one of {codes:?}");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.len() > 10, "{what}: the error says what was wrong: {message:?}");
}

#[test]
fn every_json_endpoint_refuses_bad_bodies_and_foreign_credentials_and_changes_nothing() {
    let site = site_with_articles();
    let other = site_with_articles();
    let token = site.session();
    site.send(&token, "q1", "I forgot my password").expect_ok(200);
    site.send(&token, "q2", "I want to talk to a person").expect_ok(200);
    let conversation = conversation_of(&site, &token);
    let foreign_token = other.session();
    let before = snapshot(&site, &token, &conversation);

    let huge = {
        let mut body = b"{\"text\": \"".to_vec();
        body.resize(MAX_JSON_BODY_BYTES + 10, b'a');
        body.extend_from_slice(b"\"}");
        body
    };
    for (method, path, who) in ENDPOINTS {
        let path = site.path(&path.replace("{c}", &conversation));
        let key = match who {
            Who::Visitor => token.clone(),
            Who::Admin => site.admin_key.clone(),
        };
        let auth = format!("Bearer {key}");
        let send = |content_type: &str, body: &[u8]| {
            edge().request(
                method,
                &path,
                &[("Authorization", auth.as_str()), ("Content-Type", content_type)],
                Some(body),
            )
        };
        let what = |case: &str| format!("{method} {path}: {case}");
        let json_type = "application/json";
        expect_refused(
            &send(json_type, b"{\"id\": \"x\", \"text\": "),
            400,
            &["malformed_json"],
            &what("truncated JSON"),
        );
        expect_refused(
            &send(json_type, b"[\"not\", \"an object\"]"),
            400,
            &["malformed_json", "invalid_field"],
            &what("an array"),
        );
        expect_refused(
            &send(json_type, b"{\"id\": \"\xff\xfe\", \"text\": \"\xc3\"}"),
            400,
            &["malformed_json"],
            &what("invalid UTF-8"),
        );
        expect_refused(
            &send("text/plain", b"{}"),
            415,
            &["unsupported_media_type"],
            &what("text/plain"),
        );
        expect_refused(
            &send(json_type, &huge),
            413,
            &["payload_too_large"],
            &what("over 16 KiB"),
        );
        // Credentials of another site.
        let foreign = match who {
            Who::Visitor => foreign_token.clone(),
            Who::Admin => other.admin_key.clone(),
        };
        let reply = edge().json(method, &path, Some(&foreign), &json!({ "id": "x", "text": "hi" }));
        expect_refused(
            &reply,
            401,
            &["token_wrong_site", "invalid_key", "invalid_token"],
            &what("another site's credentials"),
        );
    }
    // Ids that try to leave their place.
    let auth = format!("Bearer {}", site.admin_key);
    for path in [
        "/conversations/..%2F..%2Fsites/replies",
        "/conversations/../replies",
        "/profiles/..%2Fimport",
        "/webhooks/..%2F..",
    ] {
        let reply = edge().request(
            "POST",
            &site.path(path),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(b"{\"id\": \"r1\", \"text\": \"hi\"}"),
        );
        assert!(
            matches!(reply.status, 404 | 405),
            "{path}: {} {:?}",
            reply.status,
            reply.body
        );
        assert!(reply.body["error"]["code"].is_string(), "{path}: {:?}", reply.body);
    }
    assert_eq!(
        snapshot(&site, &token, &conversation),
        before,
        "a refusal changed something"
    );
}

#[test]
fn malformed_query_parameters_are_refused_by_name() {
    let site = site_with_articles();
    let token = site.session();
    site.send(&token, "q1", "How do I reset my password?").expect_ok(200);
    let visitor = format!("Bearer {token}");
    let admin = format!("Bearer {}", site.admin_key);
    let cases = [
        ("/conversation?after=abc", &visitor, "after"),
        ("/conversation?after=-1", &visitor, "after"),
        ("/conversation/live?after=null", &visitor, "after"),
        ("/queue?include=everything", &admin, "include"),
        ("/metrics?format=xml", &admin, "format"),
        ("/proposals?state=maybe", &admin, "state"),
    ];
    for (path, auth, field) in cases {
        let reply = edge().request("GET", &site.path(path), &[("Authorization", auth)], None);
        expect_refused(&reply, 400, &["invalid_field"], path);
        assert_eq!(reply.body["error"]["field"], field, "{path}");
    }
    // The well-formed forms are accepted.
    let after = edge().request(
        "GET",
        &site.path("/conversation?after=1"),
        &[("Authorization", &visitor)],
        None,
    );
    let messages = after.expect_ok(200)["messages"].as_array().cloned().unwrap_or_default();
    assert!(
        !messages.is_empty() && messages.iter().all(|m| m["seq"].as_u64() > Some(1)),
        "{messages:?}"
    );
    edge()
        .request(
            "GET",
            &site.path("/queue?include=resolved"),
            &[("Authorization", &admin)],
            None,
        )
        .expect_ok(200);
}
