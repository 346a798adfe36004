//! The site's integrations with the systems that know its customers (billing first: Stripe).
//!
//! Settings are kept here with their secrets, which never leave the site object except in the
//! requests to the service itself; the admin API sees each integration's public part and how it
//! last went (`last_ok_at`, or `last_error` with when), so a failing integration is visible and
//! never breaks a conversation. Stripe's webhooks update the customer's traits at once (plan,
//! subscription status, lifetime value, a failed payment), each event once; its REST API gives
//! the escalation package a billing summary, within a few seconds or not at all.

use std::time::Duration;

use serde::Deserialize;
use shared::identity::{IdentityKey, IdentityKind};
use shared::stripe::{self, BillingSummary, Change};
use shared::wire::ErrorCode;
use worker::SqlStorageValue;

use super::SiteObject;
use crate::api_error::ApiError;
use crate::glue::http::{integration_call, internal, json, now_ms, rows, setting};
use crate::glue::inbound;
use crate::internal::{
    ConnectorConfig, CustomerContext, DirectoryCommand, HubspotConfig, IntegrationInfo, StripeConfig,
};

/// Created with the site object's other migrations.
pub const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS integrations (kind TEXT PRIMARY KEY, config TEXT NOT NULL, public TEXT NOT NULL, updated_at INTEGER NOT NULL, last_ok_at INTEGER, last_error TEXT, last_error_at INTEGER)",
    // Events applied, by the service's id (Stripe delivers at least once), kept 30 days.
    "CREATE TABLE IF NOT EXISTS integration_events (id TEXT PRIMARY KEY, at INTEGER NOT NULL)",
    // Paid invoices, each counted once towards its customer's lifetime value.
    "CREATE TABLE IF NOT EXISTS stripe_invoices (invoice TEXT PRIMARY KEY, customer TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL)",
    // Writes to a service that must happen (a CRM note), retried from the alarm until they do.
    // The connector's answers, by the identity asked about, for the connector's cache time.
    "CREATE TABLE IF NOT EXISTS connector_cache (key TEXT PRIMARY KEY, traits TEXT NOT NULL, fetched_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS integration_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, job TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL)",
];

/// Attempts at a write before it is given up (and its last error left in the admin API): with
/// the inbox's doubling delays, about twenty minutes.
const MAX_JOB_ATTEMPTS: i64 = 10;

/// How long a webhook's own lookups may take (Stripe waits up to 20 s and retries on failure).
const WEBHOOK_LOOKUP: Duration = Duration::from_secs(10);

/// How long an escalation waits for a billing summary before going without it.
const SUMMARY_BUDGET: Duration = Duration::from_secs(3);

const KEEP_EVENTS_MS: i64 = 30 * 86_400_000;

#[derive(Deserialize)]
struct Row {
    kind: String,
    config: String,
    public: String,
    updated_at: i64,
    last_ok_at: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<i64>,
}

#[derive(Deserialize)]
struct SumRow {
    total: Option<i64>,
}

#[derive(Deserialize)]
struct JobRow {
    id: i64,
    kind: String,
    job: String,
    attempts: i64,
}

#[derive(Deserialize)]
struct DueRow {
    due: Option<i64>,
}

/// A CRM note to write: the conversation's customer is looked up when it is written.
#[derive(serde::Serialize, Deserialize)]
struct NoteJob {
    conversation: String,
    resolved: shared::hubspot::Resolved,
}

impl SiteObject {
    fn integration_rows(&self) -> std::result::Result<Vec<Row>, ApiError> {
        rows(
            &self.sql(),
            "SELECT * FROM integrations ORDER BY kind",
            None,
            "reading integrations",
        )
    }

    /// The integrations set up, as the admin API shows them.
    pub(super) fn integrations(&self) -> std::result::Result<Vec<IntegrationInfo>, ApiError> {
        Ok(self
            .integration_rows()?
            .into_iter()
            .map(|row| IntegrationInfo {
                kind: row.kind,
                public: serde_json::from_str(&row.public).unwrap_or_default(),
                updated_at: row.updated_at as u64,
                last_ok_at: row.last_ok_at.map(|at| at as u64),
                last_error: row.last_error,
                last_error_at: row.last_error_at.map(|at| at as u64),
            })
            .collect())
    }

    pub(super) fn set_integration(
        &self,
        kind: &str,
        config: &serde_json::Value,
        public: &serde_json::Value,
        now: u64,
    ) -> std::result::Result<IntegrationInfo, ApiError> {
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO integrations (kind, config, public, updated_at) VALUES (?, ?, ?, ?)",
                vec![
                    kind.into(),
                    config.to_string().into(),
                    public.to_string().into(),
                    SqlStorageValue::from(now as i64),
                ],
            )
            .map_err(|e| internal("storing an integration", e))?;
        if kind == "connector" {
            // Answers from the old settings (another URL) are not the new connector's.
            self.sql()
                .exec("DELETE FROM connector_cache", None)
                .map_err(|e| internal("clearing the connector's cache", e))?;
        }
        self.integrations()?
            .into_iter()
            .find(|i| i.kind == kind)
            .ok_or_else(|| internal("integration", "just stored"))
    }

    pub(super) fn delete_integration(&self, kind: &str) -> std::result::Result<bool, ApiError> {
        let existed = self.integration_rows()?.iter().any(|row| row.kind == kind);
        self.sql()
            .exec("DELETE FROM integrations WHERE kind = ?", vec![kind.into()])
            .map_err(|e| internal("removing an integration", e))?;
        Ok(existed)
    }

    pub(super) fn integration_config<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> std::result::Result<Option<T>, ApiError> {
        self.integration_rows()?
            .into_iter()
            .find(|row| row.kind == kind)
            .map(|row| serde_json::from_str(&row.config).map_err(|e| internal("stored integration", e)))
            .transpose()
    }

    /// Records how an integration's use went, for the admin API.
    pub(super) fn integration_outcome(&self, kind: &str, outcome: std::result::Result<(), &str>) {
        let now = SqlStorageValue::from(now_ms() as i64);
        let result = match outcome {
            Ok(()) => self.sql().exec(
                "UPDATE integrations SET last_ok_at = ?, last_error = NULL, last_error_at = NULL WHERE kind = ?",
                vec![now, kind.into()],
            ),
            Err(why) => {
                worker::console_error!("integration {kind}: {why}");
                self.sql().exec(
                    "UPDATE integrations SET last_error = ?, last_error_at = ? WHERE kind = ?",
                    vec![why.into(), now, kind.into()],
                )
            }
        };
        if let Err(error) = result {
            worker::console_error!("recording integration {kind}: {error}");
        }
    }

    fn stripe_api(&self, config: &StripeConfig) -> (String, [(&'static str, String); 1]) {
        let base = setting(&self.env, "STRIPE_API_URL").unwrap_or_else(|| "https://api.stripe.com".into());
        (
            base.trim_end_matches('/').to_owned(),
            [("Authorization", format!("Bearer {}", config.api_key))],
        )
    }

    /// A Stripe webhook: checked, read, and applied to the customer's profile once.
    pub(super) async fn stripe_webhook(
        &self,
        signature: Option<&str>,
        body: &str,
        now: u64,
    ) -> std::result::Result<worker::Response, ApiError> {
        let record = self.existing()?;
        let config: StripeConfig = self.integration_config("stripe")?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("site {:?} has no Stripe integration set up", record.id),
            )
        })?;
        stripe::verify(&config.webhook_secret, signature, body.as_bytes(), now)
            .map_err(|why| ApiError::new(ErrorCode::InvalidSignature, format!("{why}; nothing was changed")))?;
        let event = stripe::parse_event(body.as_bytes()).map_err(|why| ApiError::field("body", why))?;
        let Some(event) = event else {
            return json(200, &serde_json::json!({ "received": true, "applied": false }));
        };
        if self.event_seen(&event.id)? {
            return json(
                200,
                &serde_json::json!({ "received": true, "applied": false, "duplicate": true }),
            );
        }
        // Subscriptions carry only the customer's id: their email comes from Stripe's API.
        let email = match event.email.clone() {
            Some(email) => email,
            None => {
                let (base, authorization) = self.stripe_api(&config);
                let url = format!("{base}/v1/customers/{}", event.customer);
                let customer = integration_call("Stripe's API", &url, &authorization, None, WEBHOOK_LOOKUP).await;
                let found = customer.as_ref().ok().and_then(|c| {
                    c.get("email")
                        .and_then(|e| e.as_str())
                        .map(|e| e.trim().to_lowercase())
                        .filter(|e| e.contains('@'))
                });
                match (customer, found) {
                    (Err(why), _) => {
                        self.integration_outcome("stripe", Err(&why));
                        // Stripe retries what failed, for days.
                        return Err(ApiError::new(
                            ErrorCode::IntegrationFailed,
                            format!("{why}; the event was not applied"),
                        ));
                    }
                    // A customer without an email belongs to nobody support can know.
                    (Ok(_), None) => {
                        self.integration_outcome("stripe", Ok(()));
                        self.remember_event(&event.id)?;
                        return json(200, &serde_json::json!({ "received": true, "applied": false }));
                    }
                    (Ok(_), Some(email)) => email,
                }
            }
        };
        let traits = match &event.change {
            Change::Traits(traits) => traits.clone(),
            Change::Paid {
                invoice,
                amount,
                currency,
            } => {
                let sql = self.sql();
                sql.exec(
                    "INSERT OR IGNORE INTO stripe_invoices (invoice, customer, amount, currency) VALUES (?, ?, ?, ?)",
                    vec![
                        invoice.clone().into(),
                        event.customer.clone().into(),
                        SqlStorageValue::from(*amount as i64),
                        currency.to_lowercase().into(),
                    ],
                )
                .map_err(|e| internal("keeping a paid invoice", e))?;
                let rows: Vec<SumRow> = rows(
                    &sql,
                    "SELECT SUM(amount) AS total FROM stripe_invoices WHERE customer = ? AND currency = ?",
                    vec![event.customer.clone().into(), currency.to_lowercase().into()],
                    "summing paid invoices",
                )?;
                let total = rows.first().and_then(|r| r.total).unwrap_or(0).max(0) as u64;
                stripe::paid_traits(&event.customer, total, currency)
            }
        };
        let command = DirectoryCommand::ApplyTraits {
            identity: IdentityKey {
                kind: IdentityKind::Email,
                value: email,
            },
            traits,
            at: event.created * 1000,
            source: "stripe".into(),
            new_profile: inbound::new_ids()?.profile,
            rules: record.trait_rules.clone(),
        };
        let applied: serde_json::Value = crate::glue::http::directory(&self.env, &record.id, command).await?;
        self.remember_event(&event.id)?;
        self.integration_outcome("stripe", Ok(()));
        if let Some(risk) = &event.risk {
            let profile: Option<shared::profile::Profile> = serde_json::from_value(applied["customer"].clone()).ok();
            let key = format!("stripe:{}", event.id);
            self.emit_churn_risk(risk, profile.as_ref(), None, &key, event.created * 1000)?;
            self.send_outbox().await?;
        }
        json(
            200,
            &serde_json::json!({ "received": true, "applied": true, "profile": applied["profile"] }),
        )
    }

    fn event_seen(&self, id: &str) -> std::result::Result<bool, ApiError> {
        #[derive(Deserialize)]
        struct Seen {
            #[allow(dead_code)]
            id: String,
        }
        let rows: Vec<Seen> = rows(
            &self.sql(),
            "SELECT id FROM integration_events WHERE id = ?",
            vec![id.into()],
            "reading integration events",
        )?;
        Ok(!rows.is_empty())
    }

    fn remember_event(&self, id: &str) -> std::result::Result<(), ApiError> {
        let now = now_ms() as i64;
        let sql = self.sql();
        sql.exec(
            "INSERT OR IGNORE INTO integration_events (id, at) VALUES (?, ?)",
            vec![id.into(), SqlStorageValue::from(now)],
        )
        .and_then(|_| {
            sql.exec(
                "DELETE FROM integration_events WHERE at < ?",
                vec![SqlStorageValue::from(now - KEEP_EVENTS_MS)],
            )
        })
        .map(drop)
        .map_err(|e| internal("keeping an integration event", e))
    }

    /// What the integrations know of a customer, each within [`SUMMARY_BUDGET`], at the same
    /// time; a part missing, slow or failing is left out (and shows in the admin API).
    pub(super) async fn customer_context(
        &self,
        email: Option<&str>,
        customer: Option<&str>,
    ) -> std::result::Result<CustomerContext, ApiError> {
        let (billing, crm, connector) = futures_util::future::join3(
            self.billing_summary(email, customer),
            self.crm_contact(email),
            self.connector_traits(email),
        )
        .await;
        Ok(CustomerContext {
            billing: billing?,
            crm: crm?,
            connector: connector?,
        })
    }

    /// What the site's connector says of the customer with `email`: from the cache while fresh,
    /// else asked (signed, within the connector's timeout); its traits also join the profile.
    async fn connector_traits(
        &self,
        email: Option<&str>,
    ) -> std::result::Result<Option<std::collections::BTreeMap<String, serde_json::Value>>, ApiError> {
        #[derive(Deserialize)]
        struct Cached {
            traits: String,
            fetched_at: i64,
        }
        let (Some(config), Some(email)) = (self.integration_config::<ConnectorConfig>("connector")?, email) else {
            return Ok(None);
        };
        let key = format!("email:{email}");
        let now = now_ms();
        let cached: Vec<Cached> = rows(
            &self.sql(),
            "SELECT traits, fetched_at FROM connector_cache WHERE key = ?",
            vec![key.clone().into()],
            "reading the connector's cache",
        )?;
        if let Some(hit) = cached.first()
            && now.saturating_sub(hit.fetched_at as u64) < config.cache_secs * 1000
        {
            return Ok(serde_json::from_str(&hit.traits).ok());
        }
        let record = self.existing()?;
        let identity = IdentityKey {
            kind: IdentityKind::Email,
            value: email.to_owned(),
        };
        let body = shared::connector::lookup_body(&record.id, None, std::slice::from_ref(&identity), now).to_string();
        let secret =
            shared::webhook::WebhookSecret::parse(&config.secret).map_err(|e| internal("connector secret", e))?;
        let id = format!(
            "msg_lookup_{}",
            shared::hex::encode(&crate::glue::http::random_bytes::<12>()?)
        );
        let headers: Vec<(&str, String)> = shared::webhook::headers(&id, now / 1000, body.as_bytes(), &[secret]).into();
        let timeout = Duration::from_millis(config.timeout_ms);
        let answer = integration_call("The connector", &config.url, &headers, Some(&body), timeout)
            .await
            .and_then(|answer| shared::connector::parse_traits(answer.to_string().as_bytes()));
        let traits = match answer {
            Ok(traits) => traits,
            Err(why) => {
                self.integration_outcome("connector", Err(&why));
                return Ok(None);
            }
        };
        self.integration_outcome("connector", Ok(()));
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO connector_cache (key, traits, fetched_at) VALUES (?, ?, ?)",
                vec![
                    key.into(),
                    serde_json::Value::from(traits.clone().into_iter().collect::<serde_json::Map<_, _>>())
                        .to_string()
                        .into(),
                    SqlStorageValue::from(now as i64),
                ],
            )
            .map_err(|e| internal("caching the connector's answer", e))?;
        // Nothing is kept past the longest cache time a site may choose.
        self.sql()
            .exec(
                "DELETE FROM connector_cache WHERE fetched_at < ?",
                vec![SqlStorageValue::from(
                    now as i64 - (shared::connector::MAX_CACHE_SECS * 1000) as i64,
                )],
            )
            .map_err(|e| internal("pruning the connector's cache", e))?;
        if !traits.is_empty() {
            let command = DirectoryCommand::ApplyTraits {
                identity,
                traits: traits.clone(),
                at: now,
                source: "connector".into(),
                new_profile: inbound::new_ids()?.profile,
                rules: record.trait_rules.clone(),
            };
            let _: serde_json::Value = crate::glue::http::directory(&self.env, &record.id, command).await?;
        }
        Ok(Some(traits))
    }

    fn hubspot_api(&self, config: &HubspotConfig) -> (String, [(&'static str, String); 1]) {
        let base = setting(&self.env, "HUBSPOT_API_URL").unwrap_or_else(|| "https://api.hubapi.com".into());
        (
            base.trim_end_matches('/').to_owned(),
            [("Authorization", format!("Bearer {}", config.access_token))],
        )
    }

    /// The customer's contact in HubSpot, found by email; its properties also become the
    /// profile's `crm_…` traits.
    async fn crm_contact(
        &self,
        email: Option<&str>,
    ) -> std::result::Result<Option<shared::hubspot::Contact>, ApiError> {
        let (Some(config), Some(email)) = (self.integration_config::<HubspotConfig>("hubspot")?, email) else {
            return Ok(None);
        };
        let contact = match self.find_contact(&config, email, SUMMARY_BUDGET).await {
            Ok(contact) => {
                self.integration_outcome("hubspot", Ok(()));
                contact
            }
            Err(why) => {
                self.integration_outcome("hubspot", Err(&why));
                return Ok(None);
            }
        };
        if let Some(contact) = &contact {
            let record = self.existing()?;
            let command = DirectoryCommand::ApplyTraits {
                identity: IdentityKey {
                    kind: IdentityKind::Email,
                    value: email.to_owned(),
                },
                traits: shared::hubspot::traits(contact),
                at: now_ms(),
                source: "hubspot".into(),
                new_profile: inbound::new_ids()?.profile,
                rules: record.trait_rules.clone(),
            };
            let _: serde_json::Value = crate::glue::http::directory(&self.env, &record.id, command).await?;
        }
        Ok(contact)
    }

    async fn find_contact(
        &self,
        config: &HubspotConfig,
        email: &str,
        timeout: Duration,
    ) -> std::result::Result<Option<shared::hubspot::Contact>, String> {
        let (base, authorization) = self.hubspot_api(config);
        let properties: Vec<String> = if config.properties.is_empty() {
            shared::hubspot::DEFAULT_PROPERTIES
                .iter()
                .map(|p| (*p).to_owned())
                .collect()
        } else {
            config.properties.clone()
        };
        let body = shared::hubspot::search_body(email, &properties);
        let url = format!("{base}/crm/v3/objects/contacts/search");
        let found = integration_call("HubSpot's API", &url, &authorization, Some(&body.to_string()), timeout).await?;
        shared::hubspot::contact(&found).map_err(|why| format!("HubSpot's API: {why}"))
    }

    /// Keeps a CRM note to write (if the site has a CRM) and has the alarm write it.
    pub(super) async fn queue_crm_note(
        &self,
        conversation: &str,
        mut resolved: shared::hubspot::Resolved,
    ) -> std::result::Result<worker::Response, ApiError> {
        let record = self.existing()?;
        if self.integration_config::<HubspotConfig>("hubspot")?.is_none() {
            return json(200, &serde_json::json!({ "queued": false }));
        }
        resolved.transcript_url = self
            .transcript_link(&record.id, conversation, resolved.resolved_at)
            .map(|(url, _)| url);
        let job = NoteJob {
            conversation: conversation.to_owned(),
            resolved,
        };
        let text = serde_json::to_string(&job).map_err(|e| internal("CRM note", e))?;
        self.sql()
            .exec(
                "INSERT INTO integration_jobs (kind, job, due_at) VALUES ('hubspot', ?, ?)",
                vec![text.into(), SqlStorageValue::from(now_ms() as i64)],
            )
            .map_err(|e| internal("keeping a CRM note", e))?;
        self.arm_now().await?;
        json(200, &serde_json::json!({ "queued": true }))
    }

    /// When the next integration write is due (ms).
    pub(super) fn integration_jobs_due(&self) -> std::result::Result<Option<u64>, ApiError> {
        let rows: Vec<DueRow> = rows(
            &self.sql(),
            "SELECT MIN(due_at) AS due FROM integration_jobs",
            None,
            "reading integration jobs",
        )?;
        Ok(rows.into_iter().next().and_then(|r| r.due).map(|due| due as u64))
    }

    /// Writes what is due to the integrations' services: done, or tried again later with a
    /// growing delay, or given up after [`MAX_JOB_ATTEMPTS`] (the last error stays visible).
    pub(super) async fn run_integration_jobs(&self) -> std::result::Result<(), ApiError> {
        let now = now_ms() as i64;
        let jobs: Vec<JobRow> = rows(
            &self.sql(),
            "SELECT id, kind, job, attempts FROM integration_jobs WHERE due_at <= ? ORDER BY id LIMIT 8",
            vec![SqlStorageValue::from(now)],
            "reading integration jobs",
        )?;
        for job in jobs {
            let outcome = match job.kind.as_str() {
                "hubspot" => self.write_crm_note(&job.job).await,
                other => Err(format!("no integration {other:?} to write to")),
            };
            let sql = self.sql();
            let done = match &outcome {
                Ok(()) => true,
                Err(why) => {
                    self.integration_outcome(&job.kind, Err(why));
                    job.attempts + 1 >= MAX_JOB_ATTEMPTS
                }
            };
            let result = if done {
                sql.exec(
                    "DELETE FROM integration_jobs WHERE id = ?",
                    vec![SqlStorageValue::from(job.id)],
                )
            } else {
                let delay = crate::internal::inbox_retry_delay_ms(job.attempts as u32 + 1) as i64;
                sql.exec(
                    "UPDATE integration_jobs SET attempts = attempts + 1, due_at = ? WHERE id = ?",
                    vec![
                        SqlStorageValue::from(now_ms() as i64 + delay),
                        SqlStorageValue::from(job.id),
                    ],
                )
            };
            result.map_err(|e| internal("updating an integration job", e))?;
        }
        Ok(())
    }

    /// Writes one resolved conversation to HubSpot as a note on the customer's contact. A
    /// customer with no verified email, or no contact, has nothing to write to.
    async fn write_crm_note(&self, job: &str) -> std::result::Result<(), String> {
        let job: NoteJob = serde_json::from_str(job).map_err(|e| format!("a kept CRM note is unreadable: {e}"))?;
        let config = match self.integration_config::<HubspotConfig>("hubspot") {
            Ok(Some(config)) => config,
            // Removed meanwhile: nothing to write to.
            Ok(None) => return Ok(()),
            Err(error) => return Err(error.body.message),
        };
        let record = self.existing().map_err(|e| e.body.message)?;
        let lookup = DirectoryCommand::ProfileOfConversation {
            conversation: job.conversation.clone(),
        };
        let profile: Option<shared::profile::Profile> = crate::glue::http::directory(&self.env, &record.id, lookup)
            .await
            .map_err(|e| e.body.message)?;
        let email = profile.and_then(|p| {
            p.identities
                .into_iter()
                .filter(|i| i.verified && i.key.kind == IdentityKind::Email)
                .max_by_key(|i| i.at)
                .map(|i| i.key.value)
        });
        let Some(email) = email else {
            return Ok(());
        };
        let Some(contact) = self.find_contact(&config, &email, WEBHOOK_LOOKUP).await? else {
            return Ok(());
        };
        let (base, authorization) = self.hubspot_api(&config);
        let text = shared::hubspot::note_text(&record.name, &job.resolved);
        let body = shared::hubspot::note_body(&contact.id, &text, job.resolved.resolved_at);
        let url = format!("{base}/crm/v3/objects/notes");
        integration_call(
            "HubSpot's API",
            &url,
            &authorization,
            Some(&body.to_string()),
            WEBHOOK_LOOKUP,
        )
        .await?;
        self.integration_outcome("hubspot", Ok(()));
        Ok(())
    }

    /// The customer's billing from Stripe's API, if the site has Stripe and it answers within
    /// [`SUMMARY_BUDGET`]; `None` otherwise (a failure shows in the admin API).
    async fn billing_summary(
        &self,
        email: Option<&str>,
        customer: Option<&str>,
    ) -> std::result::Result<Option<BillingSummary>, ApiError> {
        use futures_util::future::{Either, select};
        let Some(config) = self.integration_config::<StripeConfig>("stripe")? else {
            return Ok(None);
        };
        let (base, authorization) = self.stripe_api(&config);
        let get = |url: String| {
            let authorization = authorization.clone();
            async move { integration_call("Stripe's API", &url, &authorization, None, SUMMARY_BUDGET).await }
        };
        let lookup = Box::pin(async {
            let customer = match customer {
                Some(id) => get(format!("{base}/v1/customers/{id}")).await?,
                None => {
                    let email = email.unwrap_or_default();
                    let query = worker::url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("email", email)
                        .append_pair("limit", "1")
                        .finish();
                    let list = get(format!("{base}/v1/customers?{query}")).await?;
                    match list.pointer("/data/0") {
                        Some(found) => found.clone(),
                        None => return Ok(None),
                    }
                }
            };
            let id = customer
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let (subscriptions, invoices) = futures_util::future::join(
                get(format!("{base}/v1/subscriptions?customer={id}&status=all&limit=3")),
                get(format!("{base}/v1/invoices?customer={id}&limit=5")),
            )
            .await;
            stripe::summary(&customer, &subscriptions?, &invoices?)
                .map(Some)
                .map_err(|why| format!("Stripe's API: {why}"))
        });
        let outcome = match select(lookup, Box::pin(worker::Delay::from(SUMMARY_BUDGET))).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(_) => Err(format!(
                "Stripe's API did not answer within {} ms; the package went without billing",
                SUMMARY_BUDGET.as_millis()
            )),
        };
        self.integration_outcome("stripe", outcome.as_ref().map(drop).map_err(String::as_str));
        Ok(outcome.unwrap_or(None))
    }
}
