//! `SiteObject`: one Durable Object per site, holding its configuration, knowledge base and built
//! knowledge index in SQLite, and the index loaded in memory.
//!
//! Index lifecycle: an upload builds the new index a step at a time, yielding between steps, so
//! visitors' questions keep being answered from the current index meanwhile; then the articles
//! and the index's compact bytes are stored in one atomic write and the new index takes over.
//! A cold start loads the stored bytes (milliseconds) instead of training again.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Deserialize;
use shared::answer::{self, AnswerConfig, Decision};
use shared::article::Article;
use shared::escalation::{self, Escalation, EscalationRules, Priority, Situation, TeamSource};
use shared::index::Index;
use shared::package;
use shared::profile::Profile;
use shared::slack::{self, SlackEvent};
use shared::wire::{BotDetail, ErrorCode, EscalationReason, IdentitySecretInfo};
use worker::{DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State, durable_object};

mod inbox;
mod integrations;
mod learning;
mod linear;
mod voice;

use learning::ArticleChange;

use super::http::{directory, error_response, internal, json, now_ms, rows};
use crate::api_error::ApiError;
use crate::internal::{
    AnswerReply, AttemptPlan, AttemptResult, ChannelInfo, DeadLetterInfo, Delivery, DirectoryCommand, IdentitySecret,
    MAX_IDENTITY_SECRETS, QueueEntry, SiteCommand, SiteRecord, StaffKeyInfo, WebhookFormat, WebhookInfo, WebhookTarget,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS site (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    admin_key_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS index_chunks (
    seq INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS articles_next (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS index_chunks_next (
    seq INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS staff_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue (
    conversation TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    entry TEXT NOT NULL,
    escalated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_order ON queue (state, priority DESC, escalated_at);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    delivery TEXT NOT NULL,
    last_error TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    delivery TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    leased_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at);
CREATE TABLE IF NOT EXISTS identity_secrets (
    kid TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);";

/// Columns added after the first release; adding one that exists fails harmlessly.
const MIGRATIONS: [&str; 13] = [
    "ALTER TABLE site ADD COLUMN trait_rules TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE site ADD COLUMN escalation_rules TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE staff_keys ADD COLUMN team TEXT",
    "ALTER TABLE webhooks ADD COLUMN format TEXT NOT NULL DEFAULT 'standard'",
    "CREATE TABLE IF NOT EXISTS team_history (topic TEXT NOT NULL, team TEXT NOT NULL, resolved INTEGER NOT NULL, PRIMARY KEY (topic, team))",
    "CREATE TABLE IF NOT EXISTS channels (kind TEXT PRIMARY KEY, config TEXT NOT NULL, public TEXT NOT NULL DEFAULT '{}', updated_at INTEGER NOT NULL)",
    "ALTER TABLE channels ADD COLUMN public TEXT NOT NULL DEFAULT '{}'",
    "CREATE TABLE IF NOT EXISTS sms_opt_outs (number TEXT PRIMARY KEY, at INTEGER NOT NULL)",
    "ALTER TABLE site ADD COLUMN widget TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE site ADD COLUMN rate_limits TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE site ADD COLUMN privacy TEXT NOT NULL DEFAULT '{}'",
    // When a Slack endpoint may take its next message (ms).
    "ALTER TABLE webhooks ADD COLUMN next_send_at INTEGER NOT NULL DEFAULT 0",
    // When staff were last told a conversation's contacts jumped (one alert a churn week).
    "CREATE TABLE IF NOT EXISTS churn_alerts (conversation TEXT PRIMARY KEY, at INTEGER NOT NULL)",
];

/// The webhook format as stored.
fn format_name(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::Standard => "standard",
        WebhookFormat::Slack => "slack",
    }
}

/// Who the customer is, for a person reading a notification: their name trait, else their
/// (preferably verified) email, else their user id.
fn customer_label(profile: &Profile) -> Option<String> {
    use shared::identity::IdentityKind;
    let name = profile
        .traits
        .get("name")
        .and_then(|t| t.value.as_str())
        .map(str::to_owned);
    let mut identities: Vec<_> = profile.identities.iter().collect();
    identities.sort_by_key(|i| (!i.verified, i.key.kind != IdentityKind::Email));
    let identity = identities.first().map(|i| i.key.value.clone());
    match (name, identity) {
        (Some(name), Some(identity)) => Some(format!("{name} ({identity})")),
        (name, identity) => name.or(identity),
    }
}

/// What a customer's account is worth, for a person reading a notification: their plan and
/// lifetime value, from the billing traits (e.g. "Pro, 74 usd paid").
fn account_value(profile: &Profile) -> Option<String> {
    let text = |name: &str| {
        profile.traits.get(name).map(|t| match &t.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let paid = text("lifetime_value").map(|v| match text("currency") {
        Some(currency) => format!("{v} {currency} paid"),
        None => format!("{v} paid"),
    });
    match (text("plan"), paid) {
        (Some(plan), Some(paid)) => Some(format!("{plan}, {paid}")),
        (plan, paid) => plan.or(paid),
    }
}

/// A customer message this recent is someone writing now (not an import of old events): only
/// then can it raise a churn alert.
const CHURN_LIVE_MS: u64 = 60 * 60 * 1000;

/// How long the queue consumer holds a delivery while it attempts it: the receiver's 15-second
/// timeout and some margin.
const ATTEMPT_LEASE_MS: u64 = 30_000;

/// Default for `WEBHOOK_RESEND_AFTER_SECS`: a delivery not attempted this long after it was due
/// is sent to the queue again.
const DEFAULT_RESEND_AFTER_SECS: u64 = 300;

/// Stored index bytes per row (SQLite rows in a Durable Object hold at most 2 MB).
const INDEX_CHUNK_BYTES: usize = 1 << 20;

/// A stored index's rows: its head (magic and format version) alone first, so a cold start
/// checks the format by reading a few bytes (`stored_index_outdated`), then the rest in
/// [`INDEX_CHUNK_BYTES`] chunks. Read back, in order, they are the index's bytes.
fn index_rows(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (head, rest) = bytes.split_at(shared::index::HEAD_BYTES.min(bytes.len()));
    std::iter::once(head).chain(rest.chunks(INDEX_CHUNK_BYTES))
}

/// The article the engine leaned towards (its answer, or its best candidate when it would not
/// answer), for the site's topic rules.
fn decision_candidate(decision: &Decision) -> Option<usize> {
    match decision {
        Decision::Answer { best, .. } => Some(best.article),
        Decision::Escalate { candidates, .. } => candidates.first().map(|c| c.article),
    }
}

struct Knowledge {
    articles: Rc<Vec<Article>>,
    index: Index,
}

#[durable_object]
#[allow(missing_debug_implementations)] // Holds platform handles that have no Debug.
pub struct SiteObject {
    state: State,
    env: Env,
    knowledge: RefCell<Option<Rc<Knowledge>>>,
    /// Counts uploads, so an upload whose build a newer one overtook is not stored.
    uploads: Cell<u64>,
    /// Index builds under way (uploads, learning, or a stored index that could not be read).
    rebuilds: Cell<u32>,
    /// Whether the stored index was found unreadable, so requests wait for the rebuild instead
    /// of reading it again.
    unreadable_index: Cell<bool>,
    /// Whether the alarm should rebuild the index before a question needs it: set on the
    /// object's first request when the stored index is in an older format.
    rebuild_ahead: Cell<bool>,
    /// Webhook deliveries a command produced, sent to the queue before it answers.
    outbox: RefCell<Vec<Delivery>>,
    /// Whether this instance has re-armed the outbox alarm since it started (local `workerd`
    /// forgets alarms on a restart).
    rearmed: Cell<bool>,
    /// Per-address and whole-site rate limit buckets, in memory: an eviction forgets partial
    /// counts, which only ever lets a little more through.
    buckets: RefCell<shared::rate::Buckets>,
    /// Conversations being filed as bugs right now.
    filing: RefCell<std::collections::HashSet<String>>,
}

impl DurableObject for SiteObject {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(error) = sql.exec(SCHEMA, None) {
            worker::console_error!("SiteObject schema: {error}");
        }
        for migration in MIGRATIONS
            .iter()
            .chain(&super::metrics::SCHEMA)
            .chain(&learning::SCHEMA)
            .chain(&inbox::SCHEMA)
            .chain(&voice::SCHEMA)
            .chain(&integrations::SCHEMA)
            .chain(&linear::SCHEMA)
        {
            let _ = sql.exec(migration, None);
        }
        SiteObject {
            state,
            env,
            knowledge: RefCell::new(None),
            uploads: Cell::new(0),
            rebuilds: Cell::new(0),
            unreadable_index: Cell::new(false),
            rebuild_ahead: Cell::new(false),
            outbox: RefCell::new(Vec::new()),
            rearmed: Cell::new(false),
            buckets: RefCell::default(),
            filing: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if !self.rearmed.replace(true) {
            // After a deploy that changed the index's store format, the alarm rebuilds it now,
            // while the first visitors open the widget, rather than when one first asks.
            match self.stored_index_outdated() {
                Ok(outdated) => {
                    self.unreadable_index.set(outdated);
                    self.rebuild_ahead.set(outdated);
                }
                Err(error) => worker::console_error!("checking the stored index: {}", error.body.message),
            }
            if let Err(error) = self.schedule_alarm().await {
                worker::console_error!("re-arming the outbox: {}", error.body.message);
            }
        }
        let result = match super::http::read_json::<SiteCommand>(&mut req).await {
            Ok(SiteCommand::PutArticles { articles }) => self.put_articles(articles).await,
            Ok(SiteCommand::Record { events }) => self.record_events(&events).await,
            Ok(SiteCommand::Churn { today }) => self.churn(today).await,
            Ok(SiteCommand::DecideProposal { id, approve }) => match self.decide(&id, approve).await {
                Ok(proposal) => json(200, &proposal),
                Err(error) => Err(error),
            },
            Ok(SiteCommand::Inbound { kind, proof, body }) => self.accept_inbound(&kind, proof, &body).await,
            Ok(SiteCommand::Voice {
                step,
                proof,
                body,
                base,
            }) => self.voice(step, proof, &body, &base).await,
            Ok(SiteCommand::StripeWebhook { signature, body, now }) => {
                self.stripe_webhook(signature.as_deref(), &body, now).await
            }
            Ok(SiteCommand::CustomerContext { email, customer }) => {
                match self.customer_context(email.as_deref(), customer.as_deref()).await {
                    Ok(context) => json(200, &context),
                    Err(error) => Err(error),
                }
            }
            Ok(SiteCommand::CrmNote { conversation, resolved }) => self.queue_crm_note(&conversation, resolved).await,
            Ok(SiteCommand::FileBug { bug }) => self.file_bug(&bug).await,
            Ok(SiteCommand::LinearWebhook { signature, body, now }) => {
                self.linear_webhook(signature.as_deref(), &body, now).await
            }
            Ok(SiteCommand::Answer {
                question,
                bot_failures,
                conversation,
                hand_over_doubt,
            }) => {
                self.answer(&question, bot_failures, conversation.as_deref(), hand_over_doubt)
                    .await
            }
            Ok(SiteCommand::RouteHandoff { text }) => self.route_handoff(&text).await,
            Ok(command) => match self.handle(command) {
                // Events go out before the caller hears back: a caller that sees an error
                // retries, and each event's delivery id is stable, so receivers see it once.
                Ok(response) => self.send_outbox().await.map(|()| response),
                Err(error) => {
                    self.outbox.borrow_mut().clear();
                    Err(error)
                }
            },
            Err(error) => Err(internal("SiteObject command", error)),
        };
        Ok(result.unwrap_or_else(|error| error_response(&error)))
    }

    /// Hands the inbox's due channel messages to their conversations, rebuilds the index with
    /// learned phrasings when they are due, sends again the webhook deliveries that went missing
    /// on the way to the queue, and rebuilds an index stored in an older format.
    async fn alarm(&self) -> Result<Response> {
        // Taken once: a rebuild that fails here is tried again by the first question.
        let rebuild_ahead = self.rebuild_ahead.replace(false);
        if let Err(error) = self.drain_inbox().await {
            // Not in a tight loop: what was due waits half a minute.
            worker::console_error!("handling the inbox, again in 30 s: {}", error.body.message);
            self.postpone_inbox(30_000);
        }
        if let Err(error) = self.run_integration_jobs().await {
            worker::console_error!("writing to integrations: {}", error.body.message);
        }
        if let Err(error) = self.learn_if_due().await {
            worker::console_error!("learning phrasings: {}", error.body.message);
        }
        if let Err(error) = self.resend_overdue().await {
            worker::console_error!("resending webhook deliveries: {}", error.body.message);
            let _ = self.state.storage().set_alarm(std::time::Duration::from_secs(30)).await;
        }
        // Last: it takes seconds, and the jobs above should not wait for it.
        if rebuild_ahead && let Err(error) = self.knowledge().await {
            worker::console_error!("rebuilding the index: {}", error.body.message);
        }
        Response::ok("")
    }
}

#[derive(Deserialize)]
struct SiteRow {
    id: String,
    name: String,
    allowed_origins: String,
    admin_key_hash: String,
    trait_rules: String,
    escalation_rules: String,
    widget: String,
    rate_limits: String,
    privacy: String,
}

#[derive(Deserialize)]
struct WebhookRow {
    id: String,
    url: String,
    events: String,
    format: String,
    secret: String,
    created_at: i64,
    disabled: Option<String>,
}

#[derive(Deserialize)]
struct OutboxRow {
    delivery: String,
    #[allow(dead_code)]
    due_at: i64,
    leased_until: i64,
}

#[derive(Deserialize)]
struct DueRow {
    due: Option<i64>,
}

#[derive(Deserialize)]
struct DeadRow {
    id: String,
    delivery: String,
    last_error: String,
    at: i64,
}

#[derive(Deserialize)]
struct StaffRow {
    id: String,
    name: String,
    team: Option<String>,
    created_at: i64,
}

#[derive(Deserialize)]
struct EntryRow {
    entry: String,
}

#[derive(Deserialize)]
struct SecretRow {
    kid: String,
    secret: String,
    created_at: i64,
}

#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

#[derive(Deserialize)]
struct ArticleRow {
    article: String,
}

impl SiteObject {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn handle(&self, command: SiteCommand) -> std::result::Result<Response, ApiError> {
        match command {
            SiteCommand::Create {
                id,
                name,
                allowed_origins,
                admin_key_hash,
            } => {
                if self.record()?.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::SiteExists,
                        format!("a site named {id:?} already exists"),
                    ));
                }
                let origins = serde_json::to_string(&allowed_origins).map_err(|e| internal("origins", e))?;
                let now = super::http::now_ms() as i64;
                self.sql()
                    .exec(
                        "INSERT INTO site (id, name, allowed_origins, admin_key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                        vec![id.into(), name.into(), origins.into(), admin_key_hash.into(), SqlStorageValue::from(now)],
                    )
                    .map_err(|e| internal("creating a site", e))?;
                json(201, &self.existing()?)
            }
            SiteCommand::Get => json(200, &self.existing()?),
            SiteCommand::Admit { action, ip, now } => {
                let record = self.existing()?;
                self.admit(&record.rate_limits, action, &ip, now)?;
                json(200, &record)
            }
            SiteCommand::Update {
                name,
                allowed_origins,
                trait_rules,
                escalation_rules,
                widget,
                rate_limits,
                privacy,
            } => {
                self.existing()?;
                // Each field is its own column; a field left out keeps its value.
                let columns = [
                    ("name", name),
                    ("allowed_origins", stored(&allowed_origins)?),
                    ("trait_rules", stored(&trait_rules)?),
                    ("escalation_rules", stored(&escalation_rules)?),
                    ("widget", stored(&widget)?),
                    ("rate_limits", stored(&rate_limits)?),
                    ("privacy", stored(&privacy)?),
                ];
                for (column, value) in columns {
                    if let Some(value) = value {
                        self.sql()
                            .exec(&format!("UPDATE site SET {column} = ?"), vec![value.into()])
                            .map_err(|e| internal("updating a site", e))?;
                    }
                }
                json(200, &self.existing()?)
            }
            SiteCommand::SetAdminKey { admin_key_hash } => {
                self.existing()?;
                self.sql()
                    .exec("UPDATE site SET admin_key_hash = ?", vec![admin_key_hash.into()])
                    .map_err(|e| internal("rotating an admin key", e))?;
                json(200, &self.existing()?)
            }
            SiteCommand::AddIdentitySecret { kid, secret, now } => {
                self.existing()?;
                let secrets = self.identity_secrets()?;
                if secrets.len() >= MAX_IDENTITY_SECRETS {
                    return Err(ApiError::new(
                        ErrorCode::TooManySecrets,
                        format!(
                            "a site holds at most {MAX_IDENTITY_SECRETS} identity secrets; delete one (DELETE .../identity-secrets/{{kid}}) before adding another"
                        ),
                    ));
                }
                self.sql()
                    .exec(
                        "INSERT INTO identity_secrets (kid, secret, created_at) VALUES (?, ?, ?)",
                        vec![
                            kid.clone().into(),
                            secret.clone().into(),
                            SqlStorageValue::from(now as i64),
                        ],
                    )
                    .map_err(|e| internal("storing an identity secret", e))?;
                json(
                    201,
                    &IdentitySecret {
                        kid,
                        secret,
                        created_at: now,
                    },
                )
            }
            SiteCommand::ListIdentitySecrets => {
                self.existing()?;
                let list: Vec<IdentitySecretInfo> = self
                    .identity_secrets()?
                    .into_iter()
                    .map(|s| IdentitySecretInfo {
                        kid: s.kid,
                        created_at: s.created_at,
                    })
                    .collect();
                json(200, &list)
            }
            SiteCommand::DeleteIdentitySecret { kid } => {
                self.existing()?;
                if !self.identity_secrets()?.iter().any(|s| s.kid == kid) {
                    return Err(ApiError::new(
                        ErrorCode::UnknownSecret,
                        format!("this site has no identity secret with key id {kid:?}"),
                    ));
                }
                self.sql()
                    .exec("DELETE FROM identity_secrets WHERE kid = ?", vec![kid.clone().into()])
                    .map_err(|e| internal("deleting an identity secret", e))?;
                json(200, &serde_json::json!({ "deleted": kid }))
            }
            SiteCommand::IdentityKeys => {
                self.existing()?;
                json(200, &self.identity_secrets()?)
            }
            SiteCommand::AddStaffKey {
                id,
                name,
                team,
                key_hash,
                now,
            } => {
                self.existing()?;
                self.sql()
                    .exec(
                        "INSERT INTO staff_keys (id, name, team, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                        vec![
                            id.clone().into(),
                            name.clone().into(),
                            team.clone().into(),
                            key_hash.into(),
                            SqlStorageValue::from(now as i64),
                        ],
                    )
                    .map_err(|e| internal("storing a staff key", e))?;
                json(
                    201,
                    &StaffKeyInfo {
                        id,
                        name,
                        team,
                        created_at: now,
                    },
                )
            }
            SiteCommand::ListStaffKeys => {
                self.existing()?;
                json(200, &self.staff_keys(None)?)
            }
            SiteCommand::DeleteStaffKey { id } => {
                self.existing()?;
                let deleted = self
                    .sql()
                    .exec("DELETE FROM staff_keys WHERE id = ?", vec![id.clone().into()])
                    .map(|c| c.rows_written())
                    .map_err(|e| internal("deleting a staff key", e))?;
                if deleted == 0 {
                    return Err(ApiError::new(ErrorCode::NotFound, format!("no staff key {id:?}")));
                }
                json(200, &serde_json::json!({ "deleted": id }))
            }
            SiteCommand::StaffByKey { key_hash } => {
                self.existing()?;
                json(200, &self.staff_keys(Some(&key_hash))?.into_iter().next())
            }
            SiteCommand::Enqueue { conversation, package } => {
                let entry = QueueEntry {
                    conversation: conversation.clone(),
                    state: "waiting".into(),
                    priority: package.escalation.priority,
                    team: package.escalation.team.clone(),
                    topic: package.escalation.topic.clone(),
                    reasons: package.escalation.reasons.clone(),
                    escalated_at: package.at,
                    assigned_to: None,
                    resolved_at: None,
                    excerpt: package.excerpt.clone(),
                };
                self.write_queue_entry(&entry)?;
                self.emit_package("conversation.escalated", &conversation, None, &package)?;
                json(200, &entry)
            }
            SiteCommand::CallIncoming {
                conversation,
                call,
                package,
            } => {
                self.emit_package("call.incoming", &conversation, Some(&call), &package)?;
                json(200, &serde_json::json!({ "ok": true }))
            }
            SiteCommand::RouteHandoff { .. } => Err(internal("SiteObject", "hand-offs are handled by route_handoff")),
            SiteCommand::Notify { conversation, message } => {
                let site = self.existing()?;
                let key = format!("{conversation}:{}", message.id);
                let at = message.at;
                let data = serde_json::json!({ "site": site.id, "conversation": conversation, "message": message });
                let slack = SlackEvent::Message { text: &message.text };
                self.emit("message.created", &key, at, data, &conversation, &slack, None)?;
                json(200, &serde_json::json!({ "ok": true }))
            }
            SiteCommand::AddWebhook {
                id,
                url,
                events,
                format,
                secret,
                now,
            } => {
                self.existing()?;
                let events_text = serde_json::to_string(&events).map_err(|e| internal("events", e))?;
                self.sql()
                    .exec(
                        "INSERT INTO webhooks (id, url, events, format, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        vec![
                            id.clone().into(),
                            url.clone().into(),
                            events_text.into(),
                            format_name(format).into(),
                            secret.into(),
                            SqlStorageValue::from(now as i64),
                        ],
                    )
                    .map_err(|e| internal("storing a webhook", e))?;
                json(
                    201,
                    &WebhookInfo {
                        id,
                        url,
                        events,
                        format,
                        created_at: now,
                        disabled: None,
                    },
                )
            }
            SiteCommand::ListWebhooks => {
                self.existing()?;
                let list: Vec<WebhookInfo> = self.webhooks()?.into_iter().map(|(info, _)| info).collect();
                json(200, &list)
            }
            SiteCommand::DeleteWebhook { id } => {
                self.existing()?;
                let deleted = self
                    .sql()
                    .exec("DELETE FROM webhooks WHERE id = ?", vec![id.clone().into()])
                    .map(|c| c.rows_written())
                    .map_err(|e| internal("deleting a webhook", e))?;
                if deleted == 0 {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no webhook endpoint {id:?}"),
                    ));
                }
                json(200, &serde_json::json!({ "deleted": id }))
            }
            SiteCommand::BeginAttempt { delivery, now } => {
                let key = delivery.key();
                let rows: Vec<OutboxRow> = rows(
                    &self.sql(),
                    "SELECT delivery, due_at, leased_until FROM outbox WHERE key = ?",
                    vec![key.clone().into()],
                    "reading the outbox",
                )?;
                let current = rows
                    .into_iter()
                    .next()
                    .map(|row| serde_json::from_str::<Delivery>(&row.delivery).map(|d| (d, row.leased_until)))
                    .transpose()
                    .map_err(|e| internal("stored delivery", e))?;
                // A stale copy: delivered, rescheduled, or being attempted by another copy.
                let Some((stored, leased_until)) = current else {
                    return json(200, &AttemptPlan::Skip);
                };
                if stored.attempt != delivery.attempt || leased_until as u64 > now {
                    return json(200, &AttemptPlan::Skip);
                }
                let Some((info, secret)) = self
                    .webhooks()?
                    .into_iter()
                    .find(|(info, _)| info.id == delivery.endpoint && info.disabled.is_none())
                else {
                    // Deleted or disabled since: nothing more goes there.
                    self.remove_delivery(&key)?;
                    return json(200, &AttemptPlan::Skip);
                };
                // Slack takes a message a second per webhook: each send gets the next slot.
                let mut not_before = now;
                if info.format == WebhookFormat::Slack {
                    match slack::pace(now, self.endpoint_free_at(&info.id)?) {
                        slack::Pace::At { slot, next } => {
                            not_before = slot;
                            self.set_endpoint_free_at(&info.id, next)?;
                        }
                        slack::Pace::Later(until) => {
                            self.sql()
                                .exec(
                                    "UPDATE outbox SET due_at = ? WHERE key = ?",
                                    vec![SqlStorageValue::from(until as i64), key.into()],
                                )
                                .map_err(|e| internal("rescheduling a delivery", e))?;
                            return json(200, &AttemptPlan::Later { until });
                        }
                    }
                }
                self.sql()
                    .exec(
                        "UPDATE outbox SET leased_until = ? WHERE key = ?",
                        vec![
                            SqlStorageValue::from((not_before + ATTEMPT_LEASE_MS) as i64),
                            key.into(),
                        ],
                    )
                    .map_err(|e| internal("leasing a delivery", e))?;
                let target = WebhookTarget {
                    url: info.url,
                    secret,
                    not_before,
                };
                json(200, &AttemptPlan::Send { target })
            }
            SiteCommand::Attempted {
                delivery,
                result,
                now,
                throttled_secs,
            } => {
                let key = delivery.key();
                // A Slack endpoint is free again a second after this send, or after Slack's
                // Retry-After; never sooner than its slots already taken.
                self.sql()
                    .exec(
                        "UPDATE webhooks SET next_send_at = MAX(next_send_at, ?) WHERE id = ? AND format = 'slack'",
                        vec![
                            SqlStorageValue::from(slack::free_after(0, now, throttled_secs) as i64),
                            delivery.endpoint.clone().into(),
                        ],
                    )
                    .map_err(|e| internal("pacing a webhook", e))?;
                match result {
                    AttemptResult::Delivered => self.remove_delivery(&key)?,
                    AttemptResult::Disable { reason } => {
                        self.sql()
                            .exec(
                                "UPDATE webhooks SET disabled = ? WHERE id = ?",
                                vec![reason.into(), delivery.endpoint.clone().into()],
                            )
                            .map_err(|e| internal("disabling a webhook", e))?;
                        self.remove_delivery(&key)?;
                    }
                    AttemptResult::Retry { next, due_at } => {
                        let text = serde_json::to_string(&next).map_err(|e| internal("delivery", e))?;
                        self.sql()
                            .exec(
                                "UPDATE outbox SET delivery = ?, due_at = ?, leased_until = 0 WHERE key = ?",
                                vec![text.into(), SqlStorageValue::from(due_at as i64), key.into()],
                            )
                            .map_err(|e| internal("rescheduling a delivery", e))?;
                    }
                    AttemptResult::DeadLetter { last_error } => {
                        let text = serde_json::to_string(&delivery).map_err(|e| internal("dead letter", e))?;
                        self.sql()
                            .exec(
                                "INSERT OR REPLACE INTO dead_letters (id, delivery, last_error, at) VALUES (?, ?, ?, ?)",
                                vec![
                                    key.clone().into(),
                                    text.into(),
                                    last_error.into(),
                                    SqlStorageValue::from(now as i64),
                                ],
                            )
                            .map_err(|e| internal("storing a dead letter", e))?;
                        self.remove_delivery(&key)?;
                    }
                }
                json(200, &serde_json::json!({ "ok": true }))
            }
            SiteCommand::ListDeadLetters => {
                self.existing()?;
                let list: Vec<DeadLetterInfo> = self.dead_letters()?.into_iter().map(|(info, _)| info).collect();
                json(200, &list)
            }
            SiteCommand::ReplayDeadLetter { id } => {
                self.existing()?;
                let (_, delivery) = self
                    .dead_letters()?
                    .into_iter()
                    .find(|(info, _)| info.id == id)
                    .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no dead letter {id:?}")))?;
                self.sql()
                    .exec("DELETE FROM dead_letters WHERE id = ?", vec![id.into()])
                    .map_err(|e| internal("replaying a dead letter", e))?;
                self.add_to_outbox(Delivery { attempt: 1, ..delivery }, now_ms())?;
                json(200, &serde_json::json!({ "replayed": true }))
            }
            SiteCommand::Queue { include_resolved } => {
                self.existing()?;
                let query = if include_resolved {
                    "SELECT entry FROM queue ORDER BY state = 'resolved', priority DESC, escalated_at LIMIT 500"
                } else {
                    "SELECT entry FROM queue WHERE state != 'resolved' ORDER BY priority DESC, escalated_at LIMIT 500"
                };
                let rows: Vec<EntryRow> = rows(&self.sql(), query, None, "reading the queue")?;
                let entries = rows
                    .iter()
                    .map(|row| serde_json::from_str::<QueueEntry>(&row.entry))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| internal("stored queue entry", e))?;
                json(200, &entries)
            }
            SiteCommand::Assign {
                conversation,
                to,
                at,
                only_if_unassigned,
            } => {
                let mut entry = self.queue_entry(&conversation)?;
                if only_if_unassigned && entry.assigned_to.is_some() {
                    return json(200, &entry);
                }
                entry.state = "assigned".into();
                entry.assigned_to = Some(to.clone());
                self.write_queue_entry(&entry)?;
                let data = serde_json::json!({ "conversation": conversation, "assigned_to": to });
                let slack = SlackEvent::Assigned { to: &to };
                let key = format!("{conversation}:{at}");
                self.emit("conversation.assigned", &key, at, data, &conversation, &slack, None)?;
                self.record_staff_event(&conversation, at, shared::metrics::EventKind::Assigned)?;
                json(200, &entry)
            }
            SiteCommand::Resolve { conversation, at, team } => {
                let mut entry = self.queue_entry(&conversation)?;
                let first_time = entry.state != "resolved";
                entry.state = "resolved".into();
                entry.resolved_at = Some(at);
                self.write_queue_entry(&entry)?;
                // Who resolved it teaches where the topic goes next time.
                if let (true, Some(topic), Some(team)) = (first_time, &entry.topic, &team) {
                    self.sql()
                        .exec(
                            "INSERT INTO team_history (topic, team, resolved) VALUES (?, ?, 1)
                             ON CONFLICT (topic, team) DO UPDATE SET resolved = resolved + 1",
                            vec![topic.clone().into(), team.clone().into()],
                        )
                        .map_err(|e| internal("learning a team", e))?;
                }
                if first_time {
                    self.record_staff_event(&conversation, at, shared::metrics::EventKind::Resolved)?;
                }
                let data = serde_json::json!({ "conversation": conversation, "team": team });
                let key = format!("{conversation}:{at}");
                self.emit(
                    "conversation.resolved",
                    &key,
                    at,
                    data,
                    &conversation,
                    &SlackEvent::Resolved,
                    None,
                )?;
                json(200, &entry)
            }
            SiteCommand::Record { .. } => Err(internal("SiteObject", "events are handled by record")),
            SiteCommand::Churn { .. } => Err(internal("SiteObject", "the watch-list is handled by churn")),
            SiteCommand::DecideProposal { .. } => Err(internal("SiteObject", "decisions are handled by decide")),
            SiteCommand::Propose {
                conversation,
                resolution,
                article,
                at,
            } => json(200, &self.propose(&conversation, &resolution, article.as_deref(), at)?),
            SiteCommand::ListProposals { state } => json(200, &self.proposals(state.as_deref())?),
            SiteCommand::Learned => json(200, &self.learned()?),
            SiteCommand::Metrics {
                from,
                to,
                business_hours: false,
            } => json(200, &super::metrics::report(&self.sql(), from, to)?),
            SiteCommand::Metrics { from, to, .. } => {
                let hours = self.existing()?.widget.hours.ok_or_else(|| {
                    ApiError::field(
                        "hours",
                        "hours=business needs the site's opening hours: set widget.hours (docs/widget.md)",
                    )
                })?;
                json(200, &super::metrics::report_in_hours(&self.sql(), from, to, &hours)?)
            }
            SiteCommand::Unanswered { from, to } => json(200, &super::metrics::unanswered(&self.sql(), from, to)?),
            SiteCommand::SetChannel {
                kind,
                config,
                public,
                now,
            } => {
                self.existing()?;
                self.sql()
                    .exec(
                        "INSERT OR REPLACE INTO channels (kind, config, public, updated_at) VALUES (?, ?, ?, ?)",
                        vec![
                            kind.clone().into(),
                            config.to_string().into(),
                            public.to_string().into(),
                            SqlStorageValue::from(now as i64),
                        ],
                    )
                    .map_err(|e| internal("storing a channel", e))?;
                json(
                    200,
                    &ChannelInfo {
                        kind,
                        public,
                        updated_at: now,
                    },
                )
            }
            SiteCommand::ListChannels => {
                self.existing()?;
                let list: Vec<ChannelInfo> = self.channels()?.into_iter().map(|(info, _)| info).collect();
                json(200, &list)
            }
            SiteCommand::InboxStatus => {
                self.existing()?;
                json(200, &self.inbox_status()?)
            }
            SiteCommand::SetIntegration {
                kind,
                config,
                public,
                now,
            } => {
                self.existing()?;
                json(200, &self.set_integration(&kind, &config, &public, now)?)
            }
            SiteCommand::ListIntegrations => {
                self.existing()?;
                json(200, &self.integrations()?)
            }
            SiteCommand::DeleteIntegration { kind } => {
                self.existing()?;
                if !self.delete_integration(&kind)? {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no {kind} integration is set up"),
                    ));
                }
                json(200, &serde_json::json!({ "deleted": kind }))
            }
            SiteCommand::DeleteChannel { kind } => {
                self.existing()?;
                let deleted = self
                    .sql()
                    .exec("DELETE FROM channels WHERE kind = ?", vec![kind.clone().into()])
                    .map(|c| c.rows_written())
                    .map_err(|e| internal("deleting a channel", e))?;
                if deleted == 0 {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no {kind} channel is set up"),
                    ));
                }
                json(200, &serde_json::json!({ "deleted": kind }))
            }
            SiteCommand::ChannelConfig { kind } => {
                self.existing()?;
                let config = self
                    .channels()?
                    .into_iter()
                    .find(|(info, _)| info.kind == kind)
                    .map(|(_, c)| c);
                json(200, &config)
            }
            SiteCommand::SmsOptOut { number, out, now } => {
                let (query, args): (&str, Vec<SqlStorageValue>) = if out {
                    (
                        "INSERT OR REPLACE INTO sms_opt_outs (number, at) VALUES (?, ?)",
                        vec![number.into(), SqlStorageValue::from(now as i64)],
                    )
                } else {
                    ("DELETE FROM sms_opt_outs WHERE number = ?", vec![number.into()])
                };
                self.sql()
                    .exec(query, args)
                    .map_err(|e| internal("recording an opt-out", e))?;
                json(200, &serde_json::json!({ "opted_out": out }))
            }
            SiteCommand::SmsOptedOut { number } => {
                let rows: Vec<CountRow> = rows(
                    &self.sql(),
                    "SELECT COUNT(*) AS n FROM sms_opt_outs WHERE number = ?",
                    vec![number.into()],
                    "reading opt-outs",
                )?;
                json(200, &rows.first().is_some_and(|r| r.n > 0))
            }
            SiteCommand::PutArticles { .. } => Err(internal("SiteObject", "uploads are handled by put_articles")),
            SiteCommand::GetArticles => {
                self.existing()?;
                json(200, &*self.articles()?)
            }
            SiteCommand::Answer { .. } => Err(internal("SiteObject", "answers are handled by answer")),
            SiteCommand::Inbound { .. } => Err(internal("SiteObject", "webhooks are handled by accept_inbound")),
            SiteCommand::Voice { .. } => Err(internal("SiteObject", "calls are handled by voice")),
            SiteCommand::StripeWebhook { .. }
            | SiteCommand::CustomerContext { .. }
            | SiteCommand::CrmNote { .. }
            | SiteCommand::FileBug { .. }
            | SiteCommand::LinearWebhook { .. } => Err(internal("SiteObject", "handled by integrations")),
        }
    }

    /// Where a visitor's request for a person goes: the team the site's rules suggest for the
    /// topic the engine leans towards.
    async fn route_handoff(&self, text: &str) -> std::result::Result<Response, ApiError> {
        let knowledge = self.knowledge().await?;
        let config = AnswerConfig::default();
        let decision = answer::decide(&knowledge.index, text, &config);
        let topic = decision_candidate(&decision).map(|i| knowledge.articles[i].id.clone());
        let (_, rules) = self.escalation_rules()?;
        let history = self.team_history(topic.as_deref())?;
        let (team, team_source) = escalation::suggest_team(text, topic.as_deref(), &history, &rules);
        json(
            200,
            &Escalation {
                reasons: vec![EscalationReason::VisitorAsked],
                priority: Priority::Normal,
                team,
                topic,
                team_source,
            },
        )
    }

    /// What the bot says, and whether the site's rules hand the conversation to a person. For a
    /// rule over the customer's profile (high-value customers), the profile's traits are fetched
    /// from the site's profile directory.
    async fn answer(
        &self,
        question: &str,
        bot_failures: u32,
        conversation: Option<&str>,
        hand_over_doubt: bool,
    ) -> std::result::Result<Response, ApiError> {
        let knowledge = self.knowledge().await?;
        let config = AnswerConfig::default();
        let decision = answer::decide(&knowledge.index, question, &config);
        let reply = answer::reply(&decision, &knowledge.articles, &config);
        let engine = match &reply.detail {
            BotDetail::NoAnswer { reason, .. } => Some(*reason),
            _ => None,
        };
        let article = decision_candidate(&decision).map(|i| knowledge.articles[i].id.clone());
        // On every answer: read the one column, not the whole site record.
        let (site, rules) = self.escalation_rules()?;
        let traits = match (&rules.high_value, conversation) {
            (Some(_), Some(conversation)) => {
                let command = DirectoryCommand::ProfileOfConversation {
                    conversation: conversation.to_owned(),
                };
                let profile: Option<Profile> = directory(&self.env, &site, command).await?;
                profile.map(|p| p.traits).unwrap_or_default()
            }
            _ => BTreeMap::new(),
        };
        let situation = Situation {
            text: question,
            engine,
            article: article.as_deref(),
            bot_failures,
            traits: &traits,
            history: &[],
        };
        let decided = escalation::decide(&situation, &rules).or_else(|| {
            // No button to offer a person on this channel: the engine's doubt hands over.
            let reason = engine.filter(|_| hand_over_doubt)?;
            let (team, team_source) = escalation::suggest_team(question, article.as_deref(), &[], &rules);
            Some(Escalation {
                reasons: vec![reason],
                priority: Priority::Normal,
                team,
                topic: article.clone(),
                team_source,
            })
        });
        let reply = match decided {
            Some(mut escalation) => {
                // No team rule matched: who resolved this topic before? (Read only now, not on
                // every answer.)
                if escalation.team_source == TeamSource::Default && escalation.topic.is_some() {
                    let history = self.team_history(escalation.topic.as_deref())?;
                    let (team, source) =
                        escalation::suggest_team(question, escalation.topic.as_deref(), &history, &rules);
                    escalation.team = team;
                    escalation.team_source = source;
                }
                let handoff = answer::escalation_reply(&escalation);
                AnswerReply {
                    text: handoff.text,
                    detail: handoff.detail,
                    escalation: Some(escalation),
                }
            }
            None => AnswerReply {
                text: reply.text,
                detail: reply.detail,
                escalation: None,
            },
        };
        json(200, &reply)
    }

    async fn put_articles(&self, articles: Vec<Article>) -> std::result::Result<Response, ApiError> {
        self.existing()?;
        let n_articles = self.rebuild(ArticleChange::Replace(articles)).await?;
        json(200, &shared::wire::ArticlesResponse { n_articles })
    }

    /// The churn watch-list: customers whose contact rate jumped, weighted by the value trait of
    /// the site's high-value rule (read from each customer's profile), highest score first.
    async fn churn(&self, today: u64) -> std::result::Result<Response, ApiError> {
        let counts = super::metrics::churn_counts(&self.sql(), today, None)?;
        let mut signals = shared::insight::churn_signals(&counts);
        signals.truncate(50);
        let (site, rules) = self.escalation_rules()?;
        let since = (today + 1).saturating_sub(shared::insight::CHURN_RECENT_DAYS);
        for signal in &mut signals {
            signal.topics = super::metrics::recent_topics(&self.sql(), &signal.conversation, since)?;
            if let Some(rule) = &rules.high_value {
                let command = DirectoryCommand::ProfileOfConversation {
                    conversation: signal.conversation.clone(),
                };
                let profile: Option<Profile> = directory(&self.env, &site, command).await?;
                let value = profile.and_then(|p| p.traits.get(&rule.trait_name).and_then(|t| t.value.as_f64()));
                shared::insight::weigh(signal, value, rule.at_least);
            }
        }
        shared::insight::rank(&mut signals);
        json(200, &signals)
    }

    /// Logs metric events, counts the "did that help?" votes among the new ones, and arms the
    /// alarm for the rebuild they may call for.
    async fn record_events(&self, events: &[shared::metrics::Event]) -> std::result::Result<Response, ApiError> {
        let (new, started) = super::metrics::record(&self.sql(), events)?;
        let recorded = new.len();
        let mut voted = false;
        for event in &new {
            if let shared::metrics::EventKind::Helpful {
                article,
                yes,
                question: Some(question),
            } = &event.kind
            {
                self.vote(article, question, *yes)?;
                voted = true;
            }
        }
        // A customer whose new contact, now, makes their contacts jump: staff hear of it at once.
        let now = now_ms();
        let mut live: Vec<&str> = started
            .iter()
            .filter(|e| e.at + CHURN_LIVE_MS >= now)
            .map(|e| e.conversation.as_str())
            .collect();
        live.dedup();
        let mut alerted = false;
        for conversation in live {
            alerted |= self.watch_contacts(conversation, now).await?;
        }
        if alerted {
            self.send_outbox().await?;
        }
        // Only a vote can make a rebuild due: most events (every message) leave the alarm be.
        if voted {
            self.schedule_alarm().await?;
        }
        // `received` less `recorded`: events logged before (an import sent again counts once).
        json(
            200,
            &serde_json::json!({ "received": events.len(), "recorded": recorded }),
        )
    }

    /// Whether `conversation`'s contacts jumped (the churn watch's rule), and if so, tells staff
    /// (`customer.churn_risk`), at most once a churn week per conversation.
    async fn watch_contacts(&self, conversation: &str, now: u64) -> std::result::Result<bool, ApiError> {
        let today = now / 86_400_000;
        let counts = super::metrics::churn_counts(&self.sql(), today, Some(conversation))?;
        let Some(signal) = shared::insight::churn_signals(&counts).into_iter().next() else {
            return Ok(false);
        };
        let rows: Vec<DueRow> = rows(
            &self.sql(),
            "SELECT at AS due FROM churn_alerts WHERE conversation = ?",
            vec![conversation.into()],
            "reading churn alerts",
        )?;
        let week_ms = shared::insight::CHURN_RECENT_DAYS * 86_400_000;
        if rows
            .first()
            .and_then(|r| r.due)
            .is_some_and(|at| at as u64 + week_ms > now)
        {
            return Ok(false);
        }
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO churn_alerts (conversation, at) VALUES (?, ?)",
                vec![conversation.into(), SqlStorageValue::from(now as i64)],
            )
            .map_err(|e| internal("keeping a churn alert", e))?;
        let site = self.existing()?.id;
        let lookup = DirectoryCommand::ProfileOfConversation {
            conversation: conversation.to_owned(),
        };
        let profile: Option<Profile> = directory(&self.env, &site, lookup).await?;
        let risk = shared::insight::ChurnRisk::ContactsJumped {
            recent_contacts: signal.recent_contacts,
            usual_per_week: signal.usual_per_week,
        };
        let key = format!("contacts:{conversation}:{today}");
        self.emit_churn_risk(&risk, profile.as_ref(), Some(conversation), &key, now)?;
        Ok(true)
    }

    /// One chunk of a stored index, into `table` (the live one or the staged one).
    pub(super) fn insert_index_chunk(
        &self,
        table: &str,
        seq: usize,
        chunk: &[u8],
    ) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec(
                &format!("INSERT INTO {table} (seq, data) VALUES (?, ?)"),
                vec![SqlStorageValue::from(seq as i64), SqlStorageValue::Blob(chunk.to_vec())],
            )
            .map(|_| ())
            .map_err(|e| internal("storing the index", e))
    }

    /// The stored index, if there is a readable one.
    fn stored_index(&self) -> std::result::Result<Option<Index>, ApiError> {
        let cursor = self
            .sql()
            .exec("SELECT data FROM index_chunks ORDER BY seq", None)
            .map_err(|e| internal("reading the index", e))?;
        let mut bytes = Vec::new();
        for row in cursor.raw() {
            match row.map_err(|e| internal("reading the index", e))?.into_iter().next() {
                Some(SqlStorageValue::Blob(chunk)) => bytes.extend_from_slice(&chunk),
                _ => return Err(internal("reading the index", "a chunk is not a blob")),
            }
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        match Index::from_bytes(&bytes) {
            Ok(index) => Ok(Some(index)),
            Err(error) => {
                worker::console_warn!("the stored index cannot be read: {error}");
                Ok(None)
            }
        }
    }

    /// Whether the site has articles but no stored index in the format this build reads (one
    /// stored before indexes were, or by a deploy with another store format), told from the
    /// index's first row, which holds its head alone (see [`index_rows`]).
    fn stored_index_outdated(&self) -> std::result::Result<bool, ApiError> {
        let cursor = self
            .sql()
            .exec(
                "SELECT substr(data, 1, ?) FROM index_chunks WHERE seq = 0",
                vec![SqlStorageValue::from(shared::index::HEAD_BYTES as i64)],
            )
            .map_err(|e| internal("reading the index", e))?;
        match cursor.raw().next() {
            Some(row) => match row.map_err(|e| internal("reading the index", e))?.into_iter().next() {
                Some(SqlStorageValue::Blob(head)) => Ok(!Index::head_is_current(&head)),
                _ => Ok(true),
            },
            None => {
                let count: CountRow = self
                    .sql()
                    .exec("SELECT COUNT(*) AS n FROM articles", None)
                    .and_then(|cursor| cursor.one())
                    .map_err(|e| internal("counting articles", e))?;
                Ok(count.n > 0)
            }
        }
    }

    /// The site id and its escalation rules.
    fn escalation_rules(&self) -> std::result::Result<(String, EscalationRules), ApiError> {
        #[derive(Deserialize)]
        struct RulesRow {
            id: String,
            escalation_rules: String,
        }
        let rows: Vec<RulesRow> = self
            .sql()
            .exec("SELECT id, escalation_rules FROM site LIMIT 1", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading escalation rules", e))?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownSite, "no site with this id exists"))?;
        Ok((row.id, serde_json::from_str(&row.escalation_rules).unwrap_or_default()))
    }

    /// Logs what staff did to a conversation (taken, resolved) for the metrics.
    fn record_staff_event(
        &self,
        conversation: &str,
        at: u64,
        kind: shared::metrics::EventKind,
    ) -> std::result::Result<(), ApiError> {
        let name = match kind {
            shared::metrics::EventKind::Assigned => "assigned",
            _ => "resolved",
        };
        let event = shared::metrics::Event {
            id: format!("{conversation}:{name}:{at}"),
            at,
            conversation: conversation.to_owned(),
            channel: shared::wire::Channel::Chat,
            kind,
        };
        super::metrics::record(&self.sql(), &[event]).map(drop)
    }

    /// Sends `event` with an escalation package (and the call being put through, if any).
    fn emit_package(
        &self,
        event: &str,
        conversation: &str,
        call: Option<&shared::wire::CallNote>,
        package: &crate::internal::Package,
    ) -> std::result::Result<(), ApiError> {
        let site = self.existing()?;
        let at = package.at;
        let link = self.transcript_link(&site.id, conversation, at);
        let messages = package.truncation.map_or(package.transcript.len(), |t| t.total);
        let mut data = serde_json::json!({
            "site": site.id,
            "conversation": conversation,
            "escalation": package.escalation,
            "profile": package.profile,
            "billing": package.billing,
            "crm": package.crm,
            "connector": package.connector,
            "bot_attempts": package.bot_attempts,
            "transcript": package.transcript,
            "transcript_truncated": package.truncation,
            "transcript_url": link.as_ref().map(|(url, _)| url),
            "transcript_url_expires_at": link.as_ref().map(|(_, expires)| expires),
        });
        if let Some(call) = call {
            data["call"] = serde_json::to_value(call).map_err(|e| internal("call", e))?;
        }
        let customer = package.profile.as_ref().and_then(customer_label);
        let slack = match call {
            Some(call) => SlackEvent::CallIncoming {
                caller: call.from.as_deref(),
                verified: call.verified,
                customer: customer.as_deref(),
                messages,
            },
            None => SlackEvent::Escalated {
                escalation: &package.escalation,
                excerpt: &package.excerpt,
                customer: customer.as_deref(),
                messages,
            },
        };
        let key = format!("{conversation}:{at}");
        self.emit(event, &key, at, data, conversation, &slack, link)
    }

    /// Tells staff a customer may be about to leave (`customer.churn_risk`), once per `key`:
    /// the risk, the customer's profile and their conversation (the one given, else their
    /// active one), and in Slack who they are and what their account is worth.
    fn emit_churn_risk(
        &self,
        risk: &shared::insight::ChurnRisk,
        profile: Option<&Profile>,
        conversation: Option<&str>,
        key: &str,
        at: u64,
    ) -> std::result::Result<(), ApiError> {
        let site = self.existing()?;
        let conversation = conversation.or_else(|| profile.and_then(|p| p.conversations.first().map(String::as_str)));
        let data = serde_json::json!({
            "site": site.id,
            "risk": risk,
            "profile": profile,
            "conversation": conversation,
        });
        let customer = profile.and_then(customer_label);
        let value = profile.and_then(account_value);
        let slack = SlackEvent::ChurnRisk {
            customer: customer.as_deref(),
            risk,
            value: value.as_deref(),
        };
        let key = format!("churn:{key}");
        self.emit(
            "customer.churn_risk",
            &key,
            at,
            data,
            conversation.unwrap_or_default(),
            &slack,
            None,
        )
    }

    /// Queues `event` for every endpoint subscribed to it. The delivery id is derived from the
    /// event (`key`) and the endpoint, so the same event queued twice is one event to receivers.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        event: &str,
        key: &str,
        at: u64,
        data: serde_json::Value,
        conversation: &str,
        slack: &SlackEvent<'_>,
        link: Option<(String, u64)>,
    ) -> std::result::Result<(), ApiError> {
        let record = self.existing()?;
        let site = record.id.clone();
        let mut data = data;
        let privacy = record.privacy;
        shared::redact::redact_json(&mut data, &privacy);
        let payload = serde_json::json!({ "type": event, "timestamp": at, "data": data }).to_string();
        let mut slack_payload = None;
        for (info, _) in self.webhooks()? {
            if info.disabled.is_some() || !info.events.iter().any(|e| e == event) {
                continue;
            }
            let payload = match info.format {
                WebhookFormat::Standard => payload.clone(),
                WebhookFormat::Slack => slack_payload
                    .get_or_insert_with(|| {
                        // Events without a package still link to the conversation's transcript.
                        let link = link.clone().or_else(|| {
                            (!conversation.is_empty())
                                .then(|| self.transcript_link(&site, conversation, at))
                                .flatten()
                        });
                        let mut message = slack::message(
                            &record.name,
                            conversation,
                            slack,
                            link.as_ref().map(|(url, _)| url.as_str()),
                        );
                        shared::redact::redact_json(&mut message, &privacy);
                        message.to_string()
                    })
                    .clone(),
            };
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(format!("{event}\n{key}\n{}", info.id));
            let id: String = shared::hex::encode(&digest[..12]);
            let delivery = Delivery {
                id: format!("msg_{id}"),
                site: site.clone(),
                endpoint: info.id,
                event: event.to_owned(),
                payload,
                attempt: 1,
            };
            self.add_to_outbox(delivery, now_ms())?;
        }
        Ok(())
    }

    /// Keeps `delivery` until its receiver has it (or it is given up), and sends it to the queue
    /// once the command's answer is ready. The same event emitted twice is kept once.
    fn add_to_outbox(&self, delivery: Delivery, now: u64) -> std::result::Result<(), ApiError> {
        let text = serde_json::to_string(&delivery).map_err(|e| internal("delivery", e))?;
        let added = self
            .sql()
            .exec(
                "INSERT OR IGNORE INTO outbox (key, delivery, due_at) VALUES (?, ?, ?)",
                vec![delivery.key().into(), text.into(), SqlStorageValue::from(now as i64)],
            )
            .map(|c| c.rows_written())
            .map_err(|e| internal("storing a delivery", e))?;
        if added > 0 {
            self.outbox.borrow_mut().push(delivery);
        }
        Ok(())
    }

    /// A signed link to `conversation`'s whole transcript, good for a week from `at`, and when
    /// it expires (seconds): only when the deployment's public URL is configured.
    fn transcript_link(&self, site: &str, conversation: &str, at: u64) -> Option<(String, u64)> {
        let base = super::http::setting(&self.env, "PUBLIC_URL")?;
        let secret = self.env.secret("SESSION_SECRET").ok()?.to_string();
        let key = package::link_key(secret.as_bytes());
        let expires = at / 1000 + package::TRANSCRIPT_LINK_TTL_SECS;
        let path = package::link_path(&key, site, conversation, expires);
        Some((format!("{}{path}", base.trim_end_matches('/')), expires))
    }

    /// One channel's stored settings, if it is set up.
    fn channel_config<T: serde::de::DeserializeOwned>(&self, kind: &str) -> std::result::Result<Option<T>, ApiError> {
        self.channels()?
            .into_iter()
            .find(|(info, _)| info.kind == kind)
            .map(|(_, config)| serde_json::from_value(config).map_err(|e| internal("stored channel", e)))
            .transpose()
    }

    /// The channels set up, as the admin API shows them and with their settings.
    fn channels(&self) -> std::result::Result<Vec<(ChannelInfo, serde_json::Value)>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            kind: String,
            config: String,
            public: String,
            updated_at: i64,
        }
        let rows: Vec<Row> = rows(
            &self.sql(),
            "SELECT kind, config, public, updated_at FROM channels ORDER BY kind",
            None,
            "reading channels",
        )?;
        rows.into_iter()
            .map(|row| {
                let config = serde_json::from_str(&row.config).map_err(|e| internal("stored channel", e))?;
                let public = serde_json::from_str(&row.public).unwrap_or_default();
                let info = ChannelInfo {
                    kind: row.kind,
                    public,
                    updated_at: row.updated_at as u64,
                };
                Ok((info, config))
            })
            .collect()
    }

    /// Which teams resolved conversations on `topic`, and how many.
    fn team_history(&self, topic: Option<&str>) -> std::result::Result<Vec<(String, u32)>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            team: String,
            resolved: i64,
        }
        let Some(topic) = topic else {
            return Ok(Vec::new());
        };
        let rows: Vec<Row> = rows(
            &self.sql(),
            "SELECT team, resolved FROM team_history WHERE topic = ?",
            vec![topic.into()],
            "reading team history",
        )?;
        Ok(rows.into_iter().map(|r| (r.team, r.resolved as u32)).collect())
    }

    fn remove_delivery(&self, key: &str) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec("DELETE FROM outbox WHERE key = ?", vec![key.into()])
            .map_err(|e| internal("removing a delivery", e))?;
        Ok(())
    }

    /// How long after its due time a delivery nobody attempted counts as lost on the way (the
    /// queue dropped it, or sending to the queue failed) and is sent again.
    fn resend_after_ms(&self) -> u64 {
        self.env
            .var("WEBHOOK_RESEND_AFTER_SECS")
            .ok()
            .and_then(|v| v.to_string().parse::<u64>().ok())
            .unwrap_or(DEFAULT_RESEND_AFTER_SECS)
            * 1000
    }

    /// Wakes up when the oldest delivery still in the outbox would count as lost, when learned
    /// phrasings are due in the index, or when the inbox has a message due, whichever comes first.
    async fn schedule_alarm(&self) -> std::result::Result<(), ApiError> {
        let rows: Vec<DueRow> = rows(
            &self.sql(),
            "SELECT MIN(MAX(due_at, leased_until)) AS due FROM outbox",
            None,
            "reading the outbox",
        )?;
        let outbox = rows
            .into_iter()
            .next()
            .and_then(|row| row.due)
            .map(|due| due as u64 + self.resend_after_ms());
        let due = match (outbox, self.learning_due()?) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Not sooner than a second for those; the inbox's messages are due when they are.
        let now = now_ms();
        let due = due.map(|due| due.max(now + 1000));
        let rebuild = self.rebuild_ahead.get().then_some(now);
        let due = [self.inbox_due()?, self.integration_jobs_due()?, rebuild]
            .into_iter()
            .flatten()
            .fold(due, |due, next| Some(due.map_or(next, |d| d.min(next))));
        if let Some(due) = due {
            let delay = due.saturating_sub(now).max(1);
            self.state
                .storage()
                .set_alarm(std::time::Duration::from_millis(delay))
                .await
                .map_err(|e| internal("setting the outbox alarm", e))?;
        }
        Ok(())
    }

    /// Sends again every delivery that is overdue and not being attempted: at least once, never
    /// lost, with the same `webhook-id`; a copy that turns out stale is skipped by `BeginAttempt`.
    async fn resend_overdue(&self) -> std::result::Result<(), ApiError> {
        let now = now_ms();
        let cutoff = now.saturating_sub(self.resend_after_ms());
        let rows: Vec<OutboxRow> = rows(
            &self.sql(),
            "SELECT delivery, due_at, leased_until FROM outbox WHERE due_at <= ? AND leased_until <= ? ORDER BY due_at LIMIT 500",
            vec![SqlStorageValue::from(cutoff as i64), SqlStorageValue::from(now as i64)],
            "reading the outbox",
        )?;
        for row in rows {
            let delivery: Delivery = serde_json::from_str(&row.delivery).map_err(|e| internal("stored delivery", e))?;
            self.sql()
                .exec(
                    "UPDATE outbox SET due_at = ? WHERE key = ?",
                    vec![SqlStorageValue::from(now as i64), delivery.key().into()],
                )
                .map_err(|e| internal("rescheduling a delivery", e))?;
            self.outbox.borrow_mut().push(delivery);
        }
        self.send_outbox().await?;
        self.schedule_alarm().await
    }

    /// Sends this command's deliveries to the queue. They are in the outbox already, so if the
    /// queue cannot take them now, the alarm sends them later.
    async fn send_outbox(&self) -> std::result::Result<(), ApiError> {
        let deliveries: Vec<Delivery> = self.outbox.borrow_mut().drain(..).collect();
        if deliveries.is_empty() {
            return Ok(());
        }
        let queue = self.env.queue("WEBHOOKS").map_err(|e| internal("webhook queue", e))?;
        let mut sent = Ok(());
        for delivery in deliveries {
            if let Err(error) = queue.send(delivery).await {
                sent = Err(internal("queueing a webhook", error));
                break;
            }
        }
        if let Err(error) = &sent {
            worker::console_error!("{}; the outbox sends it again later", error.body.message);
        }
        self.schedule_alarm().await
    }

    /// When a (Slack) endpoint may take its next message (ms).
    fn endpoint_free_at(&self, endpoint: &str) -> std::result::Result<u64, ApiError> {
        let rows: Vec<DueRow> = rows(
            &self.sql(),
            "SELECT next_send_at AS due FROM webhooks WHERE id = ?",
            vec![endpoint.into()],
            "reading a webhook's pace",
        )?;
        Ok(rows.into_iter().next().and_then(|r| r.due).unwrap_or(0).max(0) as u64)
    }

    fn set_endpoint_free_at(&self, endpoint: &str, at: u64) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec(
                "UPDATE webhooks SET next_send_at = ? WHERE id = ?",
                vec![SqlStorageValue::from(at as i64), endpoint.into()],
            )
            .map(drop)
            .map_err(|e| internal("pacing a webhook", e))
    }

    fn webhooks(&self) -> std::result::Result<Vec<(WebhookInfo, String)>, ApiError> {
        let rows: Vec<WebhookRow> = rows(
            &self.sql(),
            "SELECT id, url, events, format, secret, created_at, disabled FROM webhooks ORDER BY created_at, id",
            None,
            "reading webhooks",
        )?;
        rows.into_iter()
            .map(|row| {
                let events = serde_json::from_str(&row.events).map_err(|e| internal("stored events", e))?;
                Ok((
                    WebhookInfo {
                        id: row.id,
                        url: row.url,
                        events,
                        format: if row.format == "slack" {
                            WebhookFormat::Slack
                        } else {
                            WebhookFormat::Standard
                        },
                        created_at: row.created_at as u64,
                        disabled: row.disabled,
                    },
                    row.secret,
                ))
            })
            .collect()
    }

    fn dead_letters(&self) -> std::result::Result<Vec<(DeadLetterInfo, Delivery)>, ApiError> {
        let rows: Vec<DeadRow> = rows(
            &self.sql(),
            "SELECT id, delivery, last_error, at FROM dead_letters ORDER BY at LIMIT 500",
            None,
            "reading dead letters",
        )?;
        rows.into_iter()
            .map(|row| {
                let delivery: Delivery =
                    serde_json::from_str(&row.delivery).map_err(|e| internal("stored dead letter", e))?;
                Ok((
                    DeadLetterInfo {
                        id: row.id,
                        endpoint: delivery.endpoint.clone(),
                        event: delivery.event.clone(),
                        attempts: delivery.attempt,
                        last_error: row.last_error,
                        at: row.at as u64,
                    },
                    delivery,
                ))
            })
            .collect()
    }

    fn staff_keys(&self, key_hash: Option<&str>) -> std::result::Result<Vec<StaffKeyInfo>, ApiError> {
        let (query, args): (&str, Vec<SqlStorageValue>) = match key_hash {
            Some(hash) => (
                "SELECT id, name, team, created_at FROM staff_keys WHERE key_hash = ?",
                vec![hash.into()],
            ),
            None => (
                "SELECT id, name, team, created_at FROM staff_keys ORDER BY created_at, id",
                vec![],
            ),
        };
        let rows: Vec<StaffRow> = rows(&self.sql(), query, args, "reading staff keys")?;
        Ok(rows
            .into_iter()
            .map(|row| StaffKeyInfo {
                id: row.id,
                name: row.name,
                team: row.team,
                created_at: row.created_at as u64,
            })
            .collect())
    }

    fn queue_entry(&self, conversation: &str) -> std::result::Result<QueueEntry, ApiError> {
        let rows: Vec<EntryRow> = rows(
            &self.sql(),
            "SELECT entry FROM queue WHERE conversation = ?",
            vec![conversation.into()],
            "reading the queue",
        )?;
        let row = rows.into_iter().next().ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownConversation,
                format!("conversation {conversation:?} is not in this site's queue"),
            )
        })?;
        serde_json::from_str(&row.entry).map_err(|e| internal("stored queue entry", e))
    }

    fn write_queue_entry(&self, entry: &QueueEntry) -> std::result::Result<(), ApiError> {
        let text = serde_json::to_string(entry).map_err(|e| internal("queue entry", e))?;
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO queue (conversation, state, priority, entry, escalated_at) VALUES (?, ?, ?, ?, ?)",
                vec![
                    entry.conversation.clone().into(),
                    entry.state.clone().into(),
                    SqlStorageValue::from(entry.priority as i64),
                    text.into(),
                    SqlStorageValue::from(entry.escalated_at as i64),
                ],
            )
            .map_err(|e| internal("writing the queue", e))?;
        Ok(())
    }

    /// Newest first.
    fn identity_secrets(&self) -> std::result::Result<Vec<IdentitySecret>, ApiError> {
        let rows: Vec<SecretRow> = self
            .sql()
            .exec(
                "SELECT kid, secret, created_at FROM identity_secrets ORDER BY created_at DESC, kid",
                None,
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading identity secrets", e))?;
        Ok(rows
            .into_iter()
            .map(|row| IdentitySecret {
                kid: row.kid,
                secret: row.secret,
                created_at: row.created_at as u64,
            })
            .collect())
    }

    /// Counts `action` from `ip` against the site's per-address and whole-site limits.
    fn admit(
        &self,
        limits: &shared::rate::RateLimits,
        action: shared::rate::Action,
        ip: &str,
        now: u64,
    ) -> std::result::Result<(), ApiError> {
        // For benchmarks only (scripts/bench-*.mjs), as in the conversation object.
        if self
            .env
            .var("UNSAFE_NO_RATE_LIMITS")
            .is_ok_and(|v| v.to_string() == "1")
        {
            return Ok(());
        }
        let (per_ip, per_site) = limits.shared(action);
        let checks = [
            (format!("{action:?}:{ip}"), per_ip.config()),
            (format!("{action:?}"), per_site.config()),
        ];
        let Err((refused, retry_after_ms)) = self.buckets.borrow_mut().take_all(&checks, now) else {
            return Ok(());
        };
        let (whose, limit) = if refused == 0 {
            ("this network address", per_ip)
        } else {
            ("all visitors of this site", per_site)
        };
        let mut error = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "too many {} from {whose}: at most {} at once, then {} an hour; retry in {} s",
                action.noun(),
                limit.burst,
                limit.per_hour,
                retry_after_ms.div_ceil(1000)
            ),
        );
        error.body.retry_after_ms = Some(retry_after_ms);
        Err(error)
    }

    fn record(&self) -> std::result::Result<Option<SiteRecord>, ApiError> {
        let rows: Vec<SiteRow> = self
            .sql()
            .exec(
                "SELECT id, name, allowed_origins, admin_key_hash, trait_rules, escalation_rules, widget, rate_limits, privacy FROM site LIMIT 1",
                None,
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading a site", e))?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let count: CountRow = self
            .sql()
            .exec("SELECT COUNT(*) AS n FROM articles", None)
            .and_then(|cursor| cursor.one())
            .map_err(|e| internal("counting articles", e))?;
        Ok(Some(SiteRecord {
            id: row.id,
            name: row.name,
            allowed_origins: serde_json::from_str(&row.allowed_origins).map_err(|e| internal("stored origins", e))?,
            admin_key_hash: row.admin_key_hash,
            n_articles: count.n as usize,
            trait_rules: serde_json::from_str(&row.trait_rules).unwrap_or_default(),
            escalation_rules: serde_json::from_str(&row.escalation_rules).unwrap_or_default(),
            widget: serde_json::from_str(&row.widget).unwrap_or_default(),
            rate_limits: serde_json::from_str(&row.rate_limits).unwrap_or_default(),
            privacy: serde_json::from_str(&row.privacy).unwrap_or_default(),
        }))
    }

    fn existing(&self) -> std::result::Result<SiteRecord, ApiError> {
        self.record()?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownSite, "no site with this id exists"))
    }

    /// The site's articles and index, loaded from storage once per object. A site whose stored
    /// index cannot be read (stored before indexes were, or by an older store format after a
    /// deploy) has it rebuilt from its articles the way an upload builds one, a step at a time,
    /// so the object goes on serving other requests meanwhile; questions that arrive during that
    /// rebuild wait for it rather than each starting their own.
    async fn knowledge(&self) -> std::result::Result<Rc<Knowledge>, ApiError> {
        loop {
            if let Some(knowledge) = self.knowledge.borrow().as_ref() {
                return Ok(Rc::clone(knowledge));
            }
            if !self.unreadable_index.get() {
                let articles = self.stored_articles()?;
                let index = match self.stored_index()? {
                    Some(index) if index.n_articles() == articles.len() => Some(index),
                    // A site that never had articles has nothing to rebuild.
                    None if articles.is_empty() => Some(Index::build(&[])),
                    _ => None,
                };
                if let Some(index) = index {
                    let knowledge = Rc::new(Knowledge {
                        articles: Rc::new(articles),
                        index,
                    });
                    self.knowledge.replace(Some(Rc::clone(&knowledge)));
                    return Ok(knowledge);
                }
                self.unreadable_index.set(true);
            }
            if self.rebuilds.get() > 0 {
                // An upload's, or another request's: it loads the index it builds.
                worker::Delay::from(std::time::Duration::from_millis(20)).await;
                continue;
            }
            worker::console_warn!("rebuilding the site's index from its articles");
            match self.rebuild(ArticleChange::Keep).await {
                Ok(_) => {}
                // Overtaken by an upload: its index is waited for.
                Err(error) if error.body.code == ErrorCode::Superseded => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// The site's articles, without waiting for an index: the loaded ones, or as stored.
    fn articles(&self) -> std::result::Result<Rc<Vec<Article>>, ApiError> {
        match self.knowledge.borrow().as_ref() {
            Some(knowledge) => Ok(Rc::clone(&knowledge.articles)),
            None => Ok(Rc::new(self.stored_articles()?)),
        }
    }
}

/// A site setting as its column stores it (JSON), or `None` when the update leaves it out.
fn stored<T: serde::Serialize>(value: &Option<T>) -> Result<Option<String>, ApiError> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).map_err(|e| internal("a site setting", e)))
        .transpose()
}
