//! Webhooks to staff tools: signed per Standard Webhooks, delivered through the queue with the
//! full transcript, retried with one `webhook-id` until the receiver takes them, endpoints
//! disabled on 410, dead letters kept and replayable. The receiver is a local HTTP server
//! that answers as the test scripts it.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::webhook::{self, WebhookSecret};

use crate::support::{ORIGIN, OwnEdge, Site, edge, site_with_articles};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: u64,
    pub signature: String,
    pub body: Vec<u8>,
}

/// A local webhook receiver. `script` holds the statuses (with an optional Retry-After) to
/// answer with, in order (status 0: never answer, so the sender times out); once it is empty it
/// answers 204.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(script: Vec<(u16, Option<u64>)>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/hooks", listener.local_addr().unwrap().port());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let mut script: VecDeque<(u16, Option<u64>)> = script.into();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(request);
                let (status, retry_after) = script.pop_front().unwrap_or((204, None));
                if status == 0 {
                    // Hold the connection open past the sender's 15-second timeout.
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(20));
                        drop(stream);
                    });
                    continue;
                }
                let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Scripted\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, received }
    }

    /// Waits until `n` requests arrived (or 45 s passed) and returns them.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n || started.elapsed() > Duration::from_secs(45) {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < header_end + length {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buffer[..n]);
    }
    Some(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body: data[header_end..].to_vec(),
    })
}

pub fn add_endpoint(site: &Site, url: &str, events: Option<Value>) -> (String, WebhookSecret) {
    let mut body = json!({ "url": url });
    if let Some(events) = events {
        body["events"] = events;
    }
    let reply = edge().json("POST", &site.path("/webhooks"), Some(&site.admin_key), &body);
    let created = reply.expect_ok(201);
    (
        created["id"].as_str().unwrap().to_owned(),
        WebhookSecret::parse(created["secret"].as_str().unwrap()).unwrap(),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[track_caller]
pub fn check_signed(delivery: &Received, secret: &WebhookSecret) -> Value {
    webhook::verify(
        &delivery.id,
        delivery.timestamp,
        &delivery.signature,
        &delivery.body,
        std::slice::from_ref(secret),
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}: {delivery:?}"));
    serde_json::from_slice(&delivery.body).unwrap()
}

#[test]
fn an_escalation_reaches_the_receiver_signed_with_the_whole_transcript() {
    let site = site_with_articles();
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, None);
    let resolved_only = Receiver::start(vec![]);
    add_endpoint(&site, &resolved_only.url, Some(json!(["conversation.resolved"])));

    let token = site.session();
    site.send(&token, "q1", "my invoice shows the wrong VAT number")
        .expect_ok(200);
    site.send(&token, "q2", "This is unacceptable, I need a person")
        .expect_ok(200);
    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1, "one conversation.escalated");
    let event = check_signed(&got[0], &secret);
    assert_eq!(event["type"], "conversation.escalated");
    assert!(got[0].id.starts_with("msg_"));
    let data = &event["data"];
    assert_eq!(data["escalation"]["reasons"][0], "visitor_asked");
    assert_eq!(data["escalation"]["priority"], "high");
    let texts: Vec<&str> = data["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"my invoice shows the wrong VAT number"), "{texts:?}");
    assert!(texts.contains(&"This is unacceptable, I need a person"), "{texts:?}");

    // While a person has it, the customer's messages are events too.
    site.send(&token, "q3", "the invoice number is 2024-117").expect_ok(200);
    let got = receiver.wait_for(2);
    let event = check_signed(&got[1], &secret);
    assert_eq!(event["type"], "message.created");
    assert_eq!(event["data"]["message"]["text"], "the invoice number is 2024-117");
    // The endpoint that only wants resolutions heard nothing.
    std::thread::sleep(Duration::from_millis(500));
    assert!(resolved_only.received.lock().unwrap().is_empty());
}

#[test]
fn a_failing_receiver_gets_the_event_again_with_the_same_id_until_it_takes_it() {
    let site = site_with_articles();
    // Errors, a receiver that does not answer at all (the sender gives up after 15 s), then
    // a busy one asking for a second.
    let receiver = Receiver::start(vec![(500, None), (0, None), (502, None), (503, Some(1))]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    let token = site.session();
    site.send(&token, "q1", "talk to a human please").expect_ok(200);
    let got = receiver.wait_for(5);
    assert_eq!(got.len(), 5, "four failures, then delivered: {got:?}");
    assert!(got.iter().all(|d| d.id == got[0].id), "one webhook-id across retries");
    for delivery in &got {
        check_signed(delivery, &secret);
    }
    // Delivered: nothing more comes.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.received.lock().unwrap().len(), 5);
}

#[test]
fn gone_disables_the_endpoint_and_exhausted_retries_become_replayable_dead_letters() {
    let site = site_with_articles();
    let gone = Receiver::start(vec![(410, None)]);
    let (gone_id, _) = add_endpoint(&site, &gone.url, Some(json!(["conversation.escalated"])));
    let failing = Receiver::start((0..10).map(|_| (500, None)).collect());
    let (failing_id, secret) = add_endpoint(&site, &failing.url, Some(json!(["conversation.escalated"])));
    let token = site.session();
    site.send(&token, "q1", "I want to speak to a person").expect_ok(200);

    assert_eq!(gone.wait_for(1).len(), 1);
    let all = failing.wait_for(10);
    assert_eq!(all.len(), 10, "ten attempts");
    let auth = format!("Bearer {}", site.admin_key);
    let started = Instant::now();
    let letters = loop {
        let reply = edge().request("GET", &site.path("/dead-letters"), &[("Authorization", &auth)], None);
        let letters = reply.expect_ok(200)["dead_letters"].as_array().unwrap().clone();
        if !letters.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break letters;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["endpoint"], failing_id.as_str());
    assert_eq!(letters[0]["attempts"], 10);
    assert_eq!(letters[0]["last_error"], "HTTP 500");
    let hooks = edge().request("GET", &site.path("/webhooks"), &[("Authorization", &auth)], None);
    let hooks = hooks.expect_ok(200)["webhooks"].as_array().unwrap().clone();
    let gone_hook = hooks.iter().find(|h| h["id"] == gone_id.as_str()).unwrap();
    assert!(gone_hook["disabled"].as_str().unwrap().contains("410"));
    assert!(
        !hooks.iter().any(|h| h.get("secret").is_some()),
        "secrets are never listed"
    );
    assert_eq!(
        gone.received.lock().unwrap().len(),
        1,
        "nothing more to a gone endpoint"
    );

    // The receiver is fixed; the admin replays the dead letter: same id, delivered.
    let id = letters[0]["id"].as_str().unwrap();
    edge()
        .request(
            "POST",
            &site.path(&format!("/dead-letters/{id}/replay")),
            &[("Authorization", &auth)],
            None,
        )
        .expect_ok(200);
    let got = failing.wait_for(11);
    assert_eq!(got.len(), 11);
    assert_eq!(got[10].id, got[0].id);
    check_signed(&got[10], &secret);
}

#[test]
fn endpoints_must_be_public_https_and_events_known() {
    let site = site_with_articles();
    for (body, field) in [
        (json!({ "url": "http://hooks.example.com/x" }), "url"),
        (json!({ "url": "https://10.1.2.3/x" }), "url"),
        (json!({ "url": "https://169.254.169.254/latest" }), "url"),
        (json!({}), "url"),
        (
            json!({ "url": "https://hooks.example.com/x", "events": ["conversation.deleted"] }),
            "events",
        ),
        (json!({ "url": "https://hooks.example.com/x", "events": [] }), "events"),
    ] {
        let reply = edge().json("POST", &site.path("/webhooks"), Some(&site.admin_key), &body);
        reply.expect_error(400, "invalid_field");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    let created = edge().json(
        "POST",
        &site.path("/webhooks"),
        Some(&site.admin_key),
        &json!({ "url": "https://hooks.example.com/threadline" }),
    );
    let created = created.expect_ok(201);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        created["events"].as_array().unwrap().len(),
        shared::webhook::EVENTS.len(),
        "all of them by default"
    );
}

#[test]
fn a_valuable_customer_goes_to_a_person_with_their_profile_in_the_package() {
    let site = site_with_articles();
    let auth = format!("Bearer {}", site.admin_key);
    edge()
        .request(
            "PATCH",
            &site.path(""),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(
                json!({"escalation_rules": {"high_value": {"trait": "lifetime_value", "at_least": 10000}}})
                    .to_string()
                    .as_bytes(),
            ),
        )
        .expect_ok(200);
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    let created = edge().request(
        "POST",
        &site.path("/identity-secrets"),
        &[("Authorization", &auth)],
        None,
    );
    let created = created.expect_ok(201);
    let keys = shared::jwt::KeyRing::new(vec![shared::jwt::Key {
        kid: created["kid"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().as_bytes().to_vec(),
    }])
    .unwrap();

    // An anonymous visitor with the same question only gets the offer of a person...
    let anonymous = site.session();
    let reply = site.send(&anonymous, "q1", "does the enterprise plan include an audit log");
    assert_eq!(reply.expect_ok(200)["messages"][1]["bot"]["kind"], "no_answer");

    // ...a customer worth 25,000 goes to a person at once, at high priority, profile attached.
    let token = site.session();
    let identity = shared::jwt::sign(
        &json!({"sub": "big-co", "aud": site.id, "exp": now() + 300, "name": "Ana", "traits": {"lifetime_value": 25000, "plan": "enterprise"}}),
        &keys,
    );
    let identified = edge().json(
        "POST",
        &site.path("/identify"),
        Some(&token),
        &json!({ "token": identity }),
    );
    let token = identified.expect_ok(200)["token"].as_str().unwrap().to_owned();
    let reply = site.send(&token, "q1", "does the enterprise plan include an audit log");
    let bot = &reply.expect_ok(200)["messages"][1]["bot"];
    assert_eq!(bot["kind"], "handoff_requested");
    assert_eq!(bot["reason"], "high_value_customer");

    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1);
    let event = check_signed(&got[0], &secret);
    assert_eq!(event["data"]["escalation"]["priority"], "high");
    let profile = &event["data"]["profile"];
    assert_eq!(profile["traits"]["lifetime_value"]["value"], 25000);
    assert_eq!(profile["traits"]["name"]["value"], "Ana");
    assert!(
        profile["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "user_id" && i["value"] == "big-co")
    );
}

#[test]
fn a_delivery_survives_the_edge_crashing_between_attempts() {
    // An edge of this test's own, crashed (SIGKILL) and restarted on the same state. Its outbox
    // looks for lost deliveries 3 s after they were due.
    let mut own = OwnEdge::start(8790, "--var WEBHOOK_RESEND_AFTER_SECS:3");
    let other = &own.edge;
    let site = other.new_site(&[ORIGIN]);
    let admin = Some(site.admin_key.as_str());
    let receiver = Receiver::start(vec![(500, None)]);
    let created = other.json("POST", &site.path("/webhooks"), admin, &json!({ "url": receiver.url }));
    let secret = WebhookSecret::parse(created.expect_ok(201)["secret"].as_str().unwrap()).unwrap();
    let session = other.request("POST", &site.path("/sessions"), &[("Origin", ORIGIN)], None);
    let token = session.expect_ok(201)["token"].as_str().unwrap().to_owned();
    let message = json!({ "id": "q1", "text": "I need a human, my card was charged twice" });
    other
        .json("POST", &site.path("/conversation/messages"), Some(&token), &message)
        .expect_ok(200);

    // The first attempt fails; the next one is 5 s away when the edge dies.
    let first = receiver.wait_for(1);
    assert_eq!(first.len(), 1, "the first attempt arrived");
    own.crash();
    own.restart();
    let other = &own.edge;
    // Local workerd forgets alarms when it dies (Cloudflare keeps them): the site's next request
    // re-arms its outbox. Here the next request is staff looking at the queue.
    let auth = format!("Bearer {}", site.admin_key);
    let queue = other.request("GET", &site.path("/queue"), &[("Authorization", &auth)], None);
    assert_eq!(
        queue.expect_ok(200)["queue"].as_array().unwrap().len(),
        1,
        "the escalation is kept"
    );

    let got = receiver.wait_for(2);
    assert!(got.len() >= 2, "delivered after the restart: {got:?}");
    assert!(got.iter().all(|d| d.id == got[0].id), "one webhook-id throughout");
    for delivery in &got {
        let event = check_signed(delivery, &secret);
        assert_eq!(event["type"], "conversation.escalated");
        let transcript = event["data"]["transcript"].as_array().unwrap();
        assert!(transcript.iter().any(|m| m["text"] == message["text"]));
    }
    // Nothing was given up on.
    let dead = other.request("GET", &site.path("/dead-letters"), &[("Authorization", &auth)], None);
    assert_eq!(dead.expect_ok(200)["dead_letters"].as_array().unwrap().len(), 0);
}

#[test]
fn card_and_account_numbers_are_cut_from_what_staff_tools_receive_as_the_site_chooses() {
    let site = site_with_articles();
    let receiver = Receiver::start(vec![]);
    let (_, secret) = add_endpoint(&site, &receiver.url, None);
    let token = site.session();
    site.send(&token, "q1", "you charged my card 4242 4242 4242 4242 twice")
        .expect_ok(200);
    site.send(&token, "q2", "I need a person now").expect_ok(200);
    let got = receiver.wait_for(1);
    let event = check_signed(&got[0], &secret);
    assert_eq!(event["type"], "conversation.escalated");
    let body = event["data"].to_string();
    assert!(!body.contains("4242 4242 4242 4242"), "{body}");
    assert!(body.contains("you charged my card [card ending 4242] twice"), "{body}");
    // The conversation itself keeps what the customer wrote.
    let kept = site.transcript(&token);
    assert_eq!(kept[0]["text"], "you charged my card 4242 4242 4242 4242 twice");

    // A site that needs the numbers in its own tools turns it off.
    let reply = edge().json(
        "PATCH",
        &site.path(""),
        Some(&site.admin_key),
        &json!({ "privacy": { "redact_card_numbers": false } }),
    );
    assert_eq!(reply.expect_ok(200)["privacy"]["redact_card_numbers"], false);
    site.send(&token, "q3", "it was 5555-5555-5555-4444").expect_ok(200);
    let got = receiver.wait_for(2);
    let event = check_signed(&got[1], &secret);
    assert_eq!(event["data"]["message"]["text"], "it was 5555-5555-5555-4444");

    // Bank account numbers go by default; emails (and phone numbers) when the site asks.
    let reply = edge().json(
        "PATCH",
        &site.path(""),
        Some(&site.admin_key),
        &json!({ "privacy": { "redact_card_numbers": false, "redact_emails": true } }),
    );
    let privacy = &reply.expect_ok(200)["privacy"];
    assert_eq!(privacy["redact_bank_accounts"], true, "{privacy}");
    assert_eq!(privacy["redact_phone_numbers"], false, "{privacy}");
    site.send(
        &token,
        "q4",
        "refund ana@example.com to GB82 WEST 1234 5698 7654 32, +1 415 555 0100",
    )
    .expect_ok(200);
    let got = receiver.wait_for(3);
    let event = check_signed(&got[2], &secret);
    assert_eq!(
        event["data"]["message"]["text"],
        "refund [email] to [IBAN ending 5432], +1 415 555 0100"
    );
    let bad = edge().json(
        "PATCH",
        &site.path(""),
        Some(&site.admin_key),
        &json!({ "privacy": { "redact_everything": true } }),
    );
    bad.expect_error(400, "invalid_field");
    assert_eq!(bad.body["error"]["field"], "privacy");
}
