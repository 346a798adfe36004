//! Reading what the edge sends the widget without serde: `Json::parse` (crate::json), then each
//! type picked out of the tree by hand. serde's derived visitors, float parsing and formatting
//! were a fifth of the widget's Wasm (111 KB of 596); this is a few kilobytes. Same JSON and same types as
//! the edge's derived impls, which the tests below check value for value; the edge and every
//! other client keep serde. Decoding is lenient where the widget can carry on (an optional field
//! of the wrong type reads as absent) and refuses a value whose required fields are missing.

use crate::continuation::{Invitation, Target};
use crate::json::Json;
use crate::widget_settings::{Day, FieldKind, Hours, LauncherIcon, Opening, Position, PreChatField, WidgetSettings};

use super::{
    ArticleLink, BotDetail, CallEvent, CallNote, CallOutcome, Channel, ConversationStatus, EmailCodeResponse,
    ErrorBody, ErrorCode, EscalationReason, IdentifyResponse, Message, Role, ServerFrame, SessionResponse,
    WidgetConfig,
};

/// A unit enum's names on the wire (its serde names), listed once by `wire_names!`.
pub trait WireName: Sized + Copy + 'static {
    /// Every variant.
    const ALL: &'static [Self];

    fn wire_name(self) -> &'static str;

    fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.wire_name() == name)
    }
}

/// Implements [`WireName`] from `Type { Variant = "name", ... }`; the match is exhaustive, so a
/// new variant without a name does not compile.
macro_rules! wire_names {
    ($type:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl WireName for $type {
            const ALL: &'static [$type] = &[$($type::$variant),+];

            fn wire_name(self) -> &'static str {
                match self {
                    $($type::$variant => $name),+
                }
            }
        }
    };
}

/// A value the widget reads from a JSON tree.
pub trait FromJson: Sized {
    fn from_json(json: &Json) -> Option<Self>;
}

impl<T: WireName> FromJson for T {
    fn from_json(json: &Json) -> Option<T> {
        T::from_wire(json.as_str()?)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(json: &Json) -> Option<Vec<T>> {
        json.as_array()?.iter().map(T::from_json).collect()
    }
}

/// Parses `text` as a `T`.
pub fn decode<T: FromJson>(text: &str) -> Option<T> {
    T::from_json(&Json::parse(text)?)
}

/// The member `key` as a `T`; `None` when it is missing, `null` or not a `T`.
pub fn field<T: FromJson>(json: &Json, key: &str) -> Option<T> {
    T::from_json(json.get(key)?)
}

/// Parses a live frame.
pub fn server_frame(text: &str) -> Option<ServerFrame> {
    decode(text)
}

/// Parses `{"messages": [...], ...}` (a transcript or a send's reply): the messages, and the
/// conversation's status when the body has one.
pub fn messages(text: &str) -> Option<(Vec<Message>, Option<ConversationStatus>)> {
    let json = Json::parse(text)?;
    Some((field(&json, "messages")?, field(&json, "status")))
}

impl FromJson for ServerFrame {
    fn from_json(json: &Json) -> Option<ServerFrame> {
        Some(match json.str("type")? {
            "history" => ServerFrame::History {
                messages: field(json, "messages")?,
                status: field(json, "status")?,
            },
            "reset" => ServerFrame::Reset {
                messages: field(json, "messages")?,
                status: field(json, "status")?,
            },
            "moved" => ServerFrame::Moved,
            "message" => ServerFrame::Message {
                message: field(json, "message")?,
            },
            "status" => ServerFrame::Status {
                status: field(json, "status")?,
            },
            "typing" => ServerFrame::Typing {
                role: field(json, "role")?,
                name: json.string("name"),
            },
            "error" => ServerFrame::Error {
                reply_to: json.string("reply_to"),
                error: field(json, "error")?,
            },
            _ => return None,
        })
    }
}

impl FromJson for Message {
    fn from_json(json: &Json) -> Option<Message> {
        Some(Message {
            seq: json.u64("seq")?,
            id: json.string("id")?,
            role: field(json, "role")?,
            text: json.string("text")?,
            at: json.u64("at")?,
            reply_to: json.string("reply_to"),
            // A detail this build cannot read (a newer kind) leaves the message plain text.
            bot: field(json, "bot"),
            channel: field(json, "channel").unwrap_or_default(),
            origin: json.string("origin"),
            helpful: json.bool("helpful"),
        })
    }
}

impl FromJson for BotDetail {
    fn from_json(json: &Json) -> Option<BotDetail> {
        let confidence = || json.get("confidence")?.as_f64().map(|c| c as f32);
        Some(match json.str("kind")? {
            "answer" => BotDetail::Answer {
                article: field(json, "article")?,
                confidence: confidence()?,
            },
            "no_answer" => BotDetail::NoAnswer {
                reason: field(json, "reason")?,
                confidence: confidence()?,
            },
            "handoff_requested" => BotDetail::HandoffRequested {
                reason: field(json, "reason")?,
            },
            "call" => BotDetail::Call(Box::new(CallNote {
                call_sid: json.string("call_sid")?,
                event: field(json, "event")?,
                from: json.string("from"),
                verified: json.bool("verified").unwrap_or(false),
                to: json.string("to"),
                duration_secs: json.u64("duration_secs"),
                outcome: field(json, "outcome"),
                recording_url: json.string("recording_url"),
            })),
            "bug_fixed" => BotDetail::BugFixed {
                issue: json.string("issue")?,
            },
            _ => return None,
        })
    }
}

impl FromJson for ArticleLink {
    fn from_json(json: &Json) -> Option<ArticleLink> {
        Some(ArticleLink {
            id: json.string("id")?,
            title: json.string("title")?,
            url: json.string("url"),
        })
    }
}

/// An error response's body, `{"error": {...}}`.
pub fn error_envelope(text: &str) -> Option<ErrorBody> {
    field(&Json::parse(text)?, "error")
}

impl FromJson for ErrorBody {
    fn from_json(json: &Json) -> Option<ErrorBody> {
        Some(ErrorBody {
            // A code this build does not know reads as `unknown`, as with serde.
            code: ErrorCode::from_wire(json.str("code")?).unwrap_or(ErrorCode::Unknown),
            message: json.string("message")?,
            field: json.string("field"),
            limit: json.u64("limit"),
            retry_after_ms: json.u64("retry_after_ms"),
        })
    }
}

impl FromJson for SessionResponse {
    fn from_json(json: &Json) -> Option<SessionResponse> {
        Some(SessionResponse {
            token: json.string("token")?,
            visitor_id: json.string("visitor_id")?,
            expires_at: json.u64("expires_at")?,
        })
    }
}

impl FromJson for IdentifyResponse {
    fn from_json(json: &Json) -> Option<IdentifyResponse> {
        Some(IdentifyResponse {
            token: json.string("token")?,
            visitor_id: json.string("visitor_id")?,
            expires_at: json.u64("expires_at")?,
            outcome: json.string("outcome")?,
        })
    }
}

impl FromJson for EmailCodeResponse {
    fn from_json(json: &Json) -> Option<EmailCodeResponse> {
        Some(EmailCodeResponse {
            sent_to: json.string("sent_to")?,
            expires_at: json.u64("expires_at")?,
        })
    }
}

impl FromJson for Invitation {
    fn from_json(json: &Json) -> Option<Invitation> {
        Some(Invitation {
            channel: field(json, "channel")?,
            code: json.string("code")?,
            to: json.string("to")?,
            link: json.string("link")?,
            text: json.string("text")?,
            expires_at: json.u64("expires_at")?,
        })
    }
}

impl FromJson for WidgetConfig {
    fn from_json(json: &Json) -> Option<WidgetConfig> {
        Some(WidgetConfig {
            site: json.string("site")?,
            name: json.string("name")?,
            widget: field(json, "widget")?,
            launcher_path: json.string("launcher_path")?,
            accent: json.string("accent")?,
            on_accent: json.string("on_accent")?,
            locale: json.string("locale").unwrap_or_default(),
            format_tag: json.string("format_tag").unwrap_or_default(),
            strings: field(json, "strings").unwrap_or_default(),
            theme_css: json.string("theme_css").unwrap_or_default(),
        })
    }
}

impl FromJson for String {
    fn from_json(json: &Json) -> Option<String> {
        json.as_str().map(str::to_owned)
    }
}

/// Lenient: a setting the widget cannot read takes its default, so a newer edge's value never
/// costs the visitor the whole configuration.
impl FromJson for WidgetSettings {
    fn from_json(json: &Json) -> Option<WidgetSettings> {
        Some(WidgetSettings {
            locale: json.string("locale"),
            color: json.string("color"),
            position: field(json, "position").unwrap_or_default(),
            launcher_icon: field(json, "launcher_icon").unwrap_or_default(),
            greeting: json.string("greeting"),
            pre_chat: field(json, "pre_chat").unwrap_or_default(),
            hours: field(json, "hours"),
        })
    }
}

impl FromJson for PreChatField {
    fn from_json(json: &Json) -> Option<PreChatField> {
        Some(PreChatField {
            name: json.string("name")?,
            label: json.string("label")?,
            kind: field(json, "type").unwrap_or_default(),
            required: json.bool("required").unwrap_or(false),
        })
    }
}

impl FromJson for Hours {
    fn from_json(json: &Json) -> Option<Hours> {
        Some(Hours {
            time_zone: json.string("time_zone")?,
            weekly: field(json, "weekly")?,
        })
    }
}

impl FromJson for Opening {
    fn from_json(json: &Json) -> Option<Opening> {
        Some(Opening {
            days: field(json, "days")?,
            from: json.string("from")?,
            to: json.string("to")?,
        })
    }
}

wire_names!(Role { Visitor = "visitor", Bot = "bot", Agent = "agent" });
wire_names!(ConversationStatus { Bot = "bot", WaitingForHuman = "waiting_for_human" });
wire_names!(Channel {
    Chat = "chat",
    Email = "email",
    Sms = "sms",
    Whatsapp = "whatsapp",
    Messenger = "messenger",
    Instagram = "instagram",
    Telegram = "telegram",
    Phone = "phone",
});
wire_names!(EscalationReason {
    NoMatch = "no_match",
    Ambiguous = "ambiguous",
    NoKnowledgeBase = "no_knowledge_base",
    VisitorAsked = "visitor_asked",
    RepeatedFailure = "repeated_failure",
    Urgent = "urgent",
    Upset = "upset",
    HumanOnlyTopic = "human_only_topic",
    HighValueCustomer = "high_value_customer",
});
wire_names!(CallEvent { Started = "started", Transferred = "transferred", Voicemail = "voicemail", Ended = "ended" });
wire_names!(CallOutcome {
    Bot = "bot",
    Answered = "answered",
    Voicemail = "voicemail",
    Missed = "missed",
    Abandoned = "abandoned",
});
wire_names!(ErrorCode {
    UnknownSite = "unknown_site",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    OriginNotAllowed = "origin_not_allowed",
    MissingToken = "missing_token",
    InvalidToken = "invalid_token",
    TokenExpired = "token_expired",
    TokenWrongSite = "token_wrong_site",
    InvalidKey = "invalid_key",
    MalformedJson = "malformed_json",
    InvalidField = "invalid_field",
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    UpgradeRequired = "upgrade_required",
    RateLimited = "rate_limited",
    SiteExists = "site_exists",
    Superseded = "superseded",
    IdentityInvalid = "identity_invalid",
    IdentityExpired = "identity_expired",
    IdentityWrongSite = "identity_wrong_site",
    IdentityNotConfigured = "identity_not_configured",
    CodeInvalid = "code_invalid",
    CodeExpired = "code_expired",
    CodeUsed = "code_used",
    CodeAttemptsExceeded = "code_attempts_exceeded",
    EmailUnavailable = "email_unavailable",
    EmailFailed = "email_failed",
    NotAMember = "not_a_member",
    UnknownProfile = "unknown_profile",
    UnknownMerge = "unknown_merge",
    UnknownConversation = "unknown_conversation",
    MergeNotUndoable = "merge_not_undoable",
    TooManySecrets = "too_many_secrets",
    UnknownSecret = "unknown_secret",
    MalformedEmail = "malformed_email",
    UnknownRecipient = "unknown_recipient",
    InvalidSignature = "invalid_signature",
    ChannelUnavailable = "channel_unavailable",
    IntegrationFailed = "integration_failed",
    Internal = "internal",
    Unknown = "unknown",
});
wire_names!(Target { Email = "email", Sms = "sms", Whatsapp = "whatsapp", Telegram = "telegram" });
wire_names!(Position { Right = "right", Left = "left" });
wire_names!(LauncherIcon { Chat = "chat", Help = "help", Headset = "headset", Mail = "mail" });
wire_names!(FieldKind { Text = "text", Email = "email", Tel = "tel" });
wire_names!(Day { Mon = "mon", Tue = "tue", Wed = "wed", Thu = "thu", Fri = "fri", Sat = "sat", Sun = "sun" });

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::*;

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
        let call = BotDetail::Call(Box::new(CallNote {
            call_sid: "CA0123456789abcdef0123456789abcdef".into(),
            event: CallEvent::Ended,
            from: Some("+15551234567".into()),
            verified: true,
            to: None,
            duration_secs: Some(95),
            outcome: Some(CallOutcome::Voicemail),
            recording_url: Some("https://api.twilio.com/rec/RE1".into()),
        }));
        let fixed = BotDetail::BugFixed { issue: "ENG-7".into() };
        let all = vec![
            message(1, None),
            message(2, Some(answer)),
            message(3, Some(no_answer)),
            message(4, Some(handoff)),
            message(5, Some(call)),
            message(6, Some(fixed)),
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
        ] {
            assert_eq!(server_frame(bad), None, "{bad}");
        }
        // A bot detail the widget cannot read costs the detail, not the message.
        for detail in [r#"{"kind": "answer"}"#, r#"{"kind": "hologram"}"#, "7"] {
            let text = format!(
                r#"{{"type": "message", "message": {{"seq": 1, "id": "a", "role": "bot", "text": "t", "at": 1, "bot": {detail}}}}}"#
            );
            let Some(ServerFrame::Message { message }) = server_frame(&text) else {
                panic!("{text}")
            };
            assert_eq!((message.text.as_str(), message.bot), ("t", None));
        }
    }

    /// Every name `wire_names!` lists is the variant's serde name, both ways.
    fn names_match_serde<T: WireName + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>() {
        for &value in T::ALL {
            let name = value.wire_name();
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::Value::from(name));
            assert_eq!(serde_json::from_value::<T>(name.into()).unwrap(), value);
            assert_eq!(T::from_wire(name), Some(value));
        }
        assert_eq!(T::from_wire("no_such_name"), None);
    }

    #[test]
    fn wire_names_are_serde_names() {
        names_match_serde::<Role>();
        names_match_serde::<ConversationStatus>();
        names_match_serde::<Channel>();
        names_match_serde::<EscalationReason>();
        names_match_serde::<CallEvent>();
        names_match_serde::<CallOutcome>();
        names_match_serde::<ErrorCode>();
        names_match_serde::<Target>();
        names_match_serde::<Position>();
        names_match_serde::<LauncherIcon>();
        names_match_serde::<FieldKind>();
        names_match_serde::<Day>();
    }

    /// What serde writes, this module reads back to the same value.
    fn round_trip<T: FromJson + Serialize + PartialEq + std::fmt::Debug>(value: T) {
        let text = serde_json::to_string(&value).unwrap();
        assert_eq!(decode::<T>(&text), Some(value), "{text}");
    }

    #[test]
    fn every_response_the_widget_reads_decodes_to_the_same_value() {
        round_trip(SessionResponse {
            token: "t.k\"n".into(),
            visitor_id: "v_1".into(),
            expires_at: 1_800_000_000,
        });
        round_trip(IdentifyResponse {
            token: "tok".into(),
            visitor_id: "v_2".into(),
            expires_at: 1_800_000_001,
            outcome: "merged".into(),
        });
        round_trip(EmailCodeResponse {
            sent_to: "a***@example.com".into(),
            expires_at: 1_800_000_002,
        });
        round_trip(crate::continuation::invitation(
            Target::Whatsapp,
            "Acme & Co",
            "K7QX-2MPA",
            "+15550001111",
            1_800_000_003,
        ));
        round_trip(ErrorBody {
            field: Some("text".into()),
            limit: Some(4000),
            ..ErrorBody::new(ErrorCode::PayloadTooLarge, "too long")
        });
        let settings: WidgetSettings = serde_json::from_value(serde_json::json!({
            "locale": "de",
            "color": "#0a7d3b",
            "position": "left",
            "launcher_icon": "headset",
            "greeting": "Hallo! <b>not bold</b>",
            "pre_chat": [
                {"name": "email", "label": "E-Mail", "type": "email", "required": true},
                {"name": "order", "label": "Bestellung"}
            ],
            "hours": {"time_zone": "Europe/Berlin", "weekly": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:30"},
                {"days": ["sat"], "from": "10:00", "to": "24:00"}
            ]}
        }))
        .unwrap();
        for languages in ["de-AT,en", "en"] {
            round_trip(WidgetConfig::for_visitor(
                "acme".into(),
                "Acme".into(),
                settings.clone(),
                languages,
            ));
        }
        round_trip(WidgetConfig::for_visitor(
            "plain".into(),
            "Plain".into(),
            WidgetSettings::default(),
            "ja-JP",
        ));
        // The envelope, and a code newer than this build.
        let text = r#"{"error": {"code": "quantum_flux", "message": "new"}}"#;
        assert_eq!(error_envelope(text), Some(ErrorBody::new(ErrorCode::Unknown, "new")));
        assert_eq!(error_envelope(r#"{"error": {"message": "no code"}}"#), None);
    }

    #[test]
    fn a_setting_the_widget_cannot_read_takes_its_default() {
        let text = r##"{"position": "middle", "launcher_icon": 3, "color": "#112233", "pre_chat": "x"}"##;
        let settings = decode::<WidgetSettings>(text).unwrap();
        assert_eq!(settings.position, Position::Right);
        assert_eq!(settings.launcher_icon, LauncherIcon::Chat);
        assert_eq!(settings.color.as_deref(), Some("#112233"));
        assert!(settings.pre_chat.is_empty());
    }
}
