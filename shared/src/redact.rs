//! Personal data taken out of what leaves for third parties (staff tools' webhooks, Slack): card
//! numbers a customer typed into a chat are replaced by their last four digits before an
//! escalation package or a message event is sent, when the site's `privacy` setting asks for it
//! (on by default). The conversation itself keeps what the customer wrote.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A site's privacy settings for data sent to third parties.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Privacy {
    /// Replace card numbers (13–19 digits passing the Luhn check) in webhook and Slack bodies.
    pub redact_card_numbers: bool,
}

impl Default for Privacy {
    fn default() -> Privacy {
        Privacy {
            redact_card_numbers: true,
        }
    }
}

/// Whether `digits` pass the Luhn check that every card number carries.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if !i.is_multiple_of(2) {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `text` with every card number (13–19 digits, grouped by single spaces or hyphens or not,
/// passing the Luhn check, not part of a longer run of digits or a word) replaced by `[card
/// ending 4242]`; `None` when there is none.
pub fn card_numbers(text: &str) -> Option<String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let after_word = i > 0 && chars[i - 1].1.is_alphanumeric();
        if !c.is_ascii_digit() || after_word {
            i += 1;
            continue;
        }
        // A run of digits with single separators between them.
        let mut digits = Vec::new();
        let mut j = i;
        let mut end = i;
        while j < chars.len() {
            let c = chars[j].1;
            if c.is_ascii_digit() {
                digits.push(c as u8 - b'0');
                end = j + 1;
                j += 1;
            } else if (c == ' ' || c == '-') && chars.get(j + 1).is_some_and(|n| n.1.is_ascii_digit()) {
                j += 1;
            } else {
                break;
            }
        }
        let before_word = chars.get(end).is_some_and(|n| n.1.is_alphanumeric());
        if (13..=19).contains(&digits.len()) && !before_word && luhn(&digits) {
            let last4: String = digits[digits.len() - 4..]
                .iter()
                .map(|d| char::from(b'0' + d))
                .collect();
            let end_byte = chars.get(end).map_or(text.len(), |n| n.0);
            out.push_str(&text[copied..start]);
            out.push_str(&format!("[card ending {last4}]"));
            copied = end_byte;
        }
        i = end.max(i + 1);
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

/// Redacts card numbers in every string under a `text` or `excerpt` key of `value` (message
/// bodies, an escalation's last words, Slack blocks), leaving ids, addresses and numbers of
/// other kinds alone. Returns how many strings changed.
pub fn redact_json(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => map
            .iter_mut()
            .map(|(key, value)| match value {
                Value::String(text) if key == "text" || key == "excerpt" => match card_numbers(text) {
                    Some(redacted) => {
                        *text = redacted;
                        1
                    }
                    None => 0,
                },
                other => redact_json(other),
            })
            .sum(),
        Value::Array(items) => items.iter_mut().map(redact_json).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_cut_to_their_last_four_digits() {
        assert_eq!(
            card_numbers("my card 4242 4242 4242 4242 was charged twice").as_deref(),
            Some("my card [card ending 4242] was charged twice")
        );
        assert_eq!(
            card_numbers("5555-5555-5555-4444, exp 12/30").as_deref(),
            Some("[card ending 4444], exp 12/30")
        );
        assert_eq!(
            card_numbers("Amex 378282246310005.").as_deref(),
            Some("Amex [card ending 0005].")
        );
        assert_eq!(
            card_numbers("two: 4111111111111111 and 6011111111111117").as_deref(),
            Some("two: [card ending 1111] and [card ending 1117]")
        );
    }

    #[test]
    fn other_numbers_stay() {
        for text in [
            // Fails the Luhn check.
            "order 4242 4242 4242 4241",
            // Too short, too long, or part of a word or a longer run.
            "call +1 415 555 0100",
            "tracking 12345678901234567890123",
            "ref AB4242424242424242",
            "id 4242424242424242x",
            "4242  4242  4242  4242",
            "",
            "no digits at all — ü",
        ] {
            assert_eq!(card_numbers(text), None, "{text}");
        }
    }

    #[test]
    fn only_message_texts_in_json_are_touched() {
        let mut value = serde_json::json!({
            "excerpt": "card 4242424242424242",
            "transcript": [{"id": "4242424242424242", "text": "it is 4242 4242 4242 4242"}],
            "profile": {"identities": [{"kind": "phone", "value": "+4242424242424242"}]},
            "blocks": [{"text": {"type": "mrkdwn", "text": "card 4242424242424242"}}],
        });
        assert_eq!(redact_json(&mut value), 3);
        assert_eq!(value["excerpt"], "card [card ending 4242]");
        assert_eq!(value["transcript"][0]["id"], "4242424242424242");
        assert_eq!(value["transcript"][0]["text"], "it is [card ending 4242]");
        assert_eq!(value["profile"]["identities"][0]["value"], "+4242424242424242");
        assert_eq!(value["blocks"][0]["text"]["text"], "card [card ending 4242]");
    }
}
