//! Small helpers between `worker`'s request/response types and ours.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::wire::{ErrorCode, ErrorEnvelope};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Response, Stub, console_error};

use crate::api_error::ApiError;
use crate::email::{EmailConfig, OutboundEmail};
use crate::internal::{DirectoryCommand, DirectoryRequest, SiteCommand};

/// Turns a platform failure into a 500, logging what happened for us (never request contents).
/// The rows `query` finds in a Durable Object's SQLite, each read as a `T`; `what` names the
/// read in the error if it fails.
pub fn rows<T: DeserializeOwned>(
    sql: &worker::SqlStorage,
    query: &str,
    bindings: impl Into<Option<Vec<worker::SqlStorageValue>>>,
    what: &str,
) -> Result<Vec<T>, ApiError> {
    sql.exec(query, bindings)
        .and_then(|c| c.to_array())
        .map_err(|e| internal(what, e))
}

pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
    console_error!("{context}: {error}");
    ApiError::internal()
}

pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    let response = Response::from_json(body)
        .map_err(|e| internal("serialising a response", e))?
        .with_status(status);
    let _ = response.headers().set("Cache-Control", "no-store");
    Ok(response)
}

pub fn error_response(error: &ApiError) -> Response {
    let mut response = match Response::from_json(&error.envelope()) {
        Ok(response) => response.with_status(error.status()),
        Err(_) => Response::error("internal error", 500).expect("a plain response builds"),
    };
    let headers = response.headers_mut();
    let _ = headers.set("Cache-Control", "no-store");
    if let Some(allow) = error.allow {
        let _ = headers.set("Allow", allow);
    }
    if let Some(retry_after_ms) = error.body.retry_after_ms {
        let _ = headers.set("Retry-After", &retry_after_ms.div_ceil(1000).to_string());
    }
    response
}

/// A response's whole body as text, read by the runtime in one step. (`worker`'s own `text()`
/// reads a streamed body chunk by chunk through Rust futures and the Wasm boundary: measured,
/// that was a tenth of the CPU of a Durable Object call.)
pub async fn body_text(response: Response) -> worker::Result<String> {
    let response: worker::web_sys::Response = response.into();
    let text = worker::wasm_bindgen_futures::JsFuture::from(response.text()?).await?;
    Ok(text.as_string().unwrap_or_default())
}

/// A request's JSON body, parsed by `serde_json` from its text. (`worker`'s `json()` walks a
/// JavaScript object across the Wasm boundary field by field, which costs more.)
pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> worker::Result<T> {
    Ok(serde_json::from_str(&req.text().await?)?)
}

/// Reads a body of at most `limit` bytes, refusing larger ones by their declared length before
/// reading them when the client declares it.
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = |len: usize| ApiError::from(shared::wire::RequestError::body_too_large(len, limit));
    if let Some(declared) = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok())
        && declared > limit
    {
        return Err(too_large(declared));
    }
    let body = req.bytes().await.map_err(|e| internal("reading a request body", e))?;
    if body.len() > limit {
        return Err(too_large(body.len()));
    }
    Ok(body)
}

/// Refuses bodies that are not declared as `expected` (a media type without parameters).
pub fn require_content_type(req: &Request, expected: &[&str]) -> Result<(), ApiError> {
    let declared = req.headers().get("Content-Type").ok().flatten().unwrap_or_default();
    let media_type = declared.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if expected.contains(&media_type.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "expected a request with `Content-Type: {}`, got {declared:?}",
                expected.join("` or `")
            ),
        ))
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(req: &Request) -> Option<String> {
    let header = req.headers().get("Authorization").ok().flatten()?;
    let (scheme, token) = header.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim().to_owned())
}

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| internal("drawing random bytes", e))?;
    Ok(bytes)
}

/// Sends a request (with a JSON body, if any) to a Durable Object and reads its JSON reply; an
/// error envelope from the object comes back as the same `ApiError`.
pub async fn call<T: DeserializeOwned, B: Serialize>(
    stub: &Stub,
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, ApiError> {
    let mut init = RequestInit::new();
    init.with_method(Method::from(method.to_owned()));
    if let Some(body) = body {
        let body = serde_json::to_string(body).map_err(|e| internal("serialising a command", e))?;
        init.with_body(Some(JsValue::from_str(&body)));
    }
    let request = Request::new_with_init(&format!("https://object.internal{path}"), &init)
        .map_err(|e| internal("building an internal request", e))?;
    let response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| internal("calling a Durable Object", e))?;
    let status = response.status_code();
    let text = body_text(response)
        .await
        .map_err(|e| internal("reading a Durable Object reply", e))?;
    if (200..300).contains(&status) {
        serde_json::from_str(&text).map_err(|e| internal("parsing a Durable Object reply", e))
    } else {
        let envelope: ErrorEnvelope =
            serde_json::from_str(&text).map_err(|e| internal(&format!("Durable Object failed with {status}"), e))?;
        Err(ApiError {
            body: envelope.error,
            allow: None,
        })
    }
}

/// The `SiteObject` of `site`.
pub fn site_stub(env: &Env, site: &str) -> Result<Stub, ApiError> {
    env.durable_object("SITES")
        .and_then(|namespace| namespace.get_by_name(site))
        .map_err(|e| internal("site object", e))
}

/// Sends `command` to the `SiteObject` of `site` and reads its reply.
pub async fn site_command<T: DeserializeOwned>(env: &Env, site: &str, command: &SiteCommand) -> Result<T, ApiError> {
    call(&site_stub(env, site)?, "POST", "/", Some(command)).await
}

/// Sends `command` to the `ProfileDirectory` of `site` and reads its reply.
pub async fn directory<T: DeserializeOwned>(env: &Env, site: &str, command: DirectoryCommand) -> Result<T, ApiError> {
    let stub = env
        .durable_object("PROFILES")
        .and_then(|namespace| namespace.get_by_name(site))
        .map_err(|e| internal("profile directory", e))?;
    let request = DirectoryRequest {
        site: site.to_owned(),
        command,
    };
    call(&stub, "POST", "/", Some(&request)).await
}

/// Sends one email through the provider. Logs the provider's status and error code, never the
/// address or the content.
pub async fn send_email(config: &EmailConfig, email: &OutboundEmail) -> Result<(), ApiError> {
    let failed = |status: Option<u16>, retry_after: Option<String>| {
        let mut error = provider_error("the email provider", status, retry_after);
        error.body.message =
            "the email provider did not accept the message; nothing was changed, try again shortly".into();
        error
    };
    let headers = Headers::new();
    for (name, value) in config.headers() {
        headers.set(name, &value).map_err(|e| internal("email headers", e))?;
    }
    let body = crate::email::postmark_body(config, email).to_string();
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let request =
        Request::new_with_init(&config.endpoint(), &init).map_err(|e| internal("building an email request", e))?;
    let response = Fetch::Request(request).send().await.map_err(|e| {
        console_error!("email provider unreachable: {e}");
        failed(None, None)
    })?;
    let status = response.status_code();
    let retry_after = response.headers().get("Retry-After").ok().flatten();
    let text = body_text(response).await.unwrap_or_default();
    crate::email::postmark_result(status, &text).map_err(|_| {
        let code = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("ErrorCode").and_then(serde_json::Value::as_i64));
        console_error!("email provider refused a message: HTTP {status}, error code {code:?}");
        failed(Some(status), retry_after.clone())
    })
}

/// A provider's refusal. Transient ones (unreachable, `408`, `425`, `429`, `5xx`) carry
/// `retry_after_ms` (the provider's `Retry-After`, else 0), so the caller keeps the message and
/// tries again; the rest will not change by retrying.
fn provider_error(what: &str, status: Option<u16>, retry_after: Option<String>) -> ApiError {
    let message = match status {
        Some(status) => format!("{what} answered {status}; nothing was sent"),
        None => format!("{what} could not be reached; nothing was sent"),
    };
    let mut error = ApiError::new(ErrorCode::EmailFailed, message);
    if shared::resend::transient(status) {
        let secs = retry_after.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
        error.body.retry_after_ms = Some(secs.saturating_mul(1000));
    }
    error
}

/// A variable or secret from the environment.
pub fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

/// Sends one SMS through Twilio's Messages API (`TWILIO_API_URL`, default
/// `https://api.twilio.com`), unless the number opted out. True if sent.
pub async fn send_sms(env: &Env, site: &str, to: &str, body: &str) -> Result<bool, ApiError> {
    let Some(config) = channel_config::<crate::internal::SmsConfig>(env, site, "sms").await? else {
        return Ok(false);
    };
    let opted_out: bool = site_command(
        env,
        site,
        &crate::internal::SiteCommand::SmsOptedOut { number: to.to_owned() },
    )
    .await?;
    if opted_out {
        return Ok(false);
    }
    let base = setting(env, "TWILIO_API_URL").unwrap_or_else(|| "https://api.twilio.com".into());
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        base.trim_end_matches('/'),
        config.account_sid
    );
    let form = worker::url::form_urlencoded::Serializer::new(String::new())
        .append_pair("To", to)
        .append_pair("From", &config.from)
        .append_pair("Body", &shared::sms::fit(body))
        .finish();
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", config.account_sid, config.auth_token));
    let authorization = format!("Basic {basic}");
    provider_post(
        "the SMS provider",
        &url,
        Some(&authorization),
        "application/x-www-form-urlencoded",
        &form,
    )
    .await
}

/// Sends one text on WhatsApp through the Graph API (`GRAPH_API_URL`, default
/// `https://graph.facebook.com`). False if the site has no WhatsApp channel.
pub async fn send_whatsapp(env: &Env, site: &str, to: &str, text: &str) -> Result<bool, ApiError> {
    let Some(config) = channel_config::<crate::internal::WhatsappConfig>(env, site, "whatsapp").await? else {
        return Ok(false);
    };
    let base = setting(env, "GRAPH_API_URL").unwrap_or_else(|| "https://graph.facebook.com".into());
    let url = format!(
        "{}/v21.0/{}/messages",
        base.trim_end_matches('/'),
        config.phone_number_id
    );
    let authorization = format!("Bearer {}", config.access_token);
    let body = shared::whatsapp::text_message(to, text).to_string();
    provider_post("WhatsApp's API", &url, Some(&authorization), "application/json", &body).await
}

/// Sends one message to a Messenger or Instagram user through the Send API (`GRAPH_API_URL`).
/// False if the site has no such channel.
pub async fn send_page(
    env: &Env,
    site: &str,
    page: &crate::internal::PageContext,
    text: &str,
) -> Result<bool, ApiError> {
    let Some(config) = channel_config::<crate::internal::PageConfig>(env, site, &page.kind).await? else {
        return Ok(false);
    };
    let base = setting(env, "GRAPH_API_URL").unwrap_or_else(|| "https://graph.facebook.com".into());
    let url = format!("{}/v21.0/{}/messages", base.trim_end_matches('/'), config.page_id);
    let authorization = format!("Bearer {}", config.access_token);
    let body = shared::messenger::send_body(&page.to, text).to_string();
    provider_post("Meta's Send API", &url, Some(&authorization), "application/json", &body).await
}

/// Sends one message on Telegram through the Bot API (`TELEGRAM_API_URL`, default
/// `https://api.telegram.org`). False if the site has no Telegram channel.
pub async fn send_telegram(env: &Env, site: &str, chat_id: i64, text: &str) -> Result<bool, ApiError> {
    let Some(config) = channel_config::<crate::internal::TelegramConfig>(env, site, "telegram").await? else {
        return Ok(false);
    };
    let base = setting(env, "TELEGRAM_API_URL").unwrap_or_else(|| "https://api.telegram.org".into());
    // The token is in the URL: `provider_post` never logs the URL.
    let url = format!("{}/bot{}/sendMessage", base.trim_end_matches('/'), config.bot_token);
    let body = shared::telegram::send_message(chat_id, text).to_string();
    provider_post("Telegram's API", &url, None, "application/json", &body).await
}

/// A channel's stored configuration for `site` (`kind`: `sms`, `whatsapp`, …), if set up.
async fn channel_config<T: serde::de::DeserializeOwned>(
    env: &Env,
    site: &str,
    kind: &str,
) -> Result<Option<T>, ApiError> {
    site_command(
        env,
        site,
        &crate::internal::SiteCommand::ChannelConfig { kind: kind.to_owned() },
    )
    .await
}

/// Posts one message to a provider's API (`name` says which, in errors and logs): true when it
/// answers 2xx. A refusal becomes a `provider_error` (retryable when transient). Only the status
/// is logged: the provider's body can name the recipient, and a URL can hold a token.
async fn provider_post(
    name: &str,
    url: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: &str,
) -> Result<bool, ApiError> {
    let headers = Headers::new();
    if let Some(authorization) = authorization {
        headers
            .set("Authorization", authorization)
            .map_err(|e| internal("provider headers", e))?;
    }
    headers
        .set("Content-Type", content_type)
        .map_err(|e| internal("provider headers", e))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(url, &init).map_err(|e| internal("provider request", e))?;
    let response = Fetch::Request(request).send().await.map_err(|_| {
        worker::console_error!("{name} could not be reached");
        provider_error(name, None, None)
    })?;
    let status = response.status_code();
    if (200..300).contains(&status) {
        return Ok(true);
    }
    let retry_after = response.headers().get("Retry-After").ok().flatten();
    worker::console_error!("{name} answered {status}");
    Err(provider_error(name, Some(status), retry_after))
}

/// Calls an integration's API (`GET`, or `POST` of `body`, JSON) with `headers` (its
/// credentials or signature), giving up after `timeout`; answers its JSON. What went wrong is a
/// sentence for the admin API, never with the credentials.
pub async fn integration_call(
    name: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
    timeout: std::time::Duration,
) -> Result<serde_json::Value, String> {
    use futures_util::future::{Either, select};
    let sent = Headers::new();
    for (header, value) in headers {
        sent.set(header, value).map_err(|e| format!("{name}: {e}"))?;
    }
    let headers = sent;
    let mut init = RequestInit::new();
    match body {
        Some(body) => {
            headers
                .set("Content-Type", "application/json")
                .map_err(|e| format!("{name}: {e}"))?;
            init.with_method(Method::Post).with_body(Some(JsValue::from_str(body)));
        }
        None => {
            init.with_method(Method::Get);
        }
    }
    init.with_headers(headers);
    let request = Request::new_with_init(url, &init).map_err(|e| format!("{name}: {e}"))?;
    let fetch = Box::pin(async move {
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|_| format!("{name} could not be reached"))?;
        let status = response.status_code();
        let text = response
            .text()
            .await
            .map_err(|_| format!("{name}'s answer could not be read"))?;
        if !(200..300).contains(&status) {
            // Stripe says why in `error.message`, HubSpot in `message`, GraphQL (Linear) in
            // `errors[0].message`.
            let why = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message")
                        .or_else(|| v.get("message"))
                        .or_else(|| v.pointer("/errors/0/message"))
                        .and_then(|m| m.as_str())
                        .map(str::to_owned)
                })
                .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            return Err(format!("{name} answered {status}{why}"));
        }
        serde_json::from_str(&text).map_err(|_| format!("{name} answered something that is not JSON"))
    });
    match select(fetch, Box::pin(worker::Delay::from(timeout))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(format!("{name} did not answer within {} ms", timeout.as_millis())),
    }
}

/// The outbound email configuration, if email is configured.
pub fn email_config(env: &Env) -> Option<EmailConfig> {
    EmailConfig::from_env(
        setting(env, "EMAIL_API_URL").as_deref(),
        setting(env, "EMAIL_API_TOKEN").as_deref(),
        setting(env, "EMAIL_FROM").as_deref(),
    )
}
