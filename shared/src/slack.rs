//! Webhook bodies in Slack's incoming-webhook format (Block Kit), for endpoints whose `format`
//! is `slack`: a short summary a person reads in a channel, with a link to the whole transcript.
//! Everything the customer wrote is escaped for Slack's `mrkdwn` (`&`, `<`, `>`), so a message
//! cannot mention `@channel`, forge a link or break the layout; texts are clipped to Block
//! Kit's limits (header 150, section 3000, button label 75, URL 3000 characters).

use serde_json::{Value, json};

use crate::escalation::{Escalation, Priority};
use crate::message::clip;
use crate::wire::EscalationReason;

const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const URL_MAX: usize = 3000;

/// Slack takes one message a second per incoming webhook
/// (<https://docs.slack.dev/apis/web-api/rate-limits>); sends to one are spaced this far apart
/// (ms), a little more than a second, so timer jitter never makes two arrive within one.
pub const SEND_INTERVAL_MS: u64 = 1_100;

/// A send due further ahead than this (ms) is not waited for: it goes back to the queue.
pub const MAX_PACE_WAIT_MS: u64 = 30_000;

/// When a message to a Slack webhook may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// At this time (ms; now or soon): the slot is taken, and the webhook is free again at `next`.
    At { slot: u64, next: u64 },
    /// Not before this time (ms): too far ahead to wait for.
    Later(u64),
}

/// Plans a send to a webhook that is free from `free_at` (ms), at `now`.
pub fn pace(now: u64, free_at: u64) -> Pace {
    let slot = now.max(free_at);
    if slot - now > MAX_PACE_WAIT_MS {
        Pace::Later(slot)
    } else {
        Pace::At {
            slot,
            next: slot + SEND_INTERVAL_MS,
        }
    }
}

/// When the webhook is free again after a send that finished at `finished` (ms), answered with
/// `retry_after_secs` if Slack said to slow down: never sooner than it was planned to be.
pub fn free_after(free_at: u64, finished: u64, retry_after_secs: Option<u64>) -> u64 {
    let wait = retry_after_secs.map_or(SEND_INTERVAL_MS, |secs| (secs.min(3_600) * 1000).max(SEND_INTERVAL_MS));
    free_at.max(finished + wait)
}

/// What happened, as Slack shows it.
#[derive(Debug, Clone)]
pub enum SlackEvent<'a> {
    Escalated {
        escalation: &'a Escalation,
        /// The customer's last words before the hand-over.
        excerpt: &'a str,
        /// Who the customer is, if known (an email, a name).
        customer: Option<&'a str>,
        messages: usize,
    },
    /// A call is being put through to a person.
    CallIncoming {
        /// The caller's number, if not withheld.
        caller: Option<&'a str>,
        /// Whether that number was verified (else it is only caller ID, which can be spoofed).
        verified: bool,
        customer: Option<&'a str>,
        messages: usize,
    },
    /// A customer wrote on a conversation a person has.
    Message {
        text: &'a str,
    },
    Assigned {
        to: &'a str,
    },
    Resolved,
    /// A customer may be about to leave.
    ChurnRisk {
        customer: Option<&'a str>,
        risk: &'a crate::insight::ChurnRisk,
        /// Their plan and lifetime value, when known (e.g. "Pro, 74 usd paid").
        value: Option<&'a str>,
    },
}

/// Escapes text for `mrkdwn`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Quotes (possibly multi-line) customer text, escaped.
fn quote(text: &str) -> String {
    escape(text)
        .lines()
        .map(|line| format!("> {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn reason_words(reason: EscalationReason) -> &'static str {
    match reason {
        EscalationReason::NoMatch => "no article matched",
        EscalationReason::Ambiguous => "two articles matched equally",
        EscalationReason::NoKnowledgeBase => "no knowledge base yet",
        EscalationReason::VisitorAsked => "asked for a person",
        EscalationReason::RepeatedFailure => "the bot failed repeatedly",
        EscalationReason::Urgent => "urgent",
        EscalationReason::Upset => "customer upset",
        EscalationReason::HumanOnlyTopic => "human-only topic",
        EscalationReason::HighValueCustomer => "high-value customer",
    }
}

fn priority_words(priority: Priority) -> &'static str {
    match priority {
        Priority::Urgent => "Urgent",
        Priority::High => "High priority",
        Priority::Normal => "Normal priority",
    }
}

/// The Slack message body for `event` on `conversation` of the site named `site_name`, with a
/// button to `link` (the transcript) when there is one.
pub fn message(site_name: &str, conversation: &str, event: &SlackEvent<'_>, link: Option<&str>) -> Value {
    let (title, body) = match event {
        SlackEvent::Escalated {
            escalation,
            excerpt,
            customer,
            messages,
        } => {
            let reasons: Vec<&str> = escalation.reasons.iter().map(|r| reason_words(*r)).collect();
            let mut body = format!("*Why:* {}\n*Team:* {}", reasons.join(", "), escape(&escalation.team));
            if let Some(customer) = customer {
                body.push_str(&format!("\n*Customer:* {}", escape(customer)));
            }
            body.push_str(&format!("\n*Messages so far:* {messages}\n{}", quote(excerpt)));
            (
                format!(
                    "{}: a customer needs a person ({site_name})",
                    priority_words(escalation.priority)
                ),
                body,
            )
        }
        SlackEvent::CallIncoming {
            caller,
            verified,
            customer,
            messages,
        } => {
            let caller = match (caller, verified) {
                (Some(number), true) => format!("{} (verified)", escape(number)),
                (Some(number), false) => format!("{} (caller ID, not verified)", escape(number)),
                (None, _) => "withheld number".to_owned(),
            };
            let mut body = format!("*Caller:* {caller}");
            if let Some(customer) = customer {
                body.push_str(&format!("\n*Customer:* {}", escape(customer)));
            }
            body.push_str(&format!("\n*Messages so far:* {messages}"));
            (format!("Incoming call for a person ({site_name})"), body)
        }
        SlackEvent::Message { text } => (format!("The customer wrote again ({site_name})"), quote(text)),
        SlackEvent::ChurnRisk { customer, risk, value } => {
            let who = customer.map_or_else(|| "A customer".to_owned(), |c| format!("*{}*", escape(c)));
            let mut body = format!("{who} {}.", escape(&risk.describe()));
            if let Some(value) = value {
                body.push_str(&format!("\n*Account:* {}", escape(value)));
            }
            (format!("Churn risk ({site_name})"), body)
        }
        SlackEvent::Assigned { to } => (
            format!("Conversation assigned ({site_name})"),
            format!("*Assigned to:* {}", escape(to)),
        ),
        SlackEvent::Resolved => (
            format!("Conversation resolved ({site_name})"),
            "Resolved by staff.".to_owned(),
        ),
    };
    let title = clip(&title, HEADER_MAX);
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": title, "emoji": false } }),
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(&body, SECTION_MAX) } }),
        json!({ "type": "context", "elements": [
            { "type": "mrkdwn", "text": clip(&format!("Conversation `{}`", escape(conversation)), SECTION_MAX) }
        ] }),
    ];
    if let Some(link) = link.filter(|l| l.len() <= URL_MAX) {
        blocks.push(json!({ "type": "actions", "elements": [
            { "type": "button", "text": { "type": "plain_text", "text": "Open the transcript" }, "url": link }
        ] }));
    }
    // `text` is the notification's fallback (and what screen readers get first).
    json!({ "text": escape(&title), "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_churn_risk_names_the_customer_and_what_happened_escaped() {
        let risk = crate::insight::ChurnRisk::SubscriptionCanceled {
            plan: Some("Pro".into()),
        };
        let event = SlackEvent::ChurnRisk {
            customer: Some("Sam <@channel>"),
            risk: &risk,
            value: Some("Pro, 74 usd paid"),
        };
        let body = message("Shop", "c1", &event, None).to_string();
        assert!(body.contains("Churn risk (Shop)"), "{body}");
        assert!(
            body.contains("*Sam &lt;@channel&gt;* cancelled their subscription (Pro)."),
            "{body}"
        );
        assert!(body.contains("Pro, 74 usd paid"), "{body}");
    }

    #[test]
    fn sends_to_one_webhook_are_a_second_apart_and_far_ones_wait_in_the_queue() {
        let now = 1_000_000;
        // A burst of three: now, then a slot every SEND_INTERVAL_MS.
        let mut free = 0;
        let mut slots = Vec::new();
        for _ in 0..3 {
            let Pace::At { slot, next } = pace(now, free) else {
                panic!("due soon")
            };
            slots.push(slot);
            free = next;
        }
        assert_eq!(slots, [now, now + SEND_INTERVAL_MS, now + 2 * SEND_INTERVAL_MS]);
        // A send that finished late pushes the next one after it, never before the plan.
        assert_eq!(free_after(free, now + 5_000, None), now + 5_000 + SEND_INTERVAL_MS);
        assert_eq!(free_after(free, now, None), free);
        // Slack's Retry-After holds the webhook that long.
        assert_eq!(free_after(0, now, Some(30)), now + 30_000);
        // Thirty-odd seconds of backlog: back to the queue until then.
        assert_eq!(
            pace(now, now + MAX_PACE_WAIT_MS + 1),
            Pace::Later(now + MAX_PACE_WAIT_MS + 1)
        );
        assert!(matches!(pace(now, now + MAX_PACE_WAIT_MS), Pace::At { .. }));
    }

    fn escalation() -> Escalation {
        Escalation {
            reasons: vec![EscalationReason::VisitorAsked, EscalationReason::Urgent],
            priority: Priority::Urgent,
            team: "billing".into(),
            topic: None,
            team_source: Default::default(),
        }
    }

    #[test]
    fn an_escalation_summarises_why_who_and_links_the_transcript() {
        let escalation = escalation();
        let event = SlackEvent::Escalated {
            escalation: &escalation,
            excerpt: "I was charged twice",
            customer: Some("ada@example.com"),
            messages: 4,
        };
        let body = message("Shop", "c1", &event, Some("https://t.example/v1/x?signature=ab"));
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(
            body["blocks"][0]["text"]["text"],
            "Urgent: a customer needs a person (Shop)"
        );
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(section.contains("*Why:* asked for a person, urgent"), "{section}");
        assert!(section.contains("*Team:* billing"));
        assert!(section.contains("ada@example.com"));
        assert!(section.contains("> I was charged twice"));
        assert_eq!(
            body["blocks"][3]["elements"][0]["url"],
            "https://t.example/v1/x?signature=ab"
        );
        assert!(body["text"].as_str().unwrap().starts_with("Urgent"));
    }

    #[test]
    fn an_incoming_call_says_who_is_calling_and_whether_the_number_is_proven() {
        let section = |caller, verified| {
            let event = SlackEvent::CallIncoming {
                caller,
                verified,
                customer: Some("dana@example.com"),
                messages: 7,
            };
            let body = message("Shop", "c1", &event, None);
            assert!(
                body["blocks"][0]["text"]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("Incoming call")
            );
            body["blocks"][1]["text"]["text"].as_str().unwrap().to_owned()
        };
        assert!(section(Some("+14155550100"), true).contains("+14155550100 (verified)"));
        assert!(section(Some("+14155550100"), false).contains("not verified"));
        let withheld = section(None, false);
        assert!(
            withheld.contains("withheld") && withheld.contains("*Messages so far:* 7"),
            "{withheld}"
        );
    }

    #[test]
    fn customer_text_cannot_mention_channels_or_forge_links() {
        let event = SlackEvent::Message {
            text: "<!channel> click <https://evil.example|your bank> & pay",
        };
        let body = message("Shop", "c1", &event, None);
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        let unquoted = section.strip_prefix("> ").unwrap();
        assert!(!unquoted.contains('<') && !unquoted.contains('>'), "{section}");
        assert!(section.contains("&lt;!channel&gt;"), "{section}");
        assert!(section.contains("&amp; pay"));
        assert_eq!(body["blocks"].as_array().unwrap().len(), 3, "no button without a link");
    }

    #[test]
    fn long_texts_are_clipped_to_block_kit_limits() {
        let long = "a".repeat(10_000);
        let event = SlackEvent::Message { text: &long };
        let site = "S".repeat(400);
        let body = message(&site, "c1", &event, None);
        let header = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(section.chars().count(), 3000);
        // A link too long for a button is left out rather than breaking the message.
        let url = format!("https://t.example/{}", "x".repeat(3_000));
        let body = message("Shop", "c1", &SlackEvent::Resolved, Some(&url));
        assert_eq!(body["blocks"].as_array().unwrap().len(), 3);
    }
}
