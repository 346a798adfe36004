//! Decoding what the edge sends the widget without serde's buffering of internally tagged enums
//! (`{"type": …}` frames, `{"kind": …}` bot details), whose generic machinery is a large part of
//! the widget's download: each such value is read as one flat record of optional fields, then
//! checked into the typed value. Same JSON, same types; the edge keeps the derived impls.

use serde::Deserialize;

use super::{
    ArticleLink, BotDetail, Channel, ConversationStatus, ErrorBody, EscalationReason, Message, Role, ServerFrame,
};

/// Parses a live frame.
pub fn server_frame(text: &str) -> Option<ServerFrame> {
    serde_json::from_str::<FlatFrame>(text).ok()?.typed()
}

/// Parses `{"messages": [...], ...}` (a transcript or a send's reply): the messages, and the
/// conversation's status when the body has one.
pub fn messages(text: &str) -> Option<(Vec<Message>, Option<ConversationStatus>)> {
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
    struct Body {
        messages: Vec<FlatMessage>,
        #[serde(default)]
        status: Option<ConversationStatus>,
    }
    let body: Body = serde_json::from_str(text).ok()?;
    let messages = body
        .messages
        .into_iter()
        .map(FlatMessage::typed)
        .collect::<Option<_>>()?;
    Some((messages, body.status))
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
struct FlatFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    messages: Option<Vec<FlatMessage>>,
    #[serde(default)]
    status: Option<ConversationStatus>,
    #[serde(default)]
    message: Option<FlatMessage>,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

impl FlatFrame {
    fn typed(self) -> Option<ServerFrame> {
        let messages = |list: Option<Vec<FlatMessage>>| -> Option<Vec<Message>> {
            list?.into_iter().map(FlatMessage::typed).collect()
        };
        Some(match self.kind.as_str() {
            "history" => ServerFrame::History {
                messages: messages(self.messages)?,
                status: self.status?,
            },
            "reset" => ServerFrame::Reset {
                messages: messages(self.messages)?,
                status: self.status?,
            },
            "moved" => ServerFrame::Moved,
            "message" => ServerFrame::Message {
                message: self.message?.typed()?,
            },
            "status" => ServerFrame::Status { status: self.status? },
            "typing" => ServerFrame::Typing {
                role: self.role?,
                name: self.name,
            },
            "error" => ServerFrame::Error {
                reply_to: self.reply_to,
                error: self.error?,
            },
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
struct FlatMessage {
    seq: u64,
    id: String,
    role: Role,
    text: String,
    at: u64,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    bot: Option<FlatBot>,
    #[serde(default)]
    channel: Channel,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    helpful: Option<bool>,
}

impl FlatMessage {
    fn typed(self) -> Option<Message> {
        Some(Message {
            seq: self.seq,
            id: self.id,
            role: self.role,
            text: self.text,
            at: self.at,
            reply_to: self.reply_to,
            bot: match self.bot {
                Some(bot) => Some(bot.typed()?),
                None => None,
            },
            channel: self.channel,
            origin: self.origin,
            helpful: self.helpful,
        })
    }
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
struct FlatBot {
    kind: String,
    #[serde(default)]
    article: Option<ArticleLink>,
    #[serde(default)]
    confidence: Option<f32>,
    #[serde(default)]
    reason: Option<EscalationReason>,
}

impl FlatBot {
    fn typed(self) -> Option<BotDetail> {
        Some(match self.kind.as_str() {
            "answer" => BotDetail::Answer {
                article: self.article?,
                confidence: self.confidence?,
            },
            "no_answer" => BotDetail::NoAnswer {
                reason: self.reason?,
                confidence: self.confidence?,
            },
            "handoff_requested" => BotDetail::HandoffRequested { reason: self.reason? },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;

    fn message(seq: u64, bot: Option<BotDetail>) -> Message {
        Message {
            seq,
            id: format!("m{seq}"),
            role: if bot.is_some() { Role::Bot } else { Role::Visitor },
            text: format!("text {seq} \"quoted\" ünïcode"),
            at: 1_700_000_000_000 + seq,
            reply_to: bot.as_ref().map(|_| "m1".to_owned()),
            bot,
            channel: Channel::Whatsapp,
            origin: (seq == 3).then(|| "c_other".to_owned()),
            helpful: (seq == 2).then_some(false),
        }
    }

    fn every_frame() -> Vec<ServerFrame> {
        let answer = BotDetail::Answer {
            article: ArticleLink {
                id: "refunds".into(),
                title: "Refund policy".into(),
                url: Some("https://help.example.com/refunds".into()),
            },
            confidence: 0.875,
        };
        let no_answer = BotDetail::NoAnswer {
            reason: EscalationReason::Ambiguous,
            confidence: 0.25,
        };
        let handoff = BotDetail::HandoffRequested {
            reason: EscalationReason::VisitorAsked,
        };
        let all = vec![
            message(1, None),
            message(2, Some(answer)),
            message(3, Some(no_answer)),
            message(4, Some(handoff)),
        ];
        vec![
            ServerFrame::History {
                messages: all.clone(),
                status: ConversationStatus::Bot,
            },
            ServerFrame::Reset {
                messages: all.clone(),
                status: ConversationStatus::WaitingForHuman,
            },
            ServerFrame::Moved,
            ServerFrame::Message {
                message: all[1].clone(),
            },
            ServerFrame::Status {
                status: ConversationStatus::WaitingForHuman,
            },
            ServerFrame::Typing {
                role: Role::Agent,
                name: Some("Priya".into()),
            },
            ServerFrame::Typing {
                role: Role::Bot,
                name: None,
            },
            ServerFrame::Error {
                reply_to: Some("m9".into()),
                error: ErrorBody {
                    retry_after_ms: Some(1500),
                    ..ErrorBody::new(ErrorCode::RateLimited, "slow down")
                },
            },
        ]
    }

    #[test]
    fn every_frame_the_edge_sends_decodes_to_the_same_value() {
        for frame in every_frame() {
            let text = serde_json::to_string(&frame).unwrap();
            assert_eq!(server_frame(&text), Some(frame), "{text}");
        }
    }

    #[test]
    fn transcripts_decode_and_bad_input_is_refused() {
        let ServerFrame::History { messages: all, .. } = every_frame().remove(0) else {
            unreachable!()
        };
        let text = serde_json::json!({ "messages": all, "status": "waiting_for_human" }).to_string();
        assert_eq!(
            messages(&text),
            Some((all.clone(), Some(ConversationStatus::WaitingForHuman)))
        );
        let text = serde_json::json!({ "messages": all }).to_string();
        assert_eq!(messages(&text), Some((all, None)));
        for bad in [
            "",
            "{}",
            r#"{"type": "teleport"}"#,
            r#"{"type": "status"}"#,
            r#"{"type": "message", "message": {"seq": 1}}"#,
            r#"{"type": "message", "message": {"seq": 1, "id": "a", "role": "bot", "text": "t", "at": 1, "bot": {"kind": "answer"}}}"#,
        ] {
            assert_eq!(server_frame(bad), None, "{bad}");
        }
    }
}
