//! Messenger and Instagram through Meta's Messenger Platform: the handshake, signed events, the
//! page-scoped sender as a verified identity of its own, answers and staff replies through the
//! Send API (a local stand-in that checks requests as Meta does), redeliveries stored once.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{Reply, Site, edge, poll, site_with_articles};

const APP_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const PAGE_ID: &str = "109876543210";

fn set_up(site: &Site, kind: &str) {
    let body = json!({
        "page_id": PAGE_ID,
        "access_token": "EAAB-page-token",
        "app_secret": APP_SECRET,
        "verify_token": "page-verify-token",
    });
    let reply = edge().json(
        "PUT",
        &site.path(&format!("/channels/{kind}")),
        Some(&site.admin_key),
        &body,
    );
    assert!(!reply.expect_ok(200).to_string().contains(APP_SECRET));
}

fn event(object: &str, sender: &str, mid: &str, text: &str) -> Value {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    json!({"object": object, "entry": [{"id": PAGE_ID, "time": now_ms, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms,
        "message": {"mid": mid, "text": text}
    }]}]})
}

fn post(site: &Site, kind: &str, secret: &str, payload: &Value) -> Reply {
    let body = payload.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", shared::hex::encode(&mac.finalize().into_bytes()));
    let reply = edge().request(
        "POST",
        &site.path(&format!("/inbound/{kind}")),
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

fn wait_for(to: &str, n: usize) -> Vec<Value> {
    poll(|| edge().page_messages_to(to), n)
}

#[test]
fn messenger_and_instagram_messages_are_answered_there() {
    let site = site_with_articles();
    for (kind, object) in [("messenger", "page"), ("instagram", "instagram")] {
        set_up(&site, kind);
        let handshake = site.path(&format!(
            "/inbound/{kind}?hub.mode=subscribe&hub.verify_token=page-verify-token&hub.challenge=42"
        ));
        assert_eq!(edge().request("GET", &handshake, &[], None).status, 200);
        let sender = format!("{kind}-{}", std::process::id());
        let question = event(object, &sender, &format!("m_{kind}_1"), "how do I reset my password?");
        post(&site, kind, "ffffffffffffffffffffffffffffffff", &question).expect_error(401, "invalid_signature");
        assert!(edge().page_messages_to(&sender).is_empty());
        assert_eq!(post(&site, kind, APP_SECRET, &question).expect_ok(200)["messages"], 1);
        let sent = wait_for(&sender, 1);
        assert!(
            sent[0]["body"].as_str().unwrap().contains("Forgot password"),
            "{kind}: {sent:?}"
        );
        post(&site, kind, APP_SECRET, &question).expect_ok(200);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            edge().page_messages_to(&sender).len(),
            1,
            "{kind}: redelivery stored once"
        );

        let ask = event(object, &sender, &format!("m_{kind}_2"), "let me talk to a human");
        post(&site, kind, APP_SECRET, &ask).expect_ok(200);
        let auth = format!("Bearer {}", site.admin_key);
        let queue = edge().request("GET", &site.path("/queue"), &[("Authorization", &auth)], None);
        let entries = queue.expect_ok(200)["queue"].as_array().unwrap().clone();
        let conversation = entries.last().unwrap()["conversation"].as_str().unwrap().to_owned();
        let reply = edge().json(
            "POST",
            &site.path(&format!("/conversations/{conversation}/replies")),
            Some(&site.admin_key),
            &json!({ "id": "r1", "text": format!("Hi from the team on {kind}") }),
        );
        assert_eq!(reply.expect_ok(200)["delivered_by"], kind);
        assert_eq!(
            wait_for(&sender, 3).last().unwrap()["body"],
            format!("Hi from the team on {kind}")
        );
    }
    // Another kind of payload on this endpoint is refused.
    post(
        &site,
        "messenger",
        APP_SECRET,
        &json!({"object": "whatsapp_business_account"}),
    )
    .expect_error(400, "malformed_json");
}
