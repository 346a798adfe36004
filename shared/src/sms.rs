//! SMS through Twilio: checking `X-Twilio-Signature` on inbound webhooks
//! (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>), reading an inbound message,
//! the opt-out keywords carriers require us to honour (STOP, START, HELP), and fitting an answer
//! into one Messages API request.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::identity::normalize_phone;

/// Longest body the Messages API takes, in characters.
pub const MAX_SMS_CHARS: usize = 1_600;

/// `base64(HMAC-SHA1(auth_token, url + every POST parameter's name and value, sorted by name))`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` is Twilio's signature of this request (compared in constant time).
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], presented: &str) -> bool {
    let expected = signature(auth_token, url, params);
    expected.len() == presented.len()
        && expected
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// An inbound SMS (or MMS), from Twilio's webhook parameters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InboundSms {
    /// Twilio's id of the message: a retried webhook carries the same one.
    pub sid: String,
    /// E.164.
    pub from: String,
    pub to: String,
    pub body: String,
    /// `(content type, URL)` of each media item (referenced, not copied).
    pub media: Vec<(String, String)>,
}

/// Reads Twilio's parameters; the error names the one missing or wrong.
pub fn parse(params: &[(String, String)]) -> Result<InboundSms, (&'static str, String)> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .filter(|s| !s.is_empty())
        .ok_or(("MessageSid", "Twilio's message id is missing".to_owned()))?;
    let from = get("From")
        .and_then(|f| normalize_phone(&f).ok())
        .ok_or(("From", "the sender's number is missing or not E.164".to_owned()))?;
    let to = get("To").unwrap_or_default();
    let body = get("Body").unwrap_or_default();
    let count: usize = get("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0).min(10);
    let media = (0..count)
        .filter_map(|i| {
            let url = get(&format!("MediaUrl{i}"))?;
            let kind = get(&format!("MediaContentType{i}")).unwrap_or_else(|| "application/octet-stream".into());
            Some((kind, url))
        })
        .collect::<Vec<_>>();
    if body.trim().is_empty() && media.is_empty() {
        return Err(("Body", "the message has neither text nor media".to_owned()));
    }
    Ok(InboundSms {
        sid,
        from,
        to,
        body,
        media,
    })
}

/// The keywords carriers and Twilio reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Opt out: send nothing more to this number.
    Stop,
    /// Opt back in.
    Start,
    Help,
}

/// The keyword a message is, if it is one (the whole message, any case).
pub fn keyword(body: &str) -> Option<Keyword> {
    match body.trim().trim_end_matches(['.', '!']).to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "OPTOUT" | "REVOKE" => Some(Keyword::Stop),
        "START" | "YES" | "UNSTOP" => Some(Keyword::Start),
        "HELP" | "INFO" => Some(Keyword::Help),
        _ => None,
    }
}

/// What we answer a keyword with.
pub fn keyword_reply(keyword: Keyword, site_name: &str) -> String {
    match keyword {
        Keyword::Stop => format!("You will get no more messages from {site_name}. Reply START to get them again."),
        Keyword::Start => format!("You will get messages from {site_name} again. Reply STOP to stop, HELP for help."),
        Keyword::Help => {
            format!("{site_name} support: reply with your question and we'll answer here. Reply STOP to stop messages.")
        }
    }
}

/// `text` cut to one Messages API body.
pub fn fit(text: &str) -> String {
    if text.chars().count() <= MAX_SMS_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_SMS_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's published test vector (twilio-python, MIT), in `tests/fixtures/webhooks/`.
    #[test]
    fn twilios_published_vector_verifies() {
        let path = format!(
            "{}/tests/fixtures/webhooks/signature-vectors.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let vectors: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let twilio = &vectors["twilio_x_twilio_signature"];
        let params: Vec<(String, String)> = twilio["form_params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let token = twilio["auth_token"].as_str().unwrap();
        let url = twilio["url"].as_str().unwrap();
        let expected = twilio["expected"].as_str().unwrap();
        assert_eq!(signature(token, url, &params), expected);
        assert!(verify(token, url, &params, expected));
        assert!(!verify("other", url, &params, expected));
        assert!(!verify(
            token,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            expected
        ));
        let mut changed = params.clone();
        changed[0].1.push('0');
        assert!(!verify(token, url, &changed, expected));
        assert!(!verify(token, url, &params, ""));
    }

    #[test]
    fn reads_messages_and_keywords() {
        let params = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let sms = parse(&params(&[
            ("MessageSid", "SM1"),
            ("From", "+14155550100"),
            ("To", "+14155550199"),
            ("Body", "Where is my order?"),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://api.twilio.com/media/ME1"),
            ("MediaContentType0", "image/jpeg"),
        ]))
        .unwrap();
        assert_eq!(sms.from, "+14155550100");
        assert_eq!(
            sms.media,
            [("image/jpeg".to_owned(), "https://api.twilio.com/media/ME1".to_owned())]
        );
        assert_eq!(
            parse(&params(&[("From", "+14155550100"), ("Body", "x")]))
                .unwrap_err()
                .0,
            "MessageSid"
        );
        assert_eq!(
            parse(&params(&[("MessageSid", "SM1"), ("From", "nope"), ("Body", "x")]))
                .unwrap_err()
                .0,
            "From"
        );
        assert_eq!(
            parse(&params(&[("MessageSid", "SM1"), ("From", "+14155550100")]))
                .unwrap_err()
                .0,
            "Body"
        );
        assert_eq!(keyword(" stop "), Some(Keyword::Stop));
        assert_eq!(keyword("Unsubscribe."), Some(Keyword::Stop));
        assert_eq!(keyword("START"), Some(Keyword::Start));
        assert_eq!(keyword("help"), Some(Keyword::Help));
        assert_eq!(keyword("please stop charging me"), None);
        assert!(keyword_reply(Keyword::Stop, "Shop").contains("START"));
        assert_eq!(fit(&"x".repeat(2_000)).chars().count(), MAX_SMS_CHARS);
    }
}
