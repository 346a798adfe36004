//! The public API's handlers: each checks who is asking and what they sent, then hands the work
//! to a Durable Object.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use shared::article;
use shared::continuation::{self, Target};
use shared::identity::{self, IdentifyError, IdentityKey};
use shared::jwt::{Key, KeyRing};
use shared::limits::{MAX_ARTICLES_UPLOAD_BYTES, MAX_JSON_BODY_BYTES};
use shared::otp::{self, PendingCode};
use shared::rate::Action;
use shared::session::{self, SessionClaims};
use shared::site;
use shared::wire::{
    ArticlesResponse, CreateSiteRequest, EmailCodeRequest, EmailCodeResponse, EmailVerifyRequest, ErrorCode,
    HandoffRequest, IdentifyRequest, IdentifyResponse, IdentitySecretInfo, IdentitySecretResponse, SendMessageRequest,
    SendMessageResponse, SessionResponse, SiteKeyResponse, TranscriptResponse, UpdateSiteRequest, WidgetConfig,
    parse_json_body,
};
use wasm_bindgen::{JsCast, JsValue};
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub, Url};

use super::conversation_object::PROTOCOL;
use super::http::{
    bearer, call, directory, email_config, internal, json, now_ms, random_bytes, read_body, require_content_type,
    send_email, setting, site_command,
};
use crate::api_error::ApiError;
use crate::config;
use crate::email;
use crate::internal::{
    AgentReplyCommand, AgentReplyResult, ConversationKey, DeadLetterInfo, DirectoryCommand, ErasureReport,
    HandoffCommand, IdentifyOutcome, IdentitySecret, ImportReport, NewIds, ProfileExport, ProfileView, QueueEntry,
    SendCommand, SiteCommand, SiteRecord, StaffConversation, StaffKeyInfo, UndoReport, WebhookInfo,
};
use crate::internal::{
    ChannelInfo, ChannelProof, FeedbackCommand, FiledBug, InboundAccepted, InboxStatus, IntegrationInfo, Note,
    NoteCommand, SmsConfig, VoiceConfig, VoiceReply, WebhookFormat, WhatsappConfig,
};
use crate::route::{self, Route};
use shared::package;

type ApiResult<T> = Result<T, ApiError>;

/// Longest comment beside a satisfaction rating, in characters.
const MAX_RATING_COMMENT_CHARS: usize = 1000;

pub async fn handle(mut req: Request, env: &Env) -> ApiResult<Response> {
    let url = req.url().map_err(|e| internal("request url", e))?;
    let method = req.inner().method();
    let route = route::resolve(&method, url.path())?;
    match route {
        Route::Health => json(200, &serde_json::json!({ "ok": true })),

        Route::CreateSite => {
            require_operator(&req, env)?;
            let request = CreateSiteRequest::from_json(&json_body(&mut req).await?)?;
            let admin_key = site::admin_key(random_bytes()?);
            let command = SiteCommand::Create {
                id: request.id.clone(),
                name: request.name,
                allowed_origins: request.allowed_origins,
                admin_key_hash: site::admin_key_hash(&admin_key),
            };
            let record: SiteRecord = site_command(env, &request.id, &command).await?;
            json(
                201,
                &SiteKeyResponse {
                    site: record.view(),
                    admin_key,
                },
            )
        }
        Route::InboundPostmark => {
            require_inbound_credentials(&req, env)?;
            require_content_type(&req, &["application/json"])?;
            let body = read_body(&mut req, MAX_INBOUND_EMAIL_BODY_BYTES).await?;
            let parsed = shared::mail::postmark::parse(&body).map_err(|(field, why)| ApiError::field(field, why))?;
            let from_domain = shared::mail::inbound::parse(&parsed.raw)
                .map(|email| email.from.rsplit('@').next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let source = super::inbound::Source::Provider {
                authenticated: parsed.authenticated(&from_domain),
            };
            let result = super::inbound::receive_email(env, &parsed.to, &parsed.raw, source).await?;
            json(200, &result)
        }
        // Channel webhooks: one call to the site object, which checks the provider's signature
        // with the channel's secret and keeps the messages in its inbox; they are routed, stored
        // and answered right after, off the provider's clock (see `site_object::inbox`).
        Route::InboundTwilioSms { site } => {
            require_content_type(&req, &["application/x-www-form-urlencoded"])?;
            let body = read_body(&mut req, MAX_JSON_BODY_BYTES * 4).await?;
            let proof = ChannelProof::Twilio {
                presented: header(&req, "X-Twilio-Signature"),
                url: url.to_string(),
            };
            let accepted = accept_inbound(env, &site, "sms", proof, body).await?;
            let twiml = accepted.twiml.unwrap_or_else(|| super::inbound::EMPTY_TWIML.to_owned());
            let mut response = Response::ok(twiml).map_err(|e| internal("twiml", e))?;
            let _ = response.headers_mut().set("Content-Type", "text/xml; charset=utf-8");
            Ok(response)
        }
        // A call's webhooks are answered at once, with TwiML: the site object checks the
        // signature, then routes, answers and records the call (see `site_object::voice`).
        Route::InboundVoice { site, step } => {
            require_content_type(&req, &["application/x-www-form-urlencoded"])?;
            let turn = url
                .query_pairs()
                .find(|(k, _)| k == "turn")
                .map(|(_, v)| v.into_owned());
            let step = shared::voice::Step::parse(step.as_deref(), turn.as_deref()).ok_or_else(|| {
                ApiError::field(
                    "turn",
                    format!("`turn` is a question's number, 1 to {}", shared::voice::MAX_TURNS),
                )
            })?;
            let body = read_body(&mut req, MAX_JSON_BODY_BYTES * 4).await?;
            let body = String::from_utf8(body)
                .map_err(|_| ApiError::new(ErrorCode::MalformedJson, "the request body is not UTF-8"))?;
            let command = SiteCommand::Voice {
                step,
                proof: ChannelProof::Twilio {
                    presented: header(&req, "X-Twilio-Signature"),
                    url: url.to_string(),
                },
                body,
                base: format!(
                    "{}/v1/sites/{site}/inbound/voice/twilio",
                    url.origin().ascii_serialization()
                ),
            };
            let reply: VoiceReply = site_command(env, &site, &command).await?;
            let mut response = Response::ok(reply.twiml).map_err(|e| internal("twiml", e))?;
            let _ = response.headers_mut().set("Content-Type", "text/xml; charset=utf-8");
            Ok(response)
        }
        Route::InboundWhatsapp { site } => meta_inbound(&mut req, env, &url, &site, "whatsapp").await,
        Route::InboundPage { site, kind } => meta_inbound(&mut req, env, &url, &site, &kind).await,
        Route::InboundTelegram { site } => {
            let body = read_body(&mut req, MAX_JSON_BODY_BYTES * 4).await?;
            let proof = ChannelProof::SecretToken {
                presented: header(&req, "X-Telegram-Bot-Api-Secret-Token"),
            };
            let accepted = accept_inbound(env, &site, "telegram", proof, body).await?;
            json(200, &serde_json::json!({ "messages": accepted.messages }))
        }
        Route::ListChannels { site } => {
            require_admin(&req, env, &site).await?;
            let list: Vec<ChannelInfo> = site_command(env, &site, &SiteCommand::ListChannels).await?;
            let inbox: InboxStatus = site_command(env, &site, &SiteCommand::InboxStatus).await?;
            json(200, &serde_json::json!({ "channels": list, "inbox": inbox }))
        }
        Route::PutChannel { site, kind } => {
            require_admin(&req, env, &site).await?;
            let body = json_body(&mut req).await?;
            let text = |name: &'static str, why: &'static str| -> ApiResult<String> {
                body.get(name)
                    .and_then(|v| v.as_str())
                    .map(|v| v.trim().to_owned())
                    .ok_or_else(|| ApiError::field(name, why))
            };
            let base = setting(env, "PUBLIC_URL").unwrap_or_default();
            let base = base.trim_end_matches('/');
            if kind == "messenger" || kind == "instagram" {
                let page_id = text("page_id", "`page_id` is the page's (or Instagram account's) id")?;
                if page_id.is_empty() || page_id.len() > 32 || !page_id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ApiError::field("page_id", "`page_id` is digits"));
                }
                let (access_token, app_secret, verify_token) = meta_app_credentials(&body)?;
                let config = crate::internal::PageConfig {
                    page_id: page_id.clone(),
                    access_token,
                    app_secret,
                    verify_token,
                };
                let webhook_url = format!("{base}/v1/sites/{site}/inbound/{kind}");
                return set_channel(
                    env,
                    &site,
                    kind,
                    &config,
                    serde_json::json!({ "page_id": page_id, "webhook_url": webhook_url }),
                )
                .await;
            }
            if kind == "telegram" {
                let bot_token = text("bot_token", "`bot_token` is the token BotFather gave the bot")?;
                let well_formed = bot_token.split_once(':').is_some_and(|(id, rest)| {
                    !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_digit())
                        && rest.len() >= 30
                        && rest
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
                if !well_formed {
                    return Err(ApiError::field(
                        "bot_token",
                        "`bot_token` looks like 123456789:AA… (BotFather's token)",
                    ));
                }
                let secret_token = text("secret_token", "`secret_token` is the secret you pass to setWebhook")?;
                if !shared::telegram::valid_secret_token(&secret_token) {
                    return Err(ApiError::field(
                        "secret_token",
                        "`secret_token` is 1 to 256 of A-Z a-z 0-9 _ -",
                    ));
                }
                let bot_id = bot_token.split(':').next().unwrap_or_default().to_owned();
                // Optional: the bot's @username, for "continue on Telegram" links.
                let username = match body.get("username") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(name)) if continuation::valid_telegram_username(name) => {
                        Some(name.trim_start_matches('@').to_owned())
                    }
                    Some(_) => {
                        return Err(ApiError::field(
                            "username",
                            "`username` is the bot's username: 5 to 32 of a-z, 0-9 and _, starting with a letter",
                        ));
                    }
                };
                let config = crate::internal::TelegramConfig {
                    bot_token,
                    secret_token,
                };
                return set_channel(
                    env,
                    &site,
                    kind,
                    &config,
                    serde_json::json!({
                        "bot_id": bot_id,
                        "username": username,
                        "webhook_url": format!("{base}/v1/sites/{site}/inbound/telegram"),
                    }),
                )
                .await;
            }
            if kind == "whatsapp" {
                let phone_number_id = text("phone_number_id", "`phone_number_id` is the Cloud API number's id")?;
                if phone_number_id.is_empty()
                    || phone_number_id.len() > 32
                    || !phone_number_id.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(ApiError::field("phone_number_id", "`phone_number_id` is digits"));
                }
                // Optional: the number customers write to, for "continue on WhatsApp" links.
                let phone_number = match body.get("phone_number") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(number)) => Some(
                        shared::identity::normalize_phone(number)
                            .map_err(|why| ApiError::field("phone_number", why))?,
                    ),
                    Some(_) => {
                        return Err(ApiError::field(
                            "phone_number",
                            "`phone_number` is the WhatsApp number in international form, e.g. +15550001111",
                        ));
                    }
                };
                let (access_token, app_secret, verify_token) = meta_app_credentials(&body)?;
                let config = WhatsappConfig {
                    phone_number_id: phone_number_id.clone(),
                    access_token,
                    app_secret,
                    verify_token,
                };
                return set_channel(
                    env,
                    &site,
                    kind,
                    &config,
                    serde_json::json!({
                        "phone_number_id": phone_number_id,
                        "phone_number": phone_number,
                        "webhook_url": format!("{base}/v1/sites/{site}/inbound/whatsapp"),
                    }),
                )
                .await;
            }
            let account_sid = text(
                "account_sid",
                "`account_sid` is the Twilio Account SID (AC + 32 hex digits)",
            )?;
            if kind == "voice" {
                let (auth_token, number) = twilio_credentials(&body, &account_sid, "number")?;
                let support_number = match body.get("support_number") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(number)) => Some(
                        shared::identity::normalize_phone(number)
                            .map_err(|why| ApiError::field("support_number", why))?,
                    ),
                    Some(_) => {
                        return Err(ApiError::field(
                            "support_number",
                            "`support_number` is the phone number calls are put through to, or null",
                        ));
                    }
                };
                if support_number.as_deref() == Some(number.as_str()) {
                    return Err(ApiError::field(
                        "support_number",
                        "`support_number` is where calls go to a person; it cannot be the line's own number",
                    ));
                }
                let record_calls = match body.get("record_calls") {
                    None => true,
                    Some(serde_json::Value::Bool(record)) => *record,
                    Some(_) => return Err(ApiError::field("record_calls", "`record_calls` is true or false")),
                };
                let language = match body.get("language") {
                    None => "en-US".to_owned(),
                    Some(serde_json::Value::String(tag)) if shared::voice::valid_language(tag) => tag.clone(),
                    Some(_) => {
                        return Err(ApiError::field(
                            "language",
                            "`language` is a BCP 47 tag Twilio speaks, such as en-US, en-GB, es-ES or de-DE",
                        ));
                    }
                };
                let hook = format!("{base}/v1/sites/{site}/inbound/voice/twilio");
                let public = serde_json::json!({
                    "account_sid": account_sid,
                    "number": number,
                    "support_number": support_number,
                    "record_calls": record_calls,
                    "language": language,
                    "webhook_url": hook,
                    "status_callback_url": format!("{hook}/status"),
                });
                let config = VoiceConfig {
                    account_sid,
                    auth_token,
                    number,
                    support_number,
                    record_calls,
                    language,
                };
                return set_channel(env, &site, kind, &config, public).await;
            }
            let (auth_token, from) = twilio_credentials(&body, &account_sid, "from")?;
            let public = serde_json::json!({
                "account_sid": account_sid,
                "from": from,
                "webhook_url": format!("{base}/v1/sites/{site}/inbound/sms/twilio"),
            });
            let config = SmsConfig {
                account_sid,
                auth_token,
                from,
            };
            set_channel(env, &site, kind, &config, public).await
        }
        Route::ListIntegrations { site } => {
            require_admin(&req, env, &site).await?;
            let list: Vec<IntegrationInfo> = site_command(env, &site, &SiteCommand::ListIntegrations).await?;
            json(200, &serde_json::json!({ "integrations": list }))
        }
        Route::PutIntegration { site, kind } => {
            require_admin(&req, env, &site).await?;
            let body = json_body(&mut req).await?;
            let base = setting(env, "PUBLIC_URL").unwrap_or_default();
            let (config, public) = if kind == "connector" {
                let allow_loopback = setting(env, "ALLOW_LOOPBACK_WEBHOOKS").as_deref() == Some("1");
                let secret = shared::webhook::WebhookSecret::from_random(random_bytes()?);
                connector_settings(&body, allow_loopback, &secret)?
            } else {
                integration_settings(&kind, &body, base.trim_end_matches('/'), &site)?
            };
            let shown_once = config.get("secret").cloned();
            let command = SiteCommand::SetIntegration {
                kind,
                config,
                public,
                now: now_ms(),
            };
            let info: IntegrationInfo = site_command(env, &site, &command).await?;
            let mut info = serde_json::to_value(&info).map_err(|e| internal("integration", e))?;
            // The connector's signing secret is shown this once, like a webhook endpoint's.
            if let Some(secret) = shown_once {
                info["secret"] = secret;
            }
            json(200, &info)
        }
        Route::DeleteIntegration { site, kind } => {
            require_admin(&req, env, &site).await?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::DeleteIntegration { kind }).await?;
            json(200, &reply)
        }
        Route::StripeWebhook { site } => {
            let body = service_webhook_body(&mut req).await?;
            let command = SiteCommand::StripeWebhook {
                signature: req.headers().get("Stripe-Signature").ok().flatten(),
                body,
                now: now_ms() / 1000,
            };
            let reply: serde_json::Value = site_command(env, &site, &command).await?;
            json(200, &reply)
        }
        Route::LinearWebhook { site } => {
            let body = service_webhook_body(&mut req).await?;
            let command = SiteCommand::LinearWebhook {
                signature: req.headers().get("Linear-Signature").ok().flatten(),
                body,
                now: now_ms(),
            };
            let reply: serde_json::Value = site_command(env, &site, &command).await?;
            json(200, &reply)
        }
        Route::FileBug { site, conversation } => {
            let staff = require_staff(&req, env, &site).await?.name;
            // Optional body: `{"title": ..., "details": ...}`: the issue's title (else the
            // customer's first quoted words) and a note for the engineers.
            let body = optional_json_body(&mut req).await?;
            let text = |name: &'static str, max: usize| -> ApiResult<Option<String>> {
                match body.get(name) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(text)) if text.trim().is_empty() => Ok(None),
                    Some(serde_json::Value::String(text)) if text.chars().count() <= max => {
                        Ok(Some(text.trim().to_owned()))
                    }
                    Some(_) => Err(ApiError::field(
                        name,
                        format!("`{name}` is text of at most {max} characters"),
                    )),
                }
            };
            let title = text("title", shared::linear::MAX_TITLE_CHARS)?;
            let details = text("details", shared::linear::MAX_DETAILS_CHARS)?;
            let stub = named_conversation(env, &site, &conversation)?;
            let query = format!("site={site}&conversation={conversation}");
            let report: shared::linear::Report =
                call::<_, ()>(&stub, "GET", &format!("/bug-report?{query}"), None).await?;
            let command = SiteCommand::FileBug {
                bug: crate::internal::BugToFile {
                    conversation: conversation.clone(),
                    staff: staff.clone(),
                    title,
                    details,
                    report,
                    at: now_ms(),
                },
            };
            let filed: FiledBug = site_command(env, &site, &command).await?;
            if filed.created {
                // Staff see in the conversation that it went to engineering, and where.
                let note = NoteCommand {
                    id: format!("bug:{}", filed.issue.id),
                    text: format!(
                        "Filed as a bug in Linear: {} {}",
                        filed.issue.identifier, filed.issue.url
                    ),
                    author: staff,
                };
                // The issue is filed whatever happens to the note.
                let noted: Result<Note, ApiError> = call(&stub, "POST", &format!("/notes?{query}"), Some(&note)).await;
                if let Err(error) = noted {
                    worker::console_error!("the bug's note was not kept: {}", error.body.message);
                }
            }
            json(if filed.created { 201 } else { 200 }, &filed)
        }
        Route::DeleteChannel { site, kind } => {
            require_admin(&req, env, &site).await?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::DeleteChannel { kind }).await?;
            json(200, &reply)
        }
        Route::InboundSendgrid => {
            require_inbound_credentials(&req, env)?;
            let content_type = req.headers().get("Content-Type").ok().flatten().unwrap_or_default();
            if shared::mail::sendgrid::boundary(&content_type).is_none() {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "SendGrid's Inbound Parse posts multipart/form-data with a boundary",
                ));
            }
            let body = read_body(&mut req, MAX_INBOUND_EMAIL_BODY_BYTES).await?;
            let parsed = shared::mail::sendgrid::parse(&body, &content_type)
                .map_err(|(field, why)| ApiError::field(field, why))?;
            let from_domain = shared::mail::inbound::parse(&parsed.raw)
                .map(|email| email.from.rsplit('@').next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let source = super::inbound::Source::Provider {
                authenticated: parsed.authenticated(&from_domain),
            };
            let result = super::inbound::receive_email(env, &parsed.to, &parsed.raw, source).await?;
            json(200, &result)
        }
        Route::RotateAdminKey { site } => {
            require_operator(&req, env)?;
            let admin_key = site::admin_key(random_bytes()?);
            let command = SiteCommand::SetAdminKey {
                admin_key_hash: site::admin_key_hash(&admin_key),
            };
            let record: SiteRecord = site_command(env, &site, &command).await?;
            json(
                200,
                &SiteKeyResponse {
                    site: record.view(),
                    admin_key,
                },
            )
        }

        Route::GetSite { site } => json(200, &require_admin(&req, env, &site).await?.view()),
        Route::UpdateSite { site } => {
            require_admin(&req, env, &site).await?;
            let request = UpdateSiteRequest::from_json(&json_body(&mut req).await?)?;
            if let Some(hours) = request.widget.as_ref().and_then(|w| w.hours.as_ref()) {
                check_time_zone(&hours.time_zone)?;
            }
            let command = SiteCommand::Update {
                name: request.name,
                allowed_origins: request.allowed_origins,
                trait_rules: request.trait_rules,
                escalation_rules: request.escalation_rules,
                widget: request.widget,
                rate_limits: request.rate_limits,
                privacy: request.privacy,
            };
            let record: SiteRecord = site_command(env, &site, &command).await?;
            json(200, &record.view())
        }
        Route::GetArticles { site } => {
            require_admin(&req, env, &site).await?;
            let articles: Vec<article::Article> = site_command(env, &site, &SiteCommand::GetArticles).await?;
            json(200, &articles)
        }
        Route::PutArticles { site } => {
            require_admin(&req, env, &site).await?;
            let text = read_ndjson(&mut req).await?;
            let articles = article::parse_jsonl(&text)?;
            let reply: ArticlesResponse = site_command(env, &site, &SiteCommand::PutArticles { articles }).await?;
            json(200, &reply)
        }

        Route::CreateSession { site } => {
            // Renewing a session is not a new one: only first visits count against the limits.
            let new = bearer(&req).is_none().then_some(Action::Session);
            admitted_site(&req, env, &site, new).await?;
            let keys = session_keys(env)?;
            let now = now_ms() / 1000;
            // A still-valid token renews to the same visitor, in the conversation its profile has
            // now (a merge or its undo may have moved it); a bad one is refused so the widget
            // knows to drop it rather than silently starting someone else's conversation.
            let (visitor, conversation) = match bearer(&req) {
                Some(token) => {
                    let visitor = session::verify(&token, &site, now, &keys)?.sub;
                    let conversation: Option<String> = directory(
                        env,
                        &site,
                        DirectoryCommand::SessionConversation {
                            visitor: visitor.clone(),
                        },
                    )
                    .await?;
                    (visitor, conversation)
                }
                None => (session::visitor_id(random_bytes()?), None),
            };
            let issued = session::issue(&site, &visitor, conversation.as_deref(), now, &keys);
            json(
                201,
                &SessionResponse {
                    token: issued.token,
                    visitor_id: issued.visitor_id,
                    expires_at: issued.expires_at,
                },
            )
        }
        Route::Transcript { site } => {
            visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let after = after_param(&url)?;
            let path = conversation_path("/transcript", &claims, after);
            let transcript: TranscriptResponse =
                call::<_, ()>(&conversation_stub(env, &claims)?, "GET", &path, None).await?;
            json(200, &transcript)
        }
        Route::SendMessage { site } => {
            visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let request = SendMessageRequest::from_json(&json_body(&mut req).await?)?;
            let body = SendCommand {
                id: request.id,
                text: request.text,
                ip: client_ip(&req),
            };
            let path = conversation_path("/messages", &claims, None);
            let reply: SendMessageResponse =
                call(&conversation_stub(env, &claims)?, "POST", &path, Some(&body)).await?;
            json(200, &reply)
        }
        Route::Feedback { site } => {
            visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let body = json_body(&mut req).await?;
            let message = match body.get("message") {
                Some(serde_json::Value::String(id)) if (1..=200).contains(&id.len()) => id.clone(),
                _ => {
                    return Err(ApiError::field(
                        "message",
                        "`message` is the id of the bot answer the feedback is about",
                    ));
                }
            };
            let Some(helpful) = body.get("helpful").and_then(serde_json::Value::as_bool) else {
                return Err(ApiError::field("helpful", "`helpful` is true (it helped) or false"));
            };
            let path = conversation_path("/feedback", &claims, None);
            let command = FeedbackCommand { message, helpful };
            let updated: shared::wire::Message =
                call(&conversation_stub(env, &claims)?, "POST", &path, Some(&command)).await?;
            json(200, &serde_json::json!({ "message": updated }))
        }
        Route::UpdateTraits { site } => {
            let record = visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let body = json_body(&mut req).await?;
            let traits: std::collections::BTreeMap<String, serde_json::Value> = match body.get("traits") {
                Some(serde_json::Value::Object(map)) => map.clone().into_iter().collect(),
                _ => {
                    return Err(ApiError::field(
                        "traits",
                        "`traits` is an object of trait names to values",
                    ));
                }
            };
            identity::check_traits(&traits).map_err(|why| ApiError::field("traits", why))?;
            // Said by the page, unsigned: recorded as unverified traits, never merging anything
            // and never overriding what the site's backend vouched for.
            let identified = identity::Identified {
                proof: identity::Proof::Claimed,
                verified: Vec::new(),
                claimed: Vec::new(),
                traits,
                traits_verified: false,
            };
            let outcome = identify_in_directory(env, &site, &claims, identified, record.trait_rules).await?;
            json(200, &serde_json::json!({ "profile": outcome.profile }))
        }
        Route::Rate { site } => {
            visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let body = json_body(&mut req).await?;
            let score = body
                .get("score")
                .and_then(serde_json::Value::as_u64)
                .filter(|s| (1..=5).contains(s))
                .ok_or_else(|| {
                    ApiError::field(
                        "score",
                        "`score` is a whole number from 1 (very unsatisfied) to 5 (very satisfied)",
                    )
                })?;
            let comment = match body.get("comment") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(text)) if text.chars().count() <= MAX_RATING_COMMENT_CHARS => {
                    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
                }
                Some(_) => {
                    return Err(ApiError::field(
                        "comment",
                        format!("`comment` is text of at most {MAX_RATING_COMMENT_CHARS} characters"),
                    ));
                }
            };
            let rating = crate::internal::Rating {
                score: score as u8,
                comment,
                at: 0,
            };
            let path = conversation_path("/rating", &claims, None);
            let stored: serde_json::Value =
                call(&conversation_stub(env, &claims)?, "POST", &path, Some(&rating)).await?;
            json(200, &stored)
        }
        Route::WidgetConfig { site } => {
            let record = visitor_site(&req, env, &site).await?;
            let languages = url
                .query_pairs()
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let config = WidgetConfig::for_visitor(record.id, record.name, record.widget, &languages);
            let response = json(200, &config)?;
            // Read on every page view: a minute's staleness after a settings change is fine.
            let _ = response.headers().set("Cache-Control", "public, max-age=60");
            Ok(response)
        }
        Route::ContinueChannels { site } => {
            visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let targets = continue_targets(env, &site, claims.conversation()).await?;
            let channels: Vec<Target> = targets.into_iter().map(|(target, _)| target).collect();
            json(200, &serde_json::json!({ "channels": channels }))
        }
        Route::StartContinue { site } => {
            let record = admitted_site(&req, env, &site, Some(Action::Code)).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let body = json_body(&mut req).await?;
            let channel = body
                .get("channel")
                .and_then(serde_json::Value::as_str)
                .and_then(Target::parse)
                .ok_or_else(|| ApiError::field("channel", "`channel` is one of email, sms, whatsapp, telegram"))?;
            let to = continue_targets(env, &site, claims.conversation())
                .await?
                .into_iter()
                .find_map(|(target, to)| (target == channel).then_some(to))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::ChannelUnavailable,
                        format!(
                            "this site has not set up {} for continuing conversations",
                            channel.as_str()
                        ),
                    )
                })?;
            let code = continuation::new_code(random_bytes()?);
            let command = DirectoryCommand::StartContinue {
                visitor: claims.sub.clone(),
                conversation: claims.conversation().to_owned(),
                channel,
                code: code.clone(),
                now: now_ms(),
            };
            #[derive(serde::Deserialize)]
            struct Started {
                expires_at: u64,
            }
            let started: Started = directory(env, &site, command).await?;
            json(
                201,
                &continuation::invitation(channel, &record.name, &code, &to, started.expires_at),
            )
        }
        Route::RequestHuman { site } => {
            visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let HandoffRequest { id } = HandoffRequest::from_json(&json_body(&mut req).await?)?;
            let path = conversation_path("/handoff", &claims, None);
            let reply: SendMessageResponse = call(
                &conversation_stub(env, &claims)?,
                "POST",
                &path,
                Some(&HandoffCommand { id }),
            )
            .await?;
            json(200, &reply)
        }
        Route::Live { site } => {
            visitor_site(&req, env, &site).await?;
            let after = after_param(&url)?;
            let upgrade = req.headers().get("Upgrade").ok().flatten().unwrap_or_default();
            if !upgrade.eq_ignore_ascii_case("websocket") {
                return Err(ApiError::new(
                    ErrorCode::UpgradeRequired,
                    "this endpoint speaks WebSocket: send `Upgrade: websocket`",
                ));
            }
            let claims = visitor_session(websocket_token(&req)?, env, &site)?;
            let path = conversation_path("/live", &claims, after);
            let headers = Headers::new();
            for (name, value) in req.headers().entries() {
                let _ = headers.append(&name, &value);
            }
            let mut init = RequestInit::new();
            init.with_method(Method::Get).with_headers(headers);
            let forwarded = Request::new_with_init(&format!("https://object.internal{path}"), &init)
                .map_err(|e| internal("forwarding a websocket", e))?;
            conversation_stub(env, &claims)?
                .fetch_with_request(forwarded)
                .await
                .map_err(|e| internal("opening a websocket", e))
        }

        Route::Identify { site } => {
            let record = visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let request = IdentifyRequest::from_json(&json_body(&mut req).await?)?;
            let now = now_ms() / 1000;
            let secrets: Vec<IdentitySecret> = site_command(env, &site, &SiteCommand::IdentityKeys).await?;
            let keys: Vec<Key> = secrets
                .into_iter()
                .map(|s| Key {
                    kid: s.kid,
                    secret: s.secret.into_bytes(),
                })
                .collect();
            let identified = match request {
                IdentifyRequest::Token { token } => {
                    let ring = KeyRing::new(keys).ok_or(IdentifyError::NotConfigured)?;
                    identity::verify_identity_token(&token, &site, now, &ring)?
                }
                IdentifyRequest::UserHash {
                    user_id,
                    user_hash,
                    expires_at,
                    email,
                    traits,
                } => {
                    identity::verify_user_hash(&user_id, &user_hash, expires_at, email.as_deref(), traits, now, &keys)?
                }
            };
            let outcome = identify_in_directory(env, &site, &claims, identified, record.trait_rules).await?;
            identified_session(env, &site, &claims.sub, &outcome)
        }
        Route::RequestEmailCode { site } => {
            let record = admitted_site(&req, env, &site, Some(Action::Code)).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let EmailCodeRequest { email } = EmailCodeRequest::from_json(&json_body(&mut req).await?)?;
            let config = email_config(env).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::EmailUnavailable,
                    "this deployment has no email provider configured (EMAIL_API_TOKEN, EMAIL_FROM), so codes cannot be sent",
                )
            })?;
            let code = otp::code(random_bytes()?);
            let pending = PendingCode::new(&site, &claims.sub, &email, &code, now_ms() / 1000);
            let expires_at = pending.expires_at;
            let command = DirectoryCommand::RequestCode {
                visitor: claims.sub.clone(),
                conversation: claims.conversation().to_owned(),
                pending,
                new_ids: new_ids()?,
                now: now_ms(),
            };
            let _: serde_json::Value = directory(env, &site, command).await?;
            let message = email::code_email(&record.name, &email, &code, otp::CODE_TTL_SECS / 60);
            send_email(&config, &message).await?;
            json(
                202,
                &EmailCodeResponse {
                    sent_to: otp::mask_email(&email),
                    expires_at,
                },
            )
        }
        Route::VerifyEmailCode { site } => {
            let record = visitor_site(&req, env, &site).await?;
            let claims = visitor_session(bearer(&req), env, &site)?;
            let EmailVerifyRequest { email, code } = EmailVerifyRequest::from_json(&json_body(&mut req).await?)?;
            let command = DirectoryCommand::VerifyCode {
                visitor: claims.sub.clone(),
                conversation: claims.conversation().to_owned(),
                email,
                code,
                new_ids: new_ids()?,
                rules: record.trait_rules,
                now: now_ms(),
            };
            let outcome: IdentifyOutcome = directory(env, &site, command).await?;
            identified_session(env, &site, &claims.sub, &outcome)
        }

        Route::ListIdentitySecrets { site } => {
            require_admin(&req, env, &site).await?;
            let secrets: Vec<IdentitySecretInfo> = site_command(env, &site, &SiteCommand::ListIdentitySecrets).await?;
            json(200, &serde_json::json!({ "secrets": secrets }))
        }
        Route::CreateIdentitySecret { site } => {
            require_admin(&req, env, &site).await?;
            let kid = format!("idk_{}", hex(&random_bytes::<6>()?));
            let secret = format!("tl_idsec_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
            let command = SiteCommand::AddIdentitySecret {
                kid,
                secret,
                now: now_ms() / 1000,
            };
            let stored: IdentitySecret = site_command(env, &site, &command).await?;
            json(
                201,
                &IdentitySecretResponse {
                    kid: stored.kid,
                    secret: stored.secret,
                    created_at: stored.created_at,
                },
            )
        }
        Route::DeleteIdentitySecret { site, kid } => {
            require_admin(&req, env, &site).await?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::DeleteIdentitySecret { kid }).await?;
            json(200, &reply)
        }
        Route::FindProfiles { site } => {
            require_admin(&req, env, &site).await?;
            let identity = url
                .query_pairs()
                .find(|(k, _)| k == "identity")
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| {
                    ApiError::field(
                        "identity",
                        "pass `?identity=kind:value`, e.g. `?identity=email:ana@example.com`",
                    )
                })?;
            let identity = IdentityKey::parse(&identity).map_err(|why| ApiError::field("identity", why))?;
            let profiles: Vec<ProfileView> = directory(env, &site, DirectoryCommand::Lookup { identity }).await?;
            json(200, &serde_json::json!({ "profiles": profiles }))
        }
        Route::ImportProfiles { site } => {
            let record = require_admin(&req, env, &site).await?;
            let text = read_ndjson(&mut req).await?;
            let people = shared::profile::parse_import(&text)?;
            let command = DirectoryCommand::Import {
                people,
                id_prefix: format!("p_{}", hex(&random_bytes::<8>()?)),
                rules: record.trait_rules,
                now: now_ms(),
            };
            let report: ImportReport = directory(env, &site, command).await?;
            json(200, &report)
        }
        Route::CreateWebhook { site } => {
            require_admin(&req, env, &site).await?;
            let body = json_body(&mut req).await?;
            let allow_loopback = setting(env, "ALLOW_LOOPBACK_WEBHOOKS").as_deref() == Some("1");
            let url = match body.get("url") {
                Some(serde_json::Value::String(url)) => shared::webhook::validate_endpoint_url(url, allow_loopback)
                    .map_err(|why| ApiError::field("url", why))?,
                _ => {
                    return Err(ApiError::field(
                        "url",
                        "`url` (the https endpoint to deliver to) is required",
                    ));
                }
            };
            let events: Vec<String> = match body.get("events") {
                None => shared::webhook::EVENTS.iter().map(|e| (*e).to_owned()).collect(),
                Some(serde_json::Value::Array(items)) if !items.is_empty() => items
                    .iter()
                    .map(|item| match item.as_str() {
                        Some(event) if shared::webhook::EVENTS.contains(&event) => Ok(event.to_owned()),
                        _ => Err(ApiError::field(
                            "events",
                            format!("events are some of {}", shared::webhook::EVENTS.join(", ")),
                        )),
                    })
                    .collect::<ApiResult<_>>()?,
                Some(_) => {
                    return Err(ApiError::field(
                        "events",
                        "`events` is a non-empty array of event types (omit it for all)",
                    ));
                }
            };
            let format = match body.get("format").and_then(|f| f.as_str()) {
                None if body.get("format").is_none() => WebhookFormat::Standard,
                Some("standard") => WebhookFormat::Standard,
                Some("slack") => WebhookFormat::Slack,
                _ => {
                    return Err(ApiError::field(
                        "format",
                        "`format` is \"standard\" (Standard Webhooks JSON, the default) or \"slack\" (a Slack incoming webhook)",
                    ));
                }
            };
            let secret = shared::webhook::WebhookSecret::from_random(random_bytes()?).encode();
            let command = SiteCommand::AddWebhook {
                id: format!("wh_{}", hex(&random_bytes::<6>()?)),
                url,
                events,
                format,
                secret: secret.clone(),
                now: now_ms() / 1000,
            };
            let info: WebhookInfo = site_command(env, &site, &command).await?;
            let mut reply = serde_json::to_value(&info).map_err(|e| internal("webhook", e))?;
            reply["secret"] = serde_json::Value::String(secret);
            json(201, &reply)
        }
        Route::ListWebhooks { site } => {
            require_admin(&req, env, &site).await?;
            let list: Vec<WebhookInfo> = site_command(env, &site, &SiteCommand::ListWebhooks).await?;
            json(200, &serde_json::json!({ "webhooks": list }))
        }
        Route::DeleteWebhook { site, id } => {
            require_admin(&req, env, &site).await?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::DeleteWebhook { id }).await?;
            json(200, &reply)
        }
        Route::ListDeadLetters { site } => {
            require_admin(&req, env, &site).await?;
            let list: Vec<DeadLetterInfo> = site_command(env, &site, &SiteCommand::ListDeadLetters).await?;
            json(200, &serde_json::json!({ "dead_letters": list }))
        }
        Route::ReplayDeadLetter { site, id } => {
            require_admin(&req, env, &site).await?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::ReplayDeadLetter { id }).await?;
            json(200, &reply)
        }
        Route::CreateStaffKey { site } => {
            require_admin(&req, env, &site).await?;
            let body = json_body(&mut req).await?;
            let name = match body.get("name") {
                Some(serde_json::Value::String(name)) if (1..=100).contains(&name.trim().chars().count()) => {
                    name.trim().to_owned()
                }
                _ => {
                    return Err(ApiError::field(
                        "name",
                        "`name` (1 to 100 characters) says whose key this is",
                    ));
                }
            };
            let team = optional_team(&body)?;
            let key = format!("tl_staff_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
            let command = SiteCommand::AddStaffKey {
                id: format!("sk_{}", hex(&random_bytes::<6>()?)),
                name,
                team,
                key_hash: site::admin_key_hash(&key),
                now: now_ms() / 1000,
            };
            let info: StaffKeyInfo = site_command(env, &site, &command).await?;
            json(
                201,
                &serde_json::json!({ "id": info.id, "name": info.name, "team": info.team, "created_at": info.created_at, "key": key }),
            )
        }
        Route::ListStaffKeys { site } => {
            require_admin(&req, env, &site).await?;
            let keys: Vec<StaffKeyInfo> = site_command(env, &site, &SiteCommand::ListStaffKeys).await?;
            json(200, &serde_json::json!({ "staff_keys": keys }))
        }
        Route::DeleteStaffKey { site, id } => {
            require_admin(&req, env, &site).await?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::DeleteStaffKey { id }).await?;
            json(200, &reply)
        }
        Route::Churn { site } => {
            require_admin(&req, env, &site).await?;
            let today = now_ms() / shared::metrics::DAY_MS;
            let signals: Vec<shared::insight::ChurnSignal> =
                site_command(env, &site, &SiteCommand::Churn { today }).await?;
            json(
                200,
                &serde_json::json!({ "as_of": shared::date::date_of_day(today), "customers": signals }),
            )
        }
        Route::Unanswered { site } => {
            require_admin(&req, env, &site).await?;
            let (from, to) = report_days(&url)?;
            let topics: Vec<shared::insight::QuestionTopic> =
                site_command(env, &site, &SiteCommand::Unanswered { from, to }).await?;
            json(
                200,
                &serde_json::json!({
                    "from": shared::date::date_of_day(from),
                    "to": shared::date::date_of_day(to),
                    "topics": topics,
                }),
            )
        }
        Route::Metrics { site } => {
            require_admin(&req, env, &site).await?;
            let csv = either(&url, "format", ["json", "csv"])?;
            let business_hours = either(&url, "hours", ["all", "business"])?;
            let (from, to) = report_days(&url)?;
            let report: shared::metrics::Report = site_command(
                env,
                &site,
                &SiteCommand::Metrics {
                    from,
                    to,
                    business_hours,
                },
            )
            .await?;
            if csv {
                let mut response = Response::ok(report.to_csv()).map_err(|e| internal("metrics csv", e))?;
                let headers = response.headers_mut();
                let _ = headers.set("Content-Type", "text/csv; charset=utf-8");
                let _ = headers.set(
                    "Content-Disposition",
                    &format!(
                        "attachment; filename=\"threadline-{site}-{}-{}.csv\"",
                        report.from, report.to
                    ),
                );
                return Ok(response);
            }
            json(200, &report)
        }
        Route::Queue { site } => {
            require_staff(&req, env, &site).await?;
            let include_resolved = match query_param(&url, "include").as_deref() {
                None => false,
                Some("resolved") => true,
                Some(other) => {
                    return Err(ApiError::field(
                        "include",
                        format!("include is resolved (or left out), not {other:?}"),
                    ));
                }
            };
            let entries: Vec<QueueEntry> = site_command(env, &site, &SiteCommand::Queue { include_resolved }).await?;
            json(200, &serde_json::json!({ "queue": entries }))
        }
        Route::StaffConversation { site, conversation } => {
            require_staff(&req, env, &site).await?;
            let path = format!("/staff-view?site={site}&conversation={conversation}");
            let view: StaffConversation =
                call::<_, ()>(&named_conversation(env, &site, &conversation)?, "GET", &path, None).await?;
            json(200, &view)
        }
        Route::RawMessage {
            site,
            conversation,
            message,
        } => {
            require_staff(&req, env, &site).await?;
            let mut query = worker::url::form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("site", &site)
                .append_pair("conversation", &conversation)
                .append_pair("message", &message);
            let path = format!("/raw?{}", query.finish());
            let raw: String =
                call::<_, ()>(&named_conversation(env, &site, &conversation)?, "GET", &path, None).await?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| internal("stored raw message", e))?;
            let mut response = Response::from_bytes(bytes).map_err(|e| internal("raw message", e))?;
            let headers = response.headers_mut();
            let _ = headers.set("Content-Type", "message/rfc822");
            let _ = headers.set("Cache-Control", "private, no-store");
            Ok(response)
        }
        Route::ClaimConversation { site, conversation } => {
            let staff = require_staff(&req, env, &site).await?.name;
            // Optional body `{"to": "<staff member's name>"}` assigns it to a colleague.
            let to = match optional_json_body(&mut req).await?.get("to") {
                None => staff,
                Some(serde_json::Value::String(name)) => {
                    let keys: Vec<StaffKeyInfo> = site_command(env, &site, &SiteCommand::ListStaffKeys).await?;
                    if name != "admin" && !keys.iter().any(|k| &k.name == name) {
                        return Err(ApiError::field(
                            "to",
                            format!("no staff member is named {name:?} (see GET /v1/sites/{site}/staff-keys)"),
                        ));
                    }
                    name.clone()
                }
                Some(_) => return Err(ApiError::field("to", "`to` is a staff member's name")),
            };
            let command = SiteCommand::Assign {
                conversation,
                to,
                at: now_ms(),
                only_if_unassigned: false,
            };
            let entry: QueueEntry = site_command(env, &site, &command).await?;
            json(200, &entry)
        }
        Route::ReplyToConversation { site, conversation } => {
            let staff = require_staff(&req, env, &site).await?.name;
            let request = SendMessageRequest::from_json(&json_body(&mut req).await?)?;
            let command = AgentReplyCommand {
                id: request.id,
                text: request.text,
                author: staff.clone(),
            };
            let path = format!("/agent?site={site}&conversation={conversation}");
            let result: AgentReplyResult = call(
                &named_conversation(env, &site, &conversation)?,
                "POST",
                &path,
                Some(&command),
            )
            .await?;
            // Replying takes the conversation, if nobody has yet (and if it is queued at all).
            let assign = SiteCommand::Assign {
                conversation,
                to: staff,
                at: now_ms(),
                only_if_unassigned: true,
            };
            let _: Result<QueueEntry, ApiError> = site_command(env, &site, &assign).await;
            json(200, &result)
        }
        Route::StaffTyping { site, conversation } => {
            let staff = require_staff(&req, env, &site).await?.name;
            let path = format!("/typing?site={site}&conversation={conversation}");
            let _: serde_json::Value = call(
                &named_conversation(env, &site, &conversation)?,
                "POST",
                &path,
                Some(&serde_json::json!({ "name": staff })),
            )
            .await?;
            json(200, &serde_json::json!({ "ok": true }))
        }
        Route::ResolveConversation { site, conversation } => {
            let staff = require_staff(&req, env, &site).await?;
            // Optional body: `{"team": ..., "article": ..., "propose": true}`: the team that
            // resolved it (else the staff key's), the article that answered it, and whether to
            // propose what was resolved as knowledge (default yes).
            let body = optional_json_body(&mut req).await?;
            let team = optional_team(&body)?.or(staff.team);
            let article = match body.get("article") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_owned()),
                Some(_) => {
                    return Err(ApiError::field(
                        "article",
                        "`article` is the id of one of the site's articles",
                    ));
                }
            };
            let propose = match body.get("propose") {
                None | Some(serde_json::Value::Null) => true,
                Some(serde_json::Value::Bool(propose)) => *propose,
                Some(_) => return Err(ApiError::field("propose", "`propose` is true or false")),
            };
            let stub = named_conversation(env, &site, &conversation)?;
            let query = format!("site={site}&conversation={conversation}");
            // Proposed first: an unknown article refuses the whole request before anything changes.
            let mut proposal = None;
            if propose {
                let resolution: Option<shared::learning::Resolution> =
                    call::<_, ()>(&stub, "GET", &format!("/resolution?{query}"), None).await?;
                if let Some(resolution) = resolution {
                    let command = SiteCommand::Propose {
                        conversation: conversation.clone(),
                        resolution,
                        article,
                        at: now_ms(),
                    };
                    proposal = site_command::<Option<shared::learning::Proposal>>(env, &site, &command).await?;
                }
            }
            // What the CRM is told, read before resolving forgets why it was escalated.
            let mut summary: shared::hubspot::Resolved =
                call::<_, ()>(&stub, "GET", &format!("/resolved?{query}"), None).await?;
            summary.team = team.clone();
            let _: serde_json::Value = call::<_, ()>(&stub, "POST", &format!("/resolve?{query}"), None).await?;
            let note = SiteCommand::CrmNote {
                conversation: conversation.clone(),
                resolved: summary,
            };
            if let Err(error) = site_command::<serde_json::Value>(env, &site, &note).await {
                // Resolving never fails for the CRM's sake.
                worker::console_error!("the CRM note was not kept: {}", error.body.message);
            }
            let resolved: Result<QueueEntry, ApiError> = site_command(
                env,
                &site,
                &SiteCommand::Resolve {
                    conversation,
                    at: now_ms(),
                    team,
                },
            )
            .await;
            let mut reply = match resolved {
                Ok(entry) => serde_json::to_value(&entry).map_err(|e| internal("queue entry", e))?,
                // Resolving a conversation that never went to the queue is fine.
                Err(error) if error.body.code == ErrorCode::UnknownConversation => {
                    serde_json::json!({ "state": "resolved" })
                }
                Err(error) => return Err(error),
            };
            if let Some(proposal) = proposal {
                reply["proposal"] = serde_json::to_value(&proposal).map_err(|e| internal("proposal", e))?;
            }
            json(200, &reply)
        }
        Route::ImportEvents { site } => {
            require_admin(&req, env, &site).await?;
            let text = read_ndjson(&mut req).await?;
            let events = shared::metrics::parse_events(&text, now_ms()).map_err(|e| ApiError::field("events", e))?;
            let reply: serde_json::Value = site_command(env, &site, &SiteCommand::Record { events }).await?;
            json(200, &reply)
        }
        Route::ListProposals { site } => {
            require_admin(&req, env, &site).await?;
            let state = match url
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
            {
                None => Some("pending".to_owned()),
                Some(state) if state == "all" => None,
                Some(state) if ["pending", "approved", "rejected"].contains(&state.as_str()) => Some(state),
                Some(other) => {
                    return Err(ApiError::field(
                        "state",
                        format!("state is pending, approved, rejected or all, not {other:?}"),
                    ));
                }
            };
            let proposals: Vec<shared::learning::Proposal> =
                site_command(env, &site, &SiteCommand::ListProposals { state }).await?;
            json(200, &serde_json::json!({ "proposals": proposals }))
        }
        Route::DecideProposal { site, id, approve } => {
            require_admin(&req, env, &site).await?;
            let proposal: shared::learning::Proposal =
                site_command(env, &site, &SiteCommand::DecideProposal { id, approve }).await?;
            json(200, &proposal)
        }
        Route::Learned { site } => {
            require_admin(&req, env, &site).await?;
            let learned: Vec<serde_json::Value> = site_command(env, &site, &SiteCommand::Learned).await?;
            json(200, &serde_json::json!({ "learned": learned }))
        }
        Route::AddNote { site, conversation } => {
            let staff = require_staff(&req, env, &site).await?;
            let request = SendMessageRequest::from_json(&json_body(&mut req).await?)?;
            let command = NoteCommand {
                id: request.id,
                text: request.text,
                author: staff.name,
            };
            let path = format!("/notes?site={site}&conversation={conversation}");
            let note: Note = call(
                &named_conversation(env, &site, &conversation)?,
                "POST",
                &path,
                Some(&command),
            )
            .await?;
            json(201, &note)
        }
        Route::SignedTranscript { site, conversation } => {
            let (mut expires, mut signature) = (None, None);
            for (key, value) in url.query_pairs() {
                match key.as_ref() {
                    "expires" => expires = value.parse::<u64>().ok(),
                    "signature" => signature = Some(value.into_owned()),
                    _ => {}
                }
            }
            let (Some(expires), Some(signature)) = (expires, signature) else {
                return Err(ApiError::new(
                    ErrorCode::InvalidToken,
                    "a transcript link carries `expires` and `signature`; ask for a new link",
                ));
            };
            let now = now_ms() / 1000;
            let mut outcome = Err(package::LinkError::Invalid);
            for name in ["SESSION_SECRET", "SESSION_SECRET_PREVIOUS"] {
                if let Ok(secret) = env.secret(name) {
                    let key = package::link_key(secret.to_string().as_bytes());
                    outcome = package::verify_link(&key, &site, &conversation, expires, &signature, now);
                    if outcome != Err(package::LinkError::Invalid) {
                        break;
                    }
                }
            }
            match outcome {
                Ok(()) => {}
                Err(package::LinkError::Expired) => {
                    return Err(ApiError::new(
                        ErrorCode::TokenExpired,
                        "this transcript link has expired",
                    ));
                }
                Err(package::LinkError::Invalid) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidToken,
                        "this transcript link is not valid",
                    ));
                }
            }
            let path = format!("/staff-view?site={site}&conversation={conversation}");
            let view: StaffConversation =
                call::<_, ()>(&named_conversation(env, &site, &conversation)?, "GET", &path, None).await?;
            let wants_html = req
                .headers()
                .get("Accept")
                .ok()
                .flatten()
                .is_some_and(|accept| accept.contains("text/html"));
            // The link shows the customer's conversation, never staff's internal notes.
            let response = if wants_html {
                let page = crate::pages::transcript_page(&view.id, &view.messages);
                let mut response = Response::from_html(page).map_err(|e| internal("transcript page", e))?;
                let headers = response.headers_mut();
                let _ = headers.set(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'",
                );
                response
            } else {
                json(
                    200,
                    &serde_json::json!({ "id": view.id, "status": view.status, "messages": view.messages }),
                )?
            };
            let mut response = response;
            let headers = response.headers_mut();
            let _ = headers.set("Cache-Control", "private, no-store");
            let _ = headers.set("Referrer-Policy", "no-referrer");
            let _ = headers.set("X-Robots-Tag", "noindex");
            Ok(response)
        }
        Route::GetProfile { site, profile } => {
            require_admin(&req, env, &site).await?;
            let view: ProfileView = directory(env, &site, DirectoryCommand::Get { profile }).await?;
            json(200, &view)
        }
        Route::ExportProfile { site, profile } => {
            require_admin(&req, env, &site).await?;
            let export: ProfileExport = directory(env, &site, DirectoryCommand::Export { profile }).await?;
            json(200, &export)
        }
        Route::DeleteProfile { site, profile } => {
            require_admin(&req, env, &site).await?;
            let report: ErasureReport = directory(env, &site, DirectoryCommand::Delete { profile }).await?;
            json(200, &report)
        }
        Route::UndoMerge { site, merge } => {
            require_admin(&req, env, &site).await?;
            let report: UndoReport = directory(env, &site, DirectoryCommand::Undo { merge, now: now_ms() }).await?;
            json(200, &report)
        }
    }
}

/// The session a visitor gets after proving who they are: same visitor, the conversation of the
/// profile they belong to now.
/// Records what a visitor's proof (or the page's claim) says in the site's directory: their
/// profile joins, merges or switches as `shared::profile` rules.
async fn identify_in_directory(
    env: &Env,
    site: &str,
    claims: &SessionClaims,
    identified: identity::Identified,
    rules: shared::profile::TraitRules,
) -> ApiResult<IdentifyOutcome> {
    let command = DirectoryCommand::Identify {
        visitor: claims.sub.clone(),
        conversation: claims.conversation().to_owned(),
        identified,
        new_ids: new_ids()?,
        rules,
        now: now_ms(),
    };
    directory(env, site, command).await
}

fn identified_session(env: &Env, site: &str, visitor: &str, outcome: &IdentifyOutcome) -> ApiResult<Response> {
    let issued = session::issue(
        site,
        visitor,
        Some(&outcome.conversation),
        now_ms() / 1000,
        &session_keys(env)?,
    );
    let outcome = serde_json::to_value(outcome.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    json(
        200,
        &IdentifyResponse {
            token: issued.token,
            visitor_id: issued.visitor_id,
            expires_at: issued.expires_at,
            outcome,
        },
    )
}

fn new_ids() -> ApiResult<NewIds> {
    Ok(NewIds {
        profile: format!("p_{}", hex(&random_bytes::<12>()?)),
        merge: format!("m_{}", hex(&random_bytes::<12>()?)),
        conversation: format!("c_{}", hex(&random_bytes::<16>()?)),
    })
}

fn hex(bytes: &[u8]) -> String {
    shared::hex::encode(bytes)
}

/// The `after` cursor of a transcript or live request, if given; anything but a sequence number
/// is refused by name.
fn after_param(url: &Url) -> ApiResult<Option<u64>> {
    query_param(url, "after")
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::field("after", format!("after is a message sequence number, not {v:?}")))
        })
        .transpose()
}

async fn json_body(req: &mut Request) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    require_content_type(req, &["application/json"])?;
    let body = read_body(req, MAX_JSON_BODY_BYTES).await?;
    Ok(parse_json_body(&body)?)
}

fn conversation_stub(env: &Env, claims: &SessionClaims) -> ApiResult<Stub> {
    let key = ConversationKey {
        site: claims.site.clone(),
        conversation: claims.conversation().to_owned(),
    };
    env.durable_object("CONVERSATIONS")
        .and_then(|ns| ns.get_by_name(&key.object_name()))
        .map_err(|e| internal("conversation object", e))
}

fn conversation_path(path: &str, claims: &SessionClaims, after: Option<u64>) -> String {
    let mut query = worker::url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("site", &claims.site)
        .append_pair("conversation", claims.conversation())
        .append_pair("visitor", &claims.sub);
    if let Some(after) = after {
        query.append_pair("after", &after.to_string());
    }
    format!("{path}?{}", query.finish())
}

async fn load_site(env: &Env, site: &str) -> ApiResult<SiteRecord> {
    site_record(env, site, &SiteCommand::Get).await
}

/// The site's record from `command` (`Get` or `Admit`), with an unknown site named.
async fn site_record(env: &Env, site: &str, command: &SiteCommand) -> ApiResult<SiteRecord> {
    site_command(env, site, command).await.map_err(|error| {
        if error.body.code == ErrorCode::UnknownSite {
            ApiError::new(ErrorCode::UnknownSite, format!("no site is named {site:?}"))
        } else {
            error
        }
    })
}

/// Refuses a time zone the runtime's `Intl` does not know (what the widget will use it with).
fn check_time_zone(zone: &str) -> ApiResult<()> {
    let known = (|| {
        let intl = js_sys::Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
        let constructor: js_sys::Function = js_sys::Reflect::get(&intl, &"DateTimeFormat".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"timeZone".into(), &zone.into()).ok()?;
        let args = js_sys::Array::of2(&JsValue::UNDEFINED, &options);
        js_sys::Reflect::construct(&constructor, &args).ok()
    })()
    .is_some();
    if known {
        Ok(())
    } else {
        Err(ApiError::field(
            "widget.hours.time_zone",
            format!("`widget.hours.time_zone` {zone:?} is not an IANA time zone this runtime knows"),
        ))
    }
}

/// Loads a site for a visitor request and checks the page's origin against it.
async fn visitor_site(req: &Request, env: &Env, site: &str) -> ApiResult<SiteRecord> {
    admitted_site(req, env, site, None).await
}

/// The caller's network address as Cloudflare (and `wrangler dev`) report it.
fn client_ip(req: &Request) -> String {
    req.headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned())
}

/// [`visitor_site`], counting `action` against the site's per-address and whole-site rate
/// limits first (`429 rate_limited` past them).
async fn admitted_site(req: &Request, env: &Env, site: &str, action: Option<Action>) -> ApiResult<SiteRecord> {
    let record = match action {
        None => load_site(env, site).await?,
        Some(action) => {
            let command = SiteCommand::Admit {
                action,
                ip: client_ip(req),
                now: now_ms(),
            };
            site_record(env, site, &command).await?
        }
    };
    let origin = req.headers().get("Origin").ok().flatten();
    if !site::origin_allowed(&record.allowed_origins, origin.as_deref()) {
        return Err(ApiError::new(
            ErrorCode::OriginNotAllowed,
            format!(
                "origin {} may not use site {site:?}; the site owner can add it to allowed_origins",
                origin.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    Ok(record)
}

fn session_keys(env: &Env) -> ApiResult<shared::jwt::KeyRing> {
    let current = env.secret("SESSION_SECRET").ok().map(|s| s.to_string());
    let previous = env.secret("SESSION_SECRET_PREVIOUS").ok().map(|s| s.to_string());
    config::session_keys(current.as_deref(), previous.as_deref()).map_err(|e| internal("configuration", e))
}

fn visitor_session(token: Option<String>, env: &Env, site: &str) -> ApiResult<SessionClaims> {
    let token = token.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingToken,
            "a session token is required: `Authorization: Bearer <token>` from POST /v1/sites/{site}/sessions",
        )
    })?;
    Ok(session::verify(&token, site, now_ms() / 1000, &session_keys(env)?)?)
}

/// Browsers cannot set headers on a WebSocket, so the widget offers the token as a second
/// subprotocol, `bearer.<token>`, beside `threadline.v1` (which the server picks).
fn websocket_token(req: &Request) -> ApiResult<Option<String>> {
    let offered = req
        .headers()
        .get("Sec-WebSocket-Protocol")
        .ok()
        .flatten()
        .unwrap_or_default();
    let protocols: Vec<&str> = offered.split(',').map(str::trim).collect();
    if !protocols.contains(&PROTOCOL) {
        return Err(ApiError::field(
            "Sec-WebSocket-Protocol",
            format!("offer the `{PROTOCOL}` subprotocol, with the token as `bearer.<token>`"),
        ));
    }
    Ok(protocols
        .iter()
        .find_map(|p| p.strip_prefix("bearer."))
        .map(str::to_owned))
}

fn require_operator(req: &Request, env: &Env) -> ApiResult<()> {
    let expected = env.secret("OPERATOR_KEY").ok().map(|s| s.to_string());
    let expected = config::operator_key(expected.as_deref()).map_err(|e| internal("configuration", e))?;
    let presented = bearer(req).unwrap_or_default();
    if site::admin_key_matches(&presented, &site::admin_key_hash(expected)) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidKey,
            "this endpoint needs the operator key: `Authorization: Bearer <OPERATOR_KEY>`",
        ))
    }
}

/// Largest inbound-email webhook body: the raw message (up to `inbound::MAX_RAW_BYTES`) and the
/// provider's JSON around it (its parsed copy and base64 attachments).
const MAX_INBOUND_EMAIL_BODY_BYTES: usize = 3 * shared::mail::inbound::MAX_RAW_BYTES;

/// Email providers' inbound webhooks authenticate with HTTP Basic credentials in the URL we give
/// them: any user name, the `INBOUND_EMAIL_TOKEN` secret as password.
fn require_inbound_credentials(req: &Request, env: &Env) -> ApiResult<()> {
    let refused = || {
        ApiError::new(
            ErrorCode::InvalidSignature,
            "inbound email webhooks need HTTP Basic credentials with the INBOUND_EMAIL_TOKEN password",
        )
    };
    let expected = env
        .secret("INBOUND_EMAIL_TOKEN")
        .map(|s| s.to_string())
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::EmailUnavailable,
                "inbound email is not configured (INBOUND_EMAIL_TOKEN)",
            )
        })?;
    let header = req.headers().get("Authorization").ok().flatten().ok_or_else(refused)?;
    let encoded = header.strip_prefix("Basic ").ok_or_else(refused)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refused())?;
    let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
    let (_, password) = decoded.split_once(':').ok_or_else(refused)?;
    if site::admin_key_matches(password, &site::admin_key_hash(&expected)) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// A request header's value, empty when it is missing.
fn header(req: &Request, name: &str) -> String {
    req.headers().get(name).ok().flatten().unwrap_or_default()
}

/// Hands a channel webhook to the site's inbox (see [`SiteCommand::Inbound`]).
/// Stores a channel's settings (`config`, secrets included) and what the admin API shows of it
/// (`public`); answers the channel as shown.
async fn set_channel<T: serde::Serialize>(
    env: &Env,
    site: &str,
    kind: String,
    config: &T,
    public: serde_json::Value,
) -> ApiResult<Response> {
    let command = SiteCommand::SetChannel {
        kind,
        config: serde_json::to_value(config).map_err(|e| internal("channel", e))?,
        public,
        now: now_ms() / 1000,
    };
    let info: ChannelInfo = site_command(env, site, &command).await?;
    json(200, &info)
}

/// The generic connector's settings: its endpoint (public `https`, as webhook endpoints), how
/// long answers are cached and how long a lookup may take; a new signing secret each time.
fn connector_settings(
    body: &serde_json::Map<String, serde_json::Value>,
    allow_loopback: bool,
    secret: &shared::webhook::WebhookSecret,
) -> ApiResult<(serde_json::Value, serde_json::Value)> {
    use shared::connector::{DEFAULT_CACHE_SECS, DEFAULT_TIMEOUT_MS, MAX_CACHE_SECS, TIMEOUT_RANGE_MS};
    let url = match body.get("url") {
        Some(serde_json::Value::String(url)) => {
            shared::webhook::validate_endpoint_url(url, allow_loopback).map_err(|why| ApiError::field("url", why))?
        }
        _ => return Err(ApiError::field("url", "`url` is the connector's https endpoint")),
    };
    let number = |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| match body.get(name) {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(value) => value.as_u64().filter(|n| range.contains(n)).ok_or_else(|| {
            ApiError::field(
                name,
                format!("`{name}` is a whole number from {} to {}", range.start(), range.end()),
            )
        }),
    };
    let cache_secs = number("cache_secs", DEFAULT_CACHE_SECS, 0..=MAX_CACHE_SECS)?;
    let timeout_ms = number("timeout_ms", DEFAULT_TIMEOUT_MS, TIMEOUT_RANGE_MS)?;
    let config = crate::internal::ConnectorConfig {
        url: url.clone(),
        secret: secret.encode(),
        cache_secs,
        timeout_ms,
    };
    let public = serde_json::json!({ "url": url, "cache_secs": cache_secs, "timeout_ms": timeout_ms });
    Ok((
        serde_json::to_value(&config).map_err(|e| internal("integration", e))?,
        public,
    ))
}

/// An integration's settings from a `PUT /integrations/{kind}` body: what is stored (secrets
/// included) and what the admin API may show.
fn integration_settings(
    kind: &str,
    body: &serde_json::Map<String, serde_json::Value>,
    base: &str,
    site: &str,
) -> ApiResult<(serde_json::Value, serde_json::Value)> {
    let text = |name: &'static str| body.get(name).and_then(|v| v.as_str()).map(|v| v.trim().to_owned());
    let stored = |config: Result<serde_json::Value, serde_json::Error>| config.map_err(|e| internal("integration", e));
    if kind == "linear" {
        return linear_settings(body, base, site);
    }
    if kind == "hubspot" {
        let access_token = text("access_token")
            .filter(|token| {
                (16..=512).contains(&token.len())
                    && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or_else(|| {
                ApiError::field(
                    "access_token",
                    "`access_token` is a HubSpot private app's access token (pat-…, with the scopes crm.objects.contacts.read and crm.objects.contacts.write)",
                )
            })?;
        let properties: Vec<String> = match body.get("properties") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().filter(|p| shared::hubspot::valid_property(p)).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .filter(|list| list.len() <= shared::hubspot::MAX_PROPERTIES)
                .ok_or_else(|| {
                    ApiError::field(
                        "properties",
                        format!(
                            "`properties` is a list of at most {} HubSpot property names (lowercase letters, digits, _)",
                            shared::hubspot::MAX_PROPERTIES
                        ),
                    )
                })?,
            Some(_) => return Err(ApiError::field("properties", "`properties` is a list of property names")),
        };
        let public = serde_json::json!({
            "token_last4": &access_token[access_token.len() - 4..],
            "properties": if properties.is_empty() {
                shared::hubspot::DEFAULT_PROPERTIES.iter().map(|p| (*p).to_owned()).collect()
            } else {
                properties.clone()
            },
        });
        let config = crate::internal::HubspotConfig {
            access_token,
            properties,
        };
        return Ok((stored(serde_json::to_value(&config))?, public));
    }
    let api_key = text("api_key")
        .filter(|key| {
            (key.starts_with("sk_") || key.starts_with("rk_"))
                && (12..=256).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .ok_or_else(|| {
            ApiError::field(
                "api_key",
                "`api_key` is a Stripe secret or restricted key (sk_… or rk_…; read access to customers, subscriptions and invoices is enough)",
            )
        })?;
    let webhook_secret = text("webhook_secret")
        .filter(|secret| secret.starts_with("whsec_") && (16..=256).contains(&secret.len()))
        .ok_or_else(|| {
            ApiError::field(
                "webhook_secret",
                "`webhook_secret` is the webhook endpoint's signing secret (whsec_…)",
            )
        })?;
    let public = serde_json::json!({
        "mode": if api_key.contains("_live_") { "live" } else { "test" },
        "api_key_last4": &api_key[api_key.len() - 4..],
        "webhook_url": format!("{base}/v1/sites/{site}/integrations/stripe/webhook"),
        "events": shared::stripe::EVENTS,
    });
    let config = crate::internal::StripeConfig {
        api_key,
        webhook_secret,
    };
    Ok((stored(serde_json::to_value(&config))?, public))
}

/// Linear's settings from a `PUT /integrations/linear` body.
fn linear_settings(
    body: &serde_json::Map<String, serde_json::Value>,
    base: &str,
    site: &str,
) -> ApiResult<(serde_json::Value, serde_json::Value)> {
    let text = |name: &'static str| body.get(name).and_then(|v| v.as_str()).map(|v| v.trim().to_owned());
    let uuid = |v: &str| {
        v.len() == 36
            && v.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let api_key = text("api_key")
        .filter(|key| {
            key.starts_with("lin_api_")
                && (24..=256).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .ok_or_else(|| {
            ApiError::field(
                "api_key",
                "`api_key` is a Linear personal API key (lin_api_…) of a member who may create issues in the team",
            )
        })?;
    let team_id = text("team_id")
        .map(|id| id.to_lowercase())
        .filter(|id| uuid(id))
        .ok_or_else(|| {
            ApiError::field(
                "team_id",
                "`team_id` is the id (a UUID) of the Linear team bugs are filed in",
            )
        })?;
    let label_ids: Vec<String> = match body.get("label_ids") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_lowercase).filter(|id| uuid(id)))
            .collect::<Option<Vec<_>>>()
            .filter(|ids| ids.len() <= 10)
            .ok_or_else(|| {
                ApiError::field(
                    "label_ids",
                    "`label_ids` is a list of at most 10 Linear label ids (UUIDs)",
                )
            })?,
        Some(_) => return Err(ApiError::field("label_ids", "`label_ids` is a list of label ids")),
    };
    let webhook_secret = text("webhook_secret")
        .filter(|secret| (16..=256).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "webhook_secret",
                "`webhook_secret` is the signing secret Linear shows for the webhook (lin_wh_…)",
            )
        })?;
    let fixed_message = match body.get("fixed_message") {
        None | Some(serde_json::Value::Null) => shared::linear::DEFAULT_FIXED_MESSAGE.to_owned(),
        Some(serde_json::Value::String(text)) => shared::message::validate_text(text)
            .ok()
            .filter(|t| t.chars().count() <= 1000)
            .ok_or_else(|| {
                ApiError::field(
                    "fixed_message",
                    "`fixed_message` is what customers are told when their bug is fixed: 1 to 1,000 characters of text",
                )
            })?,
        Some(_) => return Err(ApiError::field("fixed_message", "`fixed_message` is text")),
    };
    let public = serde_json::json!({
        "api_key_last4": &api_key[api_key.len() - 4..],
        "team_id": team_id,
        "label_ids": label_ids,
        "webhook_url": format!("{base}/v1/sites/{site}/integrations/linear/webhook"),
        "fixed_message": fixed_message,
    });
    let config = crate::internal::LinearConfig {
        api_key,
        team_id,
        label_ids,
        webhook_secret,
        fixed_message,
    };
    Ok((
        serde_json::to_value(&config).map_err(|e| internal("integration", e))?,
        public,
    ))
}

/// A Twilio channel's account check, its auth token and the site's number (in field
/// `number_field`), from a `PUT /channels/{sms,voice}` body.
fn twilio_credentials(
    body: &serde_json::Map<String, serde_json::Value>,
    account_sid: &str,
    number_field: &'static str,
) -> ApiResult<(String, String)> {
    let hex32 = |v: &str| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
    if !(account_sid.starts_with("AC") && hex32(&account_sid[2..])) {
        return Err(ApiError::field(
            "account_sid",
            "`account_sid` is AC followed by 32 hex digits",
        ));
    }
    let text = |name: &'static str| body.get(name).and_then(|v| v.as_str()).map(|v| v.trim().to_owned());
    let auth_token = text("auth_token")
        .filter(|token| hex32(token))
        .ok_or_else(|| ApiError::field("auth_token", "`auth_token` is the account's Auth Token (32 hex digits)"))?;
    let number = text(number_field)
        .ok_or_else(|| ApiError::field(number_field, format!("`{number_field}` is the site's Twilio number")))
        .and_then(|number| {
            shared::identity::normalize_phone(&number).map_err(|why| ApiError::field(number_field, why))
        })?;
    Ok((auth_token, number))
}

async fn accept_inbound(
    env: &Env,
    site: &str,
    kind: &str,
    proof: ChannelProof,
    body: Vec<u8>,
) -> ApiResult<InboundAccepted> {
    let body = String::from_utf8(body)
        .map_err(|_| ApiError::new(ErrorCode::MalformedJson, "the request body is not UTF-8"))?;
    let command = SiteCommand::Inbound {
        kind: kind.to_owned(),
        proof,
        body,
    };
    site_command(env, site, &command).await
}

/// A Meta webhook (WhatsApp, Messenger, Instagram): the `GET` verification handshake, answered
/// with the challenge when the verify token matches, or a signed event `POST`.
async fn meta_inbound(req: &mut Request, env: &Env, url: &Url, site: &str, kind: &str) -> ApiResult<Response> {
    if req.inner().method() != "GET" {
        let body = read_body(req, MAX_JSON_BODY_BYTES * 16).await?;
        let proof = ChannelProof::HubSignature {
            presented: header(req, "X-Hub-Signature-256"),
        };
        let accepted = accept_inbound(env, site, kind, proof, body).await?;
        return json(200, &serde_json::json!({ "messages": accepted.messages }));
    }
    let config: Option<serde_json::Value> =
        site_command(env, site, &SiteCommand::ChannelConfig { kind: kind.to_owned() }).await?;
    let verify_token = config
        .as_ref()
        .and_then(|c| c.get("verify_token"))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("site {site:?} has no {kind} channel set up"),
            )
        })?;
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match shared::whatsapp::challenge(&params, verify_token) {
        Some(challenge) => Response::ok(challenge).map_err(|e| internal("challenge", e)),
        None => Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "the verification handshake needs hub.mode=subscribe and the channel's verify token",
        )),
    }
}

/// A Meta channel's `access_token`, `app_secret` (32 hex digits) and `verify_token` (8 to 128
/// characters), checked.
fn meta_app_credentials(body: &serde_json::Map<String, serde_json::Value>) -> ApiResult<(String, String, String)> {
    let text = |name: &'static str| body.get(name).and_then(|v| v.as_str()).map(|v| v.trim().to_owned());
    let access_token = text("access_token")
        .filter(|t| (1..=1024).contains(&t.len()))
        .ok_or_else(|| {
            ApiError::field(
                "access_token",
                "`access_token` (1 to 1,024 characters) is the Meta access token",
            )
        })?;
    let app_secret = text("app_secret")
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ApiError::field("app_secret", "`app_secret` is the Meta app's secret (32 hex digits)"))?;
    let verify_token = text("verify_token")
        .filter(|t| (8..=128).contains(&t.len()))
        .ok_or_else(|| {
            ApiError::field(
                "verify_token",
                "`verify_token` (8 to 128 characters) is the token you give Meta's webhook setup",
            )
        })?;
    Ok((access_token, app_secret, verify_token))
}

/// Who is acting on the staff API.
struct Staff {
    name: String,
    team: Option<String>,
}

/// A staff member of `site`, by staff key; the admin key also acts as staff ("admin").
async fn require_staff(req: &Request, env: &Env, site: &str) -> ApiResult<Staff> {
    let record = load_site(env, site).await?;
    let presented = bearer(req).unwrap_or_default();
    if site::admin_key_matches(&presented, &record.admin_key_hash) {
        return Ok(Staff {
            name: "admin".into(),
            team: None,
        });
    }
    let command = SiteCommand::StaffByKey {
        key_hash: site::admin_key_hash(&presented),
    };
    let staff: Option<StaffKeyInfo> = site_command(env, site, &command).await?;
    staff
        .map(|s| Staff {
            name: s.name,
            team: s.team,
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidKey,
                format!(
                    "this endpoint needs a staff key (or the admin key) of site {site:?}: `Authorization: Bearer <key>`"
                ),
            )
        })
}

/// An optional `team` field: 1 to 60 characters.
/// A JSON Lines body (`application/x-ndjson`), at most the upload limit, as text.
async fn read_ndjson(req: &mut Request) -> ApiResult<String> {
    require_content_type(req, &["application/x-ndjson", "application/jsonl"])?;
    let body = read_body(req, MAX_ARTICLES_UPLOAD_BYTES).await?;
    String::from_utf8(body).map_err(|_| ApiError::new(ErrorCode::MalformedJson, "body is not UTF-8 text"))
}

fn query_param(url: &worker::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Whether query parameter `name` chose the second of its two values (absent: the first); any
/// other value is refused by name.
fn either(url: &worker::Url, name: &str, values: [&str; 2]) -> ApiResult<bool> {
    match query_param(url, name) {
        None => Ok(false),
        Some(value) if value == values[0] => Ok(false),
        Some(value) if value == values[1] => Ok(true),
        Some(other) => Err(ApiError::field(
            name,
            format!("{name} is {} or {}, not {other:?}", values[0], values[1]),
        )),
    }
}

/// The days a metrics request covers, from its `from` and `to` (the last 30 days without them).
fn report_days(url: &worker::Url) -> ApiResult<(u64, u64)> {
    let today = now_ms() / shared::metrics::DAY_MS;
    let (from, to) = (query_param(url, "from"), query_param(url, "to"));
    shared::metrics::report_range(from.as_deref(), to.as_deref(), today)
        .map_err(|(field, message)| ApiError::field(field, message))
}

fn optional_team(body: &serde_json::Map<String, serde_json::Value>) -> ApiResult<Option<String>> {
    match body.get("team") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(team)) if (1..=60).contains(&team.trim().chars().count()) => {
            Ok(Some(team.trim().to_owned()))
        }
        Some(_) => Err(ApiError::field("team", "`team` is a team name of 1 to 60 characters")),
    }
}

/// The conversation object `conversation` of `site`.
/// A JSON body that may be left out (no `Content-Length`, or 0): an empty object then.
async fn optional_json_body(req: &mut Request) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    let has_body = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .is_some_and(|l| l != "0");
    if has_body {
        json_body(req).await
    } else {
        Ok(serde_json::Map::new())
    }
}

/// A service's webhook body (Stripe, Linear): JSON, up to 512 KiB, as the exact text signed.
async fn service_webhook_body(req: &mut Request) -> ApiResult<String> {
    require_content_type(req, &["application/json"])?;
    let body = read_body(req, MAX_JSON_BODY_BYTES * 32).await?;
    String::from_utf8(body).map_err(|_| ApiError::new(ErrorCode::MalformedJson, "the request body is not UTF-8"))
}

fn named_conversation(env: &Env, site: &str, conversation: &str) -> ApiResult<Stub> {
    env.durable_object("CONVERSATIONS")
        .and_then(|ns| ns.get_by_name(&crate::internal::object_name(site, conversation)))
        .map_err(|e| internal("conversation object", e))
}

async fn require_admin(req: &Request, env: &Env, site: &str) -> ApiResult<SiteRecord> {
    let record = load_site(env, site).await?;
    let presented = bearer(req).unwrap_or_default();
    if site::admin_key_matches(&presented, &record.admin_key_hash) {
        Ok(record)
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidKey,
            format!("this endpoint needs site {site:?}'s admin key: `Authorization: Bearer <admin key>`"),
        ))
    }
}

/// Where a visitor can continue `conversation`, and the address to write to on each: email
/// (its reply address) when an email provider is configured, SMS with the site's Twilio number,
/// WhatsApp with the number's `phone_number`, Telegram with the bot's `username`.
async fn continue_targets(env: &Env, site: &str, conversation: &str) -> ApiResult<Vec<(Target, String)>> {
    let mut targets = Vec::new();
    if email_config(env).is_some()
        && let (Some(domain), Ok(secret)) = (setting(env, "EMAIL_DOMAIN"), env.secret("SESSION_SECRET"))
    {
        let key = shared::mail::address::address_key(secret.to_string().as_bytes());
        targets.push((
            Target::Email,
            shared::mail::address::reply_address(&key, site, conversation, &domain),
        ));
    }
    let channels: Vec<ChannelInfo> = site_command(env, site, &SiteCommand::ListChannels).await?;
    for target in [Target::Sms, Target::Whatsapp, Target::Telegram] {
        let field = match target {
            Target::Sms => "from",
            Target::Whatsapp => "phone_number",
            _ => "username",
        };
        let to = channels
            .iter()
            .find(|c| c.kind == target.as_str())
            .and_then(|c| c.public.get(field))
            .and_then(serde_json::Value::as_str);
        if let Some(to) = to {
            targets.push((target, to.to_owned()));
        }
    }
    Ok(targets)
}
