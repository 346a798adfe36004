//! Email as a channel: parsing inbound mail and its new text (`inbound`, `reply`), whether its
//! sender is authenticated (`auth`), the per-conversation reply addresses that thread replies
//! back (`address`), and automatic mail the bot must never answer.

pub mod address;
pub mod auth;
pub mod inbound;
pub mod postmark;
pub mod reply;
pub mod sendgrid;
