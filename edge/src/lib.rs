//! Threadline's edge worker: a thin shell that checks each request, asks `shared` what to do,
//! and carries it out on Durable Objects.
//!
//! Everything that can run natively does (routing, the error table, configuration parsing), so
//! `cargo test` covers it; the `glue` module, compiled only for wasm32, holds the `worker` calls.

pub mod api_error;
pub mod config;
pub mod cors;
pub mod email;
pub mod internal;
pub mod pages;
pub mod route;
pub mod turnstile;

#[cfg(target_arch = "wasm32")]
mod glue;

#[cfg(target_arch = "wasm32")]
pub use glue::{ConversationObject, ProfileDirectory, SiteObject};
