//! Session tokens: issued per site, refused for another site, when forged or tampered with, and
//! once expired; renewal keeps the visitor; origins are checked.

use shared::jwt::{Key, KeyRing};

use crate::support::{ORIGIN, edge, site_with_articles};

fn real_keys() -> KeyRing {
    KeyRing::new(vec![Key::from_secret(edge().session_secret.as_bytes())]).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_session_token_works_for_its_site_only() {
    let site = site_with_articles();
    let other = site_with_articles();
    let token = site.session();
    assert!(site.transcript(&token).is_empty());

    let auth = format!("Bearer {token}");
    edge()
        .request("GET", &other.path("/conversation"), &[("Authorization", &auth)], None)
        .expect_error(401, "token_wrong_site");
    other.send(&token, "m1", "hello").expect_error(401, "token_wrong_site");
}

#[test]
fn missing_forged_tampered_and_expired_tokens_are_refused() {
    let site = site_with_articles();
    let token = site.session();

    edge()
        .request("GET", &site.path("/conversation"), &[], None)
        .expect_error(401, "missing_token");

    // Signed with a key the edge does not have.
    let forged_keys = KeyRing::new(vec![Key::from_secret(b"not the edge's secret, but long enough")]).unwrap();
    let claims = shared::session::verify(&token, &site.id, now(), &real_keys()).unwrap();
    let forged = shared::session::issue(&site.id, &claims.sub, None, now(), &forged_keys).token;
    site.send(&forged, "m1", "hi").expect_error(401, "invalid_token");

    // One character of the payload changed.
    let mut tampered: Vec<char> = token.chars().collect();
    let middle = token.find('.').unwrap() + 5;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    site.send(&tampered, "m1", "hi").expect_error(401, "invalid_token");

    // Properly signed by the edge's own key, but long expired.
    let expired = shared::session::issue(&site.id, &claims.sub, None, now() - 60 * 24 * 3600, &real_keys()).token;
    site.send(&expired, "m1", "hi").expect_error(401, "token_expired");

    // None of that touched the real conversation.
    assert!(site.transcript(&token).is_empty());
}

#[test]
fn renewing_keeps_the_visitor_and_the_conversation() {
    let site = site_with_articles();
    let token = site.session();
    site.send(&token, "m1", "I forgot my password").expect_ok(200);
    let renewed = site.renew(&token);
    let body = renewed.expect_ok(201);
    let new_token = body["token"].as_str().unwrap();
    assert_eq!(site.transcript(new_token).len(), 2);
}

#[test]
fn origins_are_checked() {
    let site = site_with_articles();
    let reply = edge().request(
        "POST",
        &site.path("/sessions"),
        &[("Origin", "https://evil.example.net")],
        None,
    );
    reply.expect_error(403, "origin_not_allowed");
    // The refusal is readable by the page that was refused, so the widget can say why.
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://evil.example.net")
    );

    let token = site.session();
    let auth = format!("Bearer {token}");
    edge()
        .request(
            "GET",
            &site.path("/conversation"),
            &[("Origin", "https://evil.example.net"), ("Authorization", &auth)],
            None,
        )
        .expect_error(403, "origin_not_allowed");

    let allowed = edge().request("POST", &site.path("/sessions"), &[("Origin", ORIGIN)], None);
    allowed.expect_ok(201);
    assert_eq!(allowed.header("access-control-allow-origin"), Some(ORIGIN));
}

#[test]
fn preflight_allows_the_widget_headers() {
    let site = site_with_articles();
    let reply = edge().request(
        "OPTIONS",
        &site.path("/conversation/messages"),
        &[
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization,content-type"),
        ],
        None,
    );
    assert_eq!(reply.status, 204);
    assert!(
        reply
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .contains("Authorization")
    );
}
