//! Every bad input gets the right status and a JSON body saying what was wrong, and loses
//! nothing that was already accepted.

use serde_json::json;
use shared::limits::{MAX_JSON_BODY_BYTES, MAX_MESSAGE_CHARS};

use crate::support::{ORIGIN, edge, site_with_articles};

#[test]
fn unknown_site_is_404() {
    edge()
        .request("POST", "/v1/sites/no-such-site/sessions", &[("Origin", ORIGIN)], None)
        .expect_error(404, "unknown_site");
    edge()
        .request("POST", "/v1/sites/Not_A_Valid_Id/sessions", &[], None)
        .expect_error(404, "unknown_site");
}

#[test]
fn unknown_path_is_404_and_wrong_method_is_405() {
    edge()
        .request("GET", "/v1/nothing-here", &[], None)
        .expect_error(404, "not_found");
    let site = site_with_articles();
    let reply = edge().request("GET", &site.path("/sessions"), &[("Origin", ORIGIN)], None);
    reply.expect_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = edge().request("DELETE", &site.path("/conversation/messages"), &[], None);
    reply.expect_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
}

/// The demo site's pages are files served before the worker runs, and every file a browser asks
/// for on its own is there: a missing `/favicon.ico` was a 404 (and a console error) on every page.
#[test]
fn the_demo_pages_and_the_favicon_are_served() {
    let pages = ["/", "/help/", "/docs/", "/dashboard/"].map(|path| {
        let page = edge().request("GET", path, &[("Accept", "text/html")], None);
        assert_eq!(page.status, 200, "{path}: {page:#?}");
        assert!(
            page.header("content-type").unwrap_or_default().starts_with("text/html"),
            "{path}"
        );
        page
    });
    assert!(
        pages[0].text.contains("/widget.js\" data-site=\"demo\""),
        "the demo page embeds the widget"
    );
    let icon = edge().request_bytes("GET", "/favicon.ico", &[]);
    // An icon directory of one image, a PNG (ICO's header, then the image's own signature).
    assert_eq!(icon[..6], [0, 0, 1, 0, 1, 0]);
    assert_eq!(icon[22..30], *b"\x89PNG\r\n\x1a\n");
}

#[test]
fn malformed_json_and_wrong_types_are_400_naming_the_field() {
    let site = site_with_articles();
    let token = site.session();
    let auth = format!("Bearer {token}");
    let path = site.path("/conversation/messages");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];

    edge()
        .request("POST", &path, &headers, Some(b"{\"id\": \"m1\", \"text\": "))
        .expect_error(400, "malformed_json");
    edge()
        .request("POST", &path, &headers, Some(b"[\"not\", \"an object\"]"))
        .expect_error(400, "malformed_json");

    let reply = edge().json("POST", &path, Some(&token), &json!({ "id": "m1", "text": 42 }));
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "text");
    let reply = edge().json("POST", &path, Some(&token), &json!({ "text": "hello" }));
    reply.expect_error(400, "invalid_field");
    assert_eq!(reply.body["error"]["field"], "id");
    let reply = edge().json(
        "POST",
        &path,
        Some(&token),
        &json!({ "id": "bad id!", "text": "hello" }),
    );
    assert_eq!(reply.body["error"]["field"], "id");

    let reply = edge().request(
        "POST",
        &path,
        &[("Authorization", auth.as_str()), ("Content-Type", "text/plain")],
        Some(b"hello"),
    );
    reply.expect_error(415, "unsupported_media_type");
}

#[test]
fn oversized_message_and_body_are_413_stating_the_limit() {
    let site = site_with_articles();
    let token = site.session();
    let reply = site.send(&token, "big", &"x".repeat(MAX_MESSAGE_CHARS + 1));
    reply.expect_error(413, "payload_too_large");
    assert_eq!(reply.body["error"]["limit"], MAX_MESSAGE_CHARS as u64);
    assert_eq!(reply.body["error"]["field"], "text");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&MAX_MESSAGE_CHARS.to_string())
    );

    let auth = format!("Bearer {token}");
    let body = vec![b' '; MAX_JSON_BODY_BYTES + 1];
    let reply = edge().request(
        "POST",
        &site.path("/conversation/messages"),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        Some(&body),
    );
    reply.expect_error(413, "payload_too_large");
    assert_eq!(reply.body["error"]["limit"], MAX_JSON_BODY_BYTES as u64);

    // Exactly at the limit is accepted.
    site.send(&token, "at-limit", &"y".repeat(MAX_MESSAGE_CHARS))
        .expect_ok(200);
}

#[test]
fn bad_input_loses_nothing_already_accepted() {
    let site = site_with_articles();
    let token = site.session();
    site.send(&token, "good-1", "I forgot my password").expect_ok(200);
    site.send(&token, "big", &"x".repeat(MAX_MESSAGE_CHARS + 1))
        .expect_error(413, "payload_too_large");
    edge()
        .json(
            "POST",
            &site.path("/conversation/messages"),
            Some(&token),
            &json!({ "id": 1 }),
        )
        .expect_error(400, "invalid_field");
    site.send(&token, "good-2", "can I get a refund").expect_ok(200);
    let transcript = site.transcript(&token);
    let ids: Vec<&str> = transcript.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good-1", "bot:good-1", "good-2", "bot:good-2"]);
}
