//! `ProfileDirectory`: one Durable Object per site holding its customer profiles, the index from
//! every identity to its profile, the merge records, and the one-time codes waiting to be
//! entered. Every decision (what an identify does, how two profiles merge, how a merge is
//! undone, whether a code is good) is a pure function in `shared`; this object loads rows, calls
//! them, and writes the result back in one synchronous (hence atomic) step.
//!
//! Work on conversations (joining one timeline into another, granting or revoking a session's
//! access, erasing) is written as a job in the same step and carried out right after; a job
//! that fails stays queued and an alarm retries it, and every job is idempotent, so a merge is
//! never half-done for long and never done twice.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::continuation::{self, CodeRecord, Redeemed, Target};
use shared::identity::{Identified, IdentityKey, IdentityKind, Proof};
use shared::otp::{self, PendingCode};
use shared::profile::{self, ImportPerson, MergeRecord, Plan, Profile, TraitRules};
use shared::wire::ErrorCode;
use worker::{DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State, durable_object};

use super::http::{call, error_response, internal, json, rows};
use crate::api_error::ApiError;
use crate::internal::{
    ConversationExport, DirectoryCommand, DirectoryRequest, EraseReport, ErasureReport, IdentifyOutcome, ImportReport,
    InboundRoute, JoinCommand, MemberCommand, MergeSummary, NewIds, Outcome, ProfileExport, ProfileView, SplitCommand,
    UndoReport, object_name,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    profile TEXT NOT NULL,
    verified INTEGER NOT NULL,
    PRIMARY KEY (kind, value, profile)
);
CREATE UNIQUE INDEX IF NOT EXISTS identities_verified ON identities (kind, value) WHERE verified = 1;
CREATE INDEX IF NOT EXISTS identities_profile ON identities (profile);
CREATE TABLE IF NOT EXISTS merges (
    id TEXT PRIMARY KEY,
    survivor TEXT NOT NULL,
    absorbed TEXT NOT NULL,
    at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS merges_survivor ON merges (survivor);
CREATE INDEX IF NOT EXISTS merges_absorbed ON merges (absorbed);
CREATE TABLE IF NOT EXISTS codes (
    visitor TEXT NOT NULL,
    email TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (visitor, email)
);
CREATE TABLE IF NOT EXISTS code_sends (
    visitor TEXT NOT NULL,
    email TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS code_sends_visitor ON code_sends (visitor, at);
CREATE INDEX IF NOT EXISTS code_sends_email ON code_sends (email, at);
CREATE TABLE IF NOT EXISTS conversation_profiles (
    conversation TEXT PRIMARY KEY,
    profile TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_profiles_profile ON conversation_profiles (profile);
CREATE TABLE IF NOT EXISTS email_threads (
    message_id TEXT PRIMARY KEY,
    conversation TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS continue_codes (
    code TEXT PRIMARY KEY, -- its SHA-256
    visitor TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS continue_codes_visitor ON continue_codes (visitor, created_at);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    data TEXT NOT NULL
);";

/// How long a failed conversation job waits before it is retried.
const JOB_RETRY: Duration = Duration::from_secs(5);

/// Work on conversation objects, queued in the same write as the directory change it follows.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(tag = "job", rename_all = "snake_case")]
enum Job {
    Join {
        site: String,
        into: String,
        from: String,
    },
    Split {
        site: String,
        into: String,
        from: String,
    },
    Member {
        site: String,
        conversation: String,
        visitor: String,
        add: bool,
    },
}

#[durable_object]
#[allow(missing_debug_implementations)] // Holds platform handles that have no Debug.
pub struct ProfileDirectory {
    state: State,
    env: Env,
}

impl DurableObject for ProfileDirectory {
    fn new(state: State, env: Env) -> Self {
        if let Err(error) = state.storage().sql().exec(SCHEMA, None) {
            worker::console_error!("ProfileDirectory schema: {error}");
        }
        ProfileDirectory { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let result = match super::http::read_json::<DirectoryRequest>(&mut req).await {
            Ok(request) => self.handle(request).await,
            Err(error) => Err(internal("ProfileDirectory command", error)),
        };
        Ok(result.unwrap_or_else(|error| error_response(&error)))
    }

    async fn alarm(&self) -> Result<Response> {
        self.run_jobs().await;
        Response::ok("")
    }
}

#[derive(Deserialize)]
struct DataRow {
    data: String,
}

#[derive(Deserialize)]
struct ProfileIdRow {
    profile: String,
}

#[derive(Deserialize)]
struct AtRow {
    at: i64,
}

#[derive(Deserialize)]
struct JobRow {
    id: i64,
    data: String,
}

type ApiResult<T> = std::result::Result<T, ApiError>;

fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::UnknownProfile, format!("no profile {id:?} on this site"))
}

impl ProfileDirectory {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    async fn handle(&self, request: DirectoryRequest) -> ApiResult<Response> {
        let site = request.site;
        match request.command {
            DirectoryCommand::Identify {
                visitor,
                conversation,
                identified,
                new_ids,
                rules,
                now,
            } => {
                let outcome = self.link(&site, &visitor, &conversation, &identified, &new_ids, &rules, now)?;
                self.run_jobs().await;
                json(200, &outcome)
            }
            DirectoryCommand::RequestCode {
                visitor,
                conversation,
                pending,
                new_ids,
                now,
            } => {
                self.request_code(&visitor, &conversation, &pending, &new_ids, now)?;
                json(200, &serde_json::json!({ "ok": true }))
            }
            DirectoryCommand::VerifyCode {
                visitor,
                conversation,
                email,
                code,
                new_ids,
                rules,
                now,
            } => {
                let identified = self.verify_code(&site, &visitor, &email, &code, now)?;
                let outcome = self.link(&site, &visitor, &conversation, &identified, &new_ids, &rules, now)?;
                self.run_jobs().await;
                json(200, &outcome)
            }
            DirectoryCommand::SessionConversation { visitor } => {
                let key = IdentityKey {
                    kind: IdentityKind::Session,
                    value: visitor,
                };
                let conversation = self
                    .owner(&key)?
                    .and_then(|p| p.active_conversation().map(str::to_owned));
                json(200, &conversation)
            }
            DirectoryCommand::Lookup { identity } => json(200, &self.lookup(&identity)?),
            DirectoryCommand::InboundEmail {
                address,
                authenticated,
                conversation,
                replies_to,
                message_id,
                code,
                new_ids,
                rules,
                now,
            } => {
                let continued = match code {
                    Some(_) if !authenticated => Some(Redeemed::Unauthenticated),
                    Some(code) => {
                        let email = IdentityKey {
                            kind: IdentityKind::Email,
                            value: address.clone(),
                        };
                        Some(self.redeem(&site, &code, Target::Email, email, &new_ids, &rules, now)?)
                    }
                    None => None,
                };
                let mut route = self.inbound_email(
                    &site,
                    &address,
                    authenticated,
                    conversation,
                    &replies_to,
                    &new_ids,
                    &rules,
                    now,
                )?;
                route.continued = continued;
                if let Some(id) = message_id {
                    self.record_email(&id, &route.conversation)?;
                }
                self.run_jobs().await;
                json(200, &route)
            }
            DirectoryCommand::InboundVerified {
                channel,
                identity,
                proof,
                name,
                code,
                new_ids,
                rules,
                now,
            } => {
                let target = channel.split(':').next().and_then(Target::parse);
                let continued = match (code, target) {
                    (Some(code), Some(target)) => {
                        Some(self.redeem(&site, &code, target, identity.clone(), &new_ids, &rules, now)?)
                    }
                    _ => None,
                };
                let mut traits = BTreeMap::new();
                if let Some(name) = name {
                    traits.insert(
                        // e.g. `whatsapp_name`: never the site's own `name` trait.
                        format!("{}_name", channel.split(':').next().unwrap_or("channel")),
                        serde_json::Value::String(name),
                    );
                }
                let identified = Identified {
                    proof,
                    verified: vec![identity],
                    claimed: Vec::new(),
                    traits,
                    traits_verified: false,
                };
                self.route_sender(&site, &channel, &identified, &new_ids, &rules, now, continued)
                    .await
            }
            DirectoryCommand::InboundSms {
                phone,
                code,
                new_ids,
                rules,
                now,
            } => {
                let number = IdentityKey {
                    kind: IdentityKind::Phone,
                    value: phone.clone(),
                };
                let continued = match code {
                    Some(code) => {
                        Some(self.redeem(&site, &code, Target::Sms, number.clone(), &new_ids, &rules, now)?)
                    }
                    None => None,
                };
                let identified = self.number_identified(number)?;
                let channel = format!("sms:{phone}");
                self.route_sender(&site, &channel, &identified, &new_ids, &rules, now, continued)
                    .await
            }
            DirectoryCommand::InboundCall {
                phone,
                call_sid,
                new_ids,
                rules,
                now,
            } => {
                // A caller's number routes like the same number's texts (the same conversation
                // when it is not verified); a withheld number gets the call's own conversation.
                let (channel, identified) = match phone {
                    Some(phone) => {
                        let number = IdentityKey {
                            kind: IdentityKind::Phone,
                            value: phone.clone(),
                        };
                        (format!("sms:{phone}"), self.number_identified(number)?)
                    }
                    None => (
                        format!("call:{call_sid}"),
                        Identified {
                            proof: Proof::Claimed,
                            verified: Vec::new(),
                            claimed: Vec::new(),
                            traits: BTreeMap::new(),
                            traits_verified: false,
                        },
                    ),
                };
                self.route_sender(&site, &channel, &identified, &new_ids, &rules, now, None)
                    .await
            }
            DirectoryCommand::StartContinue {
                visitor,
                conversation,
                channel,
                code,
                now,
            } => {
                let expires_at = self.start_continue(&visitor, &conversation, channel, &code, now)?;
                json(200, &serde_json::json!({ "expires_at": expires_at }))
            }
            DirectoryCommand::RecordEmail {
                message_id,
                conversation,
            } => {
                self.record_email(&message_id, &conversation)?;
                json(200, &serde_json::json!({ "ok": true }))
            }
            DirectoryCommand::ProfileOfConversation { conversation } => {
                let ids = self.profile_ids(
                    "SELECT profile FROM conversation_profiles WHERE conversation = ?",
                    vec![conversation.into()],
                )?;
                let profile = match ids.into_iter().next() {
                    Some(id) => self.profile(&id)?,
                    None => None,
                };
                json(200, &profile)
            }
            DirectoryCommand::Get { profile } => {
                let found = self.profile(&profile)?.ok_or_else(|| not_found(&profile))?;
                json(200, &self.view(found)?)
            }
            DirectoryCommand::Export { profile } => {
                let found = self.profile(&profile)?.ok_or_else(|| not_found(&profile))?;
                let mut conversations = Vec::new();
                for id in &found.conversations {
                    let export: ConversationExport = call::<_, ()>(
                        &self.conversation(&site, id)?,
                        "GET",
                        &format!("/export?site={site}&conversation={id}"),
                        None,
                    )
                    .await?;
                    conversations.push(export);
                }
                let export = ProfileExport {
                    profile: self.view(found)?,
                    conversations,
                    exported_at: super::http::now_ms(),
                };
                json(200, &export)
            }
            DirectoryCommand::Delete { profile } => json(200, &self.delete(&site, &profile).await?),
            DirectoryCommand::ApplyTraits {
                identity,
                traits,
                at,
                source,
                new_profile,
                rules,
            } => {
                let (mut target, created) = match self.owner(&identity)? {
                    Some(profile) => (profile, false),
                    None => {
                        let mut profile = Profile {
                            id: new_profile,
                            created_at: at,
                            identities: Vec::new(),
                            traits: BTreeMap::new(),
                            conversations: Vec::new(),
                            review: None,
                        };
                        profile.add_identity(identity, Proof::Integration { name: source }, at);
                        (profile, true)
                    }
                };
                for (name, value) in traits {
                    let incoming = profile::TraitValue {
                        value,
                        at,
                        verified: true,
                    };
                    target.set_trait(&name, incoming, &rules);
                }
                self.write(&target)?;
                json(
                    200,
                    &serde_json::json!({ "profile": target.id, "created": created, "customer": target }),
                )
            }
            DirectoryCommand::Import {
                people,
                id_prefix,
                rules,
                now,
            } => json(200, &self.import(&people, &id_prefix, &rules, now)?),
            DirectoryCommand::Undo { merge, now } => {
                let report = self.undo(&site, &merge, now)?;
                self.run_jobs().await;
                json(200, &report)
            }
        }
    }

    /// Attaches what `identified` proves to the session's profile, merging or switching as
    /// `profile::plan` decides. Synchronous: one atomic write, conversation work queued.
    #[allow(clippy::too_many_arguments)]
    fn link(
        &self,
        site: &str,
        visitor: &str,
        conversation: &str,
        identified: &Identified,
        new_ids: &NewIds,
        rules: &TraitRules,
        now: u64,
    ) -> ApiResult<IdentifyOutcome> {
        let session_key = IdentityKey {
            kind: IdentityKind::Session,
            value: visitor.to_owned(),
        };
        let stored_session = self.owner(&session_key)?;
        let session_stored = stored_session.is_some();
        let session =
            stored_session.unwrap_or_else(|| Profile::for_session(new_ids.profile.clone(), visitor, conversation, now));
        let mut owners = BTreeMap::new();
        for key in &identified.verified {
            if let Some(owner) = self.owner(key)? {
                owners.insert(key.clone(), owner);
            }
        }
        let outcome = match profile::plan(&session, identified, &owners) {
            Plan::Attach => {
                let mut updated = session;
                updated.apply(&unowned(identified, &owners, &updated.id), rules, now);
                self.write(&updated)?;
                IdentifyOutcome {
                    outcome: Outcome::Attached,
                    profile: updated.id.clone(),
                    conversation: active(&updated, conversation),
                    merge: None,
                }
            }
            Plan::Merge { survivor, because } => {
                let target = owners
                    .values()
                    .find(|p| p.id == survivor)
                    .cloned()
                    .ok_or_else(|| internal("merge", "survivor vanished"))?;
                let (mut merged, record) = profile::merge(
                    &target,
                    &session,
                    because,
                    identified.proof.clone(),
                    new_ids.merge.clone(),
                    now,
                    rules,
                )
                .map_err(|e| internal("merge", e))?;
                merged.apply(&unowned(identified, &owners, &merged.id), rules, now);
                if session_stored {
                    self.remove(&session.id)?;
                }
                self.write(&merged)?;
                self.write_merge(&record)?;
                let into = active(&merged, conversation);
                for from in &session.conversations {
                    self.enqueue(&Job::Join {
                        site: site.to_owned(),
                        into: into.clone(),
                        from: from.clone(),
                    })?;
                }
                self.enqueue(&Job::Member {
                    site: site.to_owned(),
                    conversation: into.clone(),
                    visitor: visitor.to_owned(),
                    add: true,
                })?;
                IdentifyOutcome {
                    outcome: Outcome::Merged,
                    profile: merged.id.clone(),
                    conversation: into,
                    merge: Some(record.id),
                }
            }
            Plan::Switch { owner } => {
                // The session leaves the other person's profile and loses access to their
                // conversations; their history stays with them.
                let mut left = session;
                left.identities.retain(|i| i.key != session_key);
                if session_stored {
                    self.write(&left)?;
                }
                for conversation in &left.conversations {
                    self.enqueue(&Job::Member {
                        site: site.to_owned(),
                        conversation: conversation.clone(),
                        visitor: visitor.to_owned(),
                        add: false,
                    })?;
                }
                let mut target = match owner.and_then(|id| owners.values().find(|p| p.id == id).cloned()) {
                    Some(target) => target,
                    None => Profile::for_session(new_ids.profile.clone(), visitor, &new_ids.conversation, now),
                };
                target.add_identity(session_key.clone(), Proof::Session, now);
                target.apply(&unowned(identified, &owners, &target.id), rules, now);
                self.write(&target)?;
                let into = active(&target, &new_ids.conversation);
                self.enqueue(&Job::Member {
                    site: site.to_owned(),
                    conversation: into.clone(),
                    visitor: visitor.to_owned(),
                    add: true,
                })?;
                IdentifyOutcome {
                    outcome: Outcome::Switched,
                    profile: target.id.clone(),
                    conversation: into,
                    merge: None,
                }
            }
        };
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn inbound_email(
        &self,
        site: &str,
        address: &str,
        authenticated: bool,
        conversation: Option<String>,
        replies_to: &[String],
        new_ids: &NewIds,
        rules: &TraitRules,
        now: u64,
    ) -> ApiResult<InboundRoute> {
        // Threaded by our reply address, or by the messages it answers.
        let mut threaded = conversation;
        for id in replies_to {
            if threaded.is_some() {
                break;
            }
            #[derive(serde::Deserialize)]
            struct Row {
                conversation: String,
            }
            let rows: Vec<Row> = rows(
                &self.sql(),
                "SELECT conversation FROM email_threads WHERE message_id = ?",
                vec![id.clone().into()],
                "reading email threads",
            )?;
            threaded = rows.into_iter().next().map(|r| r.conversation);
        }
        if let Some(conversation) = threaded {
            let profile = self
                .profile_ids(
                    "SELECT profile FROM conversation_profiles WHERE conversation = ?",
                    vec![conversation.clone().into()],
                )?
                .into_iter()
                .next();
            return Ok(InboundRoute {
                conversation,
                profile,
                how: "threaded".into(),
                verified: false,
                continued: None,
            });
        }
        // By sender. An authenticated one is the address's channel; an unauthenticated one
        // never shares a profile with it (a forged From: must not write into someone's
        // conversation).
        let email = IdentityKey {
            kind: IdentityKind::Email,
            value: address.to_owned(),
        };
        let (channel, identified) = if authenticated {
            (
                format!("mail:{address}"),
                Identified {
                    proof: Proof::AuthenticatedEmail,
                    verified: vec![email],
                    claimed: Vec::new(),
                    traits: BTreeMap::new(),
                    traits_verified: false,
                },
            )
        } else {
            (
                format!("mail-unverified:{address}"),
                Identified {
                    proof: Proof::Claimed,
                    verified: Vec::new(),
                    claimed: vec![email],
                    traits: BTreeMap::new(),
                    traits_verified: false,
                },
            )
        };
        let outcome = self.link(site, &channel, &new_ids.conversation, &identified, new_ids, rules, now)?;
        if !authenticated && let Some(mut profile) = self.profile(&outcome.profile)? {
            profile.review = Some("unauthenticated_email".into());
            self.write(&profile)?;
        }
        Ok(InboundRoute {
            conversation: outcome.conversation,
            profile: Some(outcome.profile),
            how: if authenticated { "sender" } else { "review" }.into(),
            verified: authenticated,
            continued: None,
        })
    }

    /// Routes a message from a channel's sender (its pseudo-session `channel`) by what
    /// `identified` proves or claims: the conversation of whoever holds it, or a new one.
    #[allow(clippy::too_many_arguments)]
    async fn route_sender(
        &self,
        site: &str,
        channel: &str,
        identified: &Identified,
        new_ids: &NewIds,
        rules: &TraitRules,
        now: u64,
        continued: Option<Redeemed>,
    ) -> ApiResult<Response> {
        let outcome = self.link(site, channel, &new_ids.conversation, identified, new_ids, rules, now)?;
        self.run_jobs().await;
        json(
            200,
            &InboundRoute {
                conversation: outcome.conversation,
                profile: Some(outcome.profile),
                how: "sender".into(),
                verified: !identified.verified.is_empty(),
                continued,
            },
        )
    }

    /// A phone number as the sender of a text or a call: someone proved it (a code, a
    /// site-signed identity), so it routes to its owner's conversation; otherwise it is only a
    /// claim with a conversation of its own. Replies go to the number itself, so a spoofed
    /// sender learns nothing.
    fn number_identified(&self, number: IdentityKey) -> ApiResult<Identified> {
        Ok(if self.owner(&number)?.is_some() {
            Identified {
                proof: Proof::Channel,
                verified: vec![number],
                claimed: Vec::new(),
                traits: BTreeMap::new(),
                traits_verified: false,
            }
        } else {
            Identified {
                proof: Proof::Claimed,
                verified: Vec::new(),
                claimed: vec![number],
                traits: BTreeMap::new(),
                traits_verified: false,
            }
        })
    }

    /// Stores a "continue on another channel" code for a session; returns when it expires
    /// (seconds).
    fn start_continue(
        &self,
        visitor: &str,
        conversation: &str,
        channel: Target,
        code: &str,
        now: u64,
    ) -> ApiResult<u64> {
        let now_secs = now / 1000;
        let recent: Vec<AtRow> = rows(
            &self.sql(),
            "SELECT created_at AS at FROM continue_codes WHERE visitor = ? AND created_at > ?",
            vec![
                visitor.into(),
                SqlStorageValue::from(now_secs.saturating_sub(3600) as i64),
            ],
            "reading continue codes",
        )?;
        let recent: Vec<u64> = recent.into_iter().map(|r| r.at as u64).collect();
        if let Err(wait_secs) = continuation::may_create(&recent, now_secs) {
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "too many codes: at most {} per session each hour; retry in {wait_secs} s",
                    continuation::MAX_CODES_PER_HOUR
                ),
            );
            error.body.retry_after_ms = Some(wait_secs * 1000);
            return Err(error);
        }
        let record = CodeRecord {
            visitor: visitor.to_owned(),
            conversation: conversation.to_owned(),
            channel,
            expires_at: now_secs + continuation::CODE_TTL_SECS,
            used_at: None,
        };
        let data = serde_json::to_string(&record).map_err(|e| internal("continue code", e))?;
        let sql = self.sql();
        sql.exec(
            "INSERT INTO continue_codes (code, visitor, created_at, data) VALUES (?, ?, ?, ?)",
            vec![
                continuation::code_key(code).into(),
                visitor.into(),
                SqlStorageValue::from(now_secs as i64),
                data.into(),
            ],
        )
        .map_err(|e| internal("storing a continue code", e))?;
        // Used and expired codes are kept a day (a late message still gets a clear answer).
        sql.exec(
            "DELETE FROM continue_codes WHERE created_at < ?",
            vec![SqlStorageValue::from(now_secs.saturating_sub(86_400) as i64)],
        )
        .map_err(|e| internal("pruning continue codes", e))?;
        Ok(record.expires_at)
    }

    /// Redeems a code that arrived on `channel` from `identity`: when it is good, the identity
    /// joins the code's session's profile as `link` decides for any verified proof.
    #[allow(clippy::too_many_arguments)]
    fn redeem(
        &self,
        site: &str,
        code: &str,
        channel: Target,
        identity: IdentityKey,
        new_ids: &NewIds,
        rules: &TraitRules,
        now: u64,
    ) -> ApiResult<Redeemed> {
        let rows: Vec<DataRow> = rows(
            &self.sql(),
            "SELECT data FROM continue_codes WHERE code = ?",
            vec![continuation::code_key(code).into()],
            "reading a continue code",
        )?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(Redeemed::Unknown);
        };
        let mut record: CodeRecord = serde_json::from_str(&row.data).map_err(|e| internal("continue code", e))?;
        if let Err(problem) = continuation::redeemable(&record, channel, now / 1000) {
            return Ok(problem.into());
        }
        record.used_at = Some(now / 1000);
        let data = serde_json::to_string(&record).map_err(|e| internal("continue code", e))?;
        self.sql()
            .exec(
                "UPDATE continue_codes SET data = ? WHERE code = ?",
                vec![data.into(), continuation::code_key(code).into()],
            )
            .map_err(|e| internal("using a continue code", e))?;
        let identified = Identified {
            proof: Proof::ContinueCode { channel },
            verified: vec![identity],
            claimed: Vec::new(),
            traits: BTreeMap::new(),
            traits_verified: false,
        };
        // The routing that follows may create a profile or a merge of its own: distinct ids.
        let ids = NewIds {
            profile: format!("{}k", new_ids.profile),
            merge: format!("{}k", new_ids.merge),
            conversation: record.conversation.clone(),
        };
        self.link(
            site,
            &record.visitor,
            &record.conversation,
            &identified,
            &ids,
            rules,
            now,
        )?;
        Ok(Redeemed::Joined)
    }

    fn record_email(&self, message_id: &str, conversation: &str) -> ApiResult<()> {
        self.sql()
            .exec(
                "INSERT OR IGNORE INTO email_threads (message_id, conversation) VALUES (?, ?)",
                vec![message_id.into(), conversation.into()],
            )
            .map_err(|e| internal("recording an email thread", e))?;
        Ok(())
    }

    fn request_code(
        &self,
        visitor: &str,
        conversation: &str,
        pending: &PendingCode,
        new_ids: &NewIds,
        now: u64,
    ) -> ApiResult<()> {
        let now_secs = now / 1000;
        let window_start = (now_secs.saturating_sub(otp::CODE_WINDOW_SECS)) as i64;
        let session_sends = self.send_times("visitor", visitor, window_start)?;
        let address_sends = self.send_times("email", &pending.email, window_start)?;
        if let Err(wait_secs) = otp::may_send(&session_sends, &address_sends, now_secs) {
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "too many codes requested: at most {} per session and {} per address each hour; retry in {wait_secs} s",
                    otp::MAX_CODES_PER_SESSION,
                    otp::MAX_CODES_PER_ADDRESS
                ),
            );
            error.body.retry_after_ms = Some(wait_secs * 1000);
            return Err(error);
        }
        // Until the code is entered, the address is only a claim: it merges nothing.
        let session_key = IdentityKey {
            kind: IdentityKind::Session,
            value: visitor.to_owned(),
        };
        let mut session = self
            .owner(&session_key)?
            .unwrap_or_else(|| Profile::for_session(new_ids.profile.clone(), visitor, conversation, now));
        let email = IdentityKey::new(IdentityKind::Email, &pending.email).map_err(|e| internal("email", e))?;
        session.add_identity(email, Proof::Claimed, now);
        self.write(&session)?;
        let data = serde_json::to_string(pending).map_err(|e| internal("code", e))?;
        let sql = self.sql();
        sql.exec(
            "INSERT OR REPLACE INTO codes (visitor, email, data) VALUES (?, ?, ?)",
            vec![visitor.into(), pending.email.clone().into(), data.into()],
        )
        .map_err(|e| internal("storing a code", e))?;
        sql.exec(
            "INSERT INTO code_sends (visitor, email, at) VALUES (?, ?, ?)",
            vec![
                visitor.into(),
                pending.email.clone().into(),
                SqlStorageValue::from(now_secs as i64),
            ],
        )
        .map_err(|e| internal("counting a code", e))?;
        sql.exec(
            "DELETE FROM code_sends WHERE at < ?",
            vec![SqlStorageValue::from(window_start)],
        )
        .map_err(|e| internal("pruning code sends", e))?;
        Ok(())
    }

    fn send_times(&self, column: &str, value: &str, since: i64) -> ApiResult<Vec<u64>> {
        let query = format!("SELECT at FROM code_sends WHERE {column} = ? AND at >= ?");
        let rows: Vec<AtRow> = rows(
            &self.sql(),
            &query,
            vec![value.into(), SqlStorageValue::from(since)],
            "reading code sends",
        )?;
        Ok(rows.into_iter().map(|r| r.at as u64).collect())
    }

    /// Checks a code; stores its new state (attempts, used) whatever the outcome.
    fn verify_code(&self, site: &str, visitor: &str, email: &str, code: &str, now: u64) -> ApiResult<Identified> {
        let rows: Vec<DataRow> = rows(
            &self.sql(),
            "SELECT data FROM codes WHERE visitor = ? AND email = ?",
            vec![visitor.into(), email.into()],
            "reading a code",
        )?;
        let Some(row) = rows.into_iter().next() else {
            return Err(otp::CodeError::NoPendingCode.into());
        };
        let pending: PendingCode = serde_json::from_str(&row.data).map_err(|e| internal("stored code", e))?;
        let (next, result) = otp::check(&pending, site, visitor, code, now / 1000);
        let data = serde_json::to_string(&next).map_err(|e| internal("code", e))?;
        self.sql()
            .exec(
                "UPDATE codes SET data = ? WHERE visitor = ? AND email = ?",
                vec![data.into(), visitor.into(), email.into()],
            )
            .map_err(|e| internal("updating a code", e))?;
        result?;
        Ok(Identified {
            proof: Proof::EmailCode,
            verified: vec![IdentityKey::new(IdentityKind::Email, email).map_err(|e| internal("email", e))?],
            claimed: vec![],
            traits: BTreeMap::new(),
            traits_verified: false,
        })
    }

    /// Creates or updates one profile per person: the one holding their user id, else one that
    /// holds their email or phone and no other user id (the same person, known so far by
    /// address), else a new one. An address another person's profile holds stays with it.
    fn import(
        &self,
        people: &[ImportPerson],
        id_prefix: &str,
        rules: &TraitRules,
        now: u64,
    ) -> ApiResult<ImportReport> {
        let mut report = ImportReport {
            created: 0,
            updated: 0,
            identities_skipped: 0,
        };
        for (line, person) in people.iter().enumerate() {
            let mut owners: Vec<(&IdentityKey, Profile)> = Vec::new();
            for key in person.keys() {
                if let Some(owner) = self.owner(key)? {
                    owners.push((key, owner));
                }
            }
            let anonymous = |p: &Profile| !p.verified_keys().any(|k| k.kind == IdentityKind::UserId);
            let existing = owners
                .iter()
                .find(|(key, _)| key.kind == IdentityKind::UserId)
                .or_else(|| owners.iter().find(|(_, owner)| anonymous(owner)))
                .map(|(_, owner)| owner.clone());
            let (mut target, created) = match existing {
                Some(profile) => (profile, false),
                None => (
                    Profile {
                        id: format!("{id_prefix}{line:x}"),
                        created_at: now,
                        identities: Vec::new(),
                        traits: BTreeMap::new(),
                        conversations: Vec::new(),
                        review: None,
                    },
                    true,
                ),
            };
            let taken: Vec<&IdentityKey> = owners
                .iter()
                .filter(|(_, owner)| owner.id != target.id)
                .map(|(key, _)| *key)
                .collect();
            report.identities_skipped += taken.len();
            target.apply_import(person, &taken, rules, now);
            self.write(&target)?;
            if created {
                report.created += 1;
            } else {
                report.updated += 1;
            }
        }
        Ok(report)
    }

    fn lookup(&self, identity: &IdentityKey) -> ApiResult<Vec<ProfileView>> {
        // The verified holder first, then profiles that only claim it.
        let ids = self.profile_ids(
            "SELECT profile FROM identities WHERE kind = ? AND value = ? ORDER BY verified DESC, profile LIMIT 20",
            vec![identity.kind.as_str().into(), identity.value.clone().into()],
        )?;
        let mut views = Vec::new();
        for id in ids {
            if let Some(profile) = self.profile(&id)? {
                views.push(self.view(profile)?);
            }
        }
        Ok(views)
    }

    async fn delete(&self, site: &str, id: &str) -> ApiResult<ErasureReport> {
        let found = self.profile(id)?.ok_or_else(|| not_found(id))?;
        let mut messages = 0;
        for conversation in &found.conversations {
            let report: EraseReport = call::<_, ()>(
                &self.conversation(site, conversation)?,
                "POST",
                &format!("/erase?site={site}&conversation={conversation}"),
                None,
            )
            .await?;
            messages += report.messages;
        }
        let records = self.merges_of(id)?;
        let visitors: Vec<&str> = found
            .identities
            .iter()
            .filter(|i| i.key.kind == IdentityKind::Session)
            .map(|i| i.key.value.as_str())
            .collect();
        let emails: Vec<&str> = found
            .identities
            .iter()
            .filter(|i| i.key.kind == IdentityKind::Email)
            .map(|i| i.key.value.as_str())
            .collect();
        let sql = self.sql();
        let mut pending_codes = 0;
        for visitor in &visitors {
            pending_codes += sql
                .exec("DELETE FROM codes WHERE visitor = ?", vec![(*visitor).into()])
                .map(|c| c.rows_written())
                .map_err(|e| internal("erasing codes", e))?;
            sql.exec("DELETE FROM code_sends WHERE visitor = ?", vec![(*visitor).into()])
                .map_err(|e| internal("erasing codes", e))?;
        }
        for email in &emails {
            pending_codes += sql
                .exec("DELETE FROM codes WHERE email = ?", vec![(*email).into()])
                .map(|c| c.rows_written())
                .map_err(|e| internal("erasing codes", e))?;
            sql.exec("DELETE FROM code_sends WHERE email = ?", vec![(*email).into()])
                .map_err(|e| internal("erasing codes", e))?;
        }
        sql.exec(
            "DELETE FROM merges WHERE survivor = ? OR absorbed = ?",
            vec![id.into(), id.into()],
        )
        .map_err(|e| internal("erasing merge records", e))?;
        self.remove(id)?;
        Ok(ErasureReport {
            profile: id.to_owned(),
            identities: found.identities.len(),
            traits: found.traits.len(),
            conversations: found.conversations.len(),
            messages,
            merge_records: records.len(),
            pending_codes,
        })
    }

    fn undo(&self, site: &str, merge_id: &str, now: u64) -> ApiResult<UndoReport> {
        let mut record = self
            .merge_record(merge_id)?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownMerge, format!("no merge {merge_id:?} on this site")))?;
        if record.undone_at.is_some() {
            return Err(ApiError::new(
                ErrorCode::MergeNotUndoable,
                format!("merge {merge_id:?} was already undone"),
            ));
        }
        let current = self.profile(&record.survivor)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::MergeNotUndoable,
                format!(
                    "profile {:?} was merged again since; undo that later merge first",
                    record.survivor
                ),
            )
        })?;
        let (survivor, restored) = profile::undo(&current, &record);
        if let Some(holder) = restored
            .verified_keys()
            .filter_map(|key| self.owner(key).ok().flatten())
            .find(|holder| holder.id != survivor.id && holder.id != restored.id)
        {
            return Err(ApiError::new(
                ErrorCode::MergeNotUndoable,
                format!(
                    "an identity of the absorbed profile now belongs to profile {:?}",
                    holder.id
                ),
            ));
        }
        self.write(&survivor)?;
        self.write(&restored)?;
        record.undone_at = Some(now);
        self.write_merge(&record)?;
        let into = survivor.active_conversation().unwrap_or_default().to_owned();
        for from in &restored.conversations {
            self.enqueue(&Job::Split {
                site: site.to_owned(),
                into: into.clone(),
                from: from.clone(),
            })?;
        }
        for identity in &restored.identities {
            if identity.key.kind == IdentityKind::Session {
                self.enqueue(&Job::Member {
                    site: site.to_owned(),
                    conversation: into.clone(),
                    visitor: identity.key.value.clone(),
                    add: false,
                })?;
            }
        }
        Ok(UndoReport {
            merge: record.id.clone(),
            survivor: self.view(survivor)?,
            restored: self.view(restored)?,
        })
    }

    // --- storage ---

    /// The `profile` column of a query's rows.
    fn profile_ids(&self, query: &str, args: Vec<SqlStorageValue>) -> ApiResult<Vec<String>> {
        let rows: Vec<ProfileIdRow> = rows(&self.sql(), query, args, "looking up a profile")?;
        Ok(rows.into_iter().map(|row| row.profile).collect())
    }

    /// Rows of one JSON `data` column, parsed.
    fn json_rows<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        args: Vec<SqlStorageValue>,
        what: &str,
    ) -> ApiResult<Vec<T>> {
        let rows: Vec<DataRow> = rows(&self.sql(), query, args, &format!("reading {what}"))?;
        rows.iter()
            .map(|row| serde_json::from_str(&row.data).map_err(|e| internal(&format!("stored {what}"), e)))
            .collect()
    }

    fn profile(&self, id: &str) -> ApiResult<Option<Profile>> {
        let rows = self.json_rows("SELECT data FROM profiles WHERE id = ?", vec![id.into()], "a profile")?;
        Ok(rows.into_iter().next())
    }

    /// The profile holding `key` verified (an indexed lookup, not a scan).
    fn owner(&self, key: &IdentityKey) -> ApiResult<Option<Profile>> {
        let ids = self.profile_ids(
            "SELECT profile FROM identities WHERE kind = ? AND value = ? AND verified = 1",
            vec![key.kind.as_str().into(), key.value.clone().into()],
        )?;
        match ids.into_iter().next() {
            Some(id) => self.profile(&id),
            None => Ok(None),
        }
    }

    /// Stores a profile and re-indexes its identities.
    fn write(&self, profile: &Profile) -> ApiResult<()> {
        let data = serde_json::to_string(profile).map_err(|e| internal("profile", e))?;
        let sql = self.sql();
        sql.exec(
            "INSERT OR REPLACE INTO profiles (id, data) VALUES (?, ?)",
            vec![profile.id.clone().into(), data.into()],
        )
        .map_err(|e| internal("storing a profile", e))?;
        sql.exec(
            "DELETE FROM identities WHERE profile = ?",
            vec![profile.id.clone().into()],
        )
        .map_err(|e| internal("re-indexing a profile", e))?;
        for identity in &profile.identities {
            sql.exec(
                "INSERT OR REPLACE INTO identities (kind, value, profile, verified) VALUES (?, ?, ?, ?)",
                vec![
                    identity.key.kind.as_str().into(),
                    identity.key.value.clone().into(),
                    profile.id.clone().into(),
                    SqlStorageValue::from(i64::from(identity.verified)),
                ],
            )
            .map_err(|e| internal("indexing an identity", e))?;
        }
        sql.exec(
            "DELETE FROM conversation_profiles WHERE profile = ?",
            vec![profile.id.clone().into()],
        )
        .map_err(|e| internal("re-indexing a profile", e))?;
        for conversation in &profile.conversations {
            sql.exec(
                "INSERT OR REPLACE INTO conversation_profiles (conversation, profile) VALUES (?, ?)",
                vec![conversation.clone().into(), profile.id.clone().into()],
            )
            .map_err(|e| internal("indexing a conversation", e))?;
        }
        Ok(())
    }

    fn remove(&self, id: &str) -> ApiResult<()> {
        let sql = self.sql();
        sql.exec("DELETE FROM conversation_profiles WHERE profile = ?", vec![id.into()])
            .map_err(|e| internal("removing a profile", e))?;
        sql.exec("DELETE FROM identities WHERE profile = ?", vec![id.into()])
            .map_err(|e| internal("removing a profile", e))?;
        sql.exec("DELETE FROM profiles WHERE id = ?", vec![id.into()])
            .map_err(|e| internal("removing a profile", e))?;
        Ok(())
    }

    fn write_merge(&self, record: &MergeRecord) -> ApiResult<()> {
        let data = serde_json::to_string(record).map_err(|e| internal("merge record", e))?;
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO merges (id, survivor, absorbed, at, data) VALUES (?, ?, ?, ?, ?)",
                vec![
                    record.id.clone().into(),
                    record.survivor.clone().into(),
                    record.absorbed.id.clone().into(),
                    SqlStorageValue::from(record.at as i64),
                    data.into(),
                ],
            )
            .map_err(|e| internal("storing a merge record", e))?;
        Ok(())
    }

    fn merge_record(&self, id: &str) -> ApiResult<Option<MergeRecord>> {
        let rows = self.json_rows(
            "SELECT data FROM merges WHERE id = ?",
            vec![id.into()],
            "a merge record",
        )?;
        Ok(rows.into_iter().next())
    }

    fn merges_of(&self, profile: &str) -> ApiResult<Vec<MergeRecord>> {
        self.json_rows(
            "SELECT data FROM merges WHERE survivor = ? OR absorbed = ? ORDER BY at",
            vec![profile.into(), profile.into()],
            "merge records",
        )
    }

    fn view(&self, profile: Profile) -> ApiResult<ProfileView> {
        let merges = self.merges_of(&profile.id)?.iter().map(MergeSummary::of).collect();
        Ok(ProfileView { profile, merges })
    }

    // --- conversation jobs ---

    fn conversation(&self, site: &str, conversation: &str) -> ApiResult<worker::Stub> {
        self.env
            .durable_object("CONVERSATIONS")
            .and_then(|ns| ns.get_by_name(&object_name(site, conversation)))
            .map_err(|e| internal("conversation object", e))
    }

    fn enqueue(&self, job: &Job) -> ApiResult<()> {
        let data = serde_json::to_string(job).map_err(|e| internal("job", e))?;
        self.sql()
            .exec("INSERT INTO jobs (data) VALUES (?)", vec![data.into()])
            .map_err(|e| internal("queueing a job", e))?;
        Ok(())
    }

    /// Carries out queued jobs in order; on the first failure, leaves it (and what follows)
    /// queued and sets an alarm to retry.
    async fn run_jobs(&self) {
        loop {
            let rows: Vec<JobRow> = match self
                .sql()
                .exec("SELECT id, data FROM jobs ORDER BY id LIMIT 1", None)
                .and_then(|c| c.to_array())
            {
                Ok(rows) => rows,
                Err(error) => {
                    worker::console_error!("reading jobs: {error}");
                    return;
                }
            };
            let Some(row) = rows.into_iter().next() else {
                return;
            };
            let outcome = match serde_json::from_str::<Job>(&row.data) {
                Ok(job) => self.perform(&job).await,
                Err(error) => {
                    worker::console_error!("dropping an unreadable job: {error}");
                    Ok(())
                }
            };
            if outcome.is_err() {
                if let Err(error) = self.state.storage().set_alarm(JOB_RETRY).await {
                    worker::console_error!("setting a retry alarm: {error}");
                }
                return;
            }
            if let Err(error) = self
                .sql()
                .exec("DELETE FROM jobs WHERE id = ?", vec![SqlStorageValue::from(row.id)])
            {
                worker::console_error!("removing a finished job: {error}");
                return;
            }
        }
    }

    async fn perform(&self, job: &Job) -> ApiResult<()> {
        match job {
            Job::Join { site, into, from } => {
                if into == from {
                    return Ok(());
                }
                let export: ConversationExport = call::<_, ()>(
                    &self.conversation(site, from)?,
                    "GET",
                    &format!("/export?site={site}&conversation={from}"),
                    None,
                )
                .await?;
                let command = JoinCommand {
                    from: from.clone(),
                    messages: export.messages,
                    member: None,
                };
                let _: serde_json::Value = call(
                    &self.conversation(site, into)?,
                    "POST",
                    &format!("/join?site={site}&conversation={into}"),
                    Some(&command),
                )
                .await?;
                // Tabs still showing the absorbed conversation follow to the joined one.
                let _: serde_json::Value = call::<_, ()>(
                    &self.conversation(site, from)?,
                    "POST",
                    &format!("/moved?site={site}&conversation={from}"),
                    None,
                )
                .await?;
            }
            Job::Split { site, into, from } => {
                let command = SplitCommand {
                    from: Some(from.clone()),
                    member: None,
                };
                let _: serde_json::Value = call(
                    &self.conversation(site, into)?,
                    "POST",
                    &format!("/split?site={site}&conversation={into}"),
                    Some(&command),
                )
                .await?;
            }
            Job::Member {
                site,
                conversation,
                visitor,
                add,
            } => {
                let command = MemberCommand {
                    visitor: visitor.clone(),
                    add: *add,
                };
                let _: serde_json::Value = call(
                    &self.conversation(site, conversation)?,
                    "POST",
                    &format!("/members?site={site}&conversation={conversation}"),
                    Some(&command),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// `identified` without the verified identities another profile holds (those stay with it: a
/// verified identity belongs to one profile).
fn unowned(identified: &Identified, owners: &BTreeMap<IdentityKey, Profile>, target: &str) -> Identified {
    let mut kept = identified.clone();
    kept.verified
        .retain(|key| owners.get(key).is_none_or(|owner| owner.id == target));
    kept
}

fn active(profile: &Profile, fallback: &str) -> String {
    profile.active_conversation().unwrap_or(fallback).to_owned()
}
