//! Threadline's chat widget. The loader (`widget/loader/loader.js`) creates a Shadow DOM on the
//! host page and calls `mount` here once the visitor is idle or reaches for the launcher; this
//! crate draws the launcher and the panel with Leptos inside that shadow root and keeps the
//! conversation in sync with the edge.
//!
//! `state` is plain data and functions (tested natively); `transport` and `view` are the
//! browser glue, compiled only for wasm32.

pub mod i18n;
pub mod state;
pub mod unicode;

#[cfg(target_arch = "wasm32")]
mod events;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod transport;
#[cfg(target_arch = "wasm32")]
mod view;
#[cfg(target_arch = "wasm32")]
pub use view::{command, mount};
