//! WhatsApp through Meta's Cloud API: the webhook's verification handshake (`hub.challenge`),
//! its `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret), the messages
//! and statuses in its payloads, the 24-hour customer-service window, and the Graph API body
//! that sends a text.
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components>)

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// How long after the customer's last message we may write freely (Meta's customer-service
/// window); after that only approved templates may be sent.
pub const SERVICE_WINDOW_SECS: u64 = 24 * 60 * 60;

/// Longest text body the Cloud API sends, in characters.
pub const MAX_TEXT_CHARS: usize = 4_096;

/// The verification handshake: `hub.mode=subscribe` with our verify token gets `hub.challenge`
/// back; anything else is refused.
pub fn challenge(params: &[(String, String)], verify_token: &str) -> Option<String> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let token = get("hub.verify_token")?;
    let same = token.len() == verify_token.len()
        && token
            .bytes()
            .zip(verify_token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    (get("hub.mode") == Some("subscribe") && same && !verify_token.is_empty())
        .then(|| get("hub.challenge").map(str::to_owned))
        .flatten()
}

/// Whether `header` (`sha256=<hex>`) is the app secret's HMAC-SHA256 of `body` (constant time).
pub fn verify_signature(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    let expected = crate::hex::encode(&mac.finalize().into_bytes());
    expected.len() == hex.len() && expected.bytes().zip(hex.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// One thing a webhook reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(InboundMessage),
    /// What became of a message we sent: `sent`, `delivered`, `read`, `failed`.
    Status {
        id: String,
        status: String,
        recipient: String,
    },
}

/// A customer's message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InboundMessage {
    /// Which of the business's numbers it came to.
    pub phone_number_id: String,
    /// The sender, E.164 (`+` and their WhatsApp id).
    pub from: String,
    pub name: Option<String>,
    /// `wamid.…`: a redelivered webhook carries the same one.
    pub id: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// The text, or a description of what was sent (`[image: caption]`, `[location: …]`).
    pub text: String,
}

/// Every message and status in a webhook body. Unknown shapes are skipped; a body that is not
/// a WhatsApp Business Account payload is an error.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, String> {
    let payload: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if payload["object"] != "whatsapp_business_account" {
        return Err("`object` is not \"whatsapp_business_account\"".into());
    }
    let mut events = Vec::new();
    for entry in payload["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            let value = &change["value"];
            let phone_number_id = value["metadata"]["phone_number_id"].as_str().unwrap_or_default();
            let name_of = |wa_id: &str| {
                value["contacts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["wa_id"] == wa_id)
                    .and_then(|c| c["profile"]["name"].as_str())
                    .map(str::to_owned)
            };
            for message in value["messages"].as_array().into_iter().flatten() {
                let (Some(from), Some(id)) = (message["from"].as_str(), message["id"].as_str()) else {
                    continue;
                };
                if from.is_empty() || !from.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                events.push(Event::Message(InboundMessage {
                    phone_number_id: phone_number_id.to_owned(),
                    from: format!("+{from}"),
                    name: name_of(from),
                    id: id.to_owned(),
                    timestamp: message["timestamp"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0),
                    text: describe(message),
                }));
            }
            for status in value["statuses"].as_array().into_iter().flatten() {
                events.push(Event::Status {
                    id: status["id"].as_str().unwrap_or_default().to_owned(),
                    status: status["status"].as_str().unwrap_or_default().to_owned(),
                    recipient: status["recipient_id"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    Ok(events)
}

/// A message as transcript text: its words, or what it is.
fn describe(message: &Value) -> String {
    let kind = message["type"].as_str().unwrap_or("unknown");
    let caption = |field: &str| {
        message[field]["caption"]
            .as_str()
            .map(|c| format!(": {c}"))
            .unwrap_or_default()
    };
    match kind {
        "text" => message["text"]["body"].as_str().unwrap_or_default().to_owned(),
        "image" | "video" | "document" => {
            let name = message["document"]["filename"]
                .as_str()
                .map(|f| format!(" {f}"))
                .unwrap_or_default();
            format!("[{kind}{name}{}]", caption(kind))
        }
        "audio" | "sticker" => format!("[{kind}]"),
        "location" => {
            let at = &message["location"];
            let name = at["name"].as_str().map(|n| format!("{n}, ")).unwrap_or_default();
            format!("[location: {name}{}, {}]", at["latitude"], at["longitude"])
        }
        "reaction" => format!(
            "[reaction {}]",
            message["reaction"]["emoji"].as_str().unwrap_or("removed")
        ),
        "button" => message["button"]["text"].as_str().unwrap_or_default().to_owned(),
        "interactive" => {
            let reply = &message["interactive"];
            reply["button_reply"]["title"]
                .as_str()
                .or_else(|| reply["list_reply"]["title"].as_str())
                .unwrap_or("[interactive reply]")
                .to_owned()
        }
        "contacts" => "[contact card]".to_owned(),
        "order" => "[order]".to_owned(),
        other => format!("[{other} message]"),
    }
}

/// Whether we may still write freely, the customer having last written at `last_inbound`.
pub fn window_open(last_inbound_secs: u64, now_secs: u64) -> bool {
    now_secs.saturating_sub(last_inbound_secs) < SERVICE_WINDOW_SECS
}

/// The Graph API body that sends `text` to `to` (E.164).
pub fn text_message(to: &str, text: &str) -> Value {
    let mut body: String = text.chars().take(MAX_TEXT_CHARS).collect();
    if text.chars().count() > MAX_TEXT_CHARS {
        body.pop();
        body.push('…');
    }
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.trim_start_matches('+'),
        "type": "text",
        "text": { "preview_url": false, "body": body },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/whatsapp/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn metas_published_signature_vector_verifies() {
        let path = format!(
            "{}/tests/fixtures/webhooks/signature-vectors.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let meta = &vectors["meta_x_hub_signature_256"];
        let secret = meta["app_secret"].as_str().unwrap();
        let body = meta["raw_body"].as_str().unwrap().as_bytes();
        let expected = meta["expected"].as_str().unwrap();
        assert!(verify_signature(secret, body, expected));
        assert!(!verify_signature("other", body, expected));
        assert!(!verify_signature(secret, b"tampered", expected));
        assert!(!verify_signature(secret, body, expected.trim_start_matches("sha256=")));
    }

    #[test]
    fn the_handshake_answers_only_our_token() {
        let params = |mode: &str, token: &str| {
            vec![
                ("hub.mode".to_owned(), mode.to_owned()),
                ("hub.verify_token".to_owned(), token.to_owned()),
                ("hub.challenge".to_owned(), "1158201444".to_owned()),
            ]
        };
        assert_eq!(
            challenge(&params("subscribe", "ours"), "ours").as_deref(),
            Some("1158201444")
        );
        assert_eq!(challenge(&params("subscribe", "theirs"), "ours"), None);
        assert_eq!(challenge(&params("unsubscribe", "ours"), "ours"), None);
        assert_eq!(challenge(&params("subscribe", ""), ""), None);
    }

    /// Every message type in pywa's fixtures (MIT) becomes transcript text; statuses are read.
    #[test]
    fn real_payloads_of_every_type_parse() {
        let messages = fixtures("message.json");
        let mut seen = 0;
        for (kind, payload) in messages.as_object().unwrap() {
            let events = parse(payload.to_string().as_bytes()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            for event in events {
                if let Event::Message(message) = event {
                    seen += 1;
                    assert!(message.from.starts_with('+'), "{kind}");
                    assert!(message.id.starts_with("wamid."), "{kind}");
                    assert!(!message.text.is_empty(), "{kind}");
                }
            }
        }
        assert!(seen >= 20, "{seen}");
        let text = parse(messages["text"].to_string().as_bytes()).unwrap();
        assert_eq!(
            text,
            [Event::Message(InboundMessage {
                phone_number_id: "1122334455667".into(),
                from: "+972987654321".into(),
                name: Some("Test Name".into()),
                id: "wamid.xyzxyz".into(),
                timestamp: 1_697_043_223,
                text: "Body Text".into(),
            })]
        );
        let statuses = fixtures("message_status.json");
        let sent = parse(statuses["sent"].to_string().as_bytes()).unwrap();
        assert!(matches!(&sent[0], Event::Status { status, .. } if status == "sent"));
        assert!(parse(b"{\"object\": \"page\"}").is_err());
        assert!(parse(b"nope").is_err());
    }

    #[test]
    fn the_window_and_the_outbound_body() {
        assert!(window_open(1_000, 1_000 + SERVICE_WINDOW_SECS - 1));
        assert!(!window_open(1_000, 1_000 + SERVICE_WINDOW_SECS));
        let body = text_message("+972987654321", "hello");
        assert_eq!(body["to"], "972987654321");
        assert_eq!(body["text"]["body"], "hello");
        assert_eq!(
            text_message("+1", &"x".repeat(5_000))["text"]["body"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            MAX_TEXT_CHARS
        );
    }
}
