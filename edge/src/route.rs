//! Which endpoint a request is for. A known path with the wrong method is a 405 that lists the
//! methods it does take; an unknown path is a 404; a malformed site id is an unknown site.

use shared::site::validate_site_id;
use shared::wire::ErrorCode;

use crate::api_error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    /// Operator API.
    CreateSite,
    RotateAdminKey {
        site: String,
    },
    /// Site admin API (admin key).
    GetSite {
        site: String,
    },
    UpdateSite {
        site: String,
    },
    GetArticles {
        site: String,
    },
    PutArticles {
        site: String,
    },
    /// Twilio's inbound SMS webhook for a site (`X-Twilio-Signature` checked).
    InboundTwilioSms {
        site: String,
    },
    /// Twilio Voice's webhooks for a site's phone line (`X-Twilio-Signature` checked): the
    /// incoming call (`step` none), then `gather`, `dial`, `recorded`, `transcription`, `status`.
    InboundVoice {
        site: String,
        step: Option<String>,
    },
    /// Meta's Messenger (`messenger`) or Instagram (`instagram`) webhook for a site: `GET` is
    /// the handshake, `POST` events (`X-Hub-Signature-256` checked).
    InboundPage {
        site: String,
        kind: String,
    },
    /// Telegram's webhook for a site's bot (`X-Telegram-Bot-Api-Secret-Token` checked).
    InboundTelegram {
        site: String,
    },
    /// Meta's WhatsApp webhook for a site: `GET` is the verification handshake, `POST` events
    /// (`X-Hub-Signature-256` checked).
    InboundWhatsapp {
        site: String,
    },
    ListChannels {
        site: String,
    },
    /// The integrations set up (admin key), without secrets, with how each last went.
    ListIntegrations {
        site: String,
    },
    PutIntegration {
        site: String,
        kind: String,
    },
    DeleteIntegration {
        site: String,
        kind: String,
    },
    /// Stripe's webhook for a site (`Stripe-Signature` checked).
    StripeWebhook {
        site: String,
    },
    /// Linear's webhook for a site (`Linear-Signature` checked).
    LinearWebhook {
        site: String,
    },
    /// Staff mark a conversation as a bug: a Linear issue is filed.
    FileBug {
        site: String,
        conversation: String,
    },
    PutChannel {
        site: String,
        kind: String,
    },
    DeleteChannel {
        site: String,
        kind: String,
    },
    /// Postmark's inbound email webhook (HTTP Basic credentials checked).
    InboundPostmark,
    /// SendGrid's Inbound Parse webhook (HTTP Basic credentials checked).
    InboundSendgrid,
    /// Visitor API (session token, origin checked).
    CreateSession {
        site: String,
    },
    Transcript {
        site: String,
    },
    SendMessage {
        site: String,
    },
    RequestHuman {
        site: String,
    },
    /// The visitor's "did that help?" on a bot answer.
    Feedback {
        site: String,
    },
    /// Traits the page says about the visitor (`Threadline('update', ...)`): claims, never proof.
    UpdateTraits {
        site: String,
    },
    /// The visitor's satisfaction rating (CSAT, 1 to 5) after a person resolved the conversation.
    Rate {
        site: String,
    },
    /// How the site's widget looks and behaves (public: the loader reads it before drawing).
    WidgetConfig {
        site: String,
    },
    /// The channels the visitor can continue the conversation on.
    ContinueChannels {
        site: String,
    },
    /// A one-time code and deep link to continue the conversation on another channel.
    StartContinue {
        site: String,
    },
    Live {
        site: String,
    },
    Identify {
        site: String,
    },
    RequestEmailCode {
        site: String,
    },
    VerifyEmailCode {
        site: String,
    },
    /// Site admin API: identity secrets and profiles.
    ListIdentitySecrets {
        site: String,
    },
    CreateIdentitySecret {
        site: String,
    },
    DeleteIdentitySecret {
        site: String,
        kid: String,
    },
    FindProfiles {
        site: String,
    },
    ImportProfiles {
        site: String,
    },
    CreateWebhook {
        site: String,
    },
    ListWebhooks {
        site: String,
    },
    DeleteWebhook {
        site: String,
        id: String,
    },
    ListDeadLetters {
        site: String,
    },
    ReplayDeadLetter {
        site: String,
        id: String,
    },
    CreateStaffKey {
        site: String,
    },
    ListStaffKeys {
        site: String,
    },
    DeleteStaffKey {
        site: String,
        id: String,
    },
    /// The site's support metrics (admin key).
    Metrics {
        site: String,
    },
    /// Customers whose contact rate jumped (admin key).
    Churn {
        site: String,
    },
    /// Questions the bot did not help with, grouped (admin key).
    Unanswered {
        site: String,
    },
    /// History imported into the metrics (admin key).
    ImportEvents {
        site: String,
    },
    /// Knowledge proposals from staff resolutions (admin key).
    ListProposals {
        site: String,
    },
    DecideProposal {
        site: String,
        id: String,
        approve: bool,
    },
    /// Phrasings learned from customers' votes (admin key).
    Learned {
        site: String,
    },
    /// Staff API (staff or admin key).
    Queue {
        site: String,
    },
    StaffConversation {
        site: String,
        conversation: String,
    },
    ClaimConversation {
        site: String,
        conversation: String,
    },
    ReplyToConversation {
        site: String,
        conversation: String,
    },
    /// A person on the team is writing a reply: the customer's open widget shows it.
    StaffTyping {
        site: String,
        conversation: String,
    },
    ResolveConversation {
        site: String,
        conversation: String,
    },
    AddNote {
        site: String,
        conversation: String,
    },
    /// The raw inbound message (an email's MIME) behind a message, for staff.
    RawMessage {
        site: String,
        conversation: String,
        message: String,
    },
    /// A signed, expiring link to a whole transcript (no key: the link is the credential).
    SignedTranscript {
        site: String,
        conversation: String,
    },
    GetProfile {
        site: String,
        profile: String,
    },
    DeleteProfile {
        site: String,
        profile: String,
    },
    ExportProfile {
        site: String,
        profile: String,
    },
    UndoMerge {
        site: String,
        merge: String,
    },
}

impl Route {
    /// The site a route is about, if any.
    pub fn site(&self) -> Option<&str> {
        match self {
            Route::Health | Route::CreateSite | Route::InboundPostmark | Route::InboundSendgrid => None,
            Route::RotateAdminKey { site }
            | Route::GetSite { site }
            | Route::UpdateSite { site }
            | Route::GetArticles { site }
            | Route::PutArticles { site }
            | Route::CreateSession { site }
            | Route::Transcript { site }
            | Route::SendMessage { site }
            | Route::RequestHuman { site }
            | Route::Feedback { site }
            | Route::Rate { site }
            | Route::UpdateTraits { site }
            | Route::ContinueChannels { site }
            | Route::WidgetConfig { site }
            | Route::StartContinue { site }
            | Route::Live { site }
            | Route::Identify { site }
            | Route::RequestEmailCode { site }
            | Route::VerifyEmailCode { site }
            | Route::ListIdentitySecrets { site }
            | Route::CreateIdentitySecret { site }
            | Route::DeleteIdentitySecret { site, .. }
            | Route::FindProfiles { site }
            | Route::ImportProfiles { site }
            | Route::CreateStaffKey { site }
            | Route::CreateWebhook { site }
            | Route::ListWebhooks { site }
            | Route::DeleteWebhook { site, .. }
            | Route::ListDeadLetters { site }
            | Route::ReplayDeadLetter { site, .. }
            | Route::ListStaffKeys { site }
            | Route::DeleteStaffKey { site, .. }
            | Route::Queue { site }
            | Route::Metrics { site }
            | Route::ListProposals { site }
            | Route::ImportEvents { site }
            | Route::Unanswered { site }
            | Route::Churn { site }
            | Route::DecideProposal { site, .. }
            | Route::Learned { site }
            | Route::StaffConversation { site, .. }
            | Route::ClaimConversation { site, .. }
            | Route::ReplyToConversation { site, .. }
            | Route::StaffTyping { site, .. }
            | Route::ResolveConversation { site, .. }
            | Route::AddNote { site, .. }
            | Route::SignedTranscript { site, .. }
            | Route::RawMessage { site, .. }
            | Route::GetProfile { site, .. }
            | Route::DeleteProfile { site, .. }
            | Route::ExportProfile { site, .. }
            | Route::UndoMerge { site, .. }
            | Route::InboundTwilioSms { site }
            | Route::InboundVoice { site, .. }
            | Route::InboundWhatsapp { site }
            | Route::InboundTelegram { site }
            | Route::InboundPage { site, .. }
            | Route::ListChannels { site }
            | Route::ListIntegrations { site }
            | Route::PutIntegration { site, .. }
            | Route::DeleteIntegration { site, .. }
            | Route::StripeWebhook { site }
            | Route::LinearWebhook { site }
            | Route::FileBug { site, .. }
            | Route::PutChannel { site, .. }
            | Route::DeleteChannel { site, .. } => Some(site),
        }
    }

    /// Routes that visitors' browsers call from the site's pages.
    pub fn is_visitor_route(&self) -> bool {
        matches!(
            self,
            Route::CreateSession { .. }
                | Route::Transcript { .. }
                | Route::SendMessage { .. }
                | Route::RequestHuman { .. }
                | Route::Feedback { .. }
                | Route::Rate { .. }
                | Route::UpdateTraits { .. }
                | Route::ContinueChannels { .. }
                | Route::WidgetConfig { .. }
                | Route::StartContinue { .. }
                | Route::Live { .. }
                | Route::Identify { .. }
                | Route::RequestEmailCode { .. }
                | Route::VerifyEmailCode { .. }
        )
    }
}

/// A conversation id in a staff URL: what the edge makes (`v_…`, `c_…`), nothing else.
fn conversation_id(text: &str) -> Result<String, ApiError> {
    let well_formed = (3..=80).contains(&text.len())
        && (text.starts_with("v_") || text.starts_with("c_"))
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if well_formed {
        Ok(text.to_owned())
    } else {
        Err(ApiError::new(
            ErrorCode::UnknownConversation,
            format!("no conversation {text:?} on this site"),
        ))
    }
}

/// Resolves `method` and `path` (without query) to a route.
pub fn resolve(method: &str, path: &str) -> Result<Route, ApiError> {
    let trimmed = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    let site = |id: &str| -> Result<String, ApiError> {
        validate_site_id(id).map_err(|_| ApiError::new(ErrorCode::UnknownSite, format!("no site is named {id:?}")))?;
        Ok(id.to_owned())
    };
    let (allow, route): (&'static str, Option<Route>) = match segments.as_slice() {
        ["healthz"] => ("GET", (method == "GET").then_some(Route::Health)),
        ["v1", "sites"] => ("POST", (method == "POST").then_some(Route::CreateSite)),
        ["v1", "inbound", "email", "postmark"] => ("POST", (method == "POST").then_some(Route::InboundPostmark)),
        ["v1", "inbound", "email", "sendgrid"] => ("POST", (method == "POST").then_some(Route::InboundSendgrid)),
        ["v1", "sites", id] => {
            let site = site(id)?;
            let route = match method {
                "GET" => Some(Route::GetSite { site }),
                "PATCH" => Some(Route::UpdateSite { site }),
                _ => None,
            };
            ("GET, PATCH", route)
        }
        ["v1", "sites", id, "admin-key"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::RotateAdminKey { site }),
        ),
        ["v1", "sites", id, "articles"] => {
            let site = site(id)?;
            let route = match method {
                "GET" => Some(Route::GetArticles { site }),
                "PUT" => Some(Route::PutArticles { site }),
                _ => None,
            };
            ("GET, PUT", route)
        }
        ["v1", "sites", id, "sessions"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::CreateSession { site }),
        ),
        ["v1", "sites", id, "conversation"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Transcript { site }),
        ),
        ["v1", "sites", id, "conversation", "messages"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::SendMessage { site }),
        ),
        ["v1", "sites", id, "conversation", "handoff"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::RequestHuman { site }),
        ),
        ["v1", "sites", id, "conversation", "feedback"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Feedback { site }),
        ),
        ["v1", "sites", id, "conversation", "traits"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::UpdateTraits { site }),
        ),
        ["v1", "sites", id, "conversation", "rating"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Rate { site }),
        ),
        ["v1", "sites", id, "conversation", "continue"] => {
            let site = site(id)?;
            let route = match method {
                "GET" => Some(Route::ContinueChannels { site }),
                "POST" => Some(Route::StartContinue { site }),
                _ => None,
            };
            ("GET, POST", route)
        }
        ["v1", "sites", id, "widget"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::WidgetConfig { site }),
        ),
        ["v1", "sites", id, "conversation", "live"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Live { site }),
        ),
        ["v1", "sites", id, "identify"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Identify { site }),
        ),
        ["v1", "sites", id, "identify", "email"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::RequestEmailCode { site }),
        ),
        ["v1", "sites", id, "identify", "email", "verify"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::VerifyEmailCode { site }),
        ),
        ["v1", "sites", id, "identity-secrets"] => {
            let site = site(id)?;
            let route = match method {
                "GET" => Some(Route::ListIdentitySecrets { site }),
                "POST" => Some(Route::CreateIdentitySecret { site }),
                _ => None,
            };
            ("GET, POST", route)
        }
        ["v1", "sites", id, "identity-secrets", kid] => (
            "DELETE",
            (method == "DELETE")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::DeleteIdentitySecret {
                    site,
                    kid: (*kid).to_owned(),
                }),
        ),
        ["v1", "sites", id, "profiles"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::FindProfiles { site }),
        ),
        ["v1", "sites", id, "webhooks"] => {
            let site = site(id)?;
            let route = match method {
                "GET" => Some(Route::ListWebhooks { site }),
                "POST" => Some(Route::CreateWebhook { site }),
                _ => None,
            };
            ("GET, POST", route)
        }
        ["v1", "sites", id, "webhooks", hook] => (
            "DELETE",
            (method == "DELETE")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::DeleteWebhook {
                    site,
                    id: (*hook).to_owned(),
                }),
        ),
        ["v1", "sites", id, "dead-letters"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ListDeadLetters { site }),
        ),
        ["v1", "sites", id, "dead-letters", letter, "replay"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ReplayDeadLetter {
                    site,
                    id: (*letter).to_owned(),
                }),
        ),
        ["v1", "sites", id, "inbound", "sms", "twilio"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::InboundTwilioSms { site }),
        ),
        ["v1", "sites", id, "inbound", "voice", "twilio"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::InboundVoice { site, step: None }),
        ),
        [
            "v1",
            "sites",
            id,
            "inbound",
            "voice",
            "twilio",
            step @ ("gather" | "dial" | "recorded" | "transcription" | "status"),
        ] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::InboundVoice {
                    site,
                    step: Some((*step).to_owned()),
                }),
        ),
        ["v1", "sites", id, "inbound", "whatsapp"] => (
            "GET, POST",
            matches!(method, "GET" | "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::InboundWhatsapp { site }),
        ),
        ["v1", "sites", id, "inbound", kind @ ("messenger" | "instagram")] => (
            "GET, POST",
            matches!(method, "GET" | "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::InboundPage {
                    site,
                    kind: (*kind).to_owned(),
                }),
        ),
        ["v1", "sites", id, "inbound", "telegram"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::InboundTelegram { site }),
        ),
        ["v1", "sites", id, "integrations"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ListIntegrations { site }),
        ),
        ["v1", "sites", id, "integrations", "stripe", "webhook"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::StripeWebhook { site }),
        ),
        ["v1", "sites", id, "integrations", "linear", "webhook"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::LinearWebhook { site }),
        ),
        ["v1", "sites", id, "integrations", kind] => {
            let site = site(id)?;
            if !matches!(*kind, "stripe" | "hubspot" | "linear" | "connector") {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!(
                        "no integration {kind:?}: the integrations that can be set up here are: connector, hubspot, linear, stripe"
                    ),
                ));
            }
            let kind = (*kind).to_owned();
            let route = match method {
                "PUT" => Some(Route::PutIntegration { site, kind }),
                "DELETE" => Some(Route::DeleteIntegration { site, kind }),
                _ => None,
            };
            ("PUT, DELETE", route)
        }
        ["v1", "sites", id, "channels"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ListChannels { site }),
        ),
        ["v1", "sites", id, "channels", kind] => {
            let site = site(id)?;
            if !matches!(
                *kind,
                "sms" | "voice" | "whatsapp" | "telegram" | "messenger" | "instagram"
            ) {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!(
                        "no channel {kind:?}: the channels that can be set up here are: instagram, messenger, sms, telegram, voice, whatsapp"
                    ),
                ));
            }
            let kind = (*kind).to_owned();
            let route = match method {
                "PUT" => Some(Route::PutChannel { site, kind }),
                "DELETE" => Some(Route::DeleteChannel { site, kind }),
                _ => None,
            };
            ("PUT, DELETE", route)
        }
        ["v1", "sites", id, "staff-keys"] => {
            let site = site(id)?;
            let route = match method {
                "GET" => Some(Route::ListStaffKeys { site }),
                "POST" => Some(Route::CreateStaffKey { site }),
                _ => None,
            };
            ("GET, POST", route)
        }
        ["v1", "sites", id, "staff-keys", key] => (
            "DELETE",
            (method == "DELETE")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::DeleteStaffKey {
                    site,
                    id: (*key).to_owned(),
                }),
        ),
        ["v1", "sites", id, "metrics", "churn"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Churn { site }),
        ),
        ["v1", "sites", id, "metrics", "unanswered"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Unanswered { site }),
        ),
        ["v1", "sites", id, "metrics", "events"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ImportEvents { site }),
        ),
        ["v1", "sites", id, "proposals"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ListProposals { site }),
        ),
        [
            "v1",
            "sites",
            id,
            "proposals",
            proposal,
            action @ ("approve" | "reject"),
        ] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::DecideProposal {
                    site,
                    id: (*proposal).to_owned(),
                    approve: *action == "approve",
                }),
        ),
        ["v1", "sites", id, "learned"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Learned { site }),
        ),
        ["v1", "sites", id, "metrics"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Metrics { site }),
        ),
        ["v1", "sites", id, "queue"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::Queue { site }),
        ),
        ["v1", "sites", id, "conversations", conversation] => {
            let site = site(id)?;
            let conversation = conversation_id(conversation)?;
            (
                "GET",
                (method == "GET").then_some(Route::StaffConversation { site, conversation }),
            )
        }
        [
            "v1",
            "sites",
            id,
            "conversations",
            conversation,
            "messages",
            message,
            "raw",
        ] => {
            let site = site(id)?;
            let conversation = conversation_id(conversation)?;
            let message = (*message).to_owned();
            (
                "GET",
                (method == "GET").then_some(Route::RawMessage {
                    site,
                    conversation,
                    message,
                }),
            )
        }
        ["v1", "sites", id, "conversations", conversation, "transcript"] => {
            let site = site(id)?;
            let conversation = conversation_id(conversation)?;
            (
                "GET",
                (method == "GET").then_some(Route::SignedTranscript { site, conversation }),
            )
        }
        ["v1", "sites", id, "conversations", conversation, action] => {
            let site = site(id)?;
            let conversation = conversation_id(conversation)?;
            let route = match *action {
                "claim" => Route::ClaimConversation { site, conversation },
                "replies" => Route::ReplyToConversation { site, conversation },
                "typing" => Route::StaffTyping { site, conversation },
                "resolve" => Route::ResolveConversation { site, conversation },
                "notes" => Route::AddNote { site, conversation },
                "bug" => Route::FileBug { site, conversation },
                _ => {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no endpoint at {path}; see /docs/api"),
                    ));
                }
            };
            ("POST", (method == "POST").then_some(route))
        }
        ["v1", "sites", id, "profiles", "import"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ImportProfiles { site }),
        ),
        ["v1", "sites", id, "profiles", profile] => {
            let site = site(id)?;
            let profile = (*profile).to_owned();
            let route = match method {
                "GET" => Some(Route::GetProfile { site, profile }),
                "DELETE" => Some(Route::DeleteProfile { site, profile }),
                _ => None,
            };
            ("GET, DELETE", route)
        }
        ["v1", "sites", id, "profiles", profile, "export"] => (
            "GET",
            (method == "GET")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::ExportProfile {
                    site,
                    profile: (*profile).to_owned(),
                }),
        ),
        ["v1", "sites", id, "merges", merge, "undo"] => (
            "POST",
            (method == "POST")
                .then(|| site(id))
                .transpose()?
                .map(|site| Route::UndoMerge {
                    site,
                    merge: (*merge).to_owned(),
                }),
        ),
        _ => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no endpoint at {path}; see /docs/api"),
            ));
        }
    };
    route.ok_or_else(|| ApiError {
        allow: Some(allow),
        ..ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{path} does not accept {method}; it accepts {allow}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(method: &str, path: &str, expected: Result<Route, (u16, Option<&str>)>) {
        let actual = resolve(method, path).map_err(|e| (e.status(), e.allow));
        assert_eq!(actual, expected, "{method} {path}");
    }

    #[test]
    fn routes() {
        let demo = || "demo".to_owned();
        check(
            "POST",
            "/v1/sites/demo/sessions",
            Ok(Route::CreateSession { site: demo() }),
        );
        check(
            "POST",
            "/v1/sites/demo/sessions/",
            Ok(Route::CreateSession { site: demo() }),
        );
        check(
            "GET",
            "/v1/sites/demo/conversation",
            Ok(Route::Transcript { site: demo() }),
        );
        check(
            "POST",
            "/v1/sites/demo/conversation/messages",
            Ok(Route::SendMessage { site: demo() }),
        );
        check(
            "GET",
            "/v1/sites/demo/conversation/live",
            Ok(Route::Live { site: demo() }),
        );
        check(
            "PUT",
            "/v1/sites/demo/articles",
            Ok(Route::PutArticles { site: demo() }),
        );
        check("PATCH", "/v1/sites/demo", Ok(Route::UpdateSite { site: demo() }));
        check("POST", "/v1/sites", Ok(Route::CreateSite));
        check("GET", "/v1/sites/demo/widget", Ok(Route::WidgetConfig { site: demo() }));
        check("POST", "/v1/sites/demo/widget", Err((405, Some("GET"))));
        check("GET", "/healthz", Ok(Route::Health));
        check("POST", "/v1/sites/demo/identify", Ok(Route::Identify { site: demo() }));
        check(
            "POST",
            "/v1/sites/demo/identify/email/verify",
            Ok(Route::VerifyEmailCode { site: demo() }),
        );
        check(
            "DELETE",
            "/v1/sites/demo/identity-secrets/idk_1",
            Ok(Route::DeleteIdentitySecret {
                site: demo(),
                kid: "idk_1".into(),
            }),
        );
        check(
            "GET",
            "/v1/sites/demo/profiles/p_1/export",
            Ok(Route::ExportProfile {
                site: demo(),
                profile: "p_1".into(),
            }),
        );
        check(
            "POST",
            "/v1/sites/demo/merges/m_1/undo",
            Ok(Route::UndoMerge {
                site: demo(),
                merge: "m_1".into(),
            }),
        );
        check(
            "POST",
            "/v1/sites/demo/profiles/import",
            Ok(Route::ImportProfiles { site: demo() }),
        );
        check(
            "POST",
            "/v1/sites/demo/conversations/v_0123abcd/replies",
            Ok(Route::ReplyToConversation {
                site: demo(),
                conversation: "v_0123abcd".into(),
            }),
        );
        check("GET", "/v1/sites/demo/queue", Ok(Route::Queue { site: demo() }));
        check("GET", "/v1/sites/demo/metrics", Ok(Route::Metrics { site: demo() }));
        check(
            "GET",
            "/v1/sites/demo/proposals",
            Ok(Route::ListProposals { site: demo() }),
        );
        check(
            "POST",
            "/v1/sites/demo/proposals/kp-1/reject",
            Ok(Route::DecideProposal {
                site: demo(),
                id: "kp-1".into(),
                approve: false,
            }),
        );
        check("GET", "/v1/sites/demo/learned", Ok(Route::Learned { site: demo() }));
        check(
            "POST",
            "/v1/sites/demo/metrics/events",
            Ok(Route::ImportEvents { site: demo() }),
        );
        check("GET", "/v1/sites/demo/conversations/../x", Err((404, None)));
        check("POST", "/v1/sites/demo/conversations/v_01/archive", Err((404, None)));
        check(
            "GET",
            "/v1/sites/demo/conversations/v_01/resolve",
            Err((405, Some("POST"))),
        );
        assert!(Route::Identify { site: demo() }.is_visitor_route());
        assert!(!Route::FindProfiles { site: demo() }.is_visitor_route());
    }

    #[test]
    fn wrong_method_lists_what_is_allowed() {
        check("GET", "/v1/sites/demo/sessions", Err((405, Some("POST"))));
        check("DELETE", "/v1/sites/demo/articles", Err((405, Some("GET, PUT"))));
        check("PUT", "/v1/sites/demo/conversation/messages", Err((405, Some("POST"))));
        check("PUT", "/v1/sites/demo/profiles/p_1", Err((405, Some("GET, DELETE"))));
        check("GET", "/v1/sites/demo/identify", Err((405, Some("POST"))));
    }

    #[test]
    fn unknown_paths_and_sites() {
        check("GET", "/v1/nothing", Err((404, None)));
        check("GET", "/", Err((404, None)));
        check("POST", "/v1/sites/Not..Valid/sessions", Err((404, None)));
        let error = resolve("POST", "/v1/sites/Not..Valid/sessions").unwrap_err();
        assert_eq!(error.body.code, ErrorCode::UnknownSite);
    }
}
