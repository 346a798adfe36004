//! API tests against a real edge (`wrangler dev`, workerd, Durable Objects on SQLite) over real
//! HTTP and WebSockets. `scripts/test` builds and starts the edge and sets THREADLINE_URL,
//! THREADLINE_OPERATOR_KEY, THREADLINE_SESSION_SECRET and THREADLINE_MAIL_URL.

mod support;

mod admin;
mod catalogue;
mod continuation;
mod conversation;
mod email;
mod errors;
mod identity;
mod integrations;
mod learning;
mod limits;
mod linear;
mod live;
mod messenger;
mod metrics;
mod package;
mod sessions;
mod slack;
mod sms;
mod staff;
mod telegram;
mod voice;
mod webhooks;
mod whatsapp;
