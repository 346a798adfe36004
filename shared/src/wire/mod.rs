//! The JSON that the widget, the edge and API clients exchange. Field names are public API
//! (`docs/api.md`): add fields, never rename or repurpose them.

pub mod lite;
mod request;

pub use request::{
    CreateSiteRequest, EmailCodeRequest, EmailVerifyRequest, FieldError, HandoffRequest, IdentifyRequest,
    MAX_IDENTITY_TOKEN_BYTES, RequestError, SendMessageRequest, UpdateSiteRequest, frame_id, parse_json_body,
};

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable machine-readable code. Each code maps to exactly one HTTP status
/// (the table lives in the edge's `api_error` module).
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No site with that id exists.
    UnknownSite,
    /// No such endpoint.
    NotFound,
    /// The endpoint exists but not for this HTTP method.
    MethodNotAllowed,
    /// The page's origin is not among the site's allowed origins.
    OriginNotAllowed,
    /// The request carried no session token.
    MissingToken,
    /// The session token is malformed, forged or tampered with.
    InvalidToken,
    /// The session token was good once but has expired.
    TokenExpired,
    /// The session token was issued for a different site.
    TokenWrongSite,
    /// The admin or operator key is missing or wrong.
    InvalidKey,
    /// The body is not valid JSON (or JSON Lines).
    MalformedJson,
    /// A field is missing, of the wrong type, or out of range; `field` names it.
    InvalidField,
    /// The body or a message is over a documented limit; `limit` states it.
    PayloadTooLarge,
    /// The request's `Content-Type` is not one this endpoint reads.
    UnsupportedMediaType,
    /// The endpoint speaks WebSocket and the request was not an upgrade.
    UpgradeRequired,
    /// Too many messages too fast; retry after `retry_after_ms`.
    RateLimited,
    /// A site with that id already exists.
    SiteExists,
    /// A newer upload of the site's articles arrived while this one's index was being built;
    /// the newer one is kept and this one was not stored.
    Superseded,
    /// An identity token or user hash is malformed, forged, signed with an unknown key id, or
    /// its claims are invalid.
    IdentityInvalid,
    /// An identity token or user hash has expired (or was made to live too long).
    IdentityExpired,
    /// An identity token was signed for another site.
    IdentityWrongSite,
    /// The site has no identity secret, so nothing can be verified.
    IdentityNotConfigured,
    /// A one-time code is wrong, or none was sent to that address from this session.
    CodeInvalid,
    /// The one-time code expired.
    CodeExpired,
    /// The one-time code was already used.
    CodeUsed,
    /// Too many wrong codes: this one is void; request a new one.
    CodeAttemptsExceeded,
    /// Email cannot be sent: no email provider is configured.
    EmailUnavailable,
    /// The email provider refused or failed to send; nothing was changed.
    EmailFailed,
    /// The session may not read or write this conversation (any more).
    NotAMember,
    /// No profile matches.
    UnknownProfile,
    /// No merge with that id.
    UnknownMerge,
    /// No conversation with that id (or it is not in the human queue).
    UnknownConversation,
    /// The merge was already undone, or a later merge depends on it.
    MergeNotUndoable,
    /// The site already has the most identity secrets it may hold.
    TooManySecrets,
    /// No identity secret with that key id.
    UnknownSecret,
    /// An inbound email could not be parsed (not RFC 5322 / MIME, or no sender).
    MalformedEmail,
    /// An inbound email's recipient is none of our addresses (no such site).
    UnknownRecipient,
    /// An inbound channel request's signature or credentials are missing or wrong; nothing was
    /// stored.
    InvalidSignature,
    /// The site has not set up that channel (or not its public address), so a conversation
    /// cannot continue there.
    ChannelUnavailable,
    /// An integration's service (Stripe, a CRM) failed or could not be reached; nothing was
    /// changed, and the request may be retried.
    IntegrationFailed,
    /// Something failed on our side; nothing the client sent was lost.
    Internal,
    /// A code this build does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// The body of every error response: `{"error": {...}}`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A sentence for the developer reading the response: what was wrong and what was expected.
    pub message: String,
    /// The offending field, for `invalid_field` and some `payload_too_large` errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The limit that was exceeded, for `payload_too_large` (in the unit the message names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// For `rate_limited`: how long to wait before the next attempt will be accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            field: None,
            limit: None,
            retry_after_ms: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ErrorBody {
        self.field = Some(field.into());
        self
    }

    pub fn with_limit(mut self, limit: u64) -> ErrorBody {
        self.limit = Some(limit);
        self
    }
}

/// Who wrote a message.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Visitor,
    Bot,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        lite::WireName::wire_name(self)
    }
}

/// One message of a conversation, as stored and as sent to clients.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Message {
    /// Position in the conversation, assigned by the edge; strictly increasing.
    pub seq: u64,
    /// Client-generated for visitor messages (so a retried send is stored once), server-generated
    /// otherwise.
    pub id: String,
    pub role: Role,
    /// Plain text. Clients must render it as text, never as HTML.
    pub text: String,
    /// When the edge accepted it, in milliseconds since the Unix epoch.
    pub at: u64,
    /// For bot replies: the id of the visitor message answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// For bot replies: where the answer came from, or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<BotDetail>,
    /// Where the message was written or delivered.
    #[serde(default)]
    pub channel: Channel,
    /// For messages that joined from another conversation when two profiles merged: the
    /// conversation they came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// For bot answers: the customer's "did that help?" (`true` yes, `false` no), once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helpful: Option<bool>,
}

/// The channel a message travelled on.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The site's chat widget.
    #[default]
    Chat,
    Email,
    Sms,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Phone,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        lite::WireName::wire_name(self)
    }
}

/// What a bot reply is, so clients can show its source or offer a person.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BotDetail {
    /// Answered from a knowledge-base article.
    Answer { article: ArticleLink, confidence: f32 },
    /// Not confident enough to answer; a person is offered.
    NoAnswer { reason: EscalationReason, confidence: f32 },
    /// The visitor asked for a person and the conversation now waits for one.
    HandoffRequested { reason: EscalationReason },
    /// Not a reply: a note in the timeline about a phone call (it started, was put through to a
    /// person, left a voicemail, ended). The call's words are messages of their own.
    Call(Box<CallNote>),
    /// Not an answer: the customer is told the bug they reported (staff filed it in the site's
    /// tracker; `issue` is its identifier there, e.g. `ENG-7`) has been fixed.
    BugFixed { issue: String },
}

/// A phone call's event, kept in its conversation's timeline.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CallNote {
    /// Twilio's id of the call (`CA` and 32 hex digits).
    pub call_sid: String,
    pub event: CallEvent,
    /// The caller's number as presented (a claim unless `verified`); absent when withheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Whether the caller's number was verified earlier (a code, a site-signed identity): only
    /// then did the call join that customer's conversation.
    #[serde(default)]
    pub verified: bool,
    /// `transferred`: the number the call was put through to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `ended`: the whole call, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// `ended`: how it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
    /// `voicemail` (and a recorded transfer): the recording at Twilio, referenced, never copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
}

/// What happened on a call.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallEvent {
    Started,
    Transferred,
    Voicemail,
    Ended,
}

/// How a call ended.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The voice bot handled it; nobody was called.
    Bot,
    /// A person took the call.
    Answered,
    /// Nobody took it; the caller left a voicemail.
    Voicemail,
    /// Nobody took it and no message was left.
    Missed,
    /// The caller hung up before saying anything.
    Abandoned,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Bot => "answered by the bot",
            CallOutcome::Answered => "answered by a person",
            CallOutcome::Voicemail => "voicemail",
            CallOutcome::Missed => "missed",
            CallOutcome::Abandoned => "abandoned",
        }
    }
}

/// A pointer to the article an answer came from.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ArticleLink {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Why the bot hands a question to a person instead of answering it.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// No article matches the question well enough.
    NoMatch,
    /// Two articles match about equally well, so either could be wrong.
    Ambiguous,
    /// The site has no knowledge base yet.
    NoKnowledgeBase,
    /// The visitor asked for a person.
    VisitorAsked,
    /// The bot already failed to help enough times in this conversation.
    RepeatedFailure,
    /// The customer's message is urgent (an outage, a double charge, "urgent").
    Urgent,
    /// The customer is upset or wants to leave ("unacceptable", "cancel my account").
    Upset,
    /// The site keeps this topic for people (billing disputes, refunds, legal).
    HumanOnlyTopic,
    /// A high-value customer by the site's rule.
    HighValueCustomer,
}

/// Who is answering a conversation now.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// The bot answers.
    #[default]
    Bot,
    /// The visitor asked for a person; the bot stays quiet until staff resolve it.
    WaitingForHuman,
}

/// Frames the widget sends over the live WebSocket.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// A visitor message. `id` is generated by the client and makes resending safe.
    Send { id: String, text: String },
    /// The visitor accepts the offer of a person.
    RequestHuman { id: String },
}

/// Frames the edge sends over the live WebSocket.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Sent once on connect: the messages after the client's `after` sequence number.
    History {
        messages: Vec<Message>,
        status: ConversationStatus,
    },
    /// The whole conversation, replacing what the client has: sent when the timeline changed as
    /// a whole (another conversation joined it when two profiles merged, or left it again).
    Reset {
        messages: Vec<Message>,
        status: ConversationStatus,
    },
    /// This conversation joined another one (the visitor's profile merged): renew the session,
    /// which names the conversation to follow now.
    Moved,
    /// A message was stored (the visitor's own, echoed as the acknowledgement, or a reply).
    Message { message: Message },
    /// The conversation changed hands.
    Status { status: ConversationStatus },
    /// Someone (`agent`: a person on the team, with their name) is writing a reply; shown for a
    /// few seconds unless repeated, and cleared by their message.
    Typing {
        role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A client frame was refused; `reply_to` names its id when it had one. Nothing already
    /// stored is affected.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        error: ErrorBody,
    },
}

/// `POST /v1/sites/{site}/sessions`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SessionResponse {
    pub token: String,
    pub visitor_id: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

/// `GET /v1/sites/{site}/conversation`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TranscriptResponse {
    pub messages: Vec<Message>,
    pub status: ConversationStatus,
}

/// `POST /v1/sites/{site}/conversation/messages`: the stored visitor message and what followed it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SendMessageResponse {
    pub messages: Vec<Message>,
}

/// A site as the admin API shows it (never with its key).
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub n_articles: usize,
    /// How conflicting trait values settle when profiles merge (traits not named: newest wins).
    #[serde(default)]
    pub trait_rules: crate::profile::TraitRules,
    /// When conversations go to a person, and to which team.
    #[serde(default)]
    pub escalation_rules: crate::escalation::EscalationRules,
    /// How the widget looks and behaves (docs/widget.md).
    #[serde(default)]
    pub widget: crate::widget_settings::WidgetSettings,
    /// Messages, new sessions and codes allowed per conversation, per address and per site.
    #[serde(default)]
    pub rate_limits: crate::rate::RateLimits,
    /// What is taken out of data sent to third parties (webhooks, Slack).
    #[serde(default)]
    pub privacy: crate::redact::Privacy,
}

/// `GET /v1/sites/{site}/widget`: what the loader and the widget need before drawing anything.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct WidgetConfig {
    pub site: String,
    pub name: String,
    pub widget: crate::widget_settings::WidgetSettings,
    /// The launcher icon's SVG path (24 × 24), so the loader needs no icon table.
    pub launcher_path: String,
    /// The accent colour (`#rrggbb`) and the text colour that reads on it (white or black).
    pub accent: String,
    pub on_accent: String,
    /// The widget's language (`en`, `es`, …): the site's setting, else the first of the
    /// visitor's languages (`?lang=`) the widget speaks, else `en`.
    #[serde(default)]
    pub locale: String,
    /// The visitor's tag for that language (`es-MX`), for formatting dates and times.
    #[serde(default)]
    pub format_tag: String,
    /// The widget's words in `locale`, in `shared::i18n::Text::ALL` order; empty for English
    /// (built into the widget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strings: Vec<String>,
    /// CSS that sets the widget's colours from the site's `widget.color`, light and dark, every
    /// text and background pair at 4.5:1 or more (`shared::widget_theme`); empty when the site
    /// keeps Threadline's colours. Only colour declarations, written from the parsed colour.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub theme_css: String,
}

impl WidgetConfig {
    /// What a visitor whose browser prefers `languages` (`es-MX,en`, best first, as the loader
    /// sends `navigator.languages`) gets: the site's language, else the first of theirs the
    /// widget speaks, else English, with its words; dates formatted for the visitor's own tag
    /// for that language when they have one (the site's bare `de` says nothing of region).
    pub fn for_visitor(
        site: String,
        name: String,
        widget: crate::widget_settings::WidgetSettings,
        languages: &str,
    ) -> WidgetConfig {
        use crate::i18n::Locale;
        use crate::widget_settings::{DEFAULT_ACCENT, Rgb};
        let visitor_tags = || languages.split(',').take(10).filter(|tag| tag.len() <= 35);
        let (locale, format_tag) = Locale::negotiate(widget.locale.as_deref().into_iter().chain(visitor_tags()));
        let color = widget.color.as_deref().and_then(Rgb::parse);
        let accent = color.unwrap_or(DEFAULT_ACCENT);
        WidgetConfig {
            theme_css: color.map(crate::widget_theme::css).unwrap_or_default(),
            locale: locale.tag().to_owned(),
            format_tag: visitor_tags()
                .find(|tag| Locale::from_tag(tag) == Some(locale))
                .map_or(format_tag, |tag| tag.trim().to_owned()),
            strings: if locale == Locale::En {
                Vec::new()
            } else {
                locale.table()
            },
            launcher_path: widget.launcher_icon.path().to_owned(),
            accent: accent.hex(),
            on_accent: accent.text_on().hex(),
            site,
            name,
            widget,
        }
    }
}

/// `POST /v1/sites` and `POST /v1/sites/{site}/admin-key`: the admin key is shown this once.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SiteKeyResponse {
    pub site: SiteView,
    pub admin_key: String,
}

/// `PUT /v1/sites/{site}/articles`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ArticlesResponse {
    pub n_articles: usize,
}

/// `POST /v1/sites/{site}/identify` and `.../identify/email/verify`: a session for the
/// conversation of the profile the visitor now belongs to.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentifyResponse {
    pub token: String,
    pub visitor_id: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    /// `attached` (the identity joined this visitor's profile), `merged` (this visitor joined
    /// the profile that already had it, and sees its conversation now) or `switched` (the
    /// browser belonged to someone else; it now shows this person's conversation only).
    pub outcome: String,
}

/// `POST /v1/sites/{site}/identify/email`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct EmailCodeResponse {
    /// The address, masked (`a***@example.com`).
    pub sent_to: String,
    /// When the code stops working, in seconds since the Unix epoch.
    pub expires_at: u64,
}

/// `POST /v1/sites/{site}/identity-secrets`: the secret is shown this once.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentitySecretResponse {
    pub kid: String,
    pub secret: String,
    pub created_at: u64,
}

/// One identity secret as `GET /v1/sites/{site}/identity-secrets` lists it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentitySecretInfo {
    pub kid: String,
    pub created_at: u64,
}
