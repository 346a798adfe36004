//! SendGrid's Inbound Parse webhook
//! (<https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook>):
//! a `multipart/form-data` `POST` per email, either "raw" (the whole message in `email`) or
//! parsed (`headers`, `text`, `html`, …). Either way we take the recipient (`envelope.to`, else
//! `to`), the message, and SendGrid's own verdicts: `SPF` and `dkim` (`{@domain : pass, …}`).

use super::auth::aligned;

/// One `multipart/form-data` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub name: String,
    /// Set for file parts.
    pub filename: Option<String>,
    pub value: Vec<u8>,
}

/// Splits a `multipart/form-data` body (CRLF or bare LF line ends) into its fields.
pub fn form_fields(body: &[u8], boundary: &str) -> Result<Vec<FormField>, String> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err("the multipart boundary is missing or longer than 70 characters".into());
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let starts: Vec<usize> = find_all(body, delimiter);
    if starts.is_empty() {
        return Err("the body has no multipart boundary".into());
    }
    let mut fields = Vec::new();
    for pair in starts.windows(2) {
        let mut part = &body[pair[0] + delimiter.len()..pair[1]];
        part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
            .unwrap_or(part);
        // The line end before the next delimiter belongs to it.
        part = part
            .strip_suffix(b"\r\n")
            .or_else(|| part.strip_suffix(b"\n"))
            .unwrap_or(part);
        let (head, value) = match find_all(part, b"\r\n\r\n").first() {
            Some(&at) => (&part[..at], &part[at + 4..]),
            None => match find_all(part, b"\n\n").first() {
                Some(&at) => (&part[..at], &part[at + 2..]),
                None => (part, &[][..]),
            },
        };
        let head = String::from_utf8_lossy(head);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("a multipart part has no Content-Disposition")?;
        let name = parameter(disposition, "name").ok_or("a multipart part has no name")?;
        fields.push(FormField {
            name,
            filename: parameter(disposition, "filename"),
            value: value.to_vec(),
        });
    }
    Ok(fields)
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return Vec::new();
    }
    (0..=haystack.len() - needle.len())
        .filter(|&i| &haystack[i..i + needle.len()] == needle)
        .collect()
}

/// `name="value"` (or unquoted) from a header line.
fn parameter(line: &str, name: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let media = content_type.split(';').next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parameter(content_type, "boundary")
}

/// What we take from one Inbound Parse webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendgridInbound {
    pub to: String,
    /// The message as RFC 5322 (the raw one, or rebuilt from the parsed fields).
    pub raw: Vec<u8>,
    pub spf_pass: bool,
    /// The envelope sender's domain.
    pub envelope_from_domain: Option<String>,
    /// Domains whose DKIM signature SendGrid found valid.
    pub dkim_pass: Vec<String>,
}

impl SendgridInbound {
    /// Whether SendGrid's DKIM (or SPF) verdict passed for a domain aligned with `from_domain`.
    pub fn authenticated(&self, from_domain: &str) -> bool {
        self.dkim_pass.iter().any(|d| aligned(d, from_domain))
            || (self.spf_pass
                && self
                    .envelope_from_domain
                    .as_deref()
                    .is_some_and(|d| aligned(d, from_domain)))
    }
}

/// Reads a webhook body with its `Content-Type`; the error names the field at fault.
pub fn parse(body: &[u8], content_type: &str) -> Result<SendgridInbound, (&'static str, String)> {
    let boundary = boundary(content_type).ok_or((
        "Content-Type",
        "expected multipart/form-data with a boundary".to_owned(),
    ))?;
    let fields = form_fields(body, &boundary).map_err(|e| ("body", e))?;
    let text = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name && f.filename.is_none())
            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
    };
    let envelope: Option<serde_json::Value> = text("envelope").and_then(|e| serde_json::from_str(&e).ok());
    let to = envelope
        .as_ref()
        .and_then(|e| e["to"].get(0))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .or_else(|| text("to"))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(("to", "the recipient (envelope.to or to) is missing".to_owned()))?;
    let envelope_from_domain = envelope
        .as_ref()
        .and_then(|e| e["from"].as_str())
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase());
    let raw = match fields.iter().find(|f| f.name == "email") {
        Some(field) => field.value.clone(),
        None => rebuild(
            &text("headers").ok_or(("headers", "neither `email` (raw) nor `headers` is present".to_owned()))?,
            text("text").as_deref(),
            text("html").as_deref(),
        ),
    };
    let dkim_pass = text("dkim")
        .unwrap_or_default()
        .trim_matches(['{', '}', ' ', '\n', '\r'])
        .split(',')
        .filter_map(|entry| {
            let (domain, result) = entry.split_once(':')?;
            (result.trim().eq_ignore_ascii_case("pass"))
                .then(|| domain.trim().trim_start_matches('@').to_ascii_lowercase())
        })
        .collect();
    Ok(SendgridInbound {
        to,
        raw,
        spf_pass: text("SPF").is_some_and(|s| s.trim().eq_ignore_ascii_case("pass")),
        envelope_from_domain,
        dkim_pass,
    })
}

/// A message from the parsed fields: the original headers without their MIME structure, and
/// the text (else the HTML) as its one body.
fn rebuild(headers: &str, text: Option<&str>, html: Option<&str>) -> Vec<u8> {
    let mut kept = String::new();
    let mut skipping = false;
    for line in headers.lines() {
        let continuation = line.starts_with(' ') || line.starts_with('\t');
        if !continuation {
            let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
            skipping = matches!(
                name.as_str(),
                "content-type" | "content-transfer-encoding" | "mime-version"
            );
        }
        if !skipping && !line.trim().is_empty() {
            kept.push_str(line.trim_end_matches('\r'));
            kept.push_str("\r\n");
        }
    }
    let (media, body) = match (text.filter(|t| !t.trim().is_empty()), html) {
        (Some(text), _) => ("text/plain", text),
        (None, Some(html)) => ("text/html", html),
        (None, None) => ("text/plain", ""),
    };
    format!("{kept}MIME-Version: 1.0\r\nContent-Type: {media}; charset=utf-8\r\n\r\n{body}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::inbound;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/email/sendgrid-inbound/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const FORM: &str = "multipart/form-data; boundary=xYzZY";

    /// SendGrid's own samples (sendgrid-python, MIT): parsed and raw.
    #[test]
    fn sendgrids_samples_give_recipient_message_and_verdicts() {
        let parsed = parse(&fixture("default_data.txt"), FORM).unwrap();
        assert_eq!(parsed.to, "inbound@inbound.example.com");
        assert!(parsed.spf_pass);
        assert_eq!(parsed.dkim_pass, ["sendgrid.com"]);
        assert_eq!(parsed.envelope_from_domain.as_deref(), Some("example.com"));
        let email = inbound::parse(&parsed.raw).unwrap();
        assert_eq!(email.from, "test@example.com");
        assert_eq!(email.subject, "Inbound Parse Test Data");
        assert_eq!(email.new_text, "Hello Twilio SendGrid!");
        assert!(
            parsed.authenticated("example.com"),
            "SPF passed for the envelope's domain"
        );
        assert!(!parsed.authenticated("bank.example"));

        let raw = parse(&fixture("raw_data.txt"), FORM).unwrap();
        assert_eq!(raw.to, "inbound@inbound.inbound.com");
        let email = inbound::parse(&raw.raw).unwrap();
        assert_eq!(email.subject, "Inbound Parse Test Raw Data");
        assert!(
            email.new_text.contains("Hello Twilio SendGrid!"),
            "{:?}",
            email.new_text
        );

        let with_files = parse(&fixture("raw_data_with_attachments.txt"), FORM).unwrap();
        let email = inbound::parse(&with_files.raw).unwrap();
        assert!(!email.attachments.is_empty(), "attachments are listed");
    }

    #[test]
    fn bad_bodies_name_what_is_wrong() {
        assert_eq!(parse(b"x", "application/json").unwrap_err().0, "Content-Type");
        assert_eq!(parse(b"no boundary here", FORM).unwrap_err().0, "body");
        let no_to = b"--xYzZY\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n--xYzZY--\r\n";
        assert_eq!(parse(no_to, FORM).unwrap_err().0, "to");
        let no_message = b"--xYzZY\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@b.co\r\n--xYzZY--\r\n";
        assert_eq!(parse(no_message, FORM).unwrap_err().0, "headers");
        assert_eq!(boundary("multipart/form-data; boundary=\"a b\""), Some("a b".into()));
    }
}
