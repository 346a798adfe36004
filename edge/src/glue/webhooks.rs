//! Webhook delivery: the consumer of the `WEBHOOKS` Cloudflare Queue. Each message is one event
//! for one endpoint; it is signed per Standard Webhooks at each attempt (fresh timestamp, same
//! `webhook-id`), sent with a 15-second timeout, and then, by `shared::webhook::after_attempt`:
//! done, the endpoint disabled (410), queued again with the schedule's delay, or after the last
//! attempt kept as a dead letter for the admin to see and replay. Every delivery also waits in
//! its site's outbox (`SiteObject`) until this consumer reports it done, so one the queue loses
//! (a restart of `wrangler dev`, a failed send) is sent again; copies that turn out stale are
//! skipped. If anything in here fails, the queue retries the message itself.

use std::time::Duration;

use shared::webhook::{self, Outcome, WebhookSecret};
use worker::{AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, wasm_bindgen::JsValue};
use worker::{MessageBatch, MessageBuilder, MessageExt};

use super::http::{internal, now_ms, site_command};
use crate::api_error::ApiError;
use crate::internal::{AttemptPlan, AttemptResult, Delivery, SiteCommand};

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Longest delay a queue message may carry (Cloudflare Queues: 12 hours); longer waits in the
/// schedule are capped to it.
const MAX_QUEUE_DELAY_SECS: u64 = 12 * 60 * 60;

/// The batch's deliveries go at the same time, so a slow endpoint (or a Slack webhook's
/// one-a-second pace) holds up no other.
pub async fn consume(batch: MessageBatch<Delivery>, env: Env) -> worker::Result<()> {
    let messages = batch.messages()?;
    let outcomes = futures_util::future::join_all(messages.iter().map(|message| deliver(&env, message.body()))).await;
    for (message, outcome) in messages.iter().zip(outcomes) {
        match outcome {
            Ok(()) => message.ack(),
            Err(error) => {
                worker::console_error!(
                    "webhook delivery step failed, the queue retries it: {}",
                    error.body.message
                );
                message.retry();
            }
        }
    }
    Ok(())
}

async fn deliver(env: &Env, delivery: &Delivery) -> Result<(), ApiError> {
    let command = SiteCommand::BeginAttempt {
        delivery: delivery.clone(),
        now: now_ms(),
    };
    let target = match site_command(env, &delivery.site, &command).await? {
        // A stale copy, or an endpoint deleted or disabled since: nothing to do.
        AttemptPlan::Skip => return Ok(()),
        // The endpoint's slots are taken for a while: the queue brings it back then (and should
        // that fail, the outbox sends it).
        AttemptPlan::Later { until } => {
            let delay = until
                .saturating_sub(now_ms())
                .div_ceil(1000)
                .clamp(1, MAX_QUEUE_DELAY_SECS);
            let queue = env.queue("WEBHOOKS").map_err(|e| internal("webhook queue", e))?;
            return queue
                .send(
                    MessageBuilder::new(delivery.clone())
                        .delay_seconds(delay as u32)
                        .build(),
                )
                .await
                .map_err(|e| internal("requeueing a webhook", e));
        }
        AttemptPlan::Send { target } => target,
    };
    let wait = target.not_before.saturating_sub(now_ms());
    if wait > 0 {
        Delay::from(Duration::from_millis(wait)).await;
    }
    let secret = WebhookSecret::parse(&target.secret).map_err(|e| internal("stored webhook secret", e))?;
    let (status, retry_after, error) = attempt(&target.url, delivery, &secret).await;
    let throttled_secs = (status == Some(429)).then_some(retry_after.unwrap_or(1));
    let outcome = webhook::after_attempt(delivery.attempt, status, retry_after, js_sys_random());
    let result = match outcome {
        Outcome::Delivered => AttemptResult::Delivered,
        Outcome::Disable => AttemptResult::Disable {
            reason: "the endpoint answered 410 Gone".into(),
        },
        Outcome::Retry { after_secs } => {
            let cap = setting_u64(env, "WEBHOOK_MAX_DELAY_SECS").unwrap_or(MAX_QUEUE_DELAY_SECS);
            let delay = after_secs.min(cap).min(MAX_QUEUE_DELAY_SECS);
            let next = Delivery {
                attempt: delivery.attempt + 1,
                ..delivery.clone()
            };
            // The outbox learns of the retry first: should queueing it fail, the outbox sends it.
            let result = AttemptResult::Retry {
                next: next.clone(),
                due_at: now_ms() + delay * 1000,
            };
            report(env, delivery, result, throttled_secs).await?;
            let queue = env.queue("WEBHOOKS").map_err(|e| internal("webhook queue", e))?;
            return queue
                .send(MessageBuilder::new(next).delay_seconds(delay as u32).build())
                .await
                .map_err(|e| internal("requeueing a webhook", e));
        }
        Outcome::GiveUp => AttemptResult::DeadLetter { last_error: error },
    };
    report(env, delivery, result, throttled_secs).await
}

async fn report(
    env: &Env,
    delivery: &Delivery,
    result: AttemptResult,
    throttled_secs: Option<u64>,
) -> Result<(), ApiError> {
    let command = SiteCommand::Attempted {
        delivery: delivery.clone(),
        result,
        now: now_ms(),
        throttled_secs,
    };
    site_command::<serde_json::Value>(env, &delivery.site, &command)
        .await
        .map(|_| ())
}

/// One attempt: the status (None if no answer came), its `Retry-After` in seconds, and a
/// description of what happened for the dead-letter store (never the body).
async fn attempt(url: &str, delivery: &Delivery, secret: &WebhookSecret) -> (Option<u16>, Option<u64>, String) {
    let timestamp = now_ms() / 1000;
    let headers = Headers::new();
    for (name, value) in webhook::headers(
        &delivery.id,
        timestamp,
        delivery.payload.as_bytes(),
        std::slice::from_ref(secret),
    ) {
        let _ = headers.set(name, &value);
    }
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("User-Agent", "Threadline-Webhooks/1");
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&delivery.payload)));
    let Ok(request) = Request::new_with_init(url, &init) else {
        return (None, None, "the endpoint URL could not be requested".into());
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    wasm_bindgen_futures::spawn_local(async move {
        Delay::from(TIMEOUT).await;
        controller.abort();
    });
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(response) => {
            let status = response.status_code();
            let retry_after = response
                .headers()
                .get("Retry-After")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse::<u64>().ok());
            (Some(status), retry_after, format!("HTTP {status}"))
        }
        Err(_) => (None, None, format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

fn setting_u64(env: &Env, name: &str) -> Option<u64> {
    env.var(name).ok().and_then(|v| v.to_string().parse().ok())
}

fn js_sys_random() -> f64 {
    js_sys::Math::random()
}
