//! Postmark's inbound webhook (<https://postmarkapp.com/developer/webhooks/inbound-webhook>):
//! a JSON `POST` per email. We read the raw message (`RawEmail`, which the inbound stream must be
//! set to include), the address it was sent to (`OriginalRecipient`), and Postmark's own SPF
//! verdict (the first `Received-SPF` among `Headers`, which Postmark's servers prepend).

use serde::Deserialize;

use super::auth::aligned;

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
struct Payload {
    #[serde(default)]
    original_recipient: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    raw_email: Option<String>,
    #[serde(default)]
    headers: Vec<HeaderField>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
struct HeaderField {
    name: String,
    value: String,
}

/// What we take from one Postmark inbound webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmarkInbound {
    /// The address the email was sent to.
    pub to: String,
    /// The raw RFC 5322 message.
    pub raw: Vec<u8>,
    /// Postmark's SPF result (`pass`, `fail`, …) and the envelope sender's domain.
    pub spf: Option<(String, String)>,
}

impl PostmarkInbound {
    /// Whether Postmark's SPF check passed for a domain aligned with `from_domain`.
    pub fn authenticated(&self, from_domain: &str) -> bool {
        self.spf
            .as_ref()
            .is_some_and(|(result, domain)| result == "pass" && aligned(domain, from_domain))
    }
}

/// Reads a webhook body; the error says which field is missing or wrong.
pub fn parse(body: &[u8]) -> Result<PostmarkInbound, (&'static str, String)> {
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| ("body", format!("not a Postmark inbound webhook body: {e}")))?;
    let to = payload
        .original_recipient
        .or(payload.to)
        .filter(|t| !t.trim().is_empty())
        .ok_or(("OriginalRecipient", "the recipient address is missing".to_owned()))?;
    let raw = payload.raw_email.filter(|r| !r.is_empty()).ok_or((
        "RawEmail",
        "the raw message is missing: enable \"Include raw email content in JSON payload\" on the inbound stream"
            .to_owned(),
    ))?;
    let spf = payload
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Received-SPF"))
        .map(|h| spf_verdict(&h.value));
    Ok(PostmarkInbound {
        to: to.trim().to_owned(),
        raw: raw.into_bytes(),
        spf,
    })
}

/// `Pass (sender SPF authorized) identity=mailfrom; client-ip=…; envelope-from=a@b.example; …`
/// → `("pass", "b.example")`.
fn spf_verdict(value: &str) -> (String, String) {
    let result = value.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    let domain = value
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case("envelope-from"))
        .map(|(_, v)| {
            v.trim()
                .trim_matches(['<', '>', '"'])
                .rsplit('@')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    (result, domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(spf: &str) -> Vec<u8> {
        json!({
            "FromFull": {"Email": "ada@example.com", "Name": "Ada"},
            "To": "shop@mail.example",
            "OriginalRecipient": "shop+c_1-0123456789ab@mail.example",
            "Subject": "Help",
            "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
            "Headers": [
                {"Name": "Received-SPF", "Value": spf},
                {"Name": "Received-SPF", "Value": "Pass (forged lower down) envelope-from=x@bank.example"}
            ],
            "RawEmail": "From: Ada <ada@example.com>\r\nTo: shop@mail.example\r\nSubject: Help\r\n\r\nHi\r\n"
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn reads_the_recipient_the_raw_message_and_postmarks_spf_verdict() {
        let parsed = parse(&body(
            "Pass (sender SPF authorized) identity=mailfrom; client-ip=1.2.3.4; helo=mx.example.com; envelope-from=bounce@mail.example.com; receiver=mx.postmarkapp.com",
        ))
        .unwrap();
        assert_eq!(parsed.to, "shop+c_1-0123456789ab@mail.example");
        assert!(parsed.raw.starts_with(b"From: Ada"));
        assert_eq!(parsed.spf, Some(("pass".into(), "mail.example.com".into())));
        assert!(parsed.authenticated("example.com"));
        assert!(
            !parsed.authenticated("bank.example"),
            "only the first (Postmark's) header counts"
        );
        let failed = parse(&body("SoftFail (sender not authorized) envelope-from=ada@example.com")).unwrap();
        assert!(!failed.authenticated("example.com"));
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(parse(b"nope").unwrap_err().0, "body");
        let no_raw = json!({"OriginalRecipient": "shop@mail.example"}).to_string();
        assert_eq!(parse(no_raw.as_bytes()).unwrap_err().0, "RawEmail");
        let no_to = json!({"RawEmail": "From: a@b.co\r\n\r\nx"}).to_string();
        assert_eq!(parse(no_to.as_bytes()).unwrap_err().0, "OriginalRecipient");
    }
}
