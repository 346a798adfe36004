//! The escalation package people receive when a conversation is handed to them: the transcript
//! (cut to fit a webhook body, newest messages kept), what the bot tried and how the customer
//! took it, and a signed, expiring link to the whole transcript.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::wire::{ArticleLink, BotDetail, Message, Role};

/// Most messages a package carries in its body.
pub const MAX_TRANSCRIPT_MESSAGES: usize = 200;

/// Most bytes (as JSON) of transcript a package carries in its body, so a delivery stays well
/// inside a queue message (128 KB on Cloudflare Queues) and under 64 KB with the profile and
/// the bot's attempts beside it.
pub const MAX_TRANSCRIPT_BYTES: usize = 40 * 1024;

/// Most of the bot's attempts a package lists (the newest).
pub const MAX_BOT_ATTEMPTS: usize = 25;

/// How long a transcript link works.
pub const TRANSCRIPT_LINK_TTL_SECS: u64 = 7 * 24 * 60 * 60;

/// How much of the conversation the package's transcript leaves out.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Truncation {
    /// Messages in the conversation.
    pub total: usize,
    /// The newest `included` of them are in the body.
    pub included: usize,
}

/// The newest messages that fit in `max_messages` and `max_bytes` of JSON (always at least the
/// newest one), oldest first, and what was left out.
pub fn fit_transcript(
    mut messages: Vec<Message>,
    max_messages: usize,
    max_bytes: usize,
) -> (Vec<Message>, Option<Truncation>) {
    let total = messages.len();
    let mut bytes = 0;
    let mut keep = 0;
    for message in messages.iter().rev().take(max_messages) {
        let size = serde_json::to_vec(message).map_or(0, |json| json.len() + 1);
        if keep > 0 && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        keep += 1;
    }
    let kept = messages.split_off(total - keep);
    let truncation = (keep < total).then_some(Truncation { total, included: keep });
    (kept, truncation)
}

/// One thing the bot said, as the package reports it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BotAttempt {
    /// The bot message's id.
    pub message: String,
    pub at: u64,
    /// The customer message it replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// `answer` (from an article), `no_answer` (offered a person) or `handoff_requested`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<ArticleLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The customer's "did that help?" answer, if they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helpful: Option<bool>,
}

/// What the bot tried in `messages`: its newest `MAX_BOT_ATTEMPTS` replies, oldest first.
pub fn bot_attempts(messages: &[Message]) -> Vec<BotAttempt> {
    let mut attempts: Vec<BotAttempt> = messages
        .iter()
        .rev()
        .filter(|m| m.role == Role::Bot)
        .filter_map(|m| {
            let (outcome, article, confidence) = match m.bot.as_ref()? {
                BotDetail::Answer { article, confidence } => ("answer", Some(article.clone()), Some(*confidence)),
                BotDetail::NoAnswer { confidence, .. } => ("no_answer", None, Some(*confidence)),
                BotDetail::HandoffRequested { .. } => ("handoff_requested", None, None),
                // A note about a call, or news of a fixed bug: not something the bot tried.
                BotDetail::Call(_) | BotDetail::BugFixed { .. } => return None,
            };
            Some(BotAttempt {
                message: m.id.clone(),
                at: m.at,
                reply_to: m.reply_to.clone(),
                outcome: outcome.to_owned(),
                article,
                confidence,
                helpful: m.helpful,
            })
        })
        .take(MAX_BOT_ATTEMPTS)
        .collect();
    attempts.reverse();
    attempts
}

type HmacSha256 = Hmac<Sha256>;

/// The key transcript links are signed with, derived from the deployment's session secret so
/// no separate secret needs managing (and a link never verifies as anything else).
pub fn link_key(session_secret: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(session_secret).expect("HMAC accepts any key length");
    mac.update(b"threadline transcript links v1");
    mac.finalize().into_bytes().into()
}

fn link_mac(key: &[u8; 32], site: &str, conversation: &str, expires: u64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(format!("{site}\n{conversation}\n{expires}").as_bytes());
    mac
}

/// The signature of a link to `conversation`'s transcript, good until `expires` (seconds).
pub fn sign_link(key: &[u8; 32], site: &str, conversation: &str, expires: u64) -> String {
    crate::hex::encode(&link_mac(key, site, conversation, expires).finalize().into_bytes())
}

/// The path (after the deployment's public URL) of a signed transcript link.
pub fn link_path(key: &[u8; 32], site: &str, conversation: &str, expires: u64) -> String {
    let signature = sign_link(key, site, conversation, expires);
    format!("/v1/sites/{site}/conversations/{conversation}/transcript?expires={expires}&signature={signature}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this transcript link is not valid (its signature does not match)")]
    Invalid,
    #[error("this transcript link has expired")]
    Expired,
}

/// Checks a transcript link's signature (in constant time) and expiry.
pub fn verify_link(
    key: &[u8; 32],
    site: &str,
    conversation: &str,
    expires: u64,
    signature: &str,
    now_secs: u64,
) -> Result<(), LinkError> {
    let bytes = crate::hex::decode(signature, 32).ok_or(LinkError::Invalid)?;
    link_mac(key, site, conversation, expires)
        .verify_slice(&bytes)
        .map_err(|_| LinkError::Invalid)?;
    if now_secs > expires {
        return Err(LinkError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Channel, EscalationReason};

    fn message(seq: u64, role: Role, text: &str) -> Message {
        Message {
            seq,
            id: format!("m{seq}"),
            role,
            text: text.to_owned(),
            at: 1_000 + seq,
            reply_to: None,
            bot: None,
            channel: Channel::Chat,
            origin: None,
            helpful: None,
        }
    }

    #[test]
    fn a_short_conversation_goes_whole() {
        let messages: Vec<Message> = (1..=5).map(|i| message(i, Role::Visitor, "hello")).collect();
        let (kept, truncation) = fit_transcript(messages.clone(), 200, 1024);
        assert_eq!(kept, messages);
        assert_eq!(truncation, None);
    }

    #[test]
    fn a_long_conversation_keeps_its_newest_messages_within_both_limits() {
        let messages: Vec<Message> = (1..=300).map(|i| message(i, Role::Visitor, "hello")).collect();
        let (kept, truncation) = fit_transcript(messages.clone(), 200, 1 << 20);
        assert_eq!(kept.len(), 200);
        assert_eq!(kept[0].seq, 101, "the newest 200, oldest first");
        assert_eq!(
            truncation,
            Some(Truncation {
                total: 300,
                included: 200
            })
        );

        let long = "x".repeat(1_000);
        let messages: Vec<Message> = (1..=100).map(|i| message(i, Role::Visitor, &long)).collect();
        let (kept, truncation) = fit_transcript(messages, 200, 10_000);
        let bytes: usize = kept.iter().map(|m| serde_json::to_vec(m).unwrap().len() + 1).sum();
        assert!(bytes <= 10_000, "{bytes}");
        assert_eq!(kept.len(), 9);
        assert_eq!(kept.last().unwrap().seq, 100);
        assert_eq!(truncation.unwrap().total, 100);
    }

    #[test]
    fn the_newest_message_goes_even_when_it_alone_is_over_the_byte_limit() {
        let messages = vec![
            message(1, Role::Visitor, "hi"),
            message(2, Role::Visitor, &"y".repeat(500)),
        ];
        let (kept, truncation) = fit_transcript(messages, 200, 100);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].seq, 2);
        assert_eq!(truncation, Some(Truncation { total: 2, included: 1 }));
    }

    #[test]
    fn bot_attempts_report_articles_confidence_and_feedback() {
        let mut answer = message(2, Role::Bot, "Choose Forgot password");
        answer.reply_to = Some("m1".into());
        answer.bot = Some(BotDetail::Answer {
            article: ArticleLink {
                id: "reset".into(),
                title: "Reset".into(),
                url: None,
            },
            confidence: 0.8,
        });
        answer.helpful = Some(false);
        let mut miss = message(4, Role::Bot, "I'm not sure");
        miss.bot = Some(BotDetail::NoAnswer {
            reason: EscalationReason::NoMatch,
            confidence: 0.2,
        });
        let messages = vec![
            message(1, Role::Visitor, "forgot password"),
            answer,
            message(3, Role::Visitor, "still stuck"),
            miss,
            message(5, Role::Agent, "I'll help"),
        ];
        let attempts = bot_attempts(&messages);
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].outcome, "answer");
        assert_eq!(attempts[0].article.as_ref().unwrap().id, "reset");
        assert_eq!(attempts[0].helpful, Some(false));
        assert_eq!(attempts[0].reply_to.as_deref(), Some("m1"));
        assert_eq!(attempts[1].outcome, "no_answer");
        assert_eq!(attempts[1].confidence, Some(0.2));
        assert_eq!(attempts[1].helpful, None);

        let many: Vec<Message> = (0..100)
            .map(|i| {
                let mut m = message(i, Role::Bot, "answer");
                m.bot = Some(BotDetail::HandoffRequested {
                    reason: EscalationReason::VisitorAsked,
                });
                m
            })
            .collect();
        let attempts = bot_attempts(&many);
        assert_eq!(attempts.len(), MAX_BOT_ATTEMPTS);
        assert_eq!(attempts.last().unwrap().message, "m99", "the newest, oldest first");
        assert_eq!(attempts[0].message, "m75");
    }

    #[test]
    fn links_verify_until_they_expire_and_only_for_their_conversation() {
        let key = link_key(b"session secret");
        let signature = sign_link(&key, "shop", "c1", 5_000);
        assert_eq!(verify_link(&key, "shop", "c1", 5_000, &signature, 4_999), Ok(()));
        assert_eq!(
            verify_link(&key, "shop", "c1", 5_000, &signature, 5_001),
            Err(LinkError::Expired)
        );
        // Moving the expiry, the conversation or the site breaks the signature.
        assert_eq!(
            verify_link(&key, "shop", "c1", 9_000, &signature, 10),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify_link(&key, "shop", "c2", 5_000, &signature, 10),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify_link(&key, "blog", "c1", 5_000, &signature, 10),
            Err(LinkError::Invalid)
        );
        let other = link_key(b"another deployment");
        assert_eq!(
            verify_link(&other, "shop", "c1", 5_000, &signature, 10),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify_link(&key, "shop", "c1", 5_000, "zz", 10),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            link_path(&key, "shop", "c1", 5_000),
            format!("/v1/sites/shop/conversations/c1/transcript?expires=5000&signature={signature}")
        );
    }
}
