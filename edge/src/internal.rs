//! What the worker and its Durable Objects say to each other. Not public API: both ends ship in
//! the same build, so these can change freely.

use serde::{Deserialize, Serialize};
use shared::article::Article;
use shared::escalation::{Escalation, EscalationRules};
use shared::identity::{Identified, IdentityKey};
use shared::otp::PendingCode;
use shared::package::{BotAttempt, Truncation};
use shared::profile::{ImportPerson, MergeRecord, Profile, TraitRules};
use shared::widget_settings::WidgetSettings;
use shared::wire::{BotDetail, Message, SiteView};

/// A site as stored in its `SiteObject`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SiteRecord {
    pub id: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub admin_key_hash: String,
    pub n_articles: usize,
    #[serde(default)]
    pub trait_rules: TraitRules,
    #[serde(default)]
    pub escalation_rules: EscalationRules,
    #[serde(default)]
    pub widget: WidgetSettings,
    #[serde(default)]
    pub rate_limits: shared::rate::RateLimits,
    #[serde(default)]
    pub privacy: shared::redact::Privacy,
}

impl SiteRecord {
    pub fn view(&self) -> SiteView {
        SiteView {
            id: self.id.clone(),
            name: self.name.clone(),
            allowed_origins: self.allowed_origins.clone(),
            n_articles: self.n_articles,
            trait_rules: self.trait_rules.clone(),
            escalation_rules: self.escalation_rules.clone(),
            widget: self.widget.clone(),
            rate_limits: self.rate_limits,
            privacy: self.privacy,
        }
    }
}

/// `SiteObject` commands.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SiteCommand {
    Create {
        id: String,
        name: String,
        allowed_origins: Vec<String>,
        admin_key_hash: String,
    },
    Get,
    Update {
        name: Option<String>,
        allowed_origins: Option<Vec<String>>,
        trait_rules: Option<TraitRules>,
        escalation_rules: Option<EscalationRules>,
        #[serde(default)]
        widget: Option<WidgetSettings>,
        #[serde(default)]
        rate_limits: Option<shared::rate::RateLimits>,
        #[serde(default)]
        privacy: Option<shared::redact::Privacy>,
    },
    /// [`SiteCommand::Get`], once `action` from network address `ip` is within the site's
    /// per-address and whole-site rate limits (it is counted); `429 rate_limited` if not.
    Admit {
        action: shared::rate::Action,
        ip: String,
        now: u64,
    },
    SetAdminKey {
        admin_key_hash: String,
    },
    PutArticles {
        articles: Vec<Article>,
    },
    GetArticles,
    /// What the bot says to `question`, `bot_failures` unhelpful answers into the conversation,
    /// and whether the site's rules hand the conversation to a person.
    Answer {
        question: String,
        #[serde(default)]
        bot_failures: u32,
        /// Whose question: for rules over the customer's profile (high-value customers).
        #[serde(default)]
        conversation: Option<String>,
        /// On channels without a "talk to a person" button (email), a question the bot cannot
        /// answer goes to a person at once instead of being offered one.
        #[serde(default)]
        hand_over_doubt: bool,
    },
    /// Stores a new identity secret (at most `MAX_IDENTITY_SECRETS`).
    AddIdentitySecret {
        kid: String,
        secret: String,
        now: u64,
    },
    /// The identity secrets' ids and ages (never the secrets).
    ListIdentitySecrets,
    DeleteIdentitySecret {
        kid: String,
    },
    /// The identity secrets themselves, for verifying (internal only).
    IdentityKeys,
    AddStaffKey {
        id: String,
        name: String,
        #[serde(default)]
        team: Option<String>,
        key_hash: String,
        now: u64,
    },
    ListStaffKeys,
    DeleteStaffKey {
        id: String,
    },
    /// The staff member whose key hashes to `key_hash`, if any.
    StaffByKey {
        key_hash: String,
    },
    /// A conversation enters (or re-enters) the human queue; subscribed webhooks get
    /// `conversation.escalated` with the transcript.
    Enqueue {
        conversation: String,
        #[serde(flatten)]
        package: Package,
    },
    /// A call is being put through to a person: `call.incoming` for webhooks, with the
    /// escalation package, so whoever picks up knows the whole story.
    CallIncoming {
        conversation: String,
        call: shared::wire::CallNote,
        #[serde(flatten)]
        package: Package,
    },
    /// A phone call's webhook (Twilio Voice): its signature checked with the voice channel's
    /// auth token, then the call routed, answered and recorded (see `site_object::voice`).
    Voice {
        step: shared::voice::Step,
        proof: ChannelProof,
        /// The request body as received (the signature covers it).
        body: String,
        /// The call's webhooks' address, for the actions of the TwiML answered.
        base: String,
    },
    /// The team and topic for a hand-over the customer asked for with the button, from their
    /// last words (the site's team rules, then who resolved the topic before).
    RouteHandoff {
        text: String,
    },
    /// A customer wrote on a conversation a person has: `message.created` for webhooks.
    Notify {
        conversation: String,
        message: Message,
    },
    AddWebhook {
        id: String,
        url: String,
        events: Vec<String>,
        #[serde(default)]
        format: WebhookFormat,
        secret: String,
        now: u64,
    },
    ListWebhooks,
    DeleteWebhook {
        id: String,
    },
    /// The queue consumer is about to attempt `delivery`: an `AttemptPlan` (where to send it,
    /// with which secret and when; later; or nothing when this copy is stale: delivered already,
    /// a later attempt is scheduled, another copy is being attempted right now, or the endpoint
    /// is gone). Takes a short lease on the delivery so the outbox does not send it again
    /// meanwhile, and for a Slack endpoint, its next one-second slot.
    BeginAttempt {
        delivery: Delivery,
        now: u64,
    },
    /// What became of an attempt. The delivery leaves the outbox unless it is to be retried.
    Attempted {
        delivery: Delivery,
        result: AttemptResult,
        now: u64,
        /// The endpoint's `Retry-After` (seconds), when it answered 429.
        #[serde(default)]
        throttled_secs: Option<u64>,
    },
    ListDeadLetters,
    /// Sends a dead letter again (and removes it from the store).
    ReplayDeadLetter {
        id: String,
    },
    /// The queue, most urgent and longest waiting first.
    Queue {
        include_resolved: bool,
    },
    /// Stores a channel's settings (`sms`: `SmsConfig`, `whatsapp`: `WhatsappConfig`), replacing
    /// any; `public` is what the admin API may show of them.
    SetChannel {
        kind: String,
        config: serde_json::Value,
        public: serde_json::Value,
        now: u64,
    },
    /// The channels set up, without their secrets.
    ListChannels,
    /// Stores an integration's settings (`stripe`: `StripeConfig`), replacing any; `public` is
    /// what the admin API may show of them.
    SetIntegration {
        kind: String,
        config: serde_json::Value,
        public: serde_json::Value,
        now: u64,
    },
    /// The integrations set up, without their secrets, with how each last went.
    ListIntegrations,
    DeleteIntegration {
        kind: String,
    },
    /// A Stripe webhook: its `Stripe-Signature` checked with the integration's signing secret
    /// at `now` (seconds), then the customer's traits updated.
    StripeWebhook {
        signature: Option<String>,
        body: String,
        now: u64,
    },
    /// Staff mark `conversation` as a bug: a Linear issue is filed with `report` (once per
    /// conversation: a second mark answers the issue filed first, `created: false`).
    FileBug {
        bug: BugToFile,
    },
    /// A Linear webhook: its `Linear-Signature` checked with the integration's signing secret at
    /// `now` (ms); an issue filed from a conversation that is closed tells its customer.
    LinearWebhook {
        signature: Option<String>,
        body: String,
        now: u64,
    },
    /// What the site's integrations know of a customer, for the escalation package (never
    /// slower than a few seconds): their billing from Stripe (by their Stripe customer id, else
    /// their email) and their CRM contact (by email, its fields also set as profile traits).
    CustomerContext {
        email: Option<String>,
        customer: Option<String>,
    },
    /// A conversation was resolved: write it back to the CRM as a note on the customer's
    /// contact (kept and retried until the CRM takes it), if the site has a CRM.
    CrmNote {
        conversation: String,
        resolved: shared::hubspot::Resolved,
    },
    /// How many channel messages wait in the site's inbox.
    InboxStatus,
    DeleteChannel {
        kind: String,
    },
    /// A channel's settings with their secrets (internal only).
    ChannelConfig {
        kind: String,
    },
    /// A channel webhook's request: checked against the channel's secret here, and its messages
    /// kept in the site's inbox (answered [`InboundAccepted`]) to be routed, stored and answered
    /// by the inbox's alarm.
    Inbound {
        kind: String,
        proof: ChannelProof,
        /// The request body as received (the signature covers its exact bytes).
        body: String,
    },
    /// A number opted out of SMS (`out`), or back in.
    SmsOptOut {
        number: String,
        out: bool,
        now: u64,
    },
    /// Whether a number opted out of SMS.
    SmsOptedOut {
        number: String,
    },
    /// A staff member takes a conversation (with `only_if_unassigned`, only if nobody has it).
    Assign {
        conversation: String,
        to: String,
        at: u64,
        #[serde(default)]
        only_if_unassigned: bool,
    },
    /// Events for the metrics, from a conversation object, in the order they happened.
    Record {
        events: Vec<shared::metrics::Event>,
    },
    /// The metrics report for days `from..=to` (days since the Unix epoch).
    Metrics {
        from: u64,
        to: u64,
        /// Count times within the site's opening hours only.
        #[serde(default)]
        business_hours: bool,
    },
    /// The churn watch-list as of `today` (days since the epoch).
    Churn {
        today: u64,
    },
    /// The questions the bot did not help with on days `from..=to`, grouped into topics.
    Unanswered {
        from: u64,
        to: u64,
    },
    /// Propose what staff resolved as knowledge (`article`: the one staff linked).
    Propose {
        conversation: String,
        resolution: shared::learning::Resolution,
        #[serde(default)]
        article: Option<String>,
        at: u64,
    },
    /// Knowledge proposals in `state` (all with `None`).
    ListProposals {
        #[serde(default)]
        state: Option<String>,
    },
    /// Approve or reject a pending proposal.
    DecideProposal {
        id: String,
        approve: bool,
    },
    /// The learned phrasings with their votes.
    Learned,
    /// Staff resolved the conversation; `team` (the resolver's) teaches which team takes the
    /// conversation's topic.
    Resolve {
        conversation: String,
        at: u64,
        #[serde(default)]
        team: Option<String>,
    },
}

/// What people get when a conversation is handed to them: why, what the bot tried, who the
/// customer is, and the conversation so far.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Package {
    pub escalation: Escalation,
    pub at: u64,
    pub excerpt: String,
    #[serde(default)]
    pub transcript: Vec<Message>,
    /// The customer's profile (identities, traits), when they were identified.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// How much of the conversation `transcript` leaves out, if any.
    #[serde(default)]
    pub truncation: Option<Truncation>,
    /// What the bot tried in the whole conversation, and the customer's feedback.
    #[serde(default)]
    pub bot_attempts: Vec<BotAttempt>,
    /// The customer's billing, from the site's Stripe account, when it has one and answered in
    /// time.
    #[serde(default)]
    pub billing: Option<shared::stripe::BillingSummary>,
    /// The customer's contact in the site's CRM, when it has one and answered in time.
    #[serde(default)]
    pub crm: Option<shared::hubspot::Contact>,
    /// The traits the site's own connector answered, when it has one and answered in time.
    #[serde(default)]
    pub connector: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

/// A site's phone line (Twilio Voice): its account, number, and where calls go.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VoiceConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// The site's Twilio number that takes calls, E.164.
    pub number: String,
    /// Where calls are put through to a person, E.164; without one, callers leave voicemail.
    #[serde(default)]
    pub support_number: Option<String>,
    /// Record calls put through to a person, and take voicemail.
    pub record_calls: bool,
    /// The voice's and speech recognition's language (BCP 47, e.g. `en-US`).
    pub language: String,
}

impl std::fmt::Debug for VoiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceConfig")
            .field("account_sid", &self.account_sid)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

/// What the site object answers a voice webhook: the TwiML for Twilio.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VoiceReply {
    pub twiml: String,
}

/// `ConversationObject` `/call`: something happened on a phone call in this conversation.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CallCommand {
    /// Keeps a note in the timeline (once per `id`).
    Note {
        id: String,
        text: String,
        note: shared::wire::CallNote,
        /// How to text the caller (the site has SMS and the number is known): staff replies
        /// after the call go there.
        #[serde(default)]
        sms: Option<SmsContext>,
    },
    /// The caller goes to a person: the conversation is escalated if the bot had it, the note
    /// kept, and, when a number is dialled (`note.to`), `call.incoming` sent with the package.
    Transfer {
        id: String,
        text: String,
        note: shared::wire::CallNote,
    },
    /// Texts the bot's last spoken answer to the caller.
    Text { id: String, sms: SmsContext },
}

/// What the conversation says back to `/call`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CallReply {
    /// A person has the conversation (or is about to): calls go to them.
    pub waiting_for_person: bool,
    /// `text`: the answer went out by SMS.
    #[serde(default)]
    pub sent: bool,
}

/// A site's SMS channel: its Twilio account and number.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SmsConfig {
    pub account_sid: String,
    pub auth_token: String,
    /// The site's Twilio number, E.164.
    pub from: String,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// A site's WhatsApp channel: its Cloud API number and the app's credentials.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct WhatsappConfig {
    pub phone_number_id: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

impl std::fmt::Debug for WhatsappConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappConfig")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// A site's Stripe account: a restricted (read-only) API key for billing summaries, and the
/// webhook endpoint's signing secret.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct StripeConfig {
    /// `sk_…` or `rk_…`.
    pub api_key: String,
    /// `whsec_…`.
    pub webhook_secret: String,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig").finish_non_exhaustive()
    }
}

/// A site's Linear workspace: an API key that may create issues, the team bugs are filed in
/// (and labels they get), the webhook's signing secret, and what customers are told when their
/// bug is fixed.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LinearConfig {
    /// `lin_api_…`.
    pub api_key: String,
    pub team_id: String,
    #[serde(default)]
    pub label_ids: Vec<String>,
    /// `lin_wh_…`.
    pub webhook_secret: String,
    pub fixed_message: String,
}

impl std::fmt::Debug for LinearConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearConfig")
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

/// A bug staff mark: the conversation, who, their title and note for the engineers (if any),
/// and what the conversation says (`report`).
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BugToFile {
    pub conversation: String,
    pub staff: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    pub report: shared::linear::Report,
    pub at: u64,
}

/// A conversation's bug, as `POST …/conversations/{id}/bug` answers it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct FiledBug {
    pub issue: shared::linear::Issue,
    /// False when the conversation's bug had been filed already (this is that issue).
    pub created: bool,
    pub filed_by: String,
    pub filed_at: u64,
}

/// `ConversationObject` `/bug`: the bug filed from this conversation changed state in the
/// tracker. `Fixed` tells the customer (`message`, on the channel they last wrote on); the others
/// leave a note for staff. Kept once per `id`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BugCommand {
    pub id: String,
    pub issue: shared::linear::Issue,
    pub outcome: shared::linear::Outcome,
    pub message: String,
}

/// A site's HubSpot account: a private app's access token (scopes: contacts read, notes write)
/// and the contact properties to read.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HubspotConfig {
    pub access_token: String,
    pub properties: Vec<String>,
}

impl std::fmt::Debug for HubspotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubspotConfig")
            .field("properties", &self.properties)
            .finish_non_exhaustive()
    }
}

/// A site's generic connector: an HTTPS endpoint we ask for a customer's traits, signed with
/// `secret` (Standard Webhooks), cached `cache_secs`, given up after `timeout_ms`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ConnectorConfig {
    pub url: String,
    /// `whsec_…`.
    pub secret: String,
    pub cache_secs: u64,
    pub timeout_ms: u64,
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What the integrations know of a customer.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CustomerContext {
    pub billing: Option<shared::stripe::BillingSummary>,
    pub crm: Option<shared::hubspot::Contact>,
    /// What the site's own connector answered.
    pub connector: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

/// An integration as the admin API shows it: never its secrets, always how it last went.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IntegrationInfo {
    pub kind: String,
    #[serde(flatten)]
    pub public: serde_json::Value,
    pub updated_at: u64,
    /// When it last worked (ms), if ever.
    pub last_ok_at: Option<u64>,
    /// What went wrong last, if its last use failed (cleared when it works again).
    pub last_error: Option<String>,
    pub last_error_at: Option<u64>,
}

/// A channel as the admin API shows it (never its secrets).
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ChannelInfo {
    pub kind: String,
    #[serde(flatten)]
    pub public: serde_json::Value,
    pub updated_at: u64,
}

/// A site's Messenger page or Instagram account: its id, a page access token, and the Meta
/// app's secret and webhook verify token.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PageConfig {
    pub page_id: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

impl std::fmt::Debug for PageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageConfig")
            .field("page_id", &self.page_id)
            .finish_non_exhaustive()
    }
}

/// How to answer on Messenger or Instagram: which inbox, whom, and when they last wrote.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PageContext {
    /// `messenger` or `instagram`: the channel settings to send with.
    pub kind: String,
    pub to: String,
    pub last_inbound_at: u64,
}

/// A site's Telegram channel: its bot's token and the webhook's secret token.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TelegramConfig {
    pub bot_token: String,
    pub secret_token: String,
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig").finish_non_exhaustive()
    }
}

/// How to answer on Telegram: in which chat.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TelegramContext {
    pub chat_id: i64,
}

/// How to answer on WhatsApp: to whom, from which number, and when they last wrote (the 24-hour
/// customer-service window runs from then).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct WhatsappContext {
    pub to: String,
    pub last_inbound_at: u64,
}

/// How to answer an SMS: to whom, from which of the site's numbers.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SmsContext {
    pub from: String,
    pub to: String,
}

/// How an endpoint wants its deliveries: Standard Webhooks JSON events, or Slack's
/// incoming-webhook format (Block Kit) for a channel.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Standard,
    Slack,
}

/// A staff member's key, as the admin API lists it (never the key).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct StaffKeyInfo {
    pub id: String,
    pub name: String,
    /// The team this staff member belongs to, if set: resolutions teach routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub created_at: u64,
}

/// One conversation in the human queue.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct QueueEntry {
    pub conversation: String,
    /// `waiting`, `assigned` or `resolved`.
    pub state: String,
    pub priority: shared::escalation::Priority,
    pub team: String,
    /// The article the conversation was about, if the engine had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub reasons: Vec<shared::wire::EscalationReason>,
    /// When it was escalated, milliseconds since the epoch.
    pub escalated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<u64>,
    /// The customer's last words before the hand-over.
    pub excerpt: String,
}

/// `ConversationObject` `/agent`: a staff reply.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AgentReplyCommand {
    pub id: String,
    pub text: String,
    pub author: String,
}

/// What became of a staff reply: `chat` (pushed to the customer's open widget), `email` (nobody
/// was connected, so it went to their address) or `stored` (it waits in the chat).
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AgentReplyResult {
    pub message: Message,
    pub delivered_by: String,
    /// Why the reply could not be delivered on the customer's channel, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A conversation as staff see it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct StaffConversation {
    pub id: String,
    pub status: shared::wire::ConversationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    pub messages: Vec<Message>,
    /// Staff's internal notes, never shown to the customer.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The customer's satisfaction rating, if they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

/// A customer's satisfaction rating (CSAT) of the help they got.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Rating {
    /// 1 (very unsatisfied) to 5 (very satisfied).
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub at: u64,
}

/// An internal note: staff writing to staff about a conversation.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Note {
    pub id: String,
    pub author: String,
    pub text: String,
    pub at: u64,
}

/// `ConversationObject` `/notes`: a new internal note (`id` from the client, so a resend is
/// stored once).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NoteCommand {
    pub id: String,
    pub text: String,
    pub author: String,
}

/// `ConversationObject` `/inbound`: a message that arrived on another channel than the widget
/// (email so far), already routed to this conversation. `id` is derived from the channel's own
/// message id, so a provider's retry is stored once.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InboundCommand {
    pub id: String,
    pub channel: shared::wire::Channel,
    pub text: String,
    /// Automatic mail (auto-replies, bounces, lists): recorded, never answered.
    pub automatic: bool,
    /// The message carried a "continue on another channel" code: say what came of it on its
    /// channel instead of asking the bot.
    #[serde(default)]
    pub continued: Option<shared::continuation::Redeemed>,
    #[serde(default)]
    pub email: Option<EmailContext>,
    /// The raw message (base64), kept for staff.
    #[serde(default)]
    pub raw: Option<String>,
    #[serde(default)]
    pub sms: Option<SmsContext>,
    #[serde(default)]
    pub whatsapp: Option<WhatsappContext>,
    #[serde(default)]
    pub telegram: Option<TelegramContext>,
    #[serde(default)]
    pub page: Option<PageContext>,
}

impl InboundCommand {
    /// A message with no channel context yet (set the one its channel answers through).
    pub fn new(id: String, channel: shared::wire::Channel, text: String) -> InboundCommand {
        InboundCommand {
            id,
            channel,
            text,
            automatic: false,
            continued: None,
            email: None,
            raw: None,
            sms: None,
            whatsapp: None,
            telegram: None,
            page: None,
        }
    }
}

/// How to answer an email in its sender's thread.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct EmailContext {
    pub from: String,
    pub subject: String,
    /// The inbound `Message-ID`, without angle brackets.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The thread before it, oldest first.
    #[serde(default)]
    pub references: Vec<String>,
    /// This conversation's reply address.
    pub reply_address: String,
}

/// What a channel webhook presented to prove it comes from the provider.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelProof {
    /// Telegram's `X-Telegram-Bot-Api-Secret-Token`.
    SecretToken { presented: String },
    /// Meta's `X-Hub-Signature-256` over the body.
    HubSignature { presented: String },
    /// Twilio's `X-Twilio-Signature` over the full URL and the sorted form parameters.
    Twilio { presented: String, url: String },
}

/// One channel message kept in a site's inbox until it is routed, stored and answered.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[serde(rename_all = "snake_case")]
pub enum InboundJob {
    Telegram(shared::telegram::TelegramMessage),
    Whatsapp(shared::whatsapp::InboundMessage),
    Page(shared::messenger::PageMessage),
    Sms(shared::sms::InboundSms),
}

impl InboundJob {
    /// The message's id on its channel: a redelivered webhook carries the same one.
    pub fn key(&self) -> String {
        match self {
            InboundJob::Telegram(m) => format!("telegram:{}:{}", m.chat_id, m.message_id),
            InboundJob::Whatsapp(m) => format!("whatsapp:{}", m.id),
            InboundJob::Page(m) => format!("{}:{}", m.inbox.as_str(), m.mid),
            InboundJob::Sms(m) => format!("sms:{}", m.sid),
        }
    }

    /// Who sent it: one sender's messages are handled one after another, in the order they
    /// arrived (they go to the same conversation); different senders' at the same time.
    pub fn sender(&self) -> String {
        match self {
            InboundJob::Telegram(m) => format!("telegram:{}", m.from_id),
            InboundJob::Whatsapp(m) => format!("whatsapp:{}", m.from),
            InboundJob::Page(m) => format!("{}:{}", m.inbox.as_str(), m.sender),
            InboundJob::Sms(m) => format!("sms:{}", m.from),
        }
    }
}

/// The delay before the site's inbox tries a message again after its `attempts`-th failure:
/// 2 s, doubling, at most 5 minutes (a message is never dropped for failing on our side).
pub fn inbox_retry_delay_ms(attempts: u32) -> u64 {
    1000u64.saturating_mul(1 << attempts.min(9)).min(300_000)
}

/// The channel messages a site has acknowledged to their providers and not yet handed to their
/// conversations: a backlog that grows only under a burst, or while something fails.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InboxStatus {
    /// Messages waiting (those being retried included).
    pub waiting: u64,
    /// Of those, messages whose handling failed at least once and will be tried again.
    pub retrying: u64,
    /// When the oldest waiting message arrived (ms since the epoch).
    pub oldest_received_at: Option<u64>,
}

/// What the site's inbox made of a channel webhook.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InboundAccepted {
    /// Customer messages in the request, kept to be answered (redeliveries included).
    pub messages: usize,
    /// For SMS: the TwiML to answer Twilio with.
    #[serde(default)]
    pub twiml: Option<String>,
}

/// What became of an inbound message.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InboundResult {
    pub message: Message,
    /// The same message arrived before; nothing was stored or sent again.
    pub duplicate: bool,
    /// The bot's answer, if it gave one (sent back on the message's channel).
    #[serde(default)]
    pub answer: Option<Message>,
    /// A person has the conversation now: the bot does not answer it.
    #[serde(default)]
    pub waiting_for_person: bool,
}

/// `ConversationObject` `/feedback`: the customer's "did that help?" on a bot answer.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct FeedbackCommand {
    pub message: String,
    pub helpful: bool,
}

/// Most identity secrets a site holds at once: the current one and the one being rotated out,
/// plus one spare.
pub const MAX_IDENTITY_SECRETS: usize = 3;

/// An identity secret as the site object keeps it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentitySecret {
    pub kid: String,
    pub secret: String,
    pub created_at: u64,
}

impl std::fmt::Debug for IdentitySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySecret")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A request to a site's `ProfileDirectory`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DirectoryRequest {
    pub site: String,
    pub command: DirectoryCommand,
}

/// `ProfileDirectory` commands. Times are milliseconds since the Unix epoch unless named `_secs`;
/// ids and random values come from the worker.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DirectoryCommand {
    /// A session proved identities: attach them, merging with whoever already has them.
    Identify {
        visitor: String,
        conversation: String,
        identified: Identified,
        new_ids: NewIds,
        rules: TraitRules,
        now: u64,
    },
    /// Store a code to send to `pending.email` (the address becomes a claim of the session's
    /// profile), if the send limits allow.
    RequestCode {
        visitor: String,
        conversation: String,
        pending: PendingCode,
        new_ids: NewIds,
        now: u64,
    },
    /// Check a code; on success, like `Identify` with the verified address.
    VerifyCode {
        visitor: String,
        conversation: String,
        email: String,
        code: String,
        new_ids: NewIds,
        rules: TraitRules,
        now: u64,
    },
    /// The conversation a visitor's session belongs to now, if its profile says.
    SessionConversation {
        visitor: String,
    },
    Lookup {
        identity: IdentityKey,
    },
    /// The profile a conversation belongs to, if the visitor was ever identified.
    ProfileOfConversation {
        conversation: String,
    },
    Get {
        profile: String,
    },
    Export {
        profile: String,
    },
    Delete {
        profile: String,
    },
    Undo {
        merge: String,
        now: u64,
    },
    /// An email arrived from `address`: the conversation it joins. Its reply address or the
    /// messages it replies to thread it; otherwise its sender does, joining the open
    /// conversation of whoever holds the address verified only when `authenticated`; an
    /// unauthenticated sender gets a separate profile flagged for review.
    InboundEmail {
        address: String,
        authenticated: bool,
        /// The conversation its (tag-checked) reply address named.
        conversation: Option<String>,
        /// `In-Reply-To` and `References`, without angle brackets.
        replies_to: Vec<String>,
        message_id: Option<String>,
        /// A "continue on another channel" code found in the message.
        #[serde(default)]
        code: Option<String>,
        new_ids: NewIds,
        rules: TraitRules,
        now: u64,
    },
    /// An SMS arrived from `phone`: the conversation of that number (a claim: it joins a
    /// customer's profile only once the number is verified).
    InboundSms {
        phone: String,
        /// A "continue on another channel" code found in the message.
        #[serde(default)]
        code: Option<String>,
        new_ids: NewIds,
        rules: TraitRules,
        now: u64,
    },
    /// One of the site's integrations vouches for traits of whoever holds `identity` (a Stripe
    /// customer's email): they are set on that profile (as of `at`, so a late event never
    /// overwrites a newer one), or on a new profile holding the identity (`new_profile`).
    ApplyTraits {
        identity: IdentityKey,
        traits: std::collections::BTreeMap<String, serde_json::Value>,
        at: u64,
        source: String,
        new_profile: String,
        rules: TraitRules,
    },
    /// A phone call from `phone` (`None` when withheld): like an SMS, it joins the conversation
    /// of whoever verified that number, else it is a claim with the number's own conversation.
    /// A withheld number gets a conversation for the call (`call_sid`).
    InboundCall {
        phone: Option<String>,
        call_sid: String,
        new_ids: NewIds,
        rules: TraitRules,
        now: u64,
    },
    /// A message on a channel whose provider vouches for the sender (a WhatsApp number, a
    /// Telegram user id, a Messenger/Instagram page-scoped id): the conversation of whoever holds
    /// that identity verified (or a new one).
    InboundVerified {
        /// The channel's pseudo-session, e.g. `telegram:<user id>`.
        channel: String,
        identity: IdentityKey,
        proof: shared::identity::Proof,
        #[serde(default)]
        name: Option<String>,
        /// A "continue on another channel" code found in the message.
        #[serde(default)]
        code: Option<String>,
        new_ids: NewIds,
        rules: TraitRules,
        now: u64,
    },
    /// Stores a "continue on another channel" code for the session, if its hourly limit allows.
    StartContinue {
        visitor: String,
        conversation: String,
        channel: shared::continuation::Target,
        code: String,
        now: u64,
    },
    /// We sent an email with `message_id` in `conversation`: replies to it thread back.
    RecordEmail {
        message_id: String,
        conversation: String,
    },
    /// Creates or updates the profiles of the site's known users. Profile ids are
    /// `<id_prefix><line>`.
    Import {
        people: Vec<ImportPerson>,
        id_prefix: String,
        rules: TraitRules,
        now: u64,
    },
}

/// Where an inbound email went: `how` is `threaded` (its reply address or headers named the
/// conversation), `sender` (its authenticated sender's conversation, new or open) or `review`
/// (an unauthenticated sender: a separate profile flagged for staff).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct InboundRoute {
    pub conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub how: String,
    /// The sender's identity (a phone number) was proven before: the route is its owner's.
    #[serde(default)]
    pub verified: bool,
    /// The message carried a "continue on another channel" code, and what came of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued: Option<shared::continuation::Redeemed>,
}

/// What an import did.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Emails and phones left out because another person's profile holds them verified.
    pub identities_skipped: usize,
}

/// Fresh ids for whatever a command may have to create.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewIds {
    pub profile: String,
    pub merge: String,
    pub conversation: String,
}

/// What an identify (or verified code) did.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The identities joined the session's own profile.
    Attached,
    /// The session's profile merged into the profile that already had them.
    Merged,
    /// The session belonged to someone else: it moved to this person's profile, without
    /// taking the other person's history along.
    Switched,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentifyOutcome {
    pub outcome: Outcome,
    pub profile: String,
    pub conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<String>,
}

/// A profile as the admin API shows it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProfileView {
    #[serde(flatten)]
    pub profile: Profile,
    pub merges: Vec<MergeSummary>,
}

/// One merge in a profile's history.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MergeSummary {
    pub id: String,
    pub at: u64,
    pub survivor: String,
    pub absorbed: String,
    pub because: IdentityKey,
    pub proof: shared::identity::Proof,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone_at: Option<u64>,
}

impl MergeSummary {
    pub fn of(record: &MergeRecord) -> MergeSummary {
        MergeSummary {
            id: record.id.clone(),
            at: record.at,
            survivor: record.survivor.clone(),
            absorbed: record.absorbed.id.clone(),
            because: record.because.clone(),
            proof: record.proof.clone(),
            undone_at: record.undone_at,
        }
    }
}

/// Everything held about a person.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProfileExport {
    pub profile: ProfileView,
    pub conversations: Vec<ConversationExport>,
    pub exported_at: u64,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ConversationExport {
    pub id: String,
    pub messages: Vec<Message>,
    /// Staff's internal notes about the conversation.
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

/// What deleting a person erased.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ErasureReport {
    pub profile: String,
    pub identities: usize,
    pub traits: usize,
    pub conversations: usize,
    pub messages: usize,
    pub merge_records: usize,
    pub pending_codes: usize,
}

/// What undoing a merge restored.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UndoReport {
    pub merge: String,
    pub survivor: ProfileView,
    pub restored: ProfileView,
}

/// `ConversationObject` `/join`: the messages of another conversation join this one's timeline,
/// and `member` (if any) may now read it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct JoinCommand {
    pub from: String,
    pub messages: Vec<Message>,
    pub member: Option<String>,
}

/// `ConversationObject` `/split`: the messages that joined from `from` leave, and `member` (if
/// any) may no longer read this conversation.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SplitCommand {
    pub from: Option<String>,
    pub member: Option<String>,
}

/// `ConversationObject` `/members`: who may read and write it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MemberCommand {
    pub visitor: String,
    pub add: bool,
}

/// `ConversationObject` `/erase` reply.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct EraseReport {
    pub messages: usize,
}

/// `SiteObject`'s reply to `Answer`: what the bot should say.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AnswerReply {
    pub text: String,
    pub detail: BotDetail,
    /// Set when the conversation goes to a person now.
    #[serde(default)]
    pub escalation: Option<Escalation>,
}

/// `ConversationObject` `/messages`: a visitor message the worker has already validated.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SendCommand {
    pub id: String,
    pub text: String,
    /// The sender's network address, for the site's rate limits.
    #[serde(default)]
    pub ip: String,
}

/// `ConversationObject` `/handoff`: the visitor asks for a person.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HandoffCommand {
    pub id: String,
}

/// Which conversation an object holds. A visitor's first conversation is named by its visitor
/// id; the worker vouches for the visitor after checking the session token.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ConversationKey {
    pub site: String,
    /// Stored by earlier versions as `visitor`.
    #[serde(alias = "visitor")]
    pub conversation: String,
}

impl ConversationKey {
    /// The Durable Object name: one conversation object per conversation per site.
    pub fn object_name(&self) -> String {
        object_name(&self.site, &self.conversation)
    }
}

/// The Durable Object name of `conversation` on `site`.
pub fn object_name(site: &str, conversation: &str) -> String {
    format!("{site}/{conversation}")
}

/// One webhook event on its way to one endpoint: a Cloudflare Queue message. `id` is the
/// `webhook-id`, the same for every attempt, so receivers deduplicate.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Delivery {
    pub id: String,
    pub site: String,
    pub endpoint: String,
    pub event: String,
    /// The body, exactly as signed and sent.
    pub payload: String,
    pub attempt: u32,
}

/// The end of one delivery attempt, as the queue consumer reports it to the site's outbox.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptResult {
    Delivered,
    /// The endpoint answered 410: it gets nothing more.
    Disable {
        reason: String,
    },
    /// Attempt `next.attempt` is due at `due_at` (ms) and already queued with that delay.
    Retry {
        next: Delivery,
        due_at: u64,
    },
    /// The last attempt failed: keep it as a dead letter.
    DeadLetter {
        last_error: String,
    },
}

impl Delivery {
    /// The delivery's key in the site's outbox and dead-letter store: one per event and endpoint.
    pub fn key(&self) -> String {
        format!("{}:{}", self.id, self.endpoint)
    }
}

/// A webhook endpoint as the admin API shows it (never its secret).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct WebhookInfo {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub format: WebhookFormat,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

/// Where and how to deliver (internal).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
    /// Not before this time (ms): a Slack webhook's slot.
    #[serde(default)]
    pub not_before: u64,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("not_before", &self.not_before)
            .finish_non_exhaustive()
    }
}

/// What the queue consumer does with a delivery (the site object's answer to `BeginAttempt`).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "plan", rename_all = "snake_case")]
pub enum AttemptPlan {
    /// A stale copy, or the endpoint is gone: nothing to do.
    Skip,
    Send {
        target: WebhookTarget,
    },
    /// The endpoint's slots are taken until `until` (ms): queue it again for then.
    Later {
        until: u64,
    },
}

/// A delivery that ran out of retries, kept for the admin to see and replay.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DeadLetterInfo {
    pub id: String,
    pub endpoint: String,
    pub event: String,
    pub attempts: u32,
    pub last_error: String,
    pub at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telegram(chat: i64, from: i64, message_id: i64) -> InboundJob {
        InboundJob::Telegram(shared::telegram::TelegramMessage {
            update_id: 1,
            chat_id: chat,
            from_id: from,
            name: Some("Ada".into()),
            message_id,
            text: "hi".into(),
        })
    }

    #[test]
    fn an_inbox_entry_is_keyed_by_its_channel_id_and_grouped_by_sender() {
        assert_eq!(telegram(5, 7, 3).key(), "telegram:5:3");
        assert_ne!(telegram(5, 7, 3).key(), telegram(5, 7, 4).key());
        assert_eq!(telegram(5, 7, 3).sender(), telegram(6, 7, 9).sender());
        let sms = InboundJob::Sms(shared::sms::InboundSms {
            sid: "SM1".into(),
            from: "+15550001111".into(),
            to: "+15550002222".into(),
            body: "hello".into(),
            media: vec![("image/png".into(), "https://example.test/m".into())],
        });
        assert_eq!(sms.key(), "sms:SM1");
        assert_eq!(sms.sender(), "sms:+15550001111");
        // Kept as JSON in the inbox and read back whole.
        for job in [telegram(5, 7, 3), sms] {
            let text = serde_json::to_string(&job).unwrap();
            assert_eq!(serde_json::from_str::<InboundJob>(&text).unwrap(), job);
        }
    }

    #[test]
    fn the_inbox_retries_after_two_seconds_doubling_up_to_five_minutes() {
        assert_eq!(inbox_retry_delay_ms(1), 2_000);
        assert_eq!(inbox_retry_delay_ms(2), 4_000);
        assert_eq!(inbox_retry_delay_ms(7), 128_000);
        assert_eq!(inbox_retry_delay_ms(9), 300_000);
        assert_eq!(inbox_retry_delay_ms(u32::MAX), 300_000);
    }
}
