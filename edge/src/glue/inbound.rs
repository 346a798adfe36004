//! Messages that arrive on other channels than the widget. Email comes two ways: Cloudflare
//! Email Routing hands raw MIME to the worker's email handler, and Postmark's inbound webhook
//! posts it as JSON (with the raw message). Both end in `receive_email`: parse, find the site
//! from the recipient address, decide whether the sender is authenticated, let the site's
//! profile directory route it to a conversation, and hand it to that conversation object, which
//! stores it once and answers it (by email, in the sender's thread) unless it is automatic mail
//! or a person has the conversation.

use base64::Engine as _;
use shared::mail::{address, auth, inbound};
use shared::wire::{Channel, ErrorCode};
use worker::{Env, ForwardableEmailMessage};

use super::http::{call, directory, internal, now_ms, random_bytes, setting, site_command};
use crate::api_error::ApiError;
use crate::internal::{
    DirectoryCommand, EmailContext, InboundCommand, InboundResult, InboundRoute, NewIds, SiteCommand, SiteRecord,
};

/// Which server's `Authentication-Results` count for Email Routing, unless `EMAIL_AUTHSERV_ID`
/// says otherwise.
const DEFAULT_AUTHSERV_ID: &str = "mx.cloudflare.net";

/// How an email reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Cloudflare Email Routing: trust its `Authentication-Results`.
    EmailRouting,
    /// A provider that authenticated the sender itself and said so (`true`) or not.
    Provider { authenticated: bool },
}

/// The email handler: rejects (a permanent SMTP error) what can never be accepted, and fails
/// (a temporary error, so the sending server retries) when something on our side failed.
pub async fn email_event(message: ForwardableEmailMessage, env: Env) -> worker::Result<()> {
    if message.raw_size() as usize > inbound::MAX_RAW_BYTES {
        message.set_reject(&format!("message larger than {} bytes", inbound::MAX_RAW_BYTES));
        return Ok(());
    }
    let raw = message.raw_bytes().await?;
    match receive_email(&env, &message.to(), &raw, Source::EmailRouting).await {
        Ok(_) => Ok(()),
        Err(error) if error.status() < 500 => {
            message.set_reject(&error.body.message);
            Ok(())
        }
        Err(error) => Err(worker::Error::RustError(error.body.message)),
    }
}

/// The empty TwiML answer: we reply through the Messages API, not in the webhook's response.
pub const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// TwiML that answers with one message.
pub fn twiml_message(text: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
        crate::email::escape_html(text)
    )
}

/// Takes one inbound SMS (its signature checked, keywords handled by the site's inbox): it goes
/// to the number's conversation and is answered there by SMS.
pub async fn receive_sms(
    env: &Env,
    site: &SiteRecord,
    sms: shared::sms::InboundSms,
) -> Result<InboundResult, ApiError> {
    let new_ids = new_ids()?;
    let command = DirectoryCommand::InboundSms {
        phone: sms.from.clone(),
        code: shared::continuation::find_code(&sms.body),
        new_ids,
        rules: site.trait_rules.clone(),
        now: now_ms(),
    };
    let route: InboundRoute = directory(env, &site.id, command).await?;
    let mut text = sms.body.trim().to_owned();
    for (kind, url) in &sms.media {
        text.push_str(&format!("\n[{kind}: {url}]"));
    }
    let command = InboundCommand {
        continued: route.continued,
        sms: Some(crate::internal::SmsContext {
            from: sms.to.clone(),
            to: sms.from.clone(),
        }),
        ..InboundCommand::new(format!("sms:{}", sms.sid), Channel::Sms, text.trim().to_owned())
    };
    hand_over(env, &site.id, &route.conversation, &command).await
}

/// Takes one WhatsApp message (its webhook's signature checked). The sender's number is
/// verified by WhatsApp itself, so it joins the profile that holds that number verified.
pub async fn receive_whatsapp(
    env: &Env,
    site: &SiteRecord,
    message: shared::whatsapp::InboundMessage,
) -> Result<InboundResult, ApiError> {
    let route = route_verified(
        env,
        site,
        format!("whatsapp:{}", message.from),
        shared::identity::IdentityKey {
            kind: shared::identity::IdentityKind::Phone,
            value: message.from.clone(),
        },
        shared::identity::Proof::Whatsapp,
        message.name.clone(),
        shared::continuation::find_code(&message.text),
    )
    .await?;
    let command = InboundCommand {
        continued: route.continued,
        whatsapp: Some(crate::internal::WhatsappContext {
            to: message.from.clone(),
            last_inbound_at: message.timestamp,
        }),
        ..InboundCommand::new(
            format!("whatsapp:{}", message.id),
            Channel::Whatsapp,
            message.text.clone(),
        )
    };
    hand_over(env, &site.id, &route.conversation, &command).await
}

/// Takes one Telegram message (its secret token checked): the sender's Telegram id is vouched
/// for by Telegram, a verified identity of its own.
pub async fn receive_telegram(
    env: &Env,
    site: &SiteRecord,
    message: shared::telegram::TelegramMessage,
) -> Result<InboundResult, ApiError> {
    let route = route_verified(
        env,
        site,
        format!("telegram:{}", message.from_id),
        shared::identity::IdentityKey {
            kind: shared::identity::IdentityKind::Telegram,
            value: message.from_id.to_string(),
        },
        shared::identity::Proof::Telegram,
        message.name.clone(),
        shared::continuation::find_code(&message.text),
    )
    .await?;
    let command = InboundCommand {
        continued: route.continued,
        telegram: Some(crate::internal::TelegramContext {
            chat_id: message.chat_id,
        }),
        ..InboundCommand::new(
            format!("telegram:{}:{}", message.chat_id, message.message_id),
            Channel::Telegram,
            message.text.clone(),
        )
    };
    hand_over(env, &site.id, &route.conversation, &command).await
}

/// Takes one Messenger or Instagram message (its signature checked): the page-scoped id is
/// delivered by Meta to the site's page, a verified identity of its own.
pub async fn receive_page(
    env: &Env,
    site: &SiteRecord,
    message: shared::messenger::PageMessage,
) -> Result<InboundResult, ApiError> {
    let kind = message.inbox.as_str();
    let identity_kind = match message.inbox {
        shared::messenger::Inbox::Messenger => shared::identity::IdentityKind::Messenger,
        shared::messenger::Inbox::Instagram => shared::identity::IdentityKind::Instagram,
    };
    let route = route_verified(
        env,
        site,
        format!("{kind}:{}", message.sender),
        shared::identity::IdentityKey {
            kind: identity_kind,
            value: message.sender.clone(),
        },
        shared::identity::Proof::MetaPage,
        None,
        None,
    )
    .await?;
    let command = InboundCommand {
        page: Some(crate::internal::PageContext {
            kind: kind.to_owned(),
            to: message.sender.clone(),
            last_inbound_at: message.timestamp,
        }),
        ..InboundCommand::new(
            format!("{kind}:{}", message.mid),
            match message.inbox {
                shared::messenger::Inbox::Messenger => Channel::Messenger,
                shared::messenger::Inbox::Instagram => Channel::Instagram,
            },
            message.text.clone(),
        )
    };
    hand_over(env, &site.id, &route.conversation, &command).await
}

/// Routes a message from a sender whose channel vouches for them (a WhatsApp number, a Telegram
/// user id, a page-scoped id): the conversation of whoever holds that identity verified, or a
/// new one. `code`: a "continue on another channel" code the message carried.
async fn route_verified(
    env: &Env,
    site: &SiteRecord,
    channel: String,
    identity: shared::identity::IdentityKey,
    proof: shared::identity::Proof,
    name: Option<String>,
    code: Option<String>,
) -> Result<InboundRoute, ApiError> {
    let command = DirectoryCommand::InboundVerified {
        channel,
        identity,
        proof,
        name,
        code,
        new_ids: new_ids()?,
        rules: site.trait_rules.clone(),
        now: now_ms(),
    };
    directory(env, &site.id, command).await
}

/// Takes one inbound email addressed to `to`.
pub async fn receive_email(env: &Env, to: &str, raw: &[u8], source: Source) -> Result<InboundResult, ApiError> {
    let email = inbound::parse(raw).map_err(|error| match error {
        inbound::MailError::TooLarge => {
            let mut too_large = ApiError::new(ErrorCode::PayloadTooLarge, error.to_string());
            too_large.body.limit = Some(inbound::MAX_RAW_BYTES as u64);
            too_large
        }
        other => ApiError::new(ErrorCode::MalformedEmail, other.to_string()),
    })?;
    let domain = setting(env, "EMAIL_DOMAIN").ok_or_else(|| {
        ApiError::new(
            ErrorCode::EmailUnavailable,
            "inbound email needs EMAIL_DOMAIN configured",
        )
    })?;
    let secret = env
        .secret("SESSION_SECRET")
        .map_err(|e| internal("configuration", e))?
        .to_string();
    let key = address::address_key(secret.as_bytes());
    let unknown = || ApiError::new(ErrorCode::UnknownRecipient, format!("no mailbox {to:?} here"));
    let recipient = address::recipient(&key, to, &domain).ok_or_else(unknown)?;
    let (site, threaded) = match recipient {
        address::Recipient::Site { site } => (site, None),
        address::Recipient::Conversation { site, conversation } => (site, Some(conversation)),
    };
    let record: SiteRecord = site_command(env, &site, &SiteCommand::Get).await.map_err(|error| {
        if error.body.code == ErrorCode::UnknownSite {
            unknown()
        } else {
            error
        }
    })?;
    let authenticated = match source {
        Source::Provider { authenticated } => authenticated,
        Source::EmailRouting => {
            let authserv = setting(env, "EMAIL_AUTHSERV_ID").unwrap_or_else(|| DEFAULT_AUTHSERV_ID.into());
            let from_domain = email.from.rsplit('@').next().unwrap_or_default();
            let results: Vec<&str> = email.auth_results.iter().map(String::as_str).collect();
            auth::authenticated_by(&results, &authserv, from_domain)
        }
    };
    let new_ids = new_ids()?;
    let command = DirectoryCommand::InboundEmail {
        address: email.from.clone(),
        authenticated,
        conversation: threaded,
        replies_to: email.replies_to.clone(),
        message_id: email.message_id.clone(),
        code: shared::continuation::find_code(&email.subject)
            .or_else(|| shared::continuation::find_code(&email.new_text)),
        new_ids,
        rules: record.trait_rules.clone(),
        now: now_ms(),
    };
    let route: InboundRoute = directory(env, &site, command).await?;
    // One id per message however often it is delivered: its Message-ID, else its bytes.
    let digest = {
        use sha2::Digest as _;
        let basis = email
            .message_id
            .as_deref()
            .map_or(raw.to_vec(), |id| id.as_bytes().to_vec());
        shared::hex::encode(&sha2::Sha256::digest(&basis)[..12])
    };
    let mut text = if email.new_text.is_empty() {
        email.subject.clone()
    } else {
        email.new_text.clone()
    };
    if !email.attachments.is_empty() {
        let names: Vec<String> = email
            .attachments
            .iter()
            .map(|a| format!("{} ({}, {} KB)", a.name, a.content_type, a.bytes.div_ceil(1024)))
            .collect();
        text.push_str(&format!("\n[attachments: {}]", names.join(", ")));
    }
    if text.trim().is_empty() {
        text = "(an email without text)".into();
    }
    let mut references = email.replies_to.clone();
    references.reverse();
    let command = InboundCommand {
        automatic: email.automatic.is_some(),
        continued: route.continued,
        email: Some(EmailContext {
            from: email.from.clone(),
            subject: email.subject.clone(),
            message_id: email.message_id.clone(),
            references,
            reply_address: address::reply_address(&key, &site, &route.conversation, &domain),
        }),
        // Kept whole (parse refused anything over `inbound::MAX_RAW_BYTES`), attachments and all.
        raw: Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        ..InboundCommand::new(format!("email:{digest}"), Channel::Email, text)
    };
    hand_over(env, &site, &route.conversation, &command).await
}

/// Fresh ids for whatever routing an inbound message may have to create.
pub(crate) fn new_ids() -> Result<NewIds, ApiError> {
    Ok(NewIds {
        profile: format!("p_{}", shared::hex::encode(&random_bytes::<12>()?)),
        merge: format!("m_{}", shared::hex::encode(&random_bytes::<12>()?)),
        conversation: format!("c_{}", shared::hex::encode(&random_bytes::<16>()?)),
    })
}

/// Hands a routed message to its conversation object, which stores and answers it.
pub(crate) async fn hand_over(
    env: &Env,
    site: &str,
    conversation: &str,
    command: &InboundCommand,
) -> Result<InboundResult, ApiError> {
    let stub = env
        .durable_object("CONVERSATIONS")
        .and_then(|ns| ns.get_by_name(&crate::internal::object_name(site, conversation)))
        .map_err(|e| internal("conversation object", e))?;
    let path = format!("/inbound?site={site}&conversation={conversation}");
    call(&stub, "POST", &path, Some(command)).await
}
