//! "Continue on another channel": from the widget, a customer moves their conversation to email,
//! SMS, WhatsApp or Telegram. The widget shows a deep link (a `wa.me` link with prefilled text, a
//! Telegram `start` parameter, an `sms:` or `mailto:` link) carrying a one-time code; when that
//! code arrives from the new channel, the channel's identity (as that channel vouches for it) is
//! verified, joined to the session's profile, and the conversation continues there.
//!
//! Codes are `TL-` and 8 characters of Crockford's base32 (40 random bits), single-use, bound to
//! one session and one channel, and live [`CODE_TTL_SECS`]. A session may create
//! [`MAX_CODES_PER_HOUR`] of them an hour. Reading them back forgives case and the letters
//! people confuse with digits (`O` for `0`, `I` and `L` for `1`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::identity::IdentityKind;
use crate::wire::Channel;

/// How long a code works, in seconds.
pub const CODE_TTL_SECS: u64 = 15 * 60;

/// Most codes one session may create in an hour.
pub const MAX_CODES_PER_HOUR: usize = 10;

/// What every code starts with, so it can be found in free text.
pub const PREFIX: &str = "TL-";

/// Characters after the prefix.
pub const CODE_CHARS: usize = 8;

/// Crockford's base32: digits and letters without I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// RFC 3986's unreserved characters stay as they are; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The channels a conversation can move to.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Email,
    Sms,
    Whatsapp,
    Telegram,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        crate::wire::lite::WireName::wire_name(self)
    }

    pub fn parse(text: &str) -> Option<Target> {
        crate::wire::lite::WireName::from_wire(text)
    }

    /// The identity the channel's sender proves by sending the code from it.
    pub fn identity_kind(self) -> IdentityKind {
        match self {
            Target::Email => IdentityKind::Email,
            // A WhatsApp account is its phone number.
            Target::Sms | Target::Whatsapp => IdentityKind::Phone,
            Target::Telegram => IdentityKind::Telegram,
        }
    }

    pub fn channel(self) -> Channel {
        match self {
            Target::Email => Channel::Email,
            Target::Sms => Channel::Sms,
            Target::Whatsapp => Channel::Whatsapp,
            Target::Telegram => Channel::Telegram,
        }
    }
}

/// A fresh code from 5 random bytes (40 bits).
pub fn new_code(random: [u8; 5]) -> String {
    let bits = random.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut code = String::from(PREFIX);
    for i in (0..CODE_CHARS).rev() {
        code.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
    }
    code
}

/// The first code in a message (a Telegram `/start TL-…`, a prefilled WhatsApp text, an email
/// subject), in its canonical form. Case and look-alike letters are forgiven; a code must stand
/// alone (no letters or digits glued to either side).
pub fn find_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let prefix = PREFIX.as_bytes();
    let glued = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    for start in 0..bytes.len() {
        let Some(head) = bytes.get(start..start + prefix.len()) else {
            break;
        };
        if !head.eq_ignore_ascii_case(prefix) || (start > 0 && glued(bytes.get(start - 1))) {
            continue;
        }
        let body_start = start + prefix.len();
        let Some(body) = bytes.get(body_start..body_start + CODE_CHARS) else {
            continue;
        };
        if glued(bytes.get(body_start + CODE_CHARS)) {
            continue;
        }
        let canonical: Option<String> = body.iter().map(|&b| canonical_char(b)).collect();
        if let Some(canonical) = canonical {
            return Some(format!("{PREFIX}{canonical}"));
        }
    }
    None
}

fn canonical_char(b: u8) -> Option<char> {
    let upper = b.to_ascii_uppercase();
    let mapped = match upper {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.contains(&mapped).then_some(mapped as char)
}

/// What the widget shows: where to write, a link that opens the app with the code filled in,
/// and the text to send if the link cannot be used.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Invitation {
    pub channel: Target,
    pub code: String,
    /// The address, number or `@bot` to write to.
    pub to: String,
    pub link: String,
    pub text: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

/// The invitation to continue on `target` at `to` (the site's email reply address, its SMS or
/// WhatsApp number in E.164, or its Telegram bot's username).
pub fn invitation(target: Target, site_name: &str, code: &str, to: &str, expires_at: u64) -> Invitation {
    let text = format!("Continue my conversation with {site_name}: {code}");
    let encode = |text: &str| utf8_percent_encode(text, COMPONENT).to_string();
    let (to, link, text) = match target {
        Target::Whatsapp => {
            let digits: String = to.chars().filter(char::is_ascii_digit).collect();
            let link = format!("https://wa.me/{digits}?text={}", encode(&text));
            (to.to_owned(), link, text)
        }
        Target::Sms => (to.to_owned(), format!("sms:{to}?body={}", encode(&text)), text),
        Target::Telegram => {
            let username = to.trim_start_matches('@');
            // Pressing Start in the bot's chat sends `/start <code>`.
            (
                format!("@{username}"),
                format!("https://t.me/{username}?start={code}"),
                format!("/start {code}"),
            )
        }
        Target::Email => {
            let subject = format!("Continue my conversation ({code})");
            let link = format!("mailto:{to}?subject={}&body={}", encode(&subject), encode(&text));
            (to.to_owned(), link, text)
        }
    };
    Invitation {
        channel: target,
        code: code.to_owned(),
        to,
        link,
        text,
        expires_at,
    }
}

/// Whether `username` can be a Telegram bot's username (5 to 32 of `a-z`, `0-9`, `_`, starting
/// with a letter).
pub fn valid_telegram_username(username: &str) -> bool {
    let username = username.trim_start_matches('@');
    (5..=32).contains(&username.len())
        && username.starts_with(|c: char| c.is_ascii_alphabetic())
        && username.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The key a code is stored under: its SHA-256, so stored state never holds a working code.
pub fn code_key(code: &str) -> String {
    use sha2::Digest as _;
    crate::hex::encode(&sha2::Sha256::digest(code.as_bytes()))
}

/// A code as stored: whose it is, for which channel, and whether it was used.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CodeRecord {
    pub visitor: String,
    pub conversation: String,
    pub channel: Target,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    #[serde(default)]
    pub used_at: Option<u64>,
}

/// Why a code that arrived did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeProblem {
    #[error("the code was made for another channel")]
    WrongChannel,
    #[error("the code has expired")]
    Expired,
    #[error("the code was already used")]
    Used,
}

/// What a message carrying a code achieved, told to the customer on that channel.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Redeemed {
    /// The channel identity joined the session's profile; the conversation continues here.
    Joined,
    Expired,
    Used,
    WrongChannel,
    /// No such code (mistyped, or from another site).
    Unknown,
    /// An email whose sender could not be authenticated (no DMARC, DKIM or SPF alignment):
    /// a forged `From:` must not join anyone's profile.
    Unauthenticated,
}

impl From<CodeProblem> for Redeemed {
    fn from(problem: CodeProblem) -> Redeemed {
        match problem {
            CodeProblem::WrongChannel => Redeemed::WrongChannel,
            CodeProblem::Expired => Redeemed::Expired,
            CodeProblem::Used => Redeemed::Used,
        }
    }
}

impl Redeemed {
    /// The answer on the channel the code came from.
    pub fn reply(self) -> &'static str {
        match self {
            Redeemed::Joined => {
                "You're connected: your conversation continues here, with everything you said before. Write whenever you like."
            }
            Redeemed::Expired => {
                "That code has expired. Ask for a new one in the chat on the website, or just write your question here."
            }
            Redeemed::Used => {
                "That code was already used. Ask for a new one in the chat on the website, or just write your question here."
            }
            Redeemed::WrongChannel => {
                "That code was made for another channel. Ask for a new one in the chat on the website, or just write your question here."
            }
            Redeemed::Unknown => {
                "We don't recognise that code. Check it, ask for a new one in the chat on the website, or just write your question here."
            }
            Redeemed::Unauthenticated => {
                "We couldn't confirm that this email came from your address, so it was not linked to your account. Your message has reached the team."
            }
        }
    }
}

/// Whether `record` may be redeemed from `channel` at `now` (seconds).
pub fn redeemable(record: &CodeRecord, channel: Target, now: u64) -> Result<(), CodeProblem> {
    if record.used_at.is_some() {
        Err(CodeProblem::Used)
    } else if record.channel != channel {
        Err(CodeProblem::WrongChannel)
    } else if now >= record.expires_at {
        Err(CodeProblem::Expired)
    } else {
        Ok(())
    }
}

/// Whether a session that created codes at `recent` (seconds) may create another at `now`;
/// otherwise how many seconds until it may.
pub fn may_create(recent: &[u64], now: u64) -> Result<(), u64> {
    let hour_ago = now.saturating_sub(3600);
    let mut in_window: Vec<u64> = recent.iter().copied().filter(|&at| at > hour_ago).collect();
    if in_window.len() < MAX_CODES_PER_HOUR {
        return Ok(());
    }
    in_window.sort_unstable();
    let oldest_that_counts = in_window[in_window.len() - MAX_CODES_PER_HOUR];
    Err((oldest_that_counts + 3600).saturating_sub(now).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_prefixed_base32_of_forty_bits() {
        assert_eq!(new_code([0; 5]), "TL-00000000");
        assert_eq!(new_code([0xff; 5]), "TL-ZZZZZZZZ");
        // 0x0123456789: 00000 00100 10001 10100 01010 11001 11100 01001
        assert_eq!(new_code([0x01, 0x23, 0x45, 0x67, 0x89]), "TL-04HMASW9");
        let a = new_code([1, 2, 3, 4, 5]);
        let b = new_code([1, 2, 3, 4, 6]);
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + CODE_CHARS);
    }

    #[test]
    fn codes_are_found_in_what_people_send() {
        let code = new_code([9, 8, 7, 6, 5]);
        for text in [
            format!("Continue my conversation with Acme: {code}"),
            format!("/start {code}"),
            code.clone(),
            format!("Re: Continue my conversation ({code})"),
            format!("code {}!", code.to_lowercase()),
            format!("héllo — {code}."),
        ] {
            assert_eq!(find_code(&text).as_deref(), Some(code.as_str()), "in {text:?}");
        }
        // Look-alike letters read as the digits they stand for.
        assert_eq!(find_code("tl-o1il0abc").as_deref(), Some("TL-01110ABC"));
    }

    #[test]
    fn near_misses_are_not_codes() {
        for text in [
            "",
            "TL-",
            "TL-1234567",
            "TL-123456789",
            "XTL-12345678",
            "TL-1234567U",
            "TL 12345678",
            "my order TL-ABCD is late",
            "ééééTL-",
        ] {
            assert_eq!(find_code(text), None, "in {text:?}");
        }
        // A near miss before a real code does not hide it.
        assert_eq!(find_code("TL-1234 then TL-ABCDEFGH").as_deref(), Some("TL-ABCDEFGH"));
    }

    #[test]
    fn invitations_open_each_app_with_the_code() {
        let code = "TL-ABCDEFGH";
        let wa = invitation(Target::Whatsapp, "Acme & Co", code, "+1 555 000 1111", 99);
        assert_eq!(
            wa.link,
            "https://wa.me/15550001111?text=Continue%20my%20conversation%20with%20Acme%20%26%20Co%3A%20TL-ABCDEFGH"
        );
        assert_eq!(find_code(&wa.text).as_deref(), Some(code));
        assert_eq!(wa.expires_at, 99);

        let sms = invitation(Target::Sms, "Acme", code, "+15550002222", 99);
        assert!(
            sms.link.starts_with("sms:+15550002222?body=Continue%20my"),
            "{}",
            sms.link
        );

        let tg = invitation(Target::Telegram, "Acme", code, "@acme_help_bot", 99);
        assert_eq!(tg.link, "https://t.me/acme_help_bot?start=TL-ABCDEFGH");
        assert_eq!(tg.to, "@acme_help_bot");
        assert_eq!(tg.text, "/start TL-ABCDEFGH");

        let mail = invitation(Target::Email, "Acme", code, "acme+c_1-abc@mail.example", 99);
        assert_eq!(
            mail.link,
            "mailto:acme+c_1-abc@mail.example?subject=Continue%20my%20conversation%20%28TL-ABCDEFGH%29&body=Continue%20my%20conversation%20with%20Acme%3A%20TL-ABCDEFGH"
        );
    }

    #[test]
    fn a_code_works_once_on_its_channel_before_it_expires() {
        let record = CodeRecord {
            visitor: "v".into(),
            conversation: "c".into(),
            channel: Target::Whatsapp,
            expires_at: 1_000,
            used_at: None,
        };
        assert_eq!(redeemable(&record, Target::Whatsapp, 999), Ok(()));
        assert_eq!(redeemable(&record, Target::Sms, 999), Err(CodeProblem::WrongChannel));
        assert_eq!(redeemable(&record, Target::Whatsapp, 1_000), Err(CodeProblem::Expired));
        let used = CodeRecord {
            used_at: Some(500),
            ..record
        };
        assert_eq!(redeemable(&used, Target::Whatsapp, 600), Err(CodeProblem::Used));
    }

    #[test]
    fn sessions_create_a_bounded_number_of_codes_an_hour() {
        let now = 10_000;
        let recent: Vec<u64> = (0..MAX_CODES_PER_HOUR as u64).map(|i| now - 3000 + i * 100).collect();
        // The oldest one leaves the window 600 s from now.
        assert_eq!(may_create(&recent, now), Err(600));
        assert_eq!(may_create(&recent[1..], now), Ok(()));
        assert_eq!(may_create(&recent, now + 601), Ok(()));
        assert_eq!(may_create(&[], now), Ok(()));
    }

    #[test]
    fn telegram_usernames_are_checked() {
        assert!(valid_telegram_username("acme_help_bot"));
        assert!(valid_telegram_username("@AcmeBot"));
        assert!(!valid_telegram_username("bot"));
        assert!(!valid_telegram_username("1acme_bot"));
        assert!(!valid_telegram_username("acme-bot"));
        assert!(!valid_telegram_username("acme bot x"));
    }
}
