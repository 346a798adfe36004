//! Personal data taken out of what leaves for third parties (staff tools' webhooks, Slack): card
//! numbers and bank account numbers (IBAN) a customer typed into a chat are replaced by their
//! last four characters, and, when a site asks for it, email addresses and phone numbers too,
//! before an escalation package or a message event is sent. The site's `privacy` setting says
//! which (cards and IBANs by default). The conversation itself keeps what the customer wrote.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A site's privacy settings for data sent to third parties.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Privacy {
    /// Replace card numbers (13–19 digits passing the Luhn check) in webhook and Slack bodies.
    pub redact_card_numbers: bool,
    /// Replace bank account numbers (IBANs passing their mod-97 check).
    pub redact_bank_accounts: bool,
    /// Replace email addresses written in messages (the profile's own identities stay).
    pub redact_emails: bool,
    /// Replace phone numbers written in international form (`+` and 8 to 15 digits).
    pub redact_phone_numbers: bool,
}

impl Default for Privacy {
    fn default() -> Privacy {
        Privacy {
            redact_card_numbers: true,
            redact_bank_accounts: true,
            redact_emails: false,
            redact_phone_numbers: false,
        }
    }
}

/// One kind of redaction: the text with it applied, or `None` when there was nothing to redact.
type Redactor = fn(&str) -> Option<String>;

impl Privacy {
    /// Nothing is redacted.
    pub const OFF: Privacy = Privacy {
        redact_card_numbers: false,
        redact_bank_accounts: false,
        redact_emails: false,
        redact_phone_numbers: false,
    };

    /// `text` with what this setting redacts replaced; `None` when nothing was.
    pub fn redact(&self, text: &str) -> Option<String> {
        let redactors: [(bool, Redactor); 4] = [
            (self.redact_card_numbers, card_numbers),
            (self.redact_bank_accounts, bank_accounts),
            (self.redact_emails, emails),
            (self.redact_phone_numbers, phone_numbers),
        ];
        let mut changed: Option<String> = None;
        // Again while a round changes something (one redaction can expose another, as an email
        // glued to a run of digits), so that what leaves has nothing left to redact.
        for _ in 0..4 {
            let mut round = false;
            for (on, redactor) in redactors {
                if on && let Some(out) = redactor(changed.as_deref().unwrap_or(text)) {
                    changed = Some(out);
                    round = true;
                }
            }
            if !round {
                break;
            }
        }
        changed
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
    replace_all(text, |text, from| {
        let bytes = text.as_bytes();
        let mut i = from;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() || after_word(text, i) {
                i += 1;
                continue;
            }
            // A run of digits with single separators between them.
            let mut digits = Vec::new();
            let mut j = i;
            let mut end = i;
            while j < bytes.len() {
                let b = bytes[j];
                if b.is_ascii_digit() {
                    digits.push(b - b'0');
                    end = j + 1;
                    j += 1;
                } else if (b == b' ' || b == b'-') && bytes.get(j + 1).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                } else {
                    break;
                }
            }
            let before_word = text[end..].chars().next().is_some_and(char::is_alphanumeric);
            if (13..=19).contains(&digits.len()) && !before_word && luhn(&digits) {
                let last4: String = digits[digits.len() - 4..]
                    .iter()
                    .map(|d| char::from(b'0' + d))
                    .collect();
                return Some((i, end, format!("[card ending {last4}]")));
            }
            i = end.max(i + 1);
        }
        None
    })
}

/// Replaces each match `scan` finds in `text` (a byte range and its replacement) and returns
/// the result, or `None` when there was none. `scan(text, from)` looks from byte `from` on.
fn replace_all(text: &str, scan: impl Fn(&str, usize) -> Option<(usize, usize, String)>) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some((start, end, replacement)) = scan(text, from) {
        out.push_str(&text[copied..start]);
        out.push_str(&replacement);
        copied = end;
        from = end;
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

/// Whether the character before byte `at` (if any) continues a word: a letter, a digit, or the
/// end of a redaction (so redacting twice changes nothing the second time).
fn after_word(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_some_and(continues_word)
}

fn continues_word(c: char) -> bool {
    c.is_alphanumeric() || c == ']'
}

/// `text` with every IBAN (country code, check digits, up to 30 more letters and digits, in
/// groups of four or not, passing the ISO 7064 mod-97 check) replaced by `[IBAN ending 3000]`.
pub fn bank_accounts(text: &str) -> Option<String> {
    replace_all(text, |text, from| {
        let bytes = text.as_bytes();
        let mut i = from;
        while i + 4 <= bytes.len() {
            let starts = bytes[i].is_ascii_uppercase()
                && bytes[i + 1].is_ascii_uppercase()
                && bytes[i + 2].is_ascii_digit()
                && bytes[i + 3].is_ascii_digit()
                && !after_word(text, i);
            if starts {
                // The longest run of capitals and digits with single spaces; then the longest
                // prefix, ending where a group does, that is a valid IBAN.
                let mut chars = Vec::new();
                let mut ends = Vec::new(); // (number of chars, byte end) where a candidate may end
                let mut j = i;
                while j < bytes.len() && chars.len() < 34 {
                    let b = bytes[j];
                    if b.is_ascii_uppercase() || b.is_ascii_digit() {
                        chars.push(b);
                        j += 1;
                    } else if b == b' ' && bytes.get(j + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
                        ends.push((chars.len(), j));
                        j += 1;
                    } else {
                        break;
                    }
                }
                let word_follows = bytes.get(j).is_some_and(|b| b.is_ascii_alphanumeric());
                if !word_follows {
                    ends.push((chars.len(), j));
                }
                for &(n, end) in ends.iter().rev() {
                    if (15..=34).contains(&n) && iban_valid(&chars[..n]) {
                        let last4 = String::from_utf8_lossy(&chars[n - 4..n]).into_owned();
                        return Some((i, end, format!("[IBAN ending {last4}]")));
                    }
                }
            }
            i += 1;
        }
        None
    })
}

/// ISO 13616's check: the first four characters moved to the end, letters as 10–35, mod 97 is 1.
fn iban_valid(chars: &[u8]) -> bool {
    let mut rest = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        let value = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rest = if value >= 10 {
            (rest * 100 + value) % 97
        } else {
            (rest * 10 + value) % 97
        };
    }
    rest == 1
}

/// `text` with every email address replaced by `[email]`.
pub fn emails(text: &str) -> Option<String> {
    let local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    replace_all(text, |text, from| {
        let mut search = from;
        while let Some(at) = text[search..].find('@').map(|k| search + k) {
            let start = text[from..at]
                .char_indices()
                .rev()
                .take_while(|&(_, c)| local(c))
                .last()
                .map_or(at, |(k, _)| from + k);
            let host_len: usize = text[at + 1..]
                .chars()
                .take_while(|&c| domain(c))
                .map(char::len_utf8)
                .sum();
            let host = text[at + 1..at + 1 + host_len].trim_end_matches(['.', '-']);
            let dotted = host.split('.').count() >= 2 && host.split('.').all(|label| !label.is_empty());
            if start < at && dotted {
                return Some((start, at + 1 + host.len(), "[email]".to_owned()));
            }
            search = at + 1;
        }
        None
    })
}

/// `text` with every phone number in international form (`+`, then 8 to 15 digits grouped by
/// single spaces, hyphens, dots or brackets) replaced by `[phone ending 0100]`.
pub fn phone_numbers(text: &str) -> Option<String> {
    replace_all(text, |text, from| {
        let bytes = text.as_bytes();
        let mut search = from;
        while let Some(plus) = text[search..].find('+').map(|k| search + k) {
            let mut digits = Vec::new();
            let mut j = plus + 1;
            let mut end = j;
            while j < bytes.len() && digits.len() <= 15 {
                let b = bytes[j];
                if b.is_ascii_digit() {
                    digits.push(b);
                    j += 1;
                    end = j;
                } else if b" -.()".contains(&b) {
                    // At most two separators in a row (`) `, ` (`), then a digit.
                    let run = bytes[j..].iter().take_while(|b| b" -.()".contains(b)).count();
                    if run > 2 || !bytes.get(j + run).is_some_and(u8::is_ascii_digit) {
                        break;
                    }
                    j += run;
                } else {
                    break;
                }
            }
            let word_follows = bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric());
            if (8..=15).contains(&digits.len()) && !after_word(text, plus) && !word_follows {
                let last4 = String::from_utf8_lossy(&digits[digits.len() - 4..]).into_owned();
                return Some((plus, end, format!("[phone ending {last4}]")));
            }
            search = plus + 1;
        }
        None
    })
}

/// Redacts, as `privacy` says, every string under a `text` or `excerpt` key of `value` (message
/// bodies, an escalation's last words, Slack blocks), leaving ids, identities and other fields
/// alone. Returns how many strings changed.
pub fn redact_json(value: &mut Value, privacy: &Privacy) -> usize {
    match value {
        Value::Object(map) => map
            .iter_mut()
            .map(|(key, value)| match value {
                Value::String(text) if key == "text" || key == "excerpt" => match privacy.redact(text) {
                    Some(redacted) => {
                        *text = redacted;
                        1
                    }
                    None => 0,
                },
                other => redact_json(other, privacy),
            })
            .sum(),
        Value::Array(items) => items.iter_mut().map(|item| redact_json(item, privacy)).sum(),
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
        assert_eq!(redact_json(&mut value, &Privacy::default()), 3);
        assert_eq!(value["excerpt"], "card [card ending 4242]");
        assert_eq!(value["transcript"][0]["id"], "4242424242424242");
        assert_eq!(value["transcript"][0]["text"], "it is [card ending 4242]");
        assert_eq!(value["profile"]["identities"][0]["value"], "+4242424242424242");
        assert_eq!(value["blocks"][0]["text"]["text"], "card [card ending 4242]");
    }

    #[test]
    fn bank_accounts_are_cut_to_their_last_four_characters() {
        assert_eq!(
            bank_accounts("pay to DE89 3704 0044 0532 0130 00 please").as_deref(),
            Some("pay to [IBAN ending 3000] please")
        );
        assert_eq!(
            bank_accounts("GB82WEST12345698765432, thanks").as_deref(),
            Some("[IBAN ending 5432], thanks")
        );
        assert_eq!(
            bank_accounts("IBAN: FR14 2004 1010 0505 0001 3M02 606 THANKS").as_deref(),
            Some("IBAN: [IBAN ending 2606] THANKS")
        );
        // A wrong check digit, a word around it, or too short: left alone.
        for text in [
            "DE88 3704 0044 0532 0130 00",
            "XDE89370400440532013000",
            "DE89 3704",
            "ORDER 1234",
        ] {
            assert_eq!(bank_accounts(text), None, "{text}");
        }
    }

    #[test]
    fn emails_and_phone_numbers_go_when_asked() {
        assert_eq!(
            emails("write to ana.garcia+billing@example.co.uk. or me@x.io").as_deref(),
            Some("write to [email]. or [email]")
        );
        assert_eq!(emails("@handle, a@b, user@localhost, 50@ 3"), None);
        assert_eq!(
            phone_numbers("call +1 (415) 555-0100 or +44 20 7946 0958.").as_deref(),
            Some("call [phone ending 0100] or [phone ending 0958].")
        );
        assert_eq!(phone_numbers("version 2+2, +12 34, C++ 20, +1234567890123456789"), None);
    }

    #[test]
    fn the_site_setting_chooses_what_goes() {
        let text = "card 4242424242424242, IBAN GB82WEST12345698765432, ana@example.com, +1 415 555 0100";
        assert_eq!(
            Privacy::default().redact(text).as_deref(),
            Some("card [card ending 4242], IBAN [IBAN ending 5432], ana@example.com, +1 415 555 0100")
        );
        let all = Privacy {
            redact_emails: true,
            redact_phone_numbers: true,
            ..Privacy::default()
        };
        assert_eq!(
            all.redact(text).as_deref(),
            Some("card [card ending 4242], IBAN [IBAN ending 5432], [email], [phone ending 0100]")
        );
        assert_eq!(Privacy::OFF.redact(text), None);
    }
}
