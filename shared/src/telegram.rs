//! Telegram through the Bot API (<https://core.telegram.org/bots/api>): the webhook's
//! `X-Telegram-Bot-Api-Secret-Token` (the secret given to `setWebhook`), the messages in its
//! `Update`s, and the `sendMessage` body.

use serde_json::{Value, json};

/// Longest `sendMessage` text, in characters.
pub const MAX_TEXT_CHARS: usize = 4_096;

/// Whether `presented` is the webhook's secret token (constant time). Telegram allows 1 to 256
/// characters of `A-Z a-z 0-9 _ -`.
pub fn verify_secret(presented: &str, expected: &str) -> bool {
    !expected.is_empty()
        && presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether `token` is a valid `secret_token` for `setWebhook`.
pub fn valid_secret_token(token: &str) -> bool {
    (1..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A customer's message to the bot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TelegramMessage {
    pub update_id: i64,
    /// The chat to answer in.
    pub chat_id: i64,
    /// The sender's Telegram user id (Telegram vouches for it).
    pub from_id: i64,
    pub name: Option<String>,
    pub message_id: i64,
    pub text: String,
}

/// The message in an `Update`, if it carries one from a person (edits, channel posts, bots and
/// other update kinds are `None`); an error if the body is not an `Update`.
pub fn parse(body: &[u8]) -> Result<Option<TelegramMessage>, String> {
    let update: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let update_id = update["update_id"].as_i64().ok_or("`update_id` is missing")?;
    let message = &update["message"];
    if message.is_null() {
        return Ok(None);
    }
    let from = &message["from"];
    if from["is_bot"].as_bool() == Some(true) {
        return Ok(None);
    }
    let (Some(chat_id), Some(from_id), Some(message_id)) = (
        message["chat"]["id"].as_i64(),
        from["id"].as_i64(),
        message["message_id"].as_i64(),
    ) else {
        return Ok(None);
    };
    let text = message["text"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| message["caption"].as_str().map(|c| format!("[media: {c}]")))
        .unwrap_or_else(|| {
            let kind = ["photo", "document", "voice", "video", "sticker", "location", "contact"]
                .into_iter()
                .find(|k| !message[*k].is_null())
                .unwrap_or("message");
            format!("[{kind}]")
        });
    let name = [from["first_name"].as_str(), from["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(TelegramMessage {
        update_id,
        chat_id,
        from_id,
        name: (!name.is_empty()).then_some(name),
        message_id,
        text,
    }))
}

/// The `sendMessage` body that answers in `chat_id`.
pub fn send_message(chat_id: i64, text: &str) -> Value {
    let mut body: String = text.chars().take(MAX_TEXT_CHARS).collect();
    if text.chars().count() > MAX_TEXT_CHARS {
        body.pop();
        body.push('…');
    }
    json!({ "chat_id": chat_id, "text": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An update as the Bot API documents it (`Update` with a private-chat `Message`).
    fn update(text: Value) -> Vec<u8> {
        let mut message = json!({
            "message_id": 77,
            "from": {"id": 123456789, "is_bot": false, "first_name": "Ada", "last_name": "L", "language_code": "en"},
            "chat": {"id": 123456789, "first_name": "Ada", "type": "private"},
            "date": 1_795_690_000,
        });
        for (k, v) in text.as_object().unwrap() {
            message[k] = v.clone();
        }
        json!({ "update_id": 900_001, "message": message })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn reads_messages_and_skips_what_is_not_one() {
        let message = parse(&update(json!({"text": "where is my order?"}))).unwrap().unwrap();
        assert_eq!(
            message,
            TelegramMessage {
                update_id: 900_001,
                chat_id: 123_456_789,
                from_id: 123_456_789,
                name: Some("Ada L".into()),
                message_id: 77,
                text: "where is my order?".into(),
            }
        );
        let photo = parse(&update(json!({"photo": [{"file_id": "x"}], "caption": "the dent"})))
            .unwrap()
            .unwrap();
        assert_eq!(photo.text, "[media: the dent]");
        let sticker = parse(&update(json!({"sticker": {"file_id": "x"}}))).unwrap().unwrap();
        assert_eq!(sticker.text, "[sticker]");
        let edit = json!({"update_id": 5, "edited_message": {"text": "x"}}).to_string();
        assert_eq!(parse(edit.as_bytes()).unwrap(), None);
        let bot = json!({"update_id": 6, "message": {"message_id": 1, "from": {"id": 1, "is_bot": true}, "chat": {"id": 1}, "text": "hi"}});
        assert_eq!(parse(bot.to_string().as_bytes()).unwrap(), None);
        assert!(parse(b"{}").is_err());
        assert!(parse(b"nope").is_err());
    }

    #[test]
    fn secrets_and_bodies() {
        assert!(verify_secret("s3cret_token-1", "s3cret_token-1"));
        assert!(!verify_secret("s3cret_token-2", "s3cret_token-1"));
        assert!(!verify_secret("", ""));
        assert!(valid_secret_token("abc_DEF-123"));
        assert!(!valid_secret_token("has space"));
        assert!(!valid_secret_token(&"a".repeat(257)));
        assert_eq!(send_message(42, "hi"), json!({"chat_id": 42, "text": "hi"}));
        assert_eq!(
            send_message(42, &"x".repeat(5_000))["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            MAX_TEXT_CHARS
        );
    }
}
