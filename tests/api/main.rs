//! API tests against a real edge (`wrangler dev`, workerd, Durable Objects on SQLite) over real
//! HTTP and WebSockets. `scripts/test` builds and starts the edge and sets THREADLINE_URL,
//! THREADLINE_OPERATOR_KEY and THREADLINE_SESSION_SECRET.

mod support;

mod admin;
mod conversation;
mod errors;
mod live;
mod sessions;
