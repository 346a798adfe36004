//! Fuzzing the verifiers and the JSON Lines imports with proptest: session tokens, identity
//! tokens, user hashes and webhook signatures given arbitrary input never panic and never verify,
//! a valid token with any one character changed never verifies, and the article, profile and
//! metrics imports either parse within their limits or refuse with a message. Cases per property:
//! `FUZZ_CASES` (default 2,000; `scripts/fuzz` runs more).

use std::collections::BTreeMap;

use proptest::prelude::*;
use shared::jwt::{Key, KeyRing};
use shared::webhook::WebhookSecret;
use shared::{article, identity, metrics, profile, session, webhook};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

const NOW: u64 = 1_795_000_000;

fn keys() -> KeyRing {
    KeyRing::new(vec![Key::from_secret(b"a session secret of at least 32 bytes!")]).unwrap()
}

/// Text shaped like tokens: dots, base64url, JSON pieces, and anything at all.
fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_.-]{0,300}",
        "eyJ[A-Za-z0-9_-]{0,80}\\.eyJ[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,60}",
        "\\PC{0,200}",
    ]
}

fn jsonl_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"id":"a","title":"T","body":"B"}"#.to_owned()),
        Just(r#"{"id":"a","title":"T","body":"B","questions":["q"]}"#.to_owned()),
        Just(r#"{"user_id":"u1","email":"a@b.example","traits":{"plan":"pro"}}"#.to_owned()),
        Just(
            r#"{"id":"e1","at":1795000000000,"conversation":"c","channel":"chat","kind":"customer_message"}"#
                .to_owned()
        ),
        Just(r#"{"id":"e2","at":1,"conversation":"c","channel":"email","kind":"rating","score":9}"#.to_owned()),
        Just("".to_owned()),
        Just("{".to_owned()),
        Just("null".to_owned()),
        "\\{\"[a-z_]{1,10}\":(\"\\PC{0,20}\"|[0-9]{1,20}|true|null|\\[\\]|\\{\\})\\}",
        "\\PC{0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_tokens_never_verify(token in token_like(), site in "[a-z0-9-]{1,20}") {
        prop_assert!(session::verify(&token, &site, NOW, &keys()).is_err());
        prop_assert!(identity::verify_identity_token(&token, &site, NOW, &keys()).is_err());
        let key = Key::from_secret(b"an identity secret of at least 32 bytes");
        prop_assert!(identity::verify_user_hash(&site, &token, NOW + 60, None, BTreeMap::new(), NOW, &[key]).is_err());
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        prop_assert!(webhook::verify("msg_1", NOW, &token, token.as_bytes(), &[secret], NOW).is_err());
        prop_assert!(shared::stripe::verify("whsec_stripe_secret", Some(&token), token.as_bytes(), NOW).is_err());
        prop_assert!(shared::linear::verify("lin_wh_secret_0123456789", Some(&token), token.as_bytes(), NOW * 1000).is_err());
    }

    #[test]
    fn a_stripe_event_with_one_byte_changed_never_verifies(at in 0usize..200, to in any::<u8>()) {
        let body = br#"{"id":"evt_1","type":"customer.subscription.updated","created":1,"data":{"object":{"customer":"cus_1"}}}"#;
        let header = shared::stripe::sign("whsec_stripe_secret", NOW, body);
        prop_assert!(shared::stripe::verify("whsec_stripe_secret", Some(&header), body, NOW).is_ok());
        let mut tampered = body.to_vec();
        let at = at % tampered.len();
        prop_assume!(tampered[at] != to);
        tampered[at] = to;
        prop_assert!(shared::stripe::verify("whsec_stripe_secret", Some(&header), &tampered, NOW).is_err());
        // Linear's webhooks too.
        let body = format!(r#"{{"action":"update","type":"Issue","data":{{"id":"i1","state":{{"type":"completed"}}}},"updatedFrom":{{"stateId":"s"}},"webhookTimestamp":{}}}"#, NOW * 1000);
        let signature = shared::linear::sign("lin_wh_secret_0123456789", body.as_bytes());
        prop_assert!(shared::linear::verify("lin_wh_secret_0123456789", Some(&signature), body.as_bytes(), NOW * 1000).is_ok());
        let mut tampered = body.into_bytes();
        let at = at % tampered.len();
        prop_assume!(tampered[at] != to);
        tampered[at] = to;
        prop_assert!(shared::linear::verify("lin_wh_secret_0123456789", Some(&signature), &tampered, NOW * 1000).is_err());
    }

    #[test]
    fn escaped_markdown_leaves_no_syntax_unescaped(text in "\\PC{0,120}") {
        let escaped = shared::linear::escape_markdown(&text);
        let mut chars = escaped.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                prop_assert!(chars.next().is_some(), "a backslash always escapes something: {escaped}");
                continue;
            }
            prop_assert!(!"[]()<>*_`#!|~@".contains(c), "{c} unescaped in {escaped}");
        }
    }

    #[test]
    fn a_session_token_with_one_character_changed_never_verifies(at in 0usize..400, to in "[A-Za-z0-9_.-]") {
        let issued = session::issue("shop", "v_0123456789abcdef0123456789abcdef", None, NOW, &keys());
        prop_assert!(session::verify(&issued.token, "shop", NOW, &keys()).is_ok());
        let mut chars: Vec<char> = issued.token.chars().collect();
        let at = at % chars.len();
        let replacement = to.chars().next().unwrap();
        prop_assume!(chars[at] != replacement);
        chars[at] = replacement;
        let tampered: String = chars.into_iter().collect();
        // Base64url's last character can carry unused bits; a change there may decode the same.
        if let Ok(claims) = session::verify(&tampered, "shop", NOW, &keys()) {
            prop_assert_eq!(claims.sub, "v_0123456789abcdef0123456789abcdef");
            prop_assert_eq!(at + 1, issued.token.len());
        }
    }

    #[test]
    fn imports_parse_within_limits_or_refuse(lines in proptest::collection::vec(jsonl_line(), 0..30)) {
        let text = lines.join("\n");
        if let Ok(articles) = article::parse_jsonl(&text) {
            prop_assert!(articles.len() <= shared::limits::MAX_ARTICLES);
            prop_assert!(articles.iter().all(|a| !a.id.is_empty()));
        }
        if let Ok(people) = profile::parse_import(&text) {
            prop_assert!(people.len() <= lines.len());
        }
        match metrics::parse_events(&text, NOW * 1000) {
            Ok(events) => {
                prop_assert!(events.len() <= lines.len());
                prop_assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "in time order");
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }
}
