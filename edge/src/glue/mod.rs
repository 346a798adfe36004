//! The `worker` glue: the fetch entry point and the two Durable Object classes. Compiled only for
//! wasm32; everything it decides comes from `shared` and the native modules beside it.

mod api;
mod conversation_object;
mod directory_object;
mod http;
mod inbound;
mod metrics;
mod site_object;
mod webhooks;

pub use conversation_object::ConversationObject;
pub use directory_object::ProfileDirectory;
pub use site_object::SiteObject;

use worker::{Context, Env, MessageBatch, Request, Response, Result, event};

use crate::cors;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = req.headers().get("Origin").ok().flatten();
    if req.inner().method() == "OPTIONS" {
        return Ok(with_headers(
            Response::empty()?.with_status(204),
            cors::preflight_headers(origin.as_deref()),
        ));
    }
    let response = api::handle(req, &env)
        .await
        .unwrap_or_else(|error| http::error_response(&error));
    if response.status_code() == 101 {
        return Ok(response);
    }
    Ok(with_headers(response, cors::response_headers(origin.as_deref())))
}

/// Webhook deliveries, from the `WEBHOOKS` queue.
#[event(queue)]
async fn queue(batch: MessageBatch<crate::internal::Delivery>, env: Env, _ctx: Context) -> Result<()> {
    webhooks::consume(batch, env).await
}

/// Inbound email from Cloudflare Email Routing.
#[event(email)]
async fn email(message: worker::ForwardableEmailMessage, env: Env, _ctx: Context) -> Result<()> {
    inbound::email_event(message, env).await
}

/// Adds `extra` headers to a response the worker built itself (its headers are mutable, unlike
/// those of responses fetched from elsewhere).
fn with_headers(mut response: Response, extra: Vec<(&'static str, String)>) -> Response {
    let headers = response.headers_mut();
    for (name, value) in extra {
        let _ = headers.set(name, &value);
    }
    response
}
