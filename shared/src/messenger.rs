//! Messenger and Instagram through Meta's Messenger Platform
//! (<https://developers.facebook.com/docs/messenger-platform/webhooks>): the same handshake and
//! `X-Hub-Signature-256` as WhatsApp (`crate::whatsapp::{challenge, verify_signature}`), the
//! `messaging` events in `page` and `instagram` payloads, and the Send API body. The standard
//! messaging window is the same 24 hours as WhatsApp's.

use serde_json::{Value, json};

/// Longest Send API text, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// Which of Meta's inboxes a message came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inbox {
    Messenger,
    Instagram,
}

impl Inbox {
    pub fn as_str(self) -> &'static str {
        match self {
            Inbox::Messenger => "messenger",
            Inbox::Instagram => "instagram",
        }
    }
}

/// A customer's message to the page (or Instagram account).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageMessage {
    pub inbox: Inbox,
    /// The page or Instagram account it was sent to.
    pub recipient: String,
    /// The sender's page-scoped id (PSID / IGSID): Meta delivered it.
    pub sender: String,
    /// `mid`: a redelivered webhook carries the same one.
    pub mid: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    pub text: String,
}

/// Every customer message in a webhook body (echoes of our own messages, reads and deliveries
/// are skipped); an error if it is not a `page` or `instagram` payload.
pub fn parse(body: &[u8]) -> Result<Vec<PageMessage>, String> {
    let payload: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let inbox = match payload["object"].as_str() {
        Some("page") => Inbox::Messenger,
        Some("instagram") => Inbox::Instagram,
        _ => return Err("`object` is neither \"page\" nor \"instagram\"".into()),
    };
    let mut messages = Vec::new();
    for entry in payload["entry"].as_array().into_iter().flatten() {
        for event in entry["messaging"].as_array().into_iter().flatten() {
            let message = &event["message"];
            if message.is_null() || message["is_echo"].as_bool() == Some(true) {
                continue;
            }
            let (Some(sender), Some(recipient), Some(mid)) = (
                event["sender"]["id"].as_str(),
                event["recipient"]["id"].as_str(),
                message["mid"].as_str(),
            ) else {
                continue;
            };
            let text = message["text"].as_str().map(str::to_owned).unwrap_or_else(|| {
                let kinds: Vec<String> = message["attachments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| format!("[{}]", a["type"].as_str().unwrap_or("attachment")))
                    .collect();
                if kinds.is_empty() {
                    "[message]".to_owned()
                } else {
                    kinds.join(" ")
                }
            });
            messages.push(PageMessage {
                inbox,
                recipient: recipient.to_owned(),
                sender: sender.to_owned(),
                mid: mid.to_owned(),
                // Meta's timestamps here are milliseconds.
                timestamp: event["timestamp"].as_u64().unwrap_or(0) / 1000,
                text,
            });
        }
    }
    Ok(messages)
}

/// The Send API body answering `recipient` (a reply within the messaging window).
pub fn send_body(recipient: &str, text: &str) -> Value {
    let mut body: String = text.chars().take(MAX_TEXT_CHARS).collect();
    if text.chars().count() > MAX_TEXT_CHARS {
        body.pop();
        body.push('…');
    }
    json!({
        "recipient": { "id": recipient },
        "messaging_type": "RESPONSE",
        "message": { "text": body },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `messages` event as the Messenger Platform documents it.
    fn payload(object: &str, message: Value) -> Vec<u8> {
        json!({"object": object, "entry": [{"id": "PAGE-1", "time": 1_795_690_000_000u64, "messaging": [{
            "sender": {"id": "PSID-9"}, "recipient": {"id": "PAGE-1"}, "timestamp": 1_795_690_000_123u64,
            "message": message,
        }]}]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn reads_messenger_and_instagram_messages() {
        let messages = parse(&payload("page", json!({"mid": "m_1", "text": "hello"}))).unwrap();
        assert_eq!(
            messages,
            [PageMessage {
                inbox: Inbox::Messenger,
                recipient: "PAGE-1".into(),
                sender: "PSID-9".into(),
                mid: "m_1".into(),
                timestamp: 1_795_690_000,
                text: "hello".into(),
            }]
        );
        let photo = parse(&payload(
            "instagram",
            json!({"mid": "m_2", "attachments": [{"type": "image"}]}),
        ))
        .unwrap();
        assert_eq!(photo[0].inbox, Inbox::Instagram);
        assert_eq!(photo[0].text, "[image]");
        let echo = parse(&payload("page", json!({"mid": "m_3", "text": "ours", "is_echo": true}))).unwrap();
        assert!(echo.is_empty());
        assert!(parse(b"{\"object\": \"whatsapp_business_account\"}").is_err());
        assert_eq!(send_body("PSID-9", "hi")["recipient"]["id"], "PSID-9");
        assert_eq!(
            send_body("x", &"y".repeat(3_000))["message"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            MAX_TEXT_CHARS
        );
    }
}
