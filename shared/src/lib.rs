//! Threadline's core: the wire types the widget and the edge both speak, and every decision the
//! product makes (which article answers, whether to hand over to a person and why, whether a
//! session token is good) as plain functions over values.
//!
//! Nothing in this crate does I/O, reads a clock or draws randomness: callers pass `now` and
//! freshly generated ids in, and carry out what the functions return. That keeps all of it
//! testable with a plain `cargo test` and identical on both sides of the wire.

pub mod answer;
pub mod article;
pub mod connector;
pub mod continuation;
pub mod date;
pub mod escalation;
pub mod hex;
pub mod hubspot;
pub mod i18n;
pub mod identity;
pub mod index;
pub mod insight;
pub mod json;
pub mod jwt;
pub mod learning;
pub mod limits;
pub mod linear;
pub mod mail;
pub mod message;
pub mod messenger;
pub mod metrics;
pub mod otp;
pub mod package;
pub mod profile;
pub mod rate;
pub mod redact;
pub mod resend;
pub mod session;
pub mod site;
pub mod slack;
pub mod sms;
pub mod stripe;
pub mod telegram;
pub mod voice;
pub mod webhook;
pub mod whatsapp;
pub mod widget_settings;
pub mod widget_theme;
pub mod wire;
