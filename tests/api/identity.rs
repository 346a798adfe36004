//! One customer, one profile: identify with a site-signed token or user hash, verify an email
//! with a one-time code, and the refusals that keep anyone from reading someone else's history
//! by claiming to be them. Then the admin side: lookup, export, delete, undo.

use serde_json::{Value, json};
use shared::jwt::{Key, KeyRing};

use crate::support::{ORIGIN, Reply, Site, edge, site_with_articles};

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A site identity secret, created through the admin API.
pub struct Secret {
    kid: String,
    secret: String,
}

impl Secret {
    fn ring(&self) -> KeyRing {
        KeyRing::new(vec![Key {
            kid: self.kid.clone(),
            secret: self.secret.as_bytes().to_vec(),
        }])
        .unwrap()
    }

    /// What a site's backend does: sign claims for the logged-in user.
    pub fn token(&self, claims: Value) -> String {
        shared::jwt::sign(&claims, &self.ring())
    }
}

fn admin(site: &Site) -> String {
    format!("Bearer {}", site.admin_key)
}

pub fn new_secret(site: &Site) -> Secret {
    let reply = edge().request(
        "POST",
        &site.path("/identity-secrets"),
        &[("Authorization", &admin(site))],
        None,
    );
    let body = reply.expect_ok(201);
    Secret {
        kid: body["kid"].as_str().unwrap().to_owned(),
        secret: body["secret"].as_str().unwrap().to_owned(),
    }
}

fn identify(site: &Site, session: &str, body: Value) -> Reply {
    edge().json("POST", &site.path("/identify"), Some(session), &body)
}

fn user_token(site: &Site, secret: &Secret, user: &str, email: &str) -> String {
    secret.token(json!({"sub": user, "aud": site.id, "exp": now() + 300, "email": email, "name": "Ana"}))
}

/// Identifies and returns the new session token.
pub fn identify_ok(site: &Site, session: &str, token: &str, outcome: &str) -> String {
    let reply = identify(site, session, json!({ "token": token }));
    let body = reply.expect_ok(200);
    assert_eq!(body["outcome"], outcome, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn texts(site: &Site, session: &str) -> Vec<String> {
    site.transcript(session)
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

pub fn profiles(site: &Site, identity: &str) -> Vec<Value> {
    let path = site.path(&format!("/profiles?identity={identity}"));
    let reply = edge().request("GET", &path, &[("Authorization", &admin(site))], None);
    reply.expect_ok(200)["profiles"].as_array().unwrap().clone()
}

pub fn request_code(site: &Site, session: &str, email: &str) -> Reply {
    edge().json(
        "POST",
        &site.path("/identify/email"),
        Some(session),
        &json!({ "email": email }),
    )
}

pub fn verify_code(site: &Site, session: &str, email: &str, code: &str) -> Reply {
    edge().json(
        "POST",
        &site.path("/identify/email/verify"),
        Some(session),
        &json!({ "email": email, "code": code }),
    )
}

/// The code in the newest email the sink accepted for `to`.
pub fn code_sent_to(to: &str) -> String {
    let mail = edge().mail_to(to);
    let last = mail.last().unwrap_or_else(|| panic!("no email was sent to {to}"));
    let text = last["TextBody"].as_str().unwrap();
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned();
    code
}

pub fn unique_email(tag: &str) -> String {
    format!(
        "{tag}-{}-{}@example.com",
        std::process::id(),
        now() % 100_000 + rand_suffix()
    )
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) * 100_000
}

#[test]
fn a_signed_identity_joins_a_second_device_to_the_first_devices_conversation() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let email = unique_email("ana");
    let token = user_token(&site, &secret, "user-1", &email);

    // Device A chats anonymously, then the site tells us who they are.
    let a = site.session();
    site.send(&a, "a1", "My invoice shows the wrong VAT number")
        .expect_ok(200);
    let a = identify_ok(&site, &a, &token, "attached");

    // Device B, another browser: anonymous at first, then identified as the same user.
    let b = site.session();
    site.send(&b, "b1", "Following up from my phone").expect_ok(200);
    let b = identify_ok(&site, &b, &token, "merged");

    // One conversation, in time order, on both devices, nothing lost or doubled.
    let on_b = texts(&site, &b);
    let first_a = on_b
        .iter()
        .position(|t| t.contains("VAT number"))
        .expect("A's message on B");
    let first_b = on_b
        .iter()
        .position(|t| t.contains("from my phone"))
        .expect("B's message on B");
    assert!(first_a < first_b, "{on_b:?}");
    assert_eq!(on_b.iter().filter(|t| t.contains("VAT number")).count(), 1);
    assert_eq!(texts(&site, &a), on_b);
    let seqs: Vec<u64> = site.transcript(&b).iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // New messages from either device land in the one conversation.
    site.send(&b, "b2", "Any news?").expect_ok(200);
    assert!(texts(&site, &a).iter().any(|t| t == "Any news?"));

    // One profile: both sessions, the user id and email verified by the site's token, one merge.
    let found = profiles(&site, "user_id:user-1");
    assert_eq!(found.len(), 1);
    let profile = &found[0];
    let sessions = profile["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "session")
        .count();
    assert_eq!(sessions, 2);
    assert!(
        profile["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "email" && i["value"] == email.as_str() && i["verified"] == true)
    );
    assert_eq!(profile["traits"]["name"]["value"], "Ana");
    assert_eq!(profile["merges"].as_array().unwrap().len(), 1);
    assert_eq!(profile["merges"][0]["because"]["kind"], "user_id");
    assert_eq!(profile["conversations"].as_array().unwrap().len(), 2);
    // The same profile by any of its identities.
    assert_eq!(profiles(&site, &format!("email:{email}"))[0]["id"], profile["id"]);
}

#[test]
fn forged_expired_wrong_key_other_site_and_unconfigured_proofs_are_refused_and_change_nothing() {
    let site = site_with_articles();
    let session = site.session();
    site.send(&session, "m1", "hello").expect_ok(200);
    let claims = json!({"sub": "user-9", "aud": site.id, "exp": now() + 300});

    // No identity secret yet: nothing can be verified.
    let unsigned = shared::jwt::sign(
        &claims,
        &KeyRing::new(vec![Key::from_secret(b"anything at all, long enough")]).unwrap(),
    );
    identify(&site, &session, json!({ "token": unsigned })).expect_error(409, "identity_not_configured");

    let secret = new_secret(&site);
    let forged = Secret {
        kid: secret.kid.clone(),
        secret: "an attacker's guess at the secret".into(),
    };
    identify(&site, &session, json!({ "token": forged.token(claims.clone()) })).expect_error(401, "identity_invalid");
    let expired = secret.token(json!({"sub": "user-9", "aud": site.id, "exp": now() - 3600}));
    identify(&site, &session, json!({ "token": expired })).expect_error(401, "identity_expired");
    let forever = secret.token(json!({"sub": "user-9", "aud": site.id, "exp": now() + 400 * 86400}));
    identify(&site, &session, json!({ "token": forever })).expect_error(401, "identity_expired");
    let wrong_kid = Secret {
        kid: "idk_000000000000".into(),
        secret: secret.secret.clone(),
    };
    identify(&site, &session, json!({ "token": wrong_kid.token(claims.clone()) }))
        .expect_error(401, "identity_invalid");
    let other_site = secret.token(json!({"sub": "user-9", "aud": "some-other-site", "exp": now() + 300}));
    identify(&site, &session, json!({ "token": other_site })).expect_error(401, "identity_wrong_site");
    // A token for this site, signed by another site's secret.
    let elsewhere = site_with_articles();
    let elsewhere_secret = new_secret(&elsewhere);
    identify(
        &site,
        &session,
        json!({ "token": elsewhere_secret.token(claims.clone()) }),
    )
    .expect_error(401, "identity_invalid");
    // A user hash that does not match.
    let expires_at = now() + 300;
    let wrong_hash = shared::identity::user_hash(b"not the secret", "user-9", expires_at);
    identify(
        &site,
        &session,
        json!({ "user_id": "user-9", "user_hash": wrong_hash, "expires_at": expires_at }),
    )
    .expect_error(401, "identity_invalid");
    // Malformed requests say what is wrong.
    identify(&site, &session, json!({ "token": 42 })).expect_error(400, "invalid_field");
    identify(&site, &session, json!({ "user_id": "user-9" })).expect_error(400, "invalid_field");

    // None of it created a profile or touched the conversation.
    assert!(profiles(&site, "user_id:user-9").is_empty());
    assert_eq!(texts(&site, &session).len(), 2);
    // Identify needs a session.
    edge()
        .json("POST", &site.path("/identify"), None, &json!({ "token": unsigned }))
        .expect_error(401, "missing_token");
}

#[test]
fn a_user_hash_with_an_expiry_identifies_and_leaves_the_email_a_claim() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let expires_at = now() + 600;
    let hash = shared::identity::user_hash(secret.secret.as_bytes(), "user-7", expires_at);
    let email = unique_email("hash");
    let session = site.session();
    let reply = identify(
        &site,
        &session,
        json!({ "user_id": "user-7", "user_hash": hash, "expires_at": expires_at, "email": email, "traits": {"plan": "pro"} }),
    );
    assert_eq!(reply.expect_ok(200)["outcome"], "attached");
    let profile = &profiles(&site, "user_id:user-7")[0];
    let email_identity = profile["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "email")
        .unwrap();
    assert_eq!(email_identity["verified"], false);
    assert_eq!(profile["traits"]["plan"]["value"], "pro");
    assert_eq!(profile["traits"]["plan"]["verified"], false);
    // The hash is bound to its expiry: a later one with the same hash fails.
    identify(
        &site,
        &session,
        json!({ "user_id": "user-7", "user_hash": hash, "expires_at": expires_at + 60 }),
    )
    .expect_error(401, "identity_invalid");
}

#[test]
fn an_email_code_merges_only_when_the_right_code_comes_back_once() {
    let site = site_with_articles();
    let email = unique_email("bo");

    // Device A verifies its email with a code.
    let a = site.session();
    site.send(&a, "a1", "Where is my parcel?").expect_ok(200);
    let sent = request_code(&site, &a, &email);
    let body = sent.expect_ok(202);
    assert!(body["sent_to"].as_str().unwrap().contains("***@example.com"));
    let code = code_sent_to(&email);
    let a = {
        let reply = verify_code(&site, &a, &email, &code);
        let body = reply.expect_ok(200);
        assert_eq!(body["outcome"], "attached");
        body["token"].as_str().unwrap().to_owned()
    };
    // The code is single use.
    verify_code(&site, &a, &email, &code).expect_error(409, "code_used");

    // Device B asks for a code to the same address, fumbles once, then enters it.
    let b = site.session();
    site.send(&b, "b1", "It has been a week").expect_ok(200);
    request_code(&site, &b, &email).expect_ok(202);
    let code_b = code_sent_to(&email);
    let wrong = if code_b == "000000" { "111111" } else { "000000" };
    verify_code(&site, &b, &email, wrong).expect_error(401, "code_invalid");
    // A's old code is no good for B's session either.
    if code != code_b {
        verify_code(&site, &b, &email, &code).expect_error(401, "code_invalid");
    }
    let reply = verify_code(&site, &b, &email, &code_b);
    let body = reply.expect_ok(200);
    assert_eq!(body["outcome"], "merged");
    let b = body["token"].as_str().unwrap().to_owned();
    let on_b = texts(&site, &b);
    assert!(on_b.iter().any(|t| t == "Where is my parcel?"), "{on_b:?}");
    assert!(on_b.iter().any(|t| t == "It has been a week"), "{on_b:?}");
    assert_eq!(texts(&site, &a), on_b);

    // The email was Postmark-shaped, with both parts.
    let mail = edge().mail_to(&email);
    assert_eq!(mail.len(), 2);
    assert!(mail[0]["HtmlBody"].as_str().unwrap().contains(&code));
    assert_eq!(mail[0]["MessageStream"], "outbound");
}

#[test]
fn a_claimed_email_reveals_nothing_and_codes_resist_guessing_replay_and_other_addresses() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let victim_email = unique_email("victim");
    // The victim's history, tied to their verified email.
    let victim = site.session();
    site.send(&victim, "v1", "My account number is 4711").expect_ok(200);
    identify_ok(
        &site,
        &victim,
        &user_token(&site, &secret, "victim", &victim_email),
        "attached",
    );

    // The attacker claims the victim's email: a code goes to the victim's inbox, not to them.
    let attacker = site.session();
    request_code(&site, &attacker, &victim_email).expect_ok(202);
    let real = code_sent_to(&victim_email);
    // A code sent to another address (the attacker's own) does not verify the victim's.
    let own = unique_email("attacker");
    request_code(&site, &attacker, &own).expect_ok(202);
    let own_code = code_sent_to(&own);
    if own_code != real {
        verify_code(&site, &attacker, &victim_email, &own_code).expect_error(401, "code_invalid");
    } else {
        verify_code(&site, &attacker, &victim_email, "999999").expect_error(401, "code_invalid");
    }
    // Guessing stops at the attempt limit; after that even the right code is refused.
    let mut guesses = (0..10).map(|n| format!("{n:06}")).filter(|g| *g != real);
    for _ in 0..3 {
        verify_code(&site, &attacker, &victim_email, &guesses.next().unwrap()).expect_error(401, "code_invalid");
    }
    verify_code(&site, &attacker, &victim_email, &guesses.next().unwrap()).expect_error(403, "code_attempts_exceeded");
    verify_code(&site, &attacker, &victim_email, &real).expect_error(403, "code_attempts_exceeded");

    // Nothing of the victim's reached the attacker, and the profiles stay apart.
    assert!(!texts(&site, &attacker).iter().any(|t| t.contains("4711")));
    let holders = profiles(&site, &format!("email:{victim_email}"));
    assert_eq!(holders.len(), 2, "the victim's (verified) and the attacker's (claim)");
    let verified_holder = holders
        .iter()
        .find(|p| {
            p["identities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["value"] == victim_email.as_str() && i["verified"] == true)
        })
        .unwrap();
    assert!(
        verified_holder["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "user_id" && i["value"] == "victim")
    );
    assert!(verified_holder["merges"].as_array().unwrap().is_empty());
}

#[test]
fn code_requests_are_rate_limited_and_provider_failures_are_reported() {
    let site = site_with_articles();
    let session = site.session();
    edge().fail_mail(1);
    let email = unique_email("limits");
    request_code(&site, &session, &email).expect_error(502, "email_failed");
    request_code(&site, &session, &email).expect_ok(202);
    request_code(&site, &session, &email).expect_ok(202);
    let limited = request_code(&site, &session, &unique_email("limits2"));
    limited.expect_error(429, "rate_limited");
    assert!(limited.header("retry-after").is_some());
    request_code(&site, &session, "not an email").expect_error(400, "invalid_field");
    verify_code(&site, &session, &email, "12ab56").expect_error(400, "invalid_field");
}

#[test]
fn a_session_cannot_read_a_conversation_it_does_not_belong_to() {
    let site = site_with_articles();
    let a = site.session();
    site.send(&a, "a1", "private to A").expect_ok(200);
    let a_visitor = shared::session::verify(
        &a,
        &site.id,
        now(),
        &KeyRing::new(vec![Key::from_secret(edge().session_secret.as_bytes())]).unwrap(),
    )
    .unwrap()
    .sub;
    // B forges a session naming A's conversation: the signature gives it away.
    let b = site.session();
    let b_visitor = shared::session::verify(
        &b,
        &site.id,
        now(),
        &KeyRing::new(vec![Key::from_secret(edge().session_secret.as_bytes())]).unwrap(),
    )
    .unwrap()
    .sub;
    let forged_keys = KeyRing::new(vec![Key::from_secret(b"a guess at the session secret!!!")]).unwrap();
    let forged = shared::session::issue(&site.id, &b_visitor, Some(&a_visitor), now(), &forged_keys).token;
    let auth = format!("Bearer {forged}");
    edge()
        .request("GET", &site.path("/conversation"), &[("Authorization", &auth)], None)
        .expect_error(401, "invalid_token");
    // Even a correctly signed session for A's conversation is refused unless B was let in.
    let real_keys = KeyRing::new(vec![Key::from_secret(edge().session_secret.as_bytes())]).unwrap();
    let sneaky = shared::session::issue(&site.id, &b_visitor, Some(&a_visitor), now(), &real_keys).token;
    let auth = format!("Bearer {sneaky}");
    edge()
        .request("GET", &site.path("/conversation"), &[("Authorization", &auth)], None)
        .expect_error(403, "not_a_member");
    site.send(&sneaky, "b1", "let me in").expect_error(403, "not_a_member");
    assert_eq!(texts(&site, &a).len(), 2);
}

#[test]
fn admins_export_delete_and_undo() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let email = unique_email("erase");
    let token = user_token(&site, &secret, "user-x", &email);
    let a = site.session();
    site.send(&a, "a1", "first device").expect_ok(200);
    identify_ok(&site, &a, &token, "attached");
    let b = site.session();
    site.send(&b, "b1", "second device").expect_ok(200);
    let b_joined = identify_ok(&site, &b, &token, "merged");
    let profile = profiles(&site, "user_id:user-x")[0].clone();
    let id = profile["id"].as_str().unwrap();
    let merge = profile["merges"][0]["id"].as_str().unwrap();

    // Undo the merge: B is on its own again, A keeps its history, nothing of B's stays with A.
    let path = site.path(&format!("/merges/{merge}/undo"));
    let reply = edge().request("POST", &path, &[("Authorization", &admin(&site))], None);
    let body = reply.expect_ok(200);
    assert_eq!(body["survivor"]["id"], id);
    assert!(!texts(&site, &a).iter().any(|t| t == "second device"));
    let auth = format!("Bearer {b_joined}");
    edge()
        .request("GET", &site.path("/conversation"), &[("Authorization", &auth)], None)
        .expect_error(403, "not_a_member");
    // B's widget renews its session and is back in its own conversation.
    let renewed = edge().request(
        "POST",
        &site.path("/sessions"),
        &[("Origin", ORIGIN), ("Authorization", &auth)],
        None,
    );
    let b_again = renewed.expect_ok(201)["token"].as_str().unwrap().to_owned();
    let on_b = texts(&site, &b_again);
    assert!(on_b.iter().any(|t| t == "second device") && !on_b.iter().any(|t| t == "first device"));
    let reply = edge().request("POST", &path, &[("Authorization", &admin(&site))], None);
    reply.expect_error(409, "merge_not_undoable");

    // Export: everything held about the person, messages included.
    let path = site.path(&format!("/profiles/{id}/export"));
    let reply = edge().request("GET", &path, &[("Authorization", &admin(&site))], None);
    let export = reply.expect_ok(200);
    assert_eq!(export["profile"]["id"], id);
    let messages: Vec<&str> = export["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap())
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"first device"), "{messages:?}");

    // Delete: gone from every store, with a report of what was erased.
    let path = site.path(&format!("/profiles/{id}"));
    let reply = edge().request("DELETE", &path, &[("Authorization", &admin(&site))], None);
    let report = reply.expect_ok(200);
    assert_eq!(report["profile"], id);
    assert_eq!(report["conversations"], 1);
    assert_eq!(report["messages"], 2);
    assert!(report["identities"].as_u64().unwrap() >= 3);
    assert!(profiles(&site, "user_id:user-x").is_empty());
    assert!(profiles(&site, &format!("email:{email}")).is_empty());
    assert!(texts(&site, &a).is_empty());
    edge()
        .request("GET", &path, &[("Authorization", &admin(&site))], None)
        .expect_error(404, "unknown_profile");

    // The admin API refuses what it cannot do, clearly.
    edge()
        .request(
            "GET",
            &site.path("/profiles"),
            &[("Authorization", &admin(&site))],
            None,
        )
        .expect_error(400, "invalid_field");
    edge()
        .request(
            "GET",
            &site.path("/profiles?identity=fax:123"),
            &[("Authorization", &admin(&site))],
            None,
        )
        .expect_error(400, "invalid_field");
    edge()
        .request(
            "POST",
            &site.path("/merges/m_nope/undo"),
            &[("Authorization", &admin(&site))],
            None,
        )
        .expect_error(404, "unknown_merge");
    edge()
        .request(
            "GET",
            &site.path("/profiles?identity=user_id:x"),
            &[("Authorization", "Bearer wrong")],
            None,
        )
        .expect_error(401, "invalid_key");
}

#[test]
fn identity_secrets_rotate_without_downtime() {
    let site = site_with_articles();
    let old = new_secret(&site);
    let token = old.token(json!({"sub": "user-r", "aud": site.id, "exp": now() + 300}));
    let new = new_secret(&site);
    new_secret(&site);
    // Three is the most a site holds.
    edge()
        .request(
            "POST",
            &site.path("/identity-secrets"),
            &[("Authorization", &admin(&site))],
            None,
        )
        .expect_error(409, "too_many_secrets");
    // Listing shows ids and ages, never the secrets.
    let reply = edge().request(
        "GET",
        &site.path("/identity-secrets"),
        &[("Authorization", &admin(&site))],
        None,
    );
    let listed = reply.expect_ok(200).to_string();
    assert!(listed.contains(&old.kid) && !listed.contains(&old.secret));
    // Both the old and the new secret verify during the rotation...
    identify_ok(&site, &site.session(), &token, "attached");
    let fresh = new.token(json!({"sub": "user-r", "aud": site.id, "exp": now() + 300}));
    identify_ok(&site, &site.session(), &fresh, "merged");
    // ...and once the old one is deleted, its tokens stop working.
    let path = site.path(&format!("/identity-secrets/{}", old.kid));
    edge()
        .request("DELETE", &path, &[("Authorization", &admin(&site))], None)
        .expect_ok(200);
    identify(&site, &site.session(), json!({ "token": token })).expect_error(401, "identity_invalid");
    edge()
        .request("DELETE", &path, &[("Authorization", &admin(&site))], None)
        .expect_error(404, "unknown_secret");
}

#[test]
fn a_site_imports_its_users_and_their_chats_join_those_profiles() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    // A visitor verified an address by code before the import: that profile is theirs.
    let early = unique_email("early");
    let visitor = site.session();
    site.send(&visitor, "e1", "hello before the import").expect_ok(200);
    request_code(&site, &visitor, &early).expect_ok(202);
    verify_code(&site, &visitor, &early, &code_sent_to(&early)).expect_ok(200);

    let known = unique_email("known");
    let import = format!(
        "{}\n{}\n{}\n",
        json!({"user_id": "imp-1", "email": known, "traits": {"plan": "team", "lifetime_value": 1200}}),
        json!({"user_id": "imp-2", "email": early}),
        json!({"user_id": "imp-3", "phone": "+1 (415) 555-0100"}),
    );
    let auth = admin(&site);
    let upload = |body: &str| {
        edge().request(
            "POST",
            &site.path("/profiles/import"),
            &[("Authorization", &auth), ("Content-Type", "application/x-ndjson")],
            Some(body.as_bytes()),
        )
    };
    let report = upload(&import);
    let body = report.expect_ok(200);
    assert_eq!(
        (body["created"].as_u64(), body["updated"].as_u64()),
        (Some(2), Some(1)),
        "{body}"
    );
    // imp-2 is the visitor who verified `early`: one profile, with the chat.
    let merged = &profiles(&site, "user_id:imp-2")[0];
    assert_eq!(merged["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(
        profiles(&site, "phone:%2B14155550100")[0]["identities"][0]["value"],
        "imp-3"
    );
    // Importing again updates, never duplicates.
    let again = upload(&import);
    assert_eq!(again.expect_ok(200)["updated"], 3);
    // Bad lines refuse the whole file, naming the line.
    upload("{\"user_id\": \"imp-9\"}\n{\"email\": \"x@example.com\"}\n").expect_error(400, "invalid_field");
    assert!(profiles(&site, "user_id:imp-9").is_empty());

    // A chat from imp-1 joins the imported profile, with its traits.
    let session = site.session();
    site.send(&session, "s1", "hi, it's imp-1").expect_ok(200);
    let token = secret.token(json!({"sub": "imp-1", "aud": site.id, "exp": now() + 300}));
    let session = identify_ok(&site, &session, &token, "merged");
    assert!(texts(&site, &session).iter().any(|t| t == "hi, it's imp-1"));
    let profile = &profiles(&site, &format!("email:{known}"))[0];
    assert_eq!(profile["traits"]["plan"]["value"], "team");
    assert_eq!(profile["conversations"].as_array().unwrap().len(), 1);
}

#[test]
fn the_site_decides_how_conflicting_traits_settle() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let auth = admin(&site);
    let patch = |body: Value| {
        edge().request(
            "PATCH",
            &site.path(""),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    };
    patch(json!({"trait_rules": {"lifetime_value": "biggest"}})).expect_error(400, "invalid_field");
    let updated = patch(json!({"trait_rules": {"lifetime_value": "max", "signed_up": "keep_first"}}));
    assert_eq!(updated.expect_ok(200)["trait_rules"]["lifetime_value"], "max");

    let identify_with = |traits: Value| {
        let token = secret.token(json!({"sub": "u-traits", "aud": site.id, "exp": now() + 300, "traits": traits}));
        identify(&site, &site.session(), json!({ "token": token })).expect_ok(200);
    };
    identify_with(json!({"lifetime_value": 900, "signed_up": "2024-01", "plan": "free"}));
    identify_with(json!({"lifetime_value": 300, "signed_up": "2025-06", "plan": "pro"}));
    let traits = profiles(&site, "user_id:u-traits")[0]["traits"].clone();
    assert_eq!(traits["lifetime_value"]["value"], 900, "max");
    assert_eq!(traits["signed_up"]["value"], "2024-01", "keep_first");
    assert_eq!(traits["plan"]["value"], "pro", "newest, the default");
}

#[test]
fn a_shared_browser_switches_people_without_carrying_history_across() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let first = secret.token(json!({"sub": "first-user", "aud": site.id, "exp": now() + 300}));
    let second = secret.token(json!({"sub": "second-user", "aud": site.id, "exp": now() + 300}));
    // The second user chatted before, elsewhere.
    let elsewhere = site.session();
    site.send(&elsewhere, "e1", "second user's own question").expect_ok(200);
    identify_ok(&site, &elsewhere, &second, "attached");

    // On a shared browser the first user chats, then (without logging out) the second logs in.
    let shared = site.session();
    site.send(&shared, "s1", "first user's private question").expect_ok(200);
    let as_first = identify_ok(&site, &shared, &first, "attached");
    let as_second = identify_ok(&site, &as_first, &second, "switched");
    let seen = texts(&site, &as_second);
    assert!(seen.iter().any(|t| t == "second user's own question"), "{seen:?}");
    assert!(!seen.iter().any(|t| t.contains("first user's")), "{seen:?}");
    // The first user's conversation is out of this browser's reach now...
    let auth = format!("Bearer {as_first}");
    edge()
        .request("GET", &site.path("/conversation"), &[("Authorization", &auth)], None)
        .expect_error(403, "not_a_member");
    // ...and still theirs, unmerged.
    let first_profile = &profiles(&site, "user_id:first-user")[0];
    assert!(first_profile["merges"].as_array().unwrap().is_empty());
    assert!(
        !first_profile["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "session")
    );
    let second_profile = &profiles(&site, "user_id:second-user")[0];
    assert_eq!(second_profile["merges"].as_array().unwrap().len(), 0);
}

#[test]
fn traits_the_page_sets_are_kept_unverified_and_never_beat_the_sites_signed_ones() {
    let site = site_with_articles();
    let secret = new_secret(&site);
    let session = site.session();
    let path = site.path("/conversation/traits");
    for body in [
        json!({}),
        json!({ "traits": [1] }),
        json!({ "traits": { "Bad Name": 1 } }),
        json!({ "traits": { "nested": { "a": 1 } } }),
    ] {
        let reply = edge().json("POST", &path, Some(&session), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], "traits", "{body}");
    }
    let reply = edge().json(
        "POST",
        &path,
        Some(&session),
        &json!({ "traits": { "plan": "enterprise", "seats": 40 } }),
    );
    let profile = reply.expect_ok(200)["profile"].as_str().unwrap().to_owned();
    // The site's backend says otherwise, signed: that wins; the unsigned one stays where nothing
    // signed contradicts it.
    let claims = json!({"sub": "u-traits", "aud": site.id, "exp": now() + 300, "traits": {"plan": "free"}});
    identify_ok(&site, &session, &secret.token(claims), "attached");
    let found = profiles(&site, "user_id:u-traits");
    assert_eq!(found[0]["id"], profile.as_str());
    assert_eq!(found[0]["traits"]["plan"]["value"], "free");
    assert_eq!(found[0]["traits"]["plan"]["verified"], true);
    assert_eq!(found[0]["traits"]["seats"]["value"], 40);
    assert_eq!(found[0]["traits"]["seats"]["verified"], false);
    // And a later unsigned claim does not overwrite the signed value.
    edge()
        .json(
            "POST",
            &path,
            Some(&session),
            &json!({ "traits": { "plan": "enterprise" } }),
        )
        .expect_ok(200);
    assert_eq!(
        profiles(&site, "user_id:u-traits")[0]["traits"]["plan"]["value"],
        "free"
    );
}
