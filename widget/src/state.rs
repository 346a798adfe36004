//! The chat panel's state and how each event changes it, as plain data and functions so every
//! transition is tested natively. The view only renders this; the transport only feeds it.

use crate::unicode;
use shared::continuation::{Invitation, Target};
use shared::i18n::{Text, Words};
use shared::limits::SESSION_TTL_SECS;
use shared::widget_settings::{Day, FieldKind, MAX_FIELD_VALUE_CHARS, PreChatField, parse_clock};
use shared::wire::{ClientFrame, ConversationStatus, ErrorBody, ErrorCode, Message, Role, ServerFrame};

/// What the visitor wrote that the edge has not confirmed yet, in the order written.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub id: String,
    pub kind: OutgoingKind,
    /// Why the edge refused it, in words for the visitor. Refused messages are not resent.
    pub failed: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OutgoingKind {
    Text(String),
    RequestHuman,
}

impl Outgoing {
    pub fn frame(&self) -> ClientFrame {
        match &self.kind {
            OutgoingKind::Text(text) => ClientFrame::Send {
                id: self.id.clone(),
                text: text.clone(),
            },
            OutgoingKind::RequestHuman => ClientFrame::RequestHuman { id: self.id.clone() },
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chat {
    /// Confirmed messages, ordered by `seq`, each once.
    pub messages: Vec<Message>,
    pub outbox: Vec<Outgoing>,
    pub status: ConversationStatus,
    /// A person on the team is writing (their name, if known), since typing frame `typing_seq`.
    pub typing: Option<Option<String>>,
    pub typing_seq: u32,
    /// The one-tap satisfaction rating offered once a person resolved the conversation.
    pub rating: RatingPrompt,
    /// What the widget itself says, in the visitor's language.
    pub words: Words,
}

/// "How did we do?" after a person resolved the conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RatingPrompt {
    #[default]
    Hidden,
    Asking,
    /// Rated (1 to 5).
    Thanks(u8),
}

/// How long a "typing" signal lasts unless repeated, in milliseconds.
pub const TYPING_SHOWN_MS: u32 = 6_000;

/// How long after the visitor's message the bot is shown writing, at most, in milliseconds.
pub const BOT_TYPING_MS: u64 = 20_000;

/// One line of the rendered conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    Stored(Message),
    Pending {
        id: String,
        text: String,
        failed: Option<String>,
    },
}

impl Row {
    /// A key that changes whenever the row must be redrawn.
    pub fn key(&self) -> String {
        match self {
            Row::Stored(message) => format!("s{}", message.seq),
            Row::Pending { id, failed, .. } => format!("p{id}{}", if failed.is_some() { "!" } else { "" }),
        }
    }
}

impl Chat {
    pub fn last_seq(&self) -> Option<u64> {
        self.messages.last().map(|m| m.seq)
    }

    /// Applies a frame from the edge. Returns a notice for the visitor when the frame is an error
    /// that does not belong to one of their messages.
    pub fn receive(&mut self, frame: ServerFrame) -> Option<String> {
        match frame {
            ServerFrame::History { messages, status } => {
                for message in messages {
                    self.store(message);
                }
                self.status = status;
                None
            }
            ServerFrame::Reset { messages, status } => {
                self.messages.clear();
                for message in messages {
                    self.store(message);
                }
                self.status = status;
                None
            }
            ServerFrame::Message { message } => {
                self.store(message);
                None
            }
            ServerFrame::Status { status } => {
                // A person handed the conversation back to the bot: they resolved it.
                if self.status == ConversationStatus::WaitingForHuman && status == ConversationStatus::Bot {
                    self.rating = RatingPrompt::Asking;
                }
                self.status = status;
                None
            }
            ServerFrame::Typing { role, name } => {
                if role == Role::Agent {
                    self.typing = Some(name);
                    self.typing_seq = self.typing_seq.wrapping_add(1);
                }
                None
            }
            // The transport renews the session and reloads; nothing to change here yet.
            ServerFrame::Moved => None,
            ServerFrame::Error { reply_to, error } => {
                let text = describe(&error, self.words);
                match reply_to.and_then(|id| self.outbox.iter_mut().find(|o| o.id == id)) {
                    Some(outgoing) if is_final(error.code) => {
                        outgoing.failed = Some(text);
                        None
                    }
                    _ => Some(text),
                }
            }
        }
    }

    /// What the page hears of `frame` through `Threadline('on', ...)`, decided before it is
    /// applied: a reply that is new (`message`), and the conversation going to a person
    /// (`escalated`). History loaded on connect is not news.
    pub fn events_for(&self, frame: &ServerFrame) -> Vec<WidgetEvent> {
        let mut events = Vec::new();
        let escalates = match frame {
            ServerFrame::Message { message } => {
                if message.role != Role::Visitor && self.messages.binary_search_by_key(&message.seq, |m| m.seq).is_err()
                {
                    events.push(WidgetEvent::Message(message.clone()));
                }
                matches!(message.bot, Some(shared::wire::BotDetail::HandoffRequested { .. }))
            }
            ServerFrame::Status { status } => *status == ConversationStatus::WaitingForHuman,
            _ => false,
        };
        if escalates && self.status == ConversationStatus::Bot {
            events.push(WidgetEvent::Escalated);
        }
        events
    }

    /// Ends the typing signal started by frame `seq`, unless a newer one came since.
    pub fn typing_expired(&mut self, seq: u32) {
        if self.typing_seq == seq {
            self.typing = None;
        }
    }

    /// Who is shown writing at `now_ms`: a person on the team (by name when known), or the bot
    /// while it has the conversation and the visitor's newest message awaits its answer.
    pub fn writer(&self, now_ms: u64) -> Option<String> {
        if let Some(name) = &self.typing {
            return Some(
                name.clone()
                    .unwrap_or_else(|| self.words.text(Text::Support).to_owned()),
            );
        }
        let waiting = self.outbox.iter().any(|o| o.failed.is_none())
            || self
                .messages
                .last()
                .is_some_and(|m| m.role == Role::Visitor && now_ms.saturating_sub(m.at) < BOT_TYPING_MS);
        (self.status == ConversationStatus::Bot && waiting).then(|| self.words.text(Text::Support).to_owned())
    }

    fn store(&mut self, message: Message) {
        self.outbox.retain(|o| o.id != message.id);
        if message.role == Role::Agent {
            self.typing = None;
        }
        if message.role == Role::Bot
            && message
                .bot
                .as_ref()
                .is_some_and(|b| matches!(b, shared::wire::BotDetail::HandoffRequested { .. }))
        {
            self.status = ConversationStatus::WaitingForHuman;
        }
        match self.messages.binary_search_by_key(&message.seq, |m| m.seq) {
            Ok(_) => {}
            Err(position) => self.messages.insert(position, message),
        }
    }

    pub fn queue(&mut self, id: String, kind: OutgoingKind) {
        self.outbox.push(Outgoing { id, kind, failed: None });
    }

    /// Frames still to be sent (or resent after a reconnect), in the order written. Sending one
    /// twice is harmless: the edge stores each id once.
    pub fn unsent(&self) -> Vec<ClientFrame> {
        self.outbox
            .iter()
            .filter(|o| o.failed.is_none())
            .map(Outgoing::frame)
            .collect()
    }

    /// Gives up on a refused message (the visitor dismissed it).
    pub fn dismiss(&mut self, id: &str) {
        self.outbox.retain(|o| o.id != id);
    }

    pub fn rows(&self) -> Vec<Row> {
        let stored = self.messages.iter().cloned().map(Row::Stored);
        let pending = self.outbox.iter().map(|o| Row::Pending {
            id: o.id.clone(),
            text: match &o.kind {
                OutgoingKind::Text(text) => text.clone(),
                OutgoingKind::RequestHuman => self.words.text(Text::TalkToPerson).to_owned(),
            },
            failed: o.failed.clone(),
        });
        stored.chain(pending).collect()
    }

    /// Whether the last bot message offers a person (it had no answer, or the visitor said its
    /// answer did not help) and the conversation does not have one yet.
    pub fn offers_person(&self) -> bool {
        self.status == ConversationStatus::Bot
            && self.messages.last().is_some_and(|m| match m.bot {
                Some(shared::wire::BotDetail::NoAnswer { .. }) => true,
                Some(shared::wire::BotDetail::Answer { .. }) => m.helpful == Some(false),
                _ => false,
            })
            && !self.outbox.iter().any(|o| o.kind == OutgoingKind::RequestHuman)
    }

    /// Replies (from the bot or a person) newer than `seen`, the last message the visitor saw
    /// with the panel open; none before they ever opened it.
    pub fn unread_after(&self, seen: Option<u64>) -> usize {
        seen.map_or(0, |seen| {
            self.messages
                .iter()
                .filter(|m| m.seq > seen && m.role != Role::Visitor)
                .count()
        })
    }

    /// The newest message, when it is a bot answer: the one "Did that help?" is about.
    pub fn last_answer(&self) -> Option<&Message> {
        self.messages
            .last()
            .filter(|m| m.role == Role::Bot && matches!(m.bot, Some(shared::wire::BotDetail::Answer { .. })))
    }

    /// Records the visitor's "did that help?" on message `id` (shown at once; the edge confirms).
    pub fn set_helpful(&mut self, id: &str, helpful: Option<bool>) {
        if let Some(message) = self.messages.iter_mut().find(|m| m.id == id) {
            message.helpful = helpful;
        }
    }
}

/// Errors about a message that resending will not fix.
fn is_final(code: ErrorCode) -> bool {
    !matches!(code, ErrorCode::Internal | ErrorCode::Unknown)
}

/// Words for the visitor, for each error the edge can send. Never blank, never a raw code.
pub fn describe(error: &ErrorBody, words: Words) -> String {
    let text = |key| words.text(key).to_owned();
    match error.code {
        ErrorCode::UnknownSite => text(Text::ErrUnknownSite),
        ErrorCode::OriginNotAllowed => text(Text::ErrOriginNotAllowed),
        ErrorCode::MissingToken | ErrorCode::InvalidToken | ErrorCode::TokenExpired | ErrorCode::TokenWrongSite => {
            text(Text::ErrSessionEnded)
        }
        ErrorCode::PayloadTooLarge => match error.limit {
            Some(limit) => words.fill(Text::ErrTooLongLimit, &[("limit", &limit.to_string())]),
            None => text(Text::ErrTooLong),
        },
        ErrorCode::RateLimited => match error.retry_after_ms {
            Some(ms) => words.fill(Text::ErrRateLimitedFor, &[("seconds", &ms.div_ceil(1000).to_string())]),
            None => text(Text::ErrRateLimited),
        },
        ErrorCode::InvalidField | ErrorCode::MalformedJson => {
            words.fill(Text::ErrRefused, &[("reason", error.message.trim_end_matches('.'))])
        }
        ErrorCode::IdentityInvalid
        | ErrorCode::IdentityExpired
        | ErrorCode::IdentityWrongSite
        | ErrorCode::IdentityNotConfigured => text(Text::ErrIdentity),
        ErrorCode::CodeInvalid => text(Text::ErrCodeInvalid),
        ErrorCode::CodeExpired => text(Text::ErrCodeExpired),
        ErrorCode::CodeUsed => text(Text::ErrCodeUsed),
        ErrorCode::CodeAttemptsExceeded => text(Text::ErrCodeAttempts),
        ErrorCode::ChannelUnavailable => text(Text::ErrChannelUnavailable),
        ErrorCode::EmailUnavailable | ErrorCode::EmailFailed => text(Text::ErrEmail),
        ErrorCode::NotFound
        | ErrorCode::MethodNotAllowed
        | ErrorCode::InvalidKey
        | ErrorCode::SiteExists
        | ErrorCode::Superseded
        | ErrorCode::NotAMember
        | ErrorCode::UnknownProfile
        | ErrorCode::UnknownMerge
        | ErrorCode::UnknownConversation
        | ErrorCode::MergeNotUndoable
        | ErrorCode::TooManySecrets
        | ErrorCode::UnknownSecret
        | ErrorCode::MalformedEmail
        | ErrorCode::UnknownRecipient
        | ErrorCode::InvalidSignature
        | ErrorCode::IntegrationFailed
        | ErrorCode::UnsupportedMediaType
        | ErrorCode::UpgradeRequired
        | ErrorCode::Internal
        | ErrorCode::Unknown => text(Text::ErrInternal),
    }
}

/// Whether an error means the stored session token is useless, so the widget should get a new
/// one rather than show an error.
pub fn is_session_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::MissingToken
            | ErrorCode::InvalidToken
            | ErrorCode::TokenExpired
            | ErrorCode::TokenWrongSite
            | ErrorCode::NotAMember
    )
}

/// Whether an error means this page can never chat (no point retrying).
pub fn is_fatal(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::UnknownSite | ErrorCode::OriginNotAllowed)
}

/// The session as the widget keeps it in `localStorage`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSession {
    pub token: String,
    pub visitor_id: String,
    pub expires_at: u64,
}

impl shared::wire::lite::FromJson for StoredSession {
    fn from_json(json: &shared::json::Json) -> Option<StoredSession> {
        Some(StoredSession {
            token: json.string("token")?,
            visitor_id: json.string("visitor_id")?,
            expires_at: json.u64("expires_at")?,
        })
    }
}

impl StoredSession {
    /// Past half its life (or expired), so it should be swapped for a fresh one.
    pub fn needs_renewal(&self, now_secs: u64) -> bool {
        now_secs + SESSION_TTL_SECS / 2 >= self.expires_at
    }

    pub fn expired(&self, now_secs: u64) -> bool {
        now_secs >= self.expires_at
    }
}

/// The "continue on any device" offer for an email address the visitor typed: a code is sent
/// there, and entering it joins this chat to the profile that address belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EmailCheck {
    /// Nothing to offer.
    #[default]
    Idle,
    /// The visitor typed `email`; offer to send a code.
    Offered {
        email: String,
    },
    Sending {
        email: String,
    },
    /// A code went to `email` (shown masked as `sent_to`).
    CodeSent {
        email: String,
        sent_to: String,
        error: Option<String>,
    },
    Verifying {
        email: String,
        sent_to: String,
    },
    /// Verified: this chat now belongs to the address's profile.
    Verified {
        email: String,
    },
    /// Sending failed; the visitor may try again.
    Failed {
        email: String,
        error: String,
    },
}

impl EmailCheck {
    pub fn email(&self) -> Option<&str> {
        match self {
            EmailCheck::Idle => None,
            EmailCheck::Offered { email }
            | EmailCheck::Sending { email }
            | EmailCheck::CodeSent { email, .. }
            | EmailCheck::Verifying { email, .. }
            | EmailCheck::Verified { email }
            | EmailCheck::Failed { email, .. } => Some(email),
        }
    }

    /// After the visitor's message `text`: offer to verify an address in it, unless one is
    /// already being verified or was verified or declined (`declined` lists those).
    pub fn after_message(self, text: &str, declined: &[String]) -> EmailCheck {
        let busy = matches!(
            self,
            EmailCheck::Sending { .. } | EmailCheck::CodeSent { .. } | EmailCheck::Verifying { .. }
        );
        match shared::identity::find_email_with(text, unicode::UNICODE) {
            Some(email) if !busy && !declined.contains(&email) && self.email() != Some(&email) => {
                EmailCheck::Offered { email }
            }
            _ => self,
        }
    }
}

/// An event the page can listen to with `Threadline('on', name, handler)`.
#[derive(Clone, Debug, PartialEq)]
pub enum WidgetEvent {
    /// A reply from the bot or a person arrived.
    Message(Message),
    /// The conversation went to the human queue.
    Escalated,
}

impl WidgetEvent {
    pub fn name(&self) -> &'static str {
        match self {
            WidgetEvent::Message(_) => "message",
            WidgetEvent::Escalated => "escalated",
        }
    }
}

/// "Continue on another channel": the visitor picks a channel, gets a deep link carrying a
/// one-time code, and the conversation follows them there once the code arrives from it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Moving {
    /// Offer it (when the site has any channel to move to).
    #[default]
    Closed,
    Choosing,
    Creating {
        channel: Target,
    },
    /// The link and code are shown until the code arrives from the channel.
    Ready {
        invitation: Invitation,
    },
    Failed {
        error: String,
    },
}

impl Moving {
    /// Whether `messages` hold the invitation's code, written on its channel: the move worked.
    pub fn arrived(&self, messages: &[Message]) -> bool {
        let Moving::Ready { invitation } = self else {
            return false;
        };
        messages.iter().any(|m| {
            m.role == Role::Visitor
                && m.channel == invitation.channel.channel()
                && shared::continuation::find_code(&m.text).as_deref() == Some(invitation.code.as_str())
        })
    }
}

/// A channel's name as the visitor knows it.
pub fn channel_name(target: Target, words: Words) -> &'static str {
    match target {
        Target::Email => words.text(Text::EmailChannel),
        Target::Sms => "SMS",
        Target::Whatsapp => "WhatsApp",
        Target::Telegram => "Telegram",
    }
}

/// The weekday and minute of the day in a time zone, from what `Date.toLocaleString('en-US',
/// { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })` wrote
/// (e.g. `Wed 09:05`).
pub fn zone_clock(text: &str) -> Option<(Day, u32)> {
    let day = Day::from_short(text.trim())?;
    let clock = text.trim().rsplit(' ').next()?;
    let minute = parse_clock(clock)?;
    Some((day, minute.min(24 * 60 - 1)))
}

/// The visitor's answers to the site's pre-chat fields, checked: the traits to keep, or the
/// first problem in words for the visitor (naming the field's label).
pub fn pre_chat_answers(
    fields: &[PreChatField],
    values: &[String],
    words: Words,
) -> Result<Vec<(String, String)>, String> {
    let mut answers = Vec::new();
    for (field, value) in fields
        .iter()
        .zip(values.iter().chain(std::iter::repeat(&String::new())))
    {
        let value: String = value.trim().chars().take(MAX_FIELD_VALUE_CHARS).collect();
        if value.is_empty() {
            if field.required {
                return Err(words.fill(Text::FieldRequired, &[("field", &field.label)]));
            }
            continue;
        }
        let value = if field.kind == FieldKind::Email {
            // Addresses are kept as the edge normalises them.
            let lower = unicode::lowercase(&value);
            if shared::identity::find_email_with(&lower, unicode::UNICODE).as_deref() != Some(lower.as_str()) {
                return Err(words.text(Text::EmailInvalid).to_owned());
            }
            lower
        } else {
            value
        };
        answers.push((field.name.clone(), value));
    }
    Ok(answers)
}

/// How long to wait before reconnect attempt `attempt` (0-based): exponential from half a second
/// to half a minute, scaled by `jitter` in `[0, 1)` so a thousand widgets do not reconnect in step
/// after an outage.
pub fn reconnect_delay_ms(attempt: u32, jitter: f64) -> u32 {
    let base = 500u64.saturating_mul(1u64 << attempt.min(16)).min(30_000) as f64;
    (base * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as u32
}

/// When the edge refuses to start or renew the chat for its rate limits (too many new chats on
/// the site or from this network): how long to wait, as it asked (1 s to 10 min), and what to
/// tell the visitor meanwhile. `None` for any other refusal.
pub fn busy(error: &ErrorBody, words: Words) -> Option<(u32, String)> {
    if error.code != ErrorCode::RateLimited {
        return None;
    }
    let wait = error.retry_after_ms.unwrap_or(5_000).clamp(1_000, 600_000) as u32;
    let seconds = wait.div_ceil(1000).to_string();
    Some((wait, words.fill(Text::ErrBusyFor, &[("seconds", &seconds)])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::i18n::Locale;
    use shared::wire::{BotDetail, EscalationReason};

    fn words(locale: Locale) -> Words {
        Words::from_table(locale.table())
    }

    fn message(seq: u64, id: &str, role: Role) -> Message {
        Message {
            seq,
            id: id.into(),
            role,
            text: format!("text {seq}"),
            at: seq * 1000,
            reply_to: None,
            bot: None,
            channel: Default::default(),
            origin: None,
            helpful: None,
        }
    }

    #[test]
    fn a_busy_site_says_when_the_widget_tries_again() {
        let limited = ErrorBody {
            retry_after_ms: Some(12_345),
            ..ErrorBody::new(ErrorCode::RateLimited, "too many new sessions")
        };
        let (wait, text) = busy(&limited, words(Locale::De)).unwrap();
        assert_eq!(wait, 12_345);
        assert_eq!(
            text,
            "Gerade chatten sehr viele Menschen. Neuer Versuch in 13 Sekunden."
        );
        let silent = ErrorBody::new(ErrorCode::RateLimited, "m");
        assert_eq!(busy(&silent, words(Locale::En)).unwrap().0, 5_000);
        assert_eq!(
            busy(&ErrorBody::new(ErrorCode::UnknownSite, "m"), words(Locale::En)),
            None
        );
    }

    #[test]
    fn confirmation_replaces_the_pending_copy() {
        let mut chat = Chat::default();
        chat.queue("a".into(), OutgoingKind::Text("hello".into()));
        assert_eq!(chat.rows().len(), 1);
        assert!(matches!(chat.rows()[0], Row::Pending { .. }));
        chat.receive(ServerFrame::Message {
            message: message(1, "a", Role::Visitor),
        });
        assert!(chat.outbox.is_empty());
        assert_eq!(chat.rows(), vec![Row::Stored(message(1, "a", Role::Visitor))]);
    }

    #[test]
    fn an_email_in_a_message_is_offered_for_verification_once() {
        let check = EmailCheck::Idle.after_message("reach me at Ana@Example.com please", &[]);
        assert_eq!(
            check,
            EmailCheck::Offered {
                email: "ana@example.com".into()
            }
        );
        // Declined addresses are not offered again; messages without one change nothing.
        assert_eq!(
            EmailCheck::Idle.after_message("ana@example.com", &["ana@example.com".into()]),
            EmailCheck::Idle
        );
        assert_eq!(check.clone().after_message("thanks!", &[]), check);
        // While a code is out, another address does not interrupt.
        let sent = EmailCheck::CodeSent {
            email: "ana@example.com".into(),
            sent_to: "a***@example.com".into(),
            error: None,
        };
        assert_eq!(sent.clone().after_message("or bo@example.com", &[]), sent);
        // Once verified, a new address can be offered.
        let verified = EmailCheck::Verified {
            email: "ana@example.com".into(),
        };
        assert_eq!(
            verified.after_message("my work address is bo@example.com", &[]),
            EmailCheck::Offered {
                email: "bo@example.com".into()
            }
        );
    }

    #[test]
    fn a_reset_replaces_the_whole_conversation() {
        let mut chat = Chat::default();
        chat.receive(ServerFrame::History {
            messages: vec![message(1, "a", Role::Visitor), message(2, "b", Role::Bot)],
            status: ConversationStatus::Bot,
        });
        chat.queue("p".into(), OutgoingKind::Text("still sending".into()));
        chat.receive(ServerFrame::Reset {
            messages: vec![
                message(1, "x", Role::Visitor),
                message(2, "a", Role::Visitor),
                message(3, "b", Role::Bot),
            ],
            status: ConversationStatus::WaitingForHuman,
        });
        let ids: Vec<&str> = chat.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, vec!["x", "a", "b"]);
        assert_eq!(chat.status, ConversationStatus::WaitingForHuman);
        // What the visitor is still sending survives.
        assert_eq!(chat.outbox.len(), 1);
    }

    #[test]
    fn messages_are_kept_once_and_in_order() {
        let mut chat = Chat::default();
        chat.receive(ServerFrame::Message {
            message: message(3, "c", Role::Bot),
        });
        chat.receive(ServerFrame::History {
            messages: vec![
                message(1, "a", Role::Visitor),
                message(2, "b", Role::Bot),
                message(3, "c", Role::Bot),
            ],
            status: ConversationStatus::Bot,
        });
        chat.receive(ServerFrame::Message {
            message: message(2, "b", Role::Bot),
        });
        let seqs: Vec<u64> = chat.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(chat.last_seq(), Some(3));
    }

    #[test]
    fn refusals_mark_the_message_and_stop_its_resend() {
        let mut chat = Chat::default();
        chat.queue("a".into(), OutgoingKind::Text("x".repeat(3000)));
        chat.queue("b".into(), OutgoingKind::Text("fine".into()));
        let error = ErrorBody::new(ErrorCode::PayloadTooLarge, "too long").with_limit(2000);
        assert_eq!(
            chat.receive(ServerFrame::Error {
                reply_to: Some("a".into()),
                error
            }),
            None
        );
        assert_eq!(
            chat.outbox[0].failed.as_deref(),
            Some("That message is too long: the limit is 2000 characters.")
        );
        assert_eq!(
            chat.unsent(),
            vec![ClientFrame::Send {
                id: "b".into(),
                text: "fine".into()
            }]
        );
        // A transient failure is shown but the message stays queued for resending.
        let notice = chat.receive(ServerFrame::Error {
            reply_to: Some("b".into()),
            error: ErrorBody::new(ErrorCode::Internal, "x"),
        });
        assert!(notice.is_some());
        assert_eq!(chat.unsent().len(), 1);
    }

    #[test]
    fn a_person_is_offered_after_no_answer_until_requested() {
        let mut chat = Chat::default();
        let mut no_answer = message(2, "bot:a", Role::Bot);
        no_answer.bot = Some(BotDetail::NoAnswer {
            reason: EscalationReason::NoMatch,
            confidence: 0.1,
        });
        chat.receive(ServerFrame::History {
            messages: vec![message(1, "a", Role::Visitor), no_answer],
            status: ConversationStatus::Bot,
        });
        assert!(chat.offers_person());
        chat.queue("h".into(), OutgoingKind::RequestHuman);
        assert!(!chat.offers_person());
        let mut confirmation = message(4, "bot:h", Role::Bot);
        confirmation.bot = Some(BotDetail::HandoffRequested {
            reason: EscalationReason::VisitorAsked,
        });
        chat.receive(ServerFrame::Message {
            message: message(3, "h", Role::Visitor),
        });
        chat.receive(ServerFrame::Message { message: confirmation });
        assert_eq!(chat.status, ConversationStatus::WaitingForHuman);
        assert!(!chat.offers_person());
    }

    #[test]
    fn every_error_code_has_words() {
        for code in [
            ErrorCode::UnknownSite,
            ErrorCode::OriginNotAllowed,
            ErrorCode::TokenExpired,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
        ] {
            let text = describe(&ErrorBody::new(code, "m"), Words::default());
            assert!(text.len() > 20 && !text.contains('_'), "{code:?}: {text}");
        }
    }

    #[test]
    fn errors_and_names_speak_the_visitors_language() {
        let limited = ErrorBody {
            retry_after_ms: Some(2_500),
            ..ErrorBody::new(ErrorCode::RateLimited, "m")
        };
        assert!(
            describe(&limited, words(Locale::De)).contains('3'),
            "{}",
            describe(&limited, words(Locale::De))
        );
        assert_ne!(
            describe(&limited, words(Locale::De)),
            describe(&limited, Words::default())
        );
        let chat = Chat {
            words: words(Locale::Ja),
            typing: Some(None),
            ..Chat::default()
        };
        assert_eq!(chat.writer(0).as_deref(), Some(Locale::Ja.text(Text::Support)));
        assert_eq!(
            channel_name(Target::Email, words(Locale::Es)),
            Locale::Es.text(Text::EmailChannel)
        );
        assert_eq!(channel_name(Target::Whatsapp, words(Locale::Ar)), "WhatsApp");
    }

    #[test]
    fn the_team_clock_is_read_from_intl_output() {
        assert_eq!(zone_clock("Wed 09:05"), Some((Day::Wed, 9 * 60 + 5)));
        assert_eq!(zone_clock("Sun, 23:59"), Some((Day::Sun, 23 * 60 + 59)));
        assert_eq!(zone_clock("Mon 24:00"), Some((Day::Mon, 24 * 60 - 1)));
        assert_eq!(zone_clock("garbage"), None);
    }

    #[test]
    fn pre_chat_answers_are_checked() {
        let fields = vec![
            PreChatField {
                name: "email".into(),
                label: "Work email".into(),
                kind: FieldKind::Email,
                required: true,
            },
            PreChatField {
                name: "order".into(),
                label: "Order".into(),
                kind: FieldKind::Text,
                required: false,
            },
        ];
        let answer = |values: &[&str]| {
            pre_chat_answers(
                &fields,
                &values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                Words::default(),
            )
        };
        assert_eq!(
            answer(&[" Ana@Example.com ", ""]),
            Ok(vec![("email".into(), "ana@example.com".into())])
        );
        assert_eq!(answer(&["", "A-1"]), Err("Please fill in Work email.".into()));
        assert_eq!(
            answer(&["not an email", ""]),
            Err(Words::default().text(Text::EmailInvalid).into())
        );
        assert_eq!(
            answer(&["x ana@example.com", ""]),
            Err(Words::default().text(Text::EmailInvalid).into())
        );
        assert_eq!(
            answer(&["ana@example.com", &"x".repeat(500)]).unwrap()[1].1.len(),
            MAX_FIELD_VALUE_CHARS
        );
    }

    #[test]
    fn session_renewal() {
        let session = StoredSession {
            token: "t".into(),
            visitor_id: "v".into(),
            expires_at: 10_000_000,
        };
        assert!(!session.needs_renewal(10_000_000 - SESSION_TTL_SECS / 2 - 1));
        assert!(session.needs_renewal(10_000_000 - SESSION_TTL_SECS / 2));
        assert!(session.expired(10_000_000));
        // As the widget stores it (the browser's JSON.stringify), and what it refuses.
        let stored = r#"{"token":"t","visitor_id":"v","expires_at":10000000}"#;
        assert_eq!(shared::wire::lite::decode::<StoredSession>(stored), Some(session));
        for bad in [
            r#"{"token":"t","visitor_id":"v"}"#,
            r#"{"token":"t","visitor_id":"v","expires_at":1.5}"#,
            "{",
        ] {
            assert_eq!(shared::wire::lite::decode::<StoredSession>(bad), None, "{bad}");
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(reconnect_delay_ms(0, 1.0), 500);
        assert_eq!(reconnect_delay_ms(1, 1.0), 1000);
        assert_eq!(reconnect_delay_ms(10, 1.0), 30_000);
        assert_eq!(reconnect_delay_ms(10, 0.0), 15_000);
        assert_eq!(reconnect_delay_ms(u32::MAX, 0.5), 22_500);
    }

    #[test]
    fn a_move_has_arrived_when_its_code_comes_from_its_channel() {
        let invitation = shared::continuation::invitation(Target::Whatsapp, "Acme", "TL-ABCDEFGH", "+15550001111", 9);
        let moving = Moving::Ready {
            invitation: invitation.clone(),
        };
        let mut from_chat = message(1, "a", Role::Visitor);
        from_chat.text = invitation.text.clone();
        // Typed into the chat itself, or on another channel, or another code: not yet.
        let mut by_sms = from_chat.clone();
        by_sms.channel = shared::wire::Channel::Sms;
        let mut other_code = from_chat.clone();
        other_code.channel = shared::wire::Channel::Whatsapp;
        other_code.text = "Continue: TL-ABCDEFGJ".into();
        assert!(!moving.arrived(&[from_chat.clone(), by_sms, other_code]));
        let mut arrived = from_chat;
        arrived.channel = shared::wire::Channel::Whatsapp;
        arrived.text = "continue my conversation with acme: tl-abcdefgh".into();
        assert!(moving.arrived(std::slice::from_ref(&arrived)));
        assert!(!Moving::Choosing.arrived(&[arrived]));
    }

    #[test]
    fn a_no_to_did_that_help_offers_a_person() {
        let mut chat = Chat::default();
        let mut answer = message(1, "bot:a", Role::Bot);
        answer.bot = Some(BotDetail::Answer {
            article: shared::wire::ArticleLink {
                id: "refunds".into(),
                title: "Refunds".into(),
                url: None,
            },
            confidence: 0.9,
        });
        chat.receive(ServerFrame::Message { message: answer });
        assert_eq!(chat.last_answer().map(|m| m.id.as_str()), Some("bot:a"));
        assert!(!chat.offers_person());
        chat.set_helpful("bot:a", Some(true));
        assert!(!chat.offers_person());
        chat.set_helpful("bot:a", Some(false));
        assert!(chat.offers_person());
        chat.queue("h".into(), OutgoingKind::RequestHuman);
        assert!(!chat.offers_person(), "asked already");
        // A newer message moves the question on.
        chat.receive(ServerFrame::Message {
            message: message(2, "v2", Role::Visitor),
        });
        assert!(chat.last_answer().is_none());
    }

    #[test]
    fn replies_that_arrive_while_closed_are_unread() {
        let mut chat = Chat::default();
        for (seq, role) in [(1, Role::Visitor), (2, Role::Bot)] {
            chat.receive(ServerFrame::Message {
                message: message(seq, &format!("m{seq}"), role),
            });
        }
        assert_eq!(chat.unread_after(None), 0, "never opened");
        assert_eq!(chat.unread_after(Some(2)), 0);
        for (seq, role) in [(3, Role::Agent), (4, Role::Visitor), (5, Role::Bot)] {
            chat.receive(ServerFrame::Message {
                message: message(seq, &format!("m{seq}"), role),
            });
        }
        assert_eq!(chat.unread_after(Some(2)), 2, "the visitor's own message is not unread");
    }

    #[test]
    fn the_page_hears_of_new_replies_and_of_escalation_once() {
        let mut chat = Chat::default();
        let history = ServerFrame::History {
            messages: vec![message(1, "a", Role::Visitor), message(2, "b", Role::Bot)],
            status: ConversationStatus::Bot,
        };
        assert!(chat.events_for(&history).is_empty(), "history is not news");
        chat.receive(history);
        let reply = ServerFrame::Message {
            message: message(3, "c", Role::Agent),
        };
        let events = chat.events_for(&reply);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name(), "message");
        chat.receive(reply.clone());
        assert!(chat.events_for(&reply).is_empty(), "a repeat is not news");
        assert!(
            chat.events_for(&ServerFrame::Message {
                message: message(4, "d", Role::Visitor)
            })
            .is_empty(),
            "the visitor's own echo is not news"
        );
        let waiting = ServerFrame::Status {
            status: ConversationStatus::WaitingForHuman,
        };
        assert_eq!(chat.events_for(&waiting), [WidgetEvent::Escalated]);
        chat.receive(waiting.clone());
        assert!(chat.events_for(&waiting).is_empty(), "already with a person");
    }

    #[test]
    fn who_is_writing() {
        let mut chat = Chat::default();
        assert_eq!(chat.writer(0), None);
        chat.queue("a".into(), OutgoingKind::Text("hi".into()));
        assert_eq!(
            chat.writer(0).as_deref(),
            Some("Support"),
            "the bot, while the message is on its way"
        );
        chat.receive(ServerFrame::Message {
            message: message(1, "a", Role::Visitor),
        });
        assert!(chat.writer(1_000 + 5_000).is_some(), "awaiting the answer");
        assert_eq!(chat.writer(1_000 + BOT_TYPING_MS), None, "not for ever");
        chat.receive(ServerFrame::Message {
            message: message(2, "b", Role::Bot),
        });
        assert_eq!(chat.writer(2_000), None, "answered");

        chat.receive(ServerFrame::Typing {
            role: Role::Agent,
            name: Some("Priya".into()),
        });
        assert_eq!(chat.writer(2_000).as_deref(), Some("Priya"));
        let first = chat.typing_seq;
        chat.receive(ServerFrame::Typing {
            role: Role::Agent,
            name: Some("Priya".into()),
        });
        chat.typing_expired(first);
        assert_eq!(chat.writer(2_000).as_deref(), Some("Priya"), "a newer signal keeps it");
        chat.receive(ServerFrame::Message {
            message: message(3, "c", Role::Agent),
        });
        assert_eq!(chat.writer(3_000), None, "her message ends it");
    }

    #[test]
    fn a_resolution_asks_for_a_rating() {
        let mut chat = Chat::default();
        chat.receive(ServerFrame::Status {
            status: ConversationStatus::Bot,
        });
        assert_eq!(chat.rating, RatingPrompt::Hidden, "nothing was resolved");
        chat.receive(ServerFrame::Status {
            status: ConversationStatus::WaitingForHuman,
        });
        chat.receive(ServerFrame::Status {
            status: ConversationStatus::Bot,
        });
        assert_eq!(chat.rating, RatingPrompt::Asking);
    }
}
