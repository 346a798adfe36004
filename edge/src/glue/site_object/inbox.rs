//! The site's inbox for channel webhooks (Telegram, WhatsApp, Messenger, Instagram, SMS).
//!
//! A provider's webhook is checked here against the channel's secret, and its messages are kept
//! in the `inbox` table before the provider hears `200`: one Durable Object call, so a burst of
//! webhooks is taken in as fast as it comes, and nothing acknowledged can be lost (a message is
//! deleted from the inbox only once its conversation has stored it). The alarm then routes each
//! message through the profile directory to its conversation, which stores it once (by its
//! channel id, however often it was delivered) and answers it on its channel. One sender's
//! messages go one after another, in the order they arrived; different senders' at the same
//! time. A message whose handling failed on our side is tried again with a growing delay.

use std::collections::HashMap;

use serde::Deserialize;
use shared::wire::ErrorCode;
use worker::SqlStorageValue;

use super::SiteObject;
use crate::api_error::ApiError;
use crate::glue::http::{internal, json, now_ms, rows};
use crate::glue::inbound;
use crate::internal::{
    ChannelProof, InboundAccepted, InboundJob, InboxStatus, PageConfig, SiteCommand, SiteRecord, SmsConfig,
    TelegramConfig, WhatsappConfig,
};

/// The table, created with the site object's other migrations. `key` is the message's id on its
/// channel, so a redelivery still waiting here is not kept twice.
pub const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, sender TEXT NOT NULL, job TEXT NOT NULL, received_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS inbox_sender ON inbox (sender, seq)",
];

/// Messages handled per alarm, all at once (one sender's in turn); the alarm runs again at once
/// while more are due. Fewer at a time leave the object free to take in new webhooks sooner:
/// at 100 Telegram updates a second for a minute on one machine, 64 gave acknowledgements p50
/// 2.6 s (p99 4.0 s) and 16 gave 0.8 s (1.5 s), with the backlog cleared sooner too (115 s
/// against 123 s from the first update); 8 answered faster still but cleared it later (128 s).
const BATCH: i64 = 16;

#[derive(Deserialize)]
struct InboxRow {
    seq: i64,
    sender: String,
    job: String,
    attempts: i64,
}

#[derive(Deserialize)]
struct DueRow {
    due: Option<i64>,
}

impl SiteObject {
    /// Checks a channel webhook and keeps its messages; answers what the provider is to hear.
    pub(super) async fn accept_inbound(
        &self,
        kind: &str,
        proof: ChannelProof,
        body: &str,
    ) -> std::result::Result<worker::Response, ApiError> {
        let record = self.existing()?;
        let config = self
            .channels()?
            .into_iter()
            .find(|(info, _)| info.kind == kind)
            .map(|(_, config)| config)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("site {:?} has no {kind} channel set up", record.id),
                )
            })?;
        fn parsed<T: serde::de::DeserializeOwned>(config: serde_json::Value) -> std::result::Result<T, ApiError> {
            serde_json::from_value(config).map_err(|e| internal("stored channel", e))
        }
        let refused = |what: &str| ApiError::new(ErrorCode::InvalidSignature, what.to_owned());
        let malformed = |why: String| ApiError::new(ErrorCode::MalformedJson, why);
        let mut twiml = None;
        let jobs: Vec<InboundJob> = match (kind, proof) {
            ("telegram", ChannelProof::SecretToken { presented }) => {
                let config: TelegramConfig = parsed(config)?;
                if !shared::telegram::verify_secret(&presented, &config.secret_token) {
                    return Err(refused(
                        "X-Telegram-Bot-Api-Secret-Token is not the channel's secret token",
                    ));
                }
                shared::telegram::parse(body.as_bytes())
                    .map_err(malformed)?
                    .into_iter()
                    .map(InboundJob::Telegram)
                    .collect()
            }
            ("whatsapp", ChannelProof::HubSignature { presented }) => {
                let config: WhatsappConfig = parsed(config)?;
                verify_hub(&config.app_secret, body, &presented)?;
                shared::whatsapp::parse(body.as_bytes())
                    .map_err(malformed)?
                    .into_iter()
                    .filter_map(|event| match event {
                        shared::whatsapp::Event::Message(message)
                            if message.phone_number_id == config.phone_number_id =>
                        {
                            Some(InboundJob::Whatsapp(message))
                        }
                        _ => None,
                    })
                    .collect()
            }
            ("messenger" | "instagram", ChannelProof::HubSignature { presented }) => {
                let config: PageConfig = parsed(config)?;
                verify_hub(&config.app_secret, body, &presented)?;
                shared::messenger::parse(body.as_bytes())
                    .map_err(malformed)?
                    .into_iter()
                    .filter(|message| message.inbox.as_str() == kind && message.recipient == config.page_id)
                    .map(InboundJob::Page)
                    .collect()
            }
            ("sms", ChannelProof::Twilio { presented, url }) => {
                let config: SmsConfig = parsed(config)?;
                let params: Vec<(String, String)> = worker::url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                if !shared::sms::verify(&config.auth_token, &url, &params, &presented) {
                    return Err(refused(
                        "X-Twilio-Signature does not match this request signed with the site's Twilio auth token",
                    ));
                }
                let sms = shared::sms::parse(&params).map_err(|(field, why)| ApiError::field(field, why))?;
                // Keywords (STOP, START, HELP) are honoured now and answered in the TwiML.
                if let Some(keyword) = shared::sms::keyword(&sms.body) {
                    if keyword != shared::sms::Keyword::Help {
                        self.handle(SiteCommand::SmsOptOut {
                            number: sms.from.clone(),
                            out: keyword == shared::sms::Keyword::Stop,
                            now: now_ms(),
                        })?;
                    }
                    let reply = inbound::twiml_message(&shared::sms::keyword_reply(keyword, &record.name));
                    return json(
                        200,
                        &InboundAccepted {
                            messages: 0,
                            twiml: Some(reply),
                        },
                    );
                }
                twiml = Some(inbound::EMPTY_TWIML.to_owned());
                vec![InboundJob::Sms(sms)]
            }
            (kind, _) => return Err(internal("inbound webhook", format!("no proof scheme for {kind}"))),
        };
        let now = now_ms() as i64;
        for job in &jobs {
            let text = serde_json::to_string(job).map_err(|e| internal("inbox entry", e))?;
            self.sql()
                .exec(
                    "INSERT OR IGNORE INTO inbox (key, sender, job, received_at, due_at) VALUES (?, ?, ?, ?, ?)",
                    vec![
                        job.key().into(),
                        job.sender().into(),
                        text.into(),
                        SqlStorageValue::from(now),
                        SqlStorageValue::from(now),
                    ],
                )
                .map_err(|e| internal("keeping an inbound message", e))?;
        }
        if !jobs.is_empty() {
            self.arm_now().await?;
        }
        json(
            200,
            &InboundAccepted {
                messages: jobs.len(),
                twiml,
            },
        )
    }

    /// Makes sure the alarm runs now (unless it is set for now already).
    pub(super) async fn arm_now(&self) -> std::result::Result<(), ApiError> {
        let storage = self.state.storage();
        let set = storage
            .get_alarm()
            .await
            .map_err(|e| internal("reading the alarm", e))?;
        if set.is_none_or(|at| at > now_ms() as i64 + 50) {
            storage
                .set_alarm(std::time::Duration::from_millis(1))
                .await
                .map_err(|e| internal("setting the inbox alarm", e))?;
        }
        Ok(())
    }

    pub(super) fn inbox_status(&self) -> std::result::Result<InboxStatus, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            waiting: i64,
            retrying: Option<i64>,
            oldest: Option<i64>,
        }
        let row: Row = self
            .sql()
            .exec(
                "SELECT COUNT(*) AS waiting, SUM(attempts > 0) AS retrying, MIN(received_at) AS oldest FROM inbox",
                None,
            )
            .and_then(|c| c.one())
            .map_err(|e| internal("reading the inbox", e))?;
        Ok(InboxStatus {
            waiting: row.waiting as u64,
            retrying: row.retrying.unwrap_or(0) as u64,
            oldest_received_at: row.oldest.map(|at| at as u64),
        })
    }

    /// When the inbox next has a message due (ms since the epoch), if it has any.
    pub(super) fn inbox_due(&self) -> std::result::Result<Option<u64>, ApiError> {
        let rows: Vec<DueRow> = rows(
            &self.sql(),
            "SELECT MIN(due_at) AS due FROM inbox",
            None,
            "reading the inbox",
        )?;
        Ok(rows.into_iter().next().and_then(|r| r.due).map(|due| due as u64))
    }

    /// Puts off every due message by `delay_ms` (after a failure of the inbox itself).
    pub(super) fn postpone_inbox(&self, delay_ms: u64) {
        let now = now_ms() as i64;
        let _ = self.sql().exec(
            "UPDATE inbox SET due_at = ? WHERE due_at <= ?",
            vec![SqlStorageValue::from(now + delay_ms as i64), SqlStorageValue::from(now)],
        );
    }

    /// Hands up to [`BATCH`] due messages to their conversations.
    pub(super) async fn drain_inbox(&self) -> std::result::Result<(), ApiError> {
        let now = now_ms();
        let rows: Vec<InboxRow> = rows(
            &self.sql(), // A message waits while an earlier one from its sender waits for a retry.
            "SELECT seq, sender, job, attempts FROM inbox AS i WHERE due_at <= ?1 AND NOT EXISTS (SELECT 1 FROM inbox AS e WHERE e.sender = i.sender AND e.seq < i.seq AND e.due_at > ?1) ORDER BY seq LIMIT ?2",
            vec![SqlStorageValue::from(now as i64), SqlStorageValue::from(BATCH)],
            "reading the inbox",
        )?;
        if rows.is_empty() {
            return Ok(());
        }
        let record = self.existing()?;
        // Grouped by sender, each group in arrival order.
        let mut groups: Vec<Vec<InboxRow>> = Vec::new();
        let mut by_sender: HashMap<String, usize> = HashMap::new();
        for row in rows {
            let at = *by_sender.entry(row.sender.clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[at].push(row);
        }
        let outcomes =
            futures_util::future::join_all(groups.into_iter().map(|group| self.handle_group(&record, group))).await;
        for (seq, attempts, outcome) in outcomes.into_iter().flatten() {
            let done = match outcome {
                Ok(()) => true,
                Err(error) if error.status() < 500 => {
                    // It can never be stored (a sender the directory refuses, say): said in the
                    // log, by kind only, and let go.
                    worker::console_error!(
                        "inbound message {seq} refused ({}): {}",
                        error.status(),
                        error.body.message
                    );
                    true
                }
                Err(error) => {
                    let attempts = attempts as u32 + 1;
                    let delay = crate::internal::inbox_retry_delay_ms(attempts);
                    worker::console_error!(
                        "inbound message {seq} not handled yet (attempt {attempts}, again in {} s): {}",
                        delay / 1000,
                        error.body.message
                    );
                    self.sql()
                        .exec(
                            "UPDATE inbox SET attempts = ?, due_at = ? WHERE seq = ?",
                            vec![
                                SqlStorageValue::from(attempts as i64),
                                SqlStorageValue::from((now_ms() + delay) as i64),
                                SqlStorageValue::from(seq),
                            ],
                        )
                        .map_err(|e| internal("rescheduling an inbound message", e))?;
                    false
                }
            };
            if done {
                self.sql()
                    .exec("DELETE FROM inbox WHERE seq = ?", vec![SqlStorageValue::from(seq)])
                    .map_err(|e| internal("clearing an inbound message", e))?;
            }
        }
        Ok(())
    }

    /// One sender's messages, in order. After a failure the rest wait until it has been tried
    /// again, so they are not stored ahead of it.
    async fn handle_group(
        &self,
        record: &SiteRecord,
        group: Vec<InboxRow>,
    ) -> Vec<(i64, i64, std::result::Result<(), ApiError>)> {
        let mut outcomes = Vec::new();
        for row in group {
            let outcome = match serde_json::from_str::<InboundJob>(&row.job) {
                Ok(job) => self.handle_job(record, job).await,
                Err(error) => Err(ApiError::field("job", format!("unreadable inbox entry: {error}"))),
            };
            let failed = outcome.as_ref().is_err_and(|e| e.status() >= 500);
            outcomes.push((row.seq, row.attempts, outcome));
            if failed {
                break;
            }
        }
        outcomes
    }

    async fn handle_job(&self, record: &SiteRecord, job: InboundJob) -> std::result::Result<(), ApiError> {
        let env = &self.env;
        match job {
            InboundJob::Telegram(message) => inbound::receive_telegram(env, record, message).await.map(drop),
            InboundJob::Whatsapp(message) => inbound::receive_whatsapp(env, record, message).await.map(drop),
            InboundJob::Page(message) => inbound::receive_page(env, record, message).await.map(drop),
            InboundJob::Sms(message) => inbound::receive_sms(env, record, message).await.map(drop),
        }
    }
}

/// Checks Meta's `X-Hub-Signature-256` over the exact body.
fn verify_hub(app_secret: &str, body: &str, presented: &str) -> std::result::Result<(), ApiError> {
    if shared::whatsapp::verify_signature(app_secret, body.as_bytes(), presented) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "X-Hub-Signature-256 is not the app secret's HMAC-SHA256 of this body",
        ))
    }
}
