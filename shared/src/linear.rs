//! Linear as the bug tracker (<https://linear.app/developers>): a conversation staff mark as a
//! bug becomes a Linear issue (GraphQL `issueCreate`) with the customer-facing summary and a
//! link back to the conversation; Linear's webhook (`Linear-Signature`: HMAC-SHA256 of the raw
//! body with the webhook's signing secret, hex; `webhookTimestamp` within a minute) says when
//! that issue is closed, so the customer can be told.
//!
//! The issue's description is Markdown, and everything the customer wrote is escaped for it, so a
//! message cannot add links, images or mentions to the issue.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::message::clip;
use crate::wire::Channel;

/// How far `webhookTimestamp` may be from now (ms): Linear's documented replay guard.
pub const TOLERANCE_MS: u64 = 60_000;

/// Longest issue title Linear is given (characters).
pub const MAX_TITLE_CHARS: usize = 120;

/// Longest staff note (`details`) on a bug report (characters).
pub const MAX_DETAILS_CHARS: usize = 4_000;

/// Customer messages quoted in the issue: the latest this many, each clipped.
pub const QUOTED_MESSAGES: usize = 5;
const QUOTE_CHARS: usize = 600;

/// The mutation that files a bug; `$input` is an `IssueCreateInput`.
pub const ISSUE_CREATE: &str = "mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier url title } } }";

/// What the customer is told when their bug is fixed, unless the site words it itself.
pub const DEFAULT_FIXED_MESSAGE: &str = "Good news: the problem you reported has been fixed. Thank you for your patience, and reply here if you still run into it.";

/// Why a Linear webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Linear-Signature header is missing")]
    Missing,
    #[error("the Linear-Signature header is not a hex HMAC-SHA256")]
    Malformed,
    #[error("the body is not signed with the webhook's signing secret")]
    Mismatch,
    #[error("the body has no `webhookTimestamp`")]
    NoTimestamp,
    #[error("`webhookTimestamp` is {0} ms away from now (at most {TOLERANCE_MS} ms): a replayed or delayed request")]
    OutsideTolerance(u64),
}

fn mac(secret: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac
}

/// The `Linear-Signature` Linear sends with `body` (tests, stand-ins).
pub fn sign(secret: &str, body: &[u8]) -> String {
    crate::hex::encode(&mac(secret, body).finalize().into_bytes())
}

/// Checks a Linear webhook: the signature over the raw body first (in constant time), then its
/// `webhookTimestamp` (ms) against `now_ms`.
pub fn verify(secret: &str, signature: Option<&str>, body: &[u8], now_ms: u64) -> Result<(), SignatureError> {
    let signature = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing)?;
    let presented = crate::hex::decode(signature, 32).ok_or(SignatureError::Malformed)?;
    mac(secret, body)
        .verify_slice(&presented)
        .map_err(|_| SignatureError::Mismatch)?;
    let sent = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("webhookTimestamp")?.as_u64())
        .ok_or(SignatureError::NoTimestamp)?;
    let age = now_ms.abs_diff(sent);
    if age > TOLERANCE_MS {
        return Err(SignatureError::OutsideTolerance(age));
    }
    Ok(())
}

/// A Linear issue, as we keep and show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Issue {
    /// Linear's id (a UUID).
    pub id: String,
    /// The team key and number, e.g. `ENG-123`.
    pub identifier: String,
    pub url: String,
    pub title: String,
}

/// What a bug report says: the conversation's side, read from it when staff mark it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Report {
    /// The customer's latest messages, oldest first (at most [`QUOTED_MESSAGES`]).
    pub messages: Vec<String>,
    pub channels: Vec<Channel>,
    /// Why the bot handed it over (`no_match`, `visitor_asked`, …).
    pub reasons: Vec<String>,
    /// What the bot answered with, if it tried (article titles).
    pub bot_tried: Vec<String>,
}

/// A title for the issue: staff's, else the customer's first quoted message, on one line.
pub fn title(staff_title: Option<&str>, report: &Report) -> String {
    let text = staff_title
        .map(str::to_owned)
        .or_else(|| report.messages.first().cloned())
        .unwrap_or_else(|| "Bug reported by a customer".into());
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    clip(&one_line, MAX_TITLE_CHARS)
}

/// Escapes Markdown, so text shows as written: no links, images, emphasis, headings or HTML.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '#'
                | '+'
                | '-'
                | '.'
                | '!'
                | '|'
                | '<'
                | '>'
                | '~'
                | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The issue's description (Markdown): who filed it, staff's note, what the customer wrote
/// (escaped, quoted), the channels, why the bot handed over and what it tried, and the link back.
pub fn description(
    site_name: &str,
    conversation: &str,
    staff: &str,
    details: Option<&str>,
    report: &Report,
    link: Option<&str>,
) -> String {
    let mut text = format!(
        "Reported from a support conversation on **{}** by {}.\n\n",
        escape_markdown(site_name),
        escape_markdown(staff)
    );
    if let Some(details) = details.filter(|d| !d.trim().is_empty()) {
        text.push_str(&format!(
            "**Staff note:** {}\n\n",
            escape_markdown(&clip(details, MAX_DETAILS_CHARS))
        ));
    }
    if !report.messages.is_empty() {
        text.push_str("**What the customer wrote:**\n\n");
        for message in &report.messages {
            for line in clip(message, QUOTE_CHARS).lines() {
                text.push_str(&format!("> {}\n", escape_markdown(line)));
            }
            text.push('\n');
        }
    }
    let channels: Vec<&str> = report.channels.iter().map(|c| c.as_str()).collect();
    if !channels.is_empty() {
        text.push_str(&format!("**Channels:** {}\n\n", channels.join(", ")));
    }
    if !report.reasons.is_empty() {
        text.push_str(&format!(
            "**Handed to a person because:** {}\n\n",
            escape_markdown(&report.reasons.join(", "))
        ));
    }
    if !report.bot_tried.is_empty() {
        let tried: Vec<String> = report.bot_tried.iter().map(|t| escape_markdown(t)).collect();
        text.push_str(&format!("**The bot answered with:** {}\n\n", tried.join("; ")));
    }
    match link {
        Some(link) => text.push_str(&format!(
            "[Open the conversation]({link}) (conversation `{conversation}`)\n"
        )),
        None => text.push_str(&format!("Conversation `{conversation}`\n")),
    }
    text
}

/// The GraphQL request that files the issue.
pub fn create_body(team_id: &str, title: &str, description: &str, label_ids: &[String]) -> Value {
    let mut input = json!({ "teamId": team_id, "title": title, "description": description });
    if !label_ids.is_empty() {
        input["labelIds"] = json!(label_ids);
    }
    json!({ "query": ISSUE_CREATE, "variables": { "input": input } })
}

/// The issue `issueCreate` answered, or why it failed (GraphQL's `errors`, `success: false`).
pub fn created(answer: &Value) -> Result<Issue, String> {
    if let Some(errors) = answer.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .collect();
        return Err(format!("Linear refused the issue: {}", clip(&messages.join("; "), 300)));
    }
    let result = answer
        .pointer("/data/issueCreate")
        .ok_or("Linear's answer has no `data.issueCreate`")?;
    if result.get("success").and_then(Value::as_bool) != Some(true) {
        return Err("Linear answered `success: false`".into());
    }
    let issue = result.get("issue").ok_or("Linear's answer has no issue")?;
    let field = |name: &str| {
        issue
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or(format!("Linear's issue has no `{name}`"))
    };
    Ok(Issue {
        id: field("id")?,
        identifier: field("identifier")?,
        url: field("url")?,
        title: field("title").unwrap_or_default(),
    })
}

/// How an issue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Moved to a completed state: fixed.
    Fixed,
    /// Moved to a canceled state (won't fix, duplicate).
    Canceled,
    /// Moved out of a closed state again.
    Reopened,
}

/// An issue's state change that matters to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub issue: String,
    pub identifier: String,
    pub outcome: Outcome,
}

/// What a webhook says: an issue moved to a completed or canceled state, or out of one; `None`
/// for everything else (other types, other fields changed), which is acknowledged and ignored.
pub fn state_change(body: &[u8]) -> Result<Option<StateChange>, String> {
    let event: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    if event.get("type").and_then(Value::as_str) != Some("Issue")
        || event.get("action").and_then(Value::as_str) != Some("update")
    {
        return Ok(None);
    }
    // Only a change of state: Linear lists the changed fields' old values in `updatedFrom`.
    if event.pointer("/updatedFrom/stateId").is_none() {
        return Ok(None);
    }
    let data = event.get("data").ok_or("an Issue event without `data`")?;
    let text = |pointer: &str| data.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let issue = text("/id").ok_or("an Issue event without `data.id`")?;
    let state = text("/state/type").ok_or("an Issue event without `data.state.type`")?;
    let outcome = match state.as_str() {
        "completed" => Outcome::Fixed,
        "canceled" => Outcome::Canceled,
        _ => Outcome::Reopened,
    };
    Ok(Some(StateChange {
        identifier: text("/identifier").unwrap_or_default(),
        issue,
        outcome,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "lin_wh_0123456789abcdef0123456789abcdef";

    fn closed(state: &str, at: u64) -> String {
        json!({
            "action": "update",
            "type": "Issue",
            "data": {"id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9", "identifier": "ENG-7", "title": "Export fails",
                      "state": {"id": "s2", "name": "Done", "type": state}},
            "updatedFrom": {"stateId": "s1", "updatedAt": "2026-11-27T10:00:00.000Z"},
            "url": "https://linear.app/acme/issue/ENG-7/export-fails",
            "createdAt": "2026-11-27T10:00:01.000Z",
            "organizationId": "o1",
            "webhookTimestamp": at,
            "webhookId": "w1"
        })
        .to_string()
    }

    #[test]
    fn only_a_fresh_body_signed_with_the_secret_verifies() {
        let now = 1_790_000_000_000;
        let body = closed("completed", now - 5_000);
        let signature = sign(SECRET, body.as_bytes());
        assert_eq!(verify(SECRET, Some(&signature), body.as_bytes(), now), Ok(()));
        assert_eq!(verify(SECRET, None, body.as_bytes(), now), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, Some("sha256=zz"), body.as_bytes(), now),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("lin_wh_other", Some(&signature), body.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
        let tampered = body.replace("completed", "canceled");
        assert_eq!(
            verify(SECRET, Some(&signature), tampered.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
        // Signed, but sent long ago: a replay.
        let old = closed("completed", now - 120_000);
        let signature = sign(SECRET, old.as_bytes());
        assert_eq!(
            verify(SECRET, Some(&signature), old.as_bytes(), now),
            Err(SignatureError::OutsideTolerance(120_000))
        );
    }

    #[test]
    fn state_changes_are_read_and_everything_else_is_ignored() {
        let change = state_change(closed("completed", 1).as_bytes()).unwrap().unwrap();
        assert_eq!(change.outcome, Outcome::Fixed);
        assert_eq!(change.identifier, "ENG-7");
        assert_eq!(change.issue, "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9");
        let canceled = state_change(closed("canceled", 1).as_bytes()).unwrap().unwrap();
        assert_eq!(canceled.outcome, Outcome::Canceled);
        let reopened = state_change(closed("started", 1).as_bytes()).unwrap().unwrap();
        assert_eq!(reopened.outcome, Outcome::Reopened);
        // A title edit is no state change; a comment is not an issue.
        let edit = closed("completed", 1).replace("\"stateId\":\"s1\",", "");
        assert_eq!(state_change(edit.as_bytes()), Ok(None));
        let comment = closed("completed", 1).replace("\"type\":\"Issue\"", "\"type\":\"Comment\"");
        assert_eq!(state_change(comment.as_bytes()), Ok(None));
        assert!(state_change(b"not json").is_err());
    }

    #[test]
    fn the_description_escapes_what_the_customer_wrote_and_links_back() {
        let report = Report {
            messages: vec![
                "Export to CSV fails with [click me](https://evil.example) @everyone".into(),
                "# still broken\n<img src=x>".into(),
            ],
            channels: vec![Channel::Chat, Channel::Email],
            reasons: vec!["visitor_asked".into()],
            bot_tried: vec!["Exporting data".into()],
        };
        let text = description(
            "Shop",
            "c1",
            "Ana",
            Some("Seen twice today"),
            &report,
            Some("https://t.example/x"),
        );
        assert!(
            text.contains(r"\[click me\]\(https://evil\.example\) \@everyone"),
            "{text}"
        );
        assert!(text.contains(r"> \# still broken"), "{text}");
        assert!(text.contains(r"> \<img src=x\>"), "{text}");
        assert!(text.contains("**Channels:** chat, email"));
        assert!(text.contains("Seen twice today"));
        assert!(text.contains("[Open the conversation](https://t.example/x)"));
        assert_eq!(title(None, &report), report.messages[0]);
        assert_eq!(title(Some("  Export\n fails  "), &report), "Export fails");
        let long = "x".repeat(500);
        assert_eq!(title(Some(&long), &report).chars().count(), MAX_TITLE_CHARS);
        let body = create_body("team-1", "t", &text, &["label-1".into()]);
        assert_eq!(body["variables"]["input"]["labelIds"][0], "label-1");
        assert!(body["query"].as_str().unwrap().contains("issueCreate"));
    }

    #[test]
    fn an_answer_is_an_issue_or_says_why_not() {
        let ok = json!({"data": {"issueCreate": {"success": true, "issue": {"id": "i1", "identifier": "ENG-1", "url": "https://linear.app/a/issue/ENG-1", "title": "T"}}}});
        assert_eq!(created(&ok).unwrap().identifier, "ENG-1");
        let refused = json!({"errors": [{"message": "Authentication required, not authenticated", "extensions": {"code": "AUTHENTICATION_ERROR"}}]});
        assert!(created(&refused).unwrap_err().contains("Authentication required"));
        let unsuccessful = json!({"data": {"issueCreate": {"success": false, "issue": null}}});
        assert!(created(&unsuccessful).is_err());
        assert!(created(&json!({})).is_err());
    }
}
