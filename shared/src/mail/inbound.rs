//! Inbound email, parsed: who sent it, to which address, what it replies to, its new text, and
//! whether it is automatic mail the bot must never answer. MIME (multipart, quoted-printable,
//! base64, encoded-word headers, single-byte and multibyte legacy charsets such as ISO-2022-JP,
//! Shift_JIS, GB2312 and EUC-KR) is parsed by `mail-parser`.

use mail_parser::{MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};

use super::reply;
use crate::identity::normalize_email;

/// Largest raw message accepted, in bytes (Cloudflare Email Routing's own limit is 25 MiB; we
/// keep the text and refuse bigger rather than buffer attachments at the edge).
pub const MAX_RAW_BYTES: usize = 5 * 1024 * 1024;

/// Longest new text kept as a message, in characters (longer is cut, with a marker).
pub const MAX_TEXT_CHARS: usize = 8_000;

/// Why an email is automatic: recorded, never answered.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Automatic {
    /// `Auto-Submitted` other than `no` (RFC 3834), `X-Autoreply`, `X-Autorespond`.
    AutoReply,
    /// A bounce: a delivery status report, an empty return path, `mailer-daemon`/`postmaster`.
    Bounce,
    /// Mailing-list or bulk mail (`List-Id`, `List-Unsubscribe`, `Precedence: bulk|list|junk`).
    Bulk,
    /// A no-reply sender: an answer would go nowhere.
    NoReply,
}

/// An attachment, described (its bytes are not kept at the edge).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AttachmentInfo {
    pub name: String,
    pub content_type: String,
    pub bytes: usize,
}

/// What the edge needs from an inbound email.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InboundEmail {
    /// The sender's address, normalised (lowercase).
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// Every `To:` and `Cc:` address, normalised.
    pub to: Vec<String>,
    pub subject: String,
    /// Without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `In-Reply-To` then `References`, without angle brackets, newest first.
    pub replies_to: Vec<String>,
    /// The whole text body.
    pub text: String,
    /// What the sender wrote this time (quotes and signature stripped), at most
    /// `MAX_TEXT_CHARS`.
    pub new_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<Automatic>,
    /// `Authentication-Results` values, topmost (newest) first.
    pub auth_results: Vec<String>,
    pub attachments: Vec<AttachmentInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("the message is larger than {MAX_RAW_BYTES} bytes")]
    TooLarge,
    #[error("the message could not be parsed as RFC 5322 / MIME")]
    Unparseable,
    #[error("the message has no valid From: address")]
    NoSender,
}

/// Parses a raw RFC 5322 message.
pub fn parse(raw: &[u8]) -> Result<InboundEmail, MailError> {
    if raw.len() > MAX_RAW_BYTES {
        return Err(MailError::TooLarge);
    }
    let message = MessageParser::default().parse(raw).ok_or(MailError::Unparseable)?;
    let sender = message.from().and_then(|a| a.first());
    let from = sender
        .and_then(|a| a.address())
        .and_then(|a| normalize_email(a).ok())
        .ok_or(MailError::NoSender)?;
    let from_name = sender
        .and_then(|a| a.name())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let mut to = Vec::new();
    for list in message.to().into_iter().chain(message.cc()) {
        let addresses: Vec<String> = match list {
            mail_parser::Address::List(list) => list.iter().filter_map(|a| a.address()).map(str::to_owned).collect(),
            mail_parser::Address::Group(groups) => groups
                .iter()
                .flat_map(|g| g.addresses.iter())
                .filter_map(|a| a.address())
                .map(str::to_owned)
                .collect(),
        };
        to.extend(addresses.iter().filter_map(|a| normalize_email(a).ok()));
    }
    let ids = |value: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        match value {
            mail_parser::HeaderValue::Text(id) => vec![id.to_string()],
            mail_parser::HeaderValue::TextList(ids) => ids.iter().rev().map(|id| id.to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let mut replies_to = ids(message.in_reply_to());
    for id in ids(message.references()) {
        if !replies_to.contains(&id) {
            replies_to.push(id);
        }
    }
    let raw_headers: Vec<(String, String)> = message
        .headers_raw()
        .map(|(name, value)| (name.to_ascii_lowercase(), unfold(value)))
        .collect();
    let header = |name: &'static str| {
        raw_headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let mut new_text = reply::new_text(&text);
    if new_text.chars().count() > MAX_TEXT_CHARS {
        new_text = new_text.chars().take(MAX_TEXT_CHARS - 1).collect::<String>() + "…";
    }
    let is_report = message.root_part().content_type().is_some_and(|ct| {
        ct.c_type.eq_ignore_ascii_case("multipart")
            && ct
                .c_subtype
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let local = from.split('@').next().unwrap_or_default();
    let return_path_empty = header("return-path").any(|v| v.trim() == "<>");
    let automatic = if is_report || return_path_empty || matches!(local, "mailer-daemon" | "postmaster") {
        Some(Automatic::Bounce)
    } else if header("auto-submitted").any(|v| !v.trim().eq_ignore_ascii_case("no"))
        || header("x-autoreply").next().is_some()
        || header("x-autorespond").next().is_some()
    {
        Some(Automatic::AutoReply)
    } else if header("list-id").next().is_some()
        || header("list-unsubscribe").next().is_some()
        || header("precedence").any(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "bulk" | "list" | "junk" | "auto_reply"
            )
        })
    {
        Some(Automatic::Bulk)
    } else if ["noreply", "no-reply", "donotreply", "do-not-reply"].contains(&local) {
        Some(Automatic::NoReply)
    } else {
        None
    };
    let attachments = message
        .attachments()
        .map(|part| AttachmentInfo {
            name: part.attachment_name().unwrap_or("attachment").to_owned(),
            content_type: part
                .content_type()
                .map(|ct| format!("{}/{}", ct.c_type, ct.c_subtype.as_deref().unwrap_or("octet-stream")))
                .unwrap_or_else(|| "application/octet-stream".into()),
            bytes: part.len(),
        })
        .collect();
    Ok(InboundEmail {
        from,
        from_name,
        to,
        subject: message.subject().unwrap_or_default().trim().to_owned(),
        message_id: message.message_id().map(str::to_owned),
        replies_to,
        text,
        new_text,
        automatic,
        auth_results: header("authentication-results").map(str::to_owned).collect(),
        attachments,
    })
}

/// A raw header value on one line.
fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/email/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Real client replies from mailgun/talon's tests (Apache-2.0): each one's new text is
    /// "Hello" or its `*_reply_text` file.
    #[test]
    fn real_client_replies_yield_only_their_new_text() {
        for name in [
            "android",
            "aol",
            "apple_mail",
            "apple_mail_2",
            "comcast",
            "gmail",
            "hotmail",
            "iphone",
            "outlook",
            "sparrow",
            "thunderbird",
            "yahoo",
        ] {
            let email = parse(&fixture(&format!("replies-talon/{name}.eml"))).unwrap();
            let expected = std::fs::read_to_string(format!(
                "{}/tests/fixtures/email/replies-talon/{name}_reply_text",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap_or_else(|_| "Hello".into());
            // Talon keeps device signatures ("Sent from my iPhone"); we drop them as well.
            assert_eq!(email.new_text, reply::new_text(&expected), "{name}: {:?}", email.text);
            assert!(email.new_text.starts_with("Hello"), "{name}");
            assert!(email.automatic.is_none(), "{name}");
        }
    }

    #[test]
    fn headers_threading_and_automatic_mail() {
        let raw = b"From: =?UTF-8?Q?Ad=C3=A9la?= <Adela@Example.COM>\r\n\
To: shop+v_1-abc@support.example, Other <other@example.com>\r\n\
Subject: =?ISO-8859-1?Q?R=E9ponse?=\r\n\
Message-ID: <new@example.com>\r\n\
In-Reply-To: <b@threadline>\r\n\
References: <a@threadline> <b@threadline>\r\n\
Authentication-Results: mx.cloudflare.net; dkim=pass header.d=example.com\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n\
Merci, =E7a marche.\r\n\r\nOn Mon, 1 Jan 2026, Shop wrote:\r\n> old\r\n";
        let email = parse(raw).unwrap();
        assert_eq!(email.from, "adela@example.com");
        assert_eq!(email.from_name.as_deref(), Some("Adéla"));
        assert_eq!(email.to, ["shop+v_1-abc@support.example", "other@example.com"]);
        assert_eq!(email.subject, "Réponse");
        assert_eq!(email.message_id.as_deref(), Some("new@example.com"));
        assert_eq!(email.replies_to, ["b@threadline", "a@threadline"]);
        assert_eq!(email.new_text, "Merci, ça marche.");
        assert_eq!(
            email.auth_results,
            ["mx.cloudflare.net; dkim=pass header.d=example.com"]
        );
        assert_eq!(email.automatic, None);

        let with = |header: &str| {
            let raw =
                format!("From: a@example.com\r\nTo: shop@support.example\r\n{header}\r\nSubject: x\r\n\r\nhi\r\n");
            parse(raw.as_bytes()).unwrap().automatic
        };
        assert_eq!(with("Auto-Submitted: auto-replied"), Some(Automatic::AutoReply));
        assert_eq!(with("Auto-Submitted: no"), None);
        assert_eq!(with("X-Autoreply: yes"), Some(Automatic::AutoReply));
        assert_eq!(with("Precedence: bulk"), Some(Automatic::Bulk));
        assert_eq!(with("List-Id: <news.example.com>"), Some(Automatic::Bulk));
        assert_eq!(with("Return-Path: <>"), Some(Automatic::Bounce));
        let daemon = parse(b"From: MAILER-DAEMON@example.com\r\nSubject: x\r\n\r\nfailed\r\n").unwrap();
        assert_eq!(daemon.automatic, Some(Automatic::Bounce));
        let noreply = parse(b"From: no-reply@example.com\r\nSubject: x\r\n\r\nhi\r\n").unwrap();
        assert_eq!(noreply.automatic, Some(Automatic::NoReply));
    }

    #[test]
    fn multibyte_legacy_charsets_are_decoded() {
        let with = |charset: &str, subject: &str, body: &[u8]| {
            let mut raw = format!(
                "From: a@example.jp\r\nTo: shop@support.example\r\nSubject: {subject}\r\nContent-Type: text/plain; charset={charset}\r\n\r\n"
            )
            .into_bytes();
            raw.extend_from_slice(body);
            raw.extend_from_slice(b"\r\n");
            parse(&raw).unwrap()
        };
        // Japanese mail clients still send ISO-2022-JP, subject and body.
        let jis = with(
            "ISO-2022-JP",
            "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=",
            b"\x1b$BF|K\\8l\x1b(B",
        );
        assert_eq!(jis.subject, "日本語");
        assert_eq!(jis.new_text, "日本語");
        assert_eq!(with("Shift_JIS", "x", b"\x93\xfa\x96{\x8c\xea").new_text, "日本語");
        assert_eq!(with("GB2312", "x", b"\xd6\xd0\xce\xc4").new_text, "中文");
        assert_eq!(with("EUC-KR", "x", b"\xc7\xd1\xb1\xb9\xbe\xee").new_text, "한국어");
        assert_eq!(with("KOI8-R", "x", b"\xf0\xd2\xc9\xd7\xc5\xd4").new_text, "Привет");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert_eq!(parse(b"Subject: no sender\r\n\r\nhi\r\n"), Err(MailError::NoSender));
        assert_eq!(parse(&vec![b'a'; MAX_RAW_BYTES + 1]), Err(MailError::TooLarge));
        let long = format!("From: a@example.com\r\n\r\n{}", "word ".repeat(5_000));
        assert_eq!(parse(long.as_bytes()).unwrap().new_text.chars().count(), MAX_TEXT_CHARS);
    }

    /// Every MIME sample from the Dovecot and RFC suites (via mail-parser, MIT) is read without
    /// panicking; those with a sender parse.
    #[test]
    fn mime_samples_parse() {
        let (mut parsed, mut seen) = (0, 0);
        for dir in ["mime-dovecot", "mime-rfc"] {
            let path = format!("{}/tests/fixtures/email/{dir}", env!("CARGO_MANIFEST_DIR"));
            for entry in std::fs::read_dir(&path).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "eml") {
                    seen += 1;
                    if let Ok(email) = parse(&std::fs::read(&path).unwrap()) {
                        parsed += 1;
                        assert!(!email.from.is_empty());
                    }
                }
            }
        }
        assert!(parsed >= 15, "{parsed} of {seen}");
        assert!(seen >= 30, "{seen}");
    }
}
