//! Fuzzing the inbound parsers (email MIME, reply text, Authentication-Results, reply addresses,
//! Postmark and SendGrid bodies) with proptest: arbitrary bytes, and messages assembled from
//! real header and MIME fragments with random values, must never panic, and whatever parses
//! must keep its promises (a normalised sender, new text within its limit). Cases per property:
//! `FUZZ_CASES` (default 2,000; `scripts/fuzz` runs 100,000).

use proptest::prelude::*;
use shared::mail::{address, auth, inbound, postmark, reply, sendgrid};
use shared::{messenger, sms, telegram, whatsapp};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Pieces real messages are made of, to reach past the first header.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("From: Ada <ada@example.com>\r\n".to_owned()),
        Just("From: =?UTF-8?B?w4FkYQ==?= <ada@example.com>\r\n".to_owned()),
        Just("To: shop@mail.example, \"x\" <y@z.example>\r\n".to_owned()),
        Just("Subject: =?ISO-8859-1?Q?R=E9ponse?=\r\n".to_owned()),
        Just("Message-ID: <a@b>\r\nIn-Reply-To: <c@d>\r\nReferences: <e@f> <g@h>\r\n".to_owned()),
        Just("Content-Type: multipart/mixed; boundary=\"XX\"\r\n".to_owned()),
        Just("Content-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n".to_owned()),
        Just("Content-Transfer-Encoding: quoted-printable\r\n".to_owned()),
        Just("Content-Transfer-Encoding: base64\r\n".to_owned()),
        Just("Content-Type: text/html; charset=windows-1252\r\n".to_owned()),
        Just("Auto-Submitted: auto-replied\r\n".to_owned()),
        Just("Authentication-Results: mx.cloudflare.net; dkim=pass header.d=example.com\r\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("--XX\r\n".to_owned()),
        Just("--XX--\r\n".to_owned()),
        Just("> quoted\r\n".to_owned()),
        Just("On Mon, 1 Jan 2026, Shop wrote:\r\n".to_owned()),
        Just("-- \r\n".to_owned()),
        Just("=C3=A9=\r\n".to_owned()),
        Just("SGVsbG8=\r\n".to_owned()),
        Just("<p>Hello <b>there</b></p>\r\n".to_owned()),
        "[ -~]{0,40}\r\n",
        "\\PC{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(email) = inbound::parse(&bytes) {
            prop_assert!(email.from.contains('@'));
        }
        let _ = postmark::parse(&bytes);
        if let Ok(parsed) = sendgrid::parse(&bytes, "multipart/form-data; boundary=xYzZY") {
            let _ = inbound::parse(&parsed.raw);
        }
        let _ = whatsapp::parse(&bytes);
        let _ = messenger::parse(&bytes);
        let _ = telegram::parse(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = sms::keyword(&text);
        let _ = reply::new_text(&text);
        let _ = auth::parse(&text);
        let _ = address::recipient(&[7; 32], &text, "mail.example");
    }

    #[test]
    fn assembled_messages_parse_or_fail_cleanly(parts in proptest::collection::vec(fragment(), 0..40)) {
        let raw = parts.concat();
        if let Ok(email) = inbound::parse(raw.as_bytes()) {
            prop_assert_eq!(email.from.clone(), email.from.to_lowercase());
            prop_assert!(email.new_text.chars().count() <= inbound::MAX_TEXT_CHARS);
            prop_assert!(email.new_text.len() <= email.text.len() + 4);
        }
        let new = reply::new_text(&raw);
        prop_assert!(!new.lines().any(|l| l.trim_start().starts_with('>')), "quotes stay out: {new:?}");
    }

    #[test]
    fn postmark_bodies_with_odd_fields_never_panic(
        to in "\\PC{0,60}",
        raw in "\\PC{0,200}",
        spf in "\\PC{0,80}",
    ) {
        let body = serde_json::json!({
            "OriginalRecipient": to,
            "RawEmail": raw,
            "Headers": [{"Name": "Received-SPF", "Value": spf}],
        });
        if let Ok(parsed) = postmark::parse(body.to_string().as_bytes()) {
            let _ = parsed.authenticated("example.com");
            let _ = inbound::parse(&parsed.raw);
        }
    }
}

/// JSON values of any shape, to reach past the channel parsers' first field checks.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("whatsapp_business_account"),
            Just("page"),
            Just("instagram"),
            Just("text"),
            Just("image"),
        ]
        .prop_map(|s| serde_json::Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("object"),
                        Just("entry"),
                        Just("changes"),
                        Just("value"),
                        Just("messages"),
                        Just("statuses"),
                        Just("messaging"),
                        Just("message"),
                        Just("from"),
                        Just("id"),
                        Just("type"),
                        Just("text"),
                        Just("body"),
                        Just("sender"),
                        Just("recipient"),
                        Just("mid"),
                        Just("update_id"),
                        Just("chat"),
                        Just("message_id"),
                        Just("timestamp"),
                        Just("metadata"),
                    ],
                    inner,
                ),
                0..5
            )
            .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn channel_payloads_of_any_shape_never_panic(value in json_value()) {
        let body = value.to_string();
        if let Ok(events) = whatsapp::parse(body.as_bytes()) {
            for event in events {
                if let whatsapp::Event::Message(message) = event {
                    prop_assert!(message.from.starts_with('+'));
                }
            }
        }
        let _ = messenger::parse(body.as_bytes());
        let _ = telegram::parse(body.as_bytes());
        if let Ok(Some(event)) = shared::stripe::parse_event(body.as_bytes()) {
            prop_assert!(event.id.starts_with("evt_") && event.customer.starts_with("cus_"));
        }
        let _ = shared::hubspot::contact(&value);
        let _ = shared::linear::state_change(body.as_bytes());
        if let Ok(issue) = shared::linear::created(&value) {
            prop_assert!(!issue.id.is_empty() && !issue.url.is_empty());
        }
        let _ = shared::stripe::summary(&value, &value, &value);
        if let Some(params) = value.as_object() {
            let pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
            let _ = sms::parse(&pairs);
            let _ = sms::verify("token", "https://example.com/x", &pairs, "sig");
            if let Ok(call) = shared::voice::parse(&pairs) {
                prop_assert!(call.call_sid.starts_with("CA") && call.to.starts_with('+'));
                prop_assert!(call.recording_url.is_none_or(|url| url.starts_with("https://")));
            }
        }
    }
}

/// Article text as sites write it: prose, markdown, links and addresses.
fn article_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[the guide](https://example.com/guide)".to_owned()),
        Just("https://example.com/a?b=c".to_owned()),
        Just("www.example.com.".to_owned()),
        Just("**bold** _it_ `code` # ".to_owned()),
        Just("[unclosed (".to_owned()),
        Just(". ".to_owned()),
        "[a-z ]{0,30}",
        "\\PC{0,12}",
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// An answer read aloud never spells out an address and fits its limit; the TwiML around it
    /// never lets the text open or close an element.
    #[test]
    fn spoken_answers_read_no_addresses_and_their_twiml_stays_well_formed(text in article_text(), max in 20usize..400) {
        let spoken = shared::voice::spoken(&text, max);
        prop_assert!(!spoken.contains("http://") && !spoken.contains("https://") && !spoken.contains("www."), "{spoken:?}");
        prop_assert!(spoken.chars().count() <= max + 1, "{} > {max}", spoken.chars().count());
        let xml = shared::voice::twiml(&[shared::voice::Verb::Say { text: text.clone(), language: "en-US".into() }]);
        let inner = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"en-US\">")
            .and_then(|rest| rest.strip_suffix("</Say></Response>"))
            .expect("one Say element");
        prop_assert!(!inner.contains('<') && !inner.contains('>'));
    }
}

/// Text as customers write it, with the things redaction looks for among the noise.
fn chat_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("4242 4242 4242 4242".to_owned()),
        Just("5555-5555-5555-4444".to_owned()),
        Just("DE89 3704 0044 0532 0130 00".to_owned()),
        Just("GB82WEST12345698765432".to_owned()),
        Just("ana.garcia+x@example.co.uk".to_owned()),
        Just("+1 (415) 555-0100".to_owned()),
        Just("@".to_owned()),
        Just("+".to_owned()),
        "[0-9 +()@.A-Z-]{0,30}",
        "\\PC{0,12}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Redaction never panics (whatever the characters), leaves nothing it would redact again,
    /// and a text it leaves alone comes back unchanged.
    #[test]
    fn redaction_is_total_and_complete(text in chat_text()) {
        let all = shared::redact::Privacy {
            redact_card_numbers: true,
            redact_bank_accounts: true,
            redact_emails: true,
            redact_phone_numbers: true,
        };
        match all.redact(&text) {
            Some(redacted) => {
                prop_assert_ne!(&redacted, &text);
                prop_assert_eq!(all.redact(&redacted), None, "{} -> {}", text, redacted);
            }
            None => prop_assert_eq!(shared::redact::Privacy::OFF.redact(&text), None),
        }
    }
}
