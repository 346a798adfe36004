//! WhatsApp through Meta's Cloud API: the webhook handshake, `X-Hub-Signature-256` checked on
//! every event, answers through the Graph API (a local stand-in that checks requests as Meta
//! does), redeliveries stored once, and the seed's story end to end: chat, then email, then
//! WhatsApp from the same verified customer is one profile and one timeline with three channels;
//! the escalation carries all of it and the staff reply goes out on WhatsApp.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::continuation::{channels, identity, invite};
use crate::email::{deliver, nth_mail, raw_email, site_address};
use crate::identity::{identify_ok, new_secret, now, profiles, unique_email};
use crate::support::{Reply, Site, edge, poll, site_with_articles};
use crate::webhooks::{Receiver, add_endpoint, check_signed};

const APP_SECRET: &str = "00112233445566778899aabbccddeeff";
const VERIFY_TOKEN: &str = "let-meta-in-please";
const PHONE_NUMBER_ID: &str = "1122334455667";
/// The number customers write to (for "continue on WhatsApp" links).
const OUR_NUMBER: &str = "+1 555 000 1111";

fn set_up(site: &Site) {
    let body = json!({
        "phone_number_id": PHONE_NUMBER_ID,
        "phone_number": OUR_NUMBER,
        "access_token": "EAAG-test-access-token",
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    });
    let reply = edge().json("PUT", &site.path("/channels/whatsapp"), Some(&site.admin_key), &body);
    let info = reply.expect_ok(200);
    assert!(!info.to_string().contains(APP_SECRET) && !info.to_string().contains("EAAG"));
}

/// A message webhook as Meta sends it (pywa's `text` fixture's shape).
fn message_payload(from: &str, id: &str, text: &str) -> Value {
    message_payload_at(from, id, text, now())
}

fn message_payload_at(from: &str, id: &str, text: &str, at: u64) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1234567890987654321", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "972123456789", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Test Name"}, "wa_id": from.trim_start_matches('+')}],
            "messages": [{"from": from.trim_start_matches('+'), "id": id, "timestamp": at.to_string(),
                          "text": {"body": text}, "type": "text"}]
        }}]}]
    })
}

fn post_signed(site: &Site, secret: &str, payload: &Value) -> Reply {
    let body = payload.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", shared::hex::encode(&mac.finalize().into_bytes()));
    let reply = edge().request(
        "POST",
        &site.path("/inbound/whatsapp"),
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &signature),
        ],
        Some(body.as_bytes()),
    );
    if reply.status == 200 {
        site.settle_inbox();
    }
    reply
}

fn unique_phone() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "+4479{:08}",
        (std::process::id() as u64 * 1000 + N.fetch_add(1, Ordering::Relaxed)) % 100_000_000
    )
}

fn wait_for_whatsapp(to: &str, n: usize) -> Vec<Value> {
    poll(|| edge().whatsapp_to(to), n)
}

#[test]
fn the_handshake_and_signed_events() {
    let site = site_with_articles();
    set_up(&site);
    let path = |token: &str| {
        site.path(&format!(
            "/inbound/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        ))
    };
    let ok = edge().request("GET", &path(VERIFY_TOKEN), &[], None);
    assert_eq!(ok.status, 200);
    edge()
        .request("GET", &path("guess"), &[], None)
        .expect_error(401, "invalid_signature");

    let phone = unique_phone();
    let payload = message_payload(&phone, "wamid.one", "how do I reset my password?");
    post_signed(&site, "ffeeddccbbaa99887766554433221100", &payload).expect_error(401, "invalid_signature");
    assert!(edge().whatsapp_to(&phone).is_empty(), "nothing stored or sent");
    assert_eq!(post_signed(&site, APP_SECRET, &payload).expect_ok(200)["messages"], 1);
    let sent = wait_for_whatsapp(&phone, 1);
    assert!(
        sent[0]["body"].as_str().unwrap().contains("Forgot password"),
        "{sent:?}"
    );
    // Meta redelivers: stored once, answered once.
    post_signed(&site, APP_SECRET, &payload).expect_ok(200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(edge().whatsapp_to(&phone).len(), 1);
    // A status update stores nothing; a body that is not a WhatsApp payload is a 400.
    let status = json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
        "metadata": {"phone_number_id": PHONE_NUMBER_ID},
        "statuses": [{"id": "wamid.x", "status": "read", "recipient_id": "1"}]}}]}]});
    assert_eq!(post_signed(&site, APP_SECRET, &status).expect_ok(200)["messages"], 0);
    post_signed(&site, APP_SECRET, &json!({"object": "page"})).expect_error(400, "malformed_json");
    // WhatsApp verified the number: the identity is verified.
    let found = profiles(&site, &format!("phone:{}", phone.replace('+', "%2B")));
    let identity = found[0]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "phone")
        .unwrap()
        .clone();
    assert_eq!(identity["verified"], true);
    assert_eq!(identity["proof"]["method"], "whatsapp");
}

#[test]
fn chat_then_email_then_whatsapp_is_one_customer_and_one_timeline() {
    let site = site_with_articles();
    set_up(&site);
    let receiver = Receiver::start(vec![]);
    let (_, webhook_secret) = add_endpoint(&site, &receiver.url, Some(json!(["conversation.escalated"])));
    let email = unique_email("seed");
    let phone = unique_phone();

    // 2 PM: chat on the site, signed in (the site's backend vouches for her email and phone).
    let secret = new_secret(&site);
    let claims = json!({"sub": "cust-42", "aud": site.id, "exp": now() + 300, "email": email, "phone": phone});
    let session = site.session();
    site.send(&session, "c1", "my order 4471 hasn't arrived").expect_ok(200);
    let session = identify_ok(&site, &session, &secret.token(claims), "attached");

    // 3 PM: a follow-up by email, authenticated (the bot answers it by email).
    let raw = raw_email(
        &email,
        &site_address(&site),
        "Order 4471",
        "seed1@example.com",
        "",
        true,
        "can I get a refund",
    );
    assert_eq!(deliver(&email, &site_address(&site), &raw).0, 200);
    nth_mail(&email, 1);

    // Later: WhatsApp from her phone, asking for a person.
    let payload = message_payload(&phone, "wamid.seed", "This is urgent, I need a human about order 4471");
    post_signed(&site, APP_SECRET, &payload).expect_ok(200);

    // One profile, one timeline, three channels, in order.
    let transcript = site.transcript(&session);
    let channels: Vec<&str> = transcript
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["chat", "email", "whatsapp"], "{transcript:?}");
    assert_eq!(profiles(&site, &format!("email:{email}")).len(), 1);
    let by_phone = profiles(&site, &format!("phone:{}", phone.replace('+', "%2B")));
    assert_eq!(by_phone.len(), 1);
    assert_eq!(by_phone[0]["id"], profiles(&site, &format!("email:{email}"))[0]["id"]);

    // The escalation carries all of it.
    let got = receiver.wait_for(1);
    let event = check_signed(&got[0], &webhook_secret);
    let carried: Vec<&str> = event["data"]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["channel"].as_str().unwrap())
        .collect();
    for channel in ["chat", "email", "whatsapp"] {
        assert!(carried.contains(&channel), "{channel} in {carried:?}");
    }
    assert_eq!(event["data"]["escalation"]["priority"], "urgent");

    // The staff reply goes out where she is now: WhatsApp.
    let conversation = event["data"]["conversation"].as_str().unwrap();
    let reply = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&site.admin_key),
        &json!({ "id": "r1", "text": "Hi, it's Maya: order 4471 left the depot this morning." }),
    );
    assert_eq!(reply.expect_ok(200)["delivered_by"], "whatsapp");
    let sent = wait_for_whatsapp(&phone, 1);
    assert_eq!(
        sent.last().unwrap()["body"],
        "Hi, it's Maya: order 4471 left the depot this morning."
    );
}

#[test]
fn outside_the_24_hour_window_staff_are_told_instead_of_failing_silently() {
    let site = site_with_articles();
    set_up(&site);
    let phone = unique_phone();
    // Her message (delivered late) was written 25 hours ago.
    let payload = message_payload_at(&phone, "wamid.old", "talk to a human please", now() - 25 * 3600);
    post_signed(&site, APP_SECRET, &payload).expect_ok(200);
    let auth = format!("Bearer {}", site.admin_key);
    let queue = edge().request("GET", &site.path("/queue"), &[("Authorization", &auth)], None);
    let conversation = queue.expect_ok(200)["queue"][0]["conversation"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = edge().whatsapp_to(&phone).len();
    let reply = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&site.admin_key),
        &json!({ "id": "r1", "text": "Sorry for the wait!" }),
    );
    let reply = reply.expect_ok(200);
    assert_eq!(reply["delivered_by"], "stored");
    assert!(reply["reason"].as_str().unwrap().contains("24-hour"), "{reply}");
    assert_eq!(
        edge().whatsapp_to(&phone).len(),
        before,
        "nothing sent outside the window"
    );
}

#[test]
fn a_chat_continues_on_whatsapp_when_the_widgets_code_arrives_from_there() {
    let site = site_with_articles();
    set_up(&site);
    let session = site.session();
    site.send(&session, "c1", "can I get a refund").expect_ok(200);
    assert!(channels(&site, &session).contains(&"whatsapp".to_owned()));
    let invitation = invite(&site, &session, "whatsapp");
    let code = invitation["code"].as_str().unwrap();
    let link = invitation["link"].as_str().unwrap();
    assert!(link.starts_with("https://wa.me/15550001111?text="), "{link}");
    assert!(link.ends_with(code), "the prefilled text ends with the code: {link}");
    assert_eq!(invitation["to"], "+15550001111");

    // The customer taps the link and sends the prefilled text from their phone.
    let phone = unique_phone();
    let text = invitation["text"].as_str().unwrap();
    post_signed(&site, APP_SECRET, &message_payload(&phone, "wamid.move1", text)).expect_ok(200);
    let sent = wait_for_whatsapp(&phone, 1);
    assert!(
        sent[0]["body"].as_str().unwrap().starts_with("You're connected"),
        "{sent:?}"
    );

    // The number is now the customer's, verified by the code, and the chat continues there.
    let by_phone = profiles(&site, &format!("phone:{}", phone.replace('+', "%2B")));
    assert_eq!(by_phone.len(), 1);
    let record = identity(&by_phone[0], "phone", &phone).unwrap();
    assert_eq!(record["verified"], true);
    assert_eq!(
        record["proof"],
        json!({"method": "continue_code", "channel": "whatsapp"})
    );
    post_signed(
        &site,
        APP_SECRET,
        &message_payload(&phone, "wamid.move2", "how do I reset my password?"),
    )
    .expect_ok(200);
    let sent = wait_for_whatsapp(&phone, 2);
    assert!(sent[1]["body"].as_str().unwrap().contains("password"), "{sent:?}");
    let visitor = site.visitor_messages(&session, "channel");
    assert_eq!(visitor, ["chat", "whatsapp", "whatsapp"]);

    // The code works once: another number sending it is told so and stays a separate customer.
    let other = unique_phone();
    post_signed(&site, APP_SECRET, &message_payload(&other, "wamid.move3", text)).expect_ok(200);
    let told = wait_for_whatsapp(&other, 1);
    assert!(told[0]["body"].as_str().unwrap().contains("already used"), "{told:?}");
    let others = profiles(&site, &format!("phone:{}", other.replace('+', "%2B")));
    assert_eq!(others.len(), 1);
    assert_ne!(others[0]["id"], by_phone[0]["id"]);
    assert_eq!(
        site.transcript(&session).len(),
        visitor.len() * 2,
        "nothing joined the chat"
    );
}

#[test]
fn a_staff_reply_whatsapp_could_not_take_is_retried_and_arrives_once() {
    let site = site_with_articles();
    set_up(&site);
    let phone = unique_phone();
    let payload = message_payload(&phone, "wamid.retry1", "I need to talk to a person please");
    post_signed(&site, APP_SECRET, &payload).expect_ok(200);
    let queue = edge().request(
        "GET",
        &site.path("/queue"),
        &[("Authorization", &format!("Bearer {}", site.admin_key))],
        None,
    );
    let conversation = queue.expect_ok(200)["queue"][0]["conversation"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = edge().whatsapp_to(&phone).len();
    edge().fail_sends_to(&phone, 1, 503);
    let reply = edge().json(
        "POST",
        &site.path(&format!("/conversations/{conversation}/replies")),
        Some(&site.admin_key),
        &json!({ "id": "r1", "text": "Hi, Maya here: looking into it now." }),
    );
    let body = reply.expect_ok(200);
    assert_eq!(body["delivered_by"], "retrying", "{body}");
    assert!(body["reason"].as_str().unwrap().contains("503"), "{body}");
    let sent = wait_for_whatsapp(&phone, before + 1);
    assert_eq!(sent.last().unwrap()["body"], "Hi, Maya here: looking into it now.");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(edge().whatsapp_to(&phone).len(), before + 1, "once");
}

#[test]
fn a_returning_whatsapp_customer_who_continues_from_the_widget_gets_one_timeline() {
    let site = site_with_articles();
    set_up(&site);
    let phone = unique_phone();
    // Last week, on WhatsApp.
    post_signed(
        &site,
        APP_SECRET,
        &message_payload(&phone, "wamid.old1", "can I get a refund"),
    )
    .expect_ok(200);
    wait_for_whatsapp(&phone, 1);
    // Today, in the widget, then "continue on WhatsApp".
    let session = site.session();
    site.send(&session, "c1", "how do I reset my password?").expect_ok(200);
    let invitation = invite(&site, &session, "whatsapp");
    let text = invitation["text"].as_str().unwrap();
    post_signed(&site, APP_SECRET, &message_payload(&phone, "wamid.old2", text)).expect_ok(200);
    let sent = wait_for_whatsapp(&phone, 2);
    assert!(
        sent[1]["body"].as_str().unwrap().starts_with("You're connected"),
        "{sent:?}"
    );
    // One customer; the widget renews its session (as it does when told its conversation
    // moved) and sees both histories in one timeline, in order.
    let owners = profiles(&site, &format!("phone:{}", phone.replace('+', "%2B")));
    assert_eq!(owners.len(), 1, "{owners:?}");
    let renewed = edge().request(
        "POST",
        &site.path("/sessions"),
        &[
            ("Origin", crate::support::ORIGIN),
            ("Authorization", &format!("Bearer {session}")),
        ],
        None,
    );
    let session = renewed.expect_ok(201)["token"].as_str().unwrap().to_owned();
    let visitor: Vec<String> = poll(
        || {
            let texts = site.visitor_messages(&session, "text");
            if texts.len() >= 3 { texts } else { Vec::new() }
        },
        3,
    );
    assert_eq!(
        visitor,
        ["can I get a refund", "how do I reset my password?", text],
        "one timeline"
    );
}
