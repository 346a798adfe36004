//! `ConversationObject`: one Durable Object per visitor per site. It stores the conversation in
//! SQLite (so it survives restarts), holds the visitor's live WebSockets through the hibernation
//! API (so an idle conversation costs nothing), stores each client message id once, and asks the
//! site's `SiteObject` for the bot's reply.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use serde::Deserialize;
use shared::answer;
use shared::escalation::{Escalation, Priority};
use shared::metrics::{self, Event, EventKind};
use shared::package;
use shared::profile;
use shared::rate::{self, Bucket};
use shared::wire::{
    BotDetail, CallNote, Channel, ClientFrame, ConversationStatus, ErrorCode, EscalationReason, Message, Role,
    SendMessageResponse, ServerFrame, TranscriptResponse,
};
use worker::{
    DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, durable_object,
};

use super::http::{error_response, internal, json, now_ms, rows, site_command};
use crate::api_error::ApiError;
use crate::internal::{
    AgentReplyCommand, AgentReplyResult, AnswerReply, BugCommand, CallCommand, CallReply, ConversationExport,
    ConversationKey, DirectoryCommand, EmailContext, EraseReport, FeedbackCommand, HandoffCommand, InboundCommand,
    InboundResult, JoinCommand, MemberCommand, Note, NoteCommand, Package, Rating, SendCommand, SiteCommand,
    SplitCommand, StaffConversation,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL,
    reply_to TEXT,
    bot TEXT
);
CREATE INDEX IF NOT EXISTS messages_reply_to ON messages (reply_to);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    visitor TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS raw_messages (
    id TEXT PRIMARY KEY,
    raw TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_parts (
    id TEXT NOT NULL,
    part INTEGER NOT NULL,
    raw TEXT NOT NULL,
    PRIMARY KEY (id, part)
);
CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS resends (
    message TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    tag TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    last_error TEXT NOT NULL
);";

/// Columns added after the first release; adding one that exists fails harmlessly.
const MIGRATIONS: [&str; 4] = [
    "ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT 'chat'",
    "ALTER TABLE messages ADD COLUMN origin TEXT",
    "ALTER TABLE messages ADD COLUMN helpful INTEGER",
    // Metric events not yet handed to the site object, oldest first.
    "CREATE TABLE IF NOT EXISTS metric_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)",
];

/// The WebSocket subprotocol the widget speaks; the token rides beside it as `bearer.<token>`.
pub const PROTOCOL: &str = "threadline.v1";

/// What a visitor's "talk to a person" button stores as their message.
const HANDOFF_TEXT: &str = "I'd like to talk to a person.";

/// How long what the integrations said of the customer is reused for the next package.
const CONTEXT_MEMO_MS: u64 = 30_000;

#[durable_object]
#[allow(missing_debug_implementations)] // Holds platform handles that have no Debug.
pub struct ConversationObject {
    state: State,
    env: Env,
    /// Visitor message ids whose reply is being worked out right now, so a retry that arrives
    /// meanwhile does not produce a second reply.
    answering: RefCell<HashSet<String>>,
    /// New visitor messages pass their admission to storing one at a time, in arrival order.
    admission: crate::turnstile::Turnstile,
    /// Whether this instance has re-armed a pending hand-over's alarm since it started (local
    /// `workerd` forgets alarms on a restart).
    rearmed: Cell<bool>,
}

impl DurableObject for ConversationObject {
    fn new(state: State, env: Env) -> Self {
        create_schema(&state.storage().sql());
        // Open sockets at construction: the object was evicted while they stayed connected
        // (hibernation) and a message or call woke it. Nothing else is needed to carry on.
        let sockets = state.get_websockets().len();
        if sockets > 0 {
            worker::console_log!("conversation object woke from hibernation with {sockets} open socket(s)");
        }
        ConversationObject {
            state,
            env,
            answering: RefCell::new(HashSet::new()),
            admission: crate::turnstile::Turnstile::default(),
            rearmed: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        // Local workerd forgets alarms when it restarts: re-arm for unfinished work.
        if !self.rearmed.replace(true)
            && (matches!(self.meta("enqueue"), Ok(Some(_))) || self.next_resend().ok().flatten().is_some())
        {
            self.arm_within(ENQUEUE_RETRY).await;
        }
        let response = self
            .route(&mut req)
            .await
            .unwrap_or_else(|error| error_response(&error));
        self.flush_metrics().await;
        Ok(response)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let WebSocketIncomingMessage::String(text) = message else {
            send(
                &ws,
                &error_frame(
                    None,
                    ApiError::new(ErrorCode::MalformedJson, "frames must be JSON text, not binary"),
                ),
            );
            return Ok(());
        };
        let (reply_to, result) = match ClientFrame::parse(&text) {
            Err(error) => (shared::wire::frame_id(&text), Err(ApiError::from(error))),
            Ok(ClientFrame::Send { id, text }) => {
                let ip = ws.deserialize_attachment::<String>().ok().flatten().unwrap_or_default();
                (Some(id.clone()), self.send_message(id, text, Some(&ws), &ip).await)
            }
            Ok(ClientFrame::RequestHuman { id }) => (Some(id.clone()), self.request_human(id, Some(&ws)).await),
        };
        if let Err(error) = result {
            send(&ws, &error_frame(reply_to, error));
        }
        self.flush_metrics().await;
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        // Complete the closing handshake; the visitor's other tabs stay connected.
        let _ = ws.close(Some(1000), Some("closing"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        let _ = ws.close(Some(1011), Some("error"));
        Ok(())
    }

    /// Retries putting the conversation in the site's queue, if that failed, and sends that
    /// are due again; then sleeps until the next.
    async fn alarm(&self) -> Result<Response> {
        if let Err(error) = self.flush_enqueue().await {
            worker::console_error!("queueing an escalation failed again: {}", error.body.message);
            let _ = self.state.storage().set_alarm(ENQUEUE_RETRY).await;
        }
        if let Err(error) = self.resend_due().await {
            worker::console_error!("resending failed: {}", error.body.message);
        }
        if let Ok(Some(next_at)) = self.next_resend() {
            let wait = next_at.saturating_sub(now_ms()).max(1);
            self.arm_within(std::time::Duration::from_millis(wait)).await;
        }
        Response::ok("")
    }
}

/// What sending on a channel came to.
enum Sent {
    Yes,
    /// Not sent, and why.
    No(String),
}

#[derive(Deserialize)]
struct ResendRow {
    message: String,
    channel: String,
    tag: String,
    attempts: i64,
}

/// Largest part of a raw message stored in one row, in bytes of base64.
const RAW_PART_BYTES: usize = 1_000_000;

/// How long a failed hand-over to the site's queue waits before it is tried again.
const ENQUEUE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Deserialize)]
struct MessageRow {
    seq: i64,
    id: String,
    role: String,
    text: String,
    at: i64,
    reply_to: Option<String>,
    bot: Option<String>,
    channel: Option<String>,
    origin: Option<String>,
    helpful: Option<i64>,
}

#[derive(Deserialize)]
struct SeqRow {
    seq: i64,
}

#[derive(Deserialize)]
struct MetaRow {
    value: String,
}

struct Query {
    site: String,
    conversation: String,
    /// For visitor requests: whose session is asking (the worker checked the token).
    visitor: Option<String>,
    after: Option<u64>,
}

impl ConversationObject {
    async fn route(&self, req: &mut Request) -> std::result::Result<Response, ApiError> {
        let url = req.url().map_err(|e| internal("conversation url", e))?;
        let query: Query = parse_query(&url)?;
        let path = url.path();
        // Staff act only on conversations that exist.
        if matches!(
            path,
            "/agent"
                | "/resolve"
                | "/resolution"
                | "/resolved"
                | "/staff-view"
                | "/notes"
                | "/raw"
                | "/bug-report"
                | "/bug"
        ) && self.meta("key")?.is_none()
        {
            return Err(ApiError::new(
                ErrorCode::UnknownConversation,
                format!("no conversation {:?} on this site", query.conversation),
            ));
        }
        self.remember(&ConversationKey {
            site: query.site,
            conversation: query.conversation,
        })?;
        if matches!(path, "/transcript" | "/messages" | "/handoff" | "/live" | "/feedback") {
            self.require_member(query.visitor.as_deref())?;
        }
        match path {
            "/transcript" => json(200, &self.transcript(query.after)?),
            "/messages" => {
                let body: SendCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("conversation send body", e))?;
                json(
                    200,
                    &SendMessageResponse {
                        messages: self.send_message(body.id, body.text, None, &body.ip).await?,
                    },
                )
            }
            "/handoff" => {
                let body: HandoffCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("conversation handoff body", e))?;
                json(
                    200,
                    &SendMessageResponse {
                        messages: self.request_human(body.id, None).await?,
                    },
                )
            }
            "/live" => {
                let ip = req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_default();
                self.accept_live(query.after, query.visitor.as_deref().unwrap_or_default(), &ip)
            }
            "/inbound" => {
                let body: InboundCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("inbound body", e))?;
                json(200, &self.inbound(body).await?)
            }
            "/call" => {
                let body: CallCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("call body", e))?;
                json(200, &self.call(body).await?)
            }
            "/feedback" => {
                let body: FeedbackCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("feedback body", e))?;
                json(200, &self.feedback(&body)?)
            }
            // From the site's profile directory.
            "/export" => json(
                200,
                &ConversationExport {
                    id: self.key()?.conversation,
                    messages: self.all_messages()?,
                    notes: self.notes()?,
                    rating: self.rating()?,
                },
            ),
            "/join" => {
                let body: JoinCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("conversation join body", e))?;
                let joined = profile::merge_timeline(&self.all_messages()?, &body.messages, &body.from);
                self.replace_messages(&joined)?;
                if let Some(member) = body.member {
                    self.set_member(&member, true)?;
                }
                json(200, &serde_json::json!({ "messages": joined.len() }))
            }
            "/split" => {
                let body: SplitCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("conversation split body", e))?;
                if let Some(from) = body.from {
                    let kept = profile::split_timeline(&self.all_messages()?, &from);
                    self.replace_messages(&kept)?;
                }
                if let Some(member) = body.member {
                    self.set_member(&member, false)?;
                }
                json(200, &serde_json::json!({ "ok": true }))
            }
            // From staff, through the worker.
            "/staff-view" => json(
                200,
                &StaffConversation {
                    id: self.key()?.conversation,
                    status: self.status()?,
                    escalation: self.escalation()?,
                    messages: self.all_messages()?,
                    notes: self.notes()?,
                    rating: self.rating()?,
                },
            ),
            "/rating" => {
                let mut rating: Rating = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("rating body", e))?;
                rating.at = now_ms();
                let text = serde_json::to_string(&rating).map_err(|e| internal("rating", e))?;
                self.set_meta("rating", &text)?;
                self.record_now("rating", EventKind::Rating { score: rating.score })?;
                json(200, &serde_json::json!({ "rating": rating }))
            }
            "/raw" => {
                let message = url
                    .query_pairs()
                    .find(|(k, _)| k == "message")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                #[derive(Deserialize)]
                struct RawRow {
                    raw: String,
                }
                // Its parts, or (kept before parts) one row.
                let read = |query: &str| -> std::result::Result<Vec<RawRow>, ApiError> {
                    rows(
                        &self.sql(),
                        query,
                        vec![message.clone().into()],
                        "reading a raw message",
                    )
                };
                let mut rows = read("SELECT raw FROM raw_parts WHERE id = ? ORDER BY part")?;
                if rows.is_empty() {
                    rows = read("SELECT raw FROM raw_messages WHERE id = ?")?;
                }
                if rows.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no raw copy of message {message:?} (only inbound emails have one)"),
                    ));
                }
                let raw: String = rows.into_iter().map(|r| r.raw).collect();
                json(200, &raw)
            }
            "/notes" => {
                let body: NoteCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("note body", e))?;
                self.add_note(body.id.clone(), body.author, body.text)?;
                let note = self
                    .notes()?
                    .into_iter()
                    .find(|n| n.id == body.id)
                    .ok_or_else(|| internal("storing a note", "the note is missing"))?;
                json(201, &note)
            }
            "/agent" => {
                let body: AgentReplyCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("agent reply body", e))?;
                let id = format!("agent:{}", body.id);
                if let Some(existing) = self.find(&id)? {
                    // A resend: nothing goes out twice.
                    return json(
                        200,
                        &AgentReplyResult {
                            message: existing,
                            delivered_by: "duplicate".into(),
                            reason: None,
                        },
                    );
                }
                // A person has the conversation now: the bot stays quiet until it is resolved.
                if self.status()? == ConversationStatus::Bot {
                    self.set_meta("status", "waiting_for_human")?;
                    self.broadcast(&ServerFrame::Status {
                        status: ConversationStatus::WaitingForHuman,
                    });
                }
                let (message, delivered_by, reason) = self.tell_customer(id, Role::Agent, body.text, None).await?;
                json(
                    200,
                    &AgentReplyResult {
                        message,
                        delivered_by,
                        reason,
                    },
                )
            }
            "/bug-report" => json(200, &self.bug_report()?),
            "/bug" => {
                let body: BugCommand = super::http::read_json(req).await.map_err(|e| internal("bug body", e))?;
                json(200, &self.bug_changed(body).await?)
            }
            "/resolution" => json(200, &shared::learning::resolution_of(&self.all_messages()?)),
            // What a resolution writes back to the CRM (read before `/resolve` forgets why it
            // was escalated).
            "/resolved" => {
                let messages = self.all_messages()?;
                let resolution = shared::learning::resolution_of(&messages);
                let mut channels = Vec::new();
                for message in messages.iter().filter(|m| m.role == Role::Visitor) {
                    if !channels.contains(&message.channel) {
                        channels.push(message.channel);
                    }
                }
                let reasons = self.escalation_reasons()?;
                json(
                    200,
                    &shared::hubspot::Resolved {
                        question: resolution.as_ref().map(|r| r.question.clone()),
                        reply: resolution.and_then(|r| r.reply),
                        channels,
                        reasons,
                        team: None,
                        messages: messages.len(),
                        resolved_at: now_ms(),
                        transcript_url: None,
                    },
                )
            }
            "/resolve" => {
                self.set_meta("status", "bot")?;
                self.sql()
                    .exec("DELETE FROM meta WHERE key = 'escalation'", None)
                    .map_err(|e| internal("resolving", e))?;
                self.broadcast(&ServerFrame::Status {
                    status: ConversationStatus::Bot,
                });
                json(200, &serde_json::json!({ "ok": true }))
            }
            "/typing" => {
                #[derive(Deserialize)]
                struct TypingCommand {
                    name: String,
                }
                let body: TypingCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("typing body", e))?;
                self.broadcast(&ServerFrame::Typing {
                    role: Role::Agent,
                    name: Some(body.name),
                });
                json(200, &serde_json::json!({ "ok": true }))
            }
            "/moved" => {
                self.broadcast(&ServerFrame::Moved);
                json(200, &serde_json::json!({ "ok": true }))
            }
            "/members" => {
                let body: MemberCommand = super::http::read_json(req)
                    .await
                    .map_err(|e| internal("conversation members body", e))?;
                self.set_member(&body.visitor, body.add)?;
                json(200, &serde_json::json!({ "ok": true }))
            }
            "/erase" => {
                let messages = self.all_messages()?.len();
                for ws in self.state.get_websockets() {
                    let _ = ws.close(Some(4403), Some("conversation erased"));
                }
                self.state
                    .storage()
                    .delete_all()
                    .await
                    .map_err(|e| internal("erasing a conversation", e))?;
                // The object lives on (empty) for whoever writes next.
                create_schema(&self.sql());
                json(200, &EraseReport { messages })
            }
            other => Err(internal("conversation route", other)),
        }
    }

    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Records whose conversation this is, the first time the worker tells us. A conversation
    /// named after a visitor (their first) starts with that visitor as its one member.
    fn remember(&self, key: &ConversationKey) -> std::result::Result<(), ApiError> {
        let value = serde_json::to_string(key).map_err(|e| internal("conversation key", e))?;
        self.sql()
            .exec(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('key', ?)",
                vec![value.into()],
            )
            .map_err(|e| internal("remembering a conversation key", e))?;
        if self.meta("members")?.is_none() {
            if key.conversation.starts_with("v_") {
                self.set_member(&key.conversation, true)?;
            }
            self.set_meta("members", "1")?;
        }
        Ok(())
    }

    fn require_member(&self, visitor: Option<&str>) -> std::result::Result<(), ApiError> {
        let visitor = visitor.ok_or_else(|| internal("conversation", "visitor route without a visitor"))?;
        let rows: Vec<MetaRow> = self
            .sql()
            .exec(
                "SELECT visitor AS value FROM members WHERE visitor = ?",
                vec![visitor.into()],
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("checking membership", e))?;
        if rows.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NotAMember,
                "this session may not read this conversation (any more); renew the session",
            ));
        }
        Ok(())
    }

    /// Grants or revokes a visitor's access; a revoked visitor's open sockets are closed.
    fn set_member(&self, visitor: &str, add: bool) -> std::result::Result<(), ApiError> {
        let statement = if add {
            "INSERT OR IGNORE INTO members (visitor) VALUES (?)"
        } else {
            "DELETE FROM members WHERE visitor = ?"
        };
        self.sql()
            .exec(statement, vec![visitor.into()])
            .map_err(|e| internal("changing members", e))?;
        if !add {
            for ws in self.state.get_websockets_with_tag(visitor) {
                let _ = ws.close(Some(4403), Some("no longer a member"));
            }
        }
        Ok(())
    }

    /// Every message, in order.
    fn all_messages(&self) -> std::result::Result<Vec<Message>, ApiError> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec("SELECT * FROM messages ORDER BY seq", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading the conversation", e))?;
        rows.into_iter().map(message_from_row).collect()
    }

    /// Replaces the whole timeline (after a join or split) and tells every open tab.
    fn replace_messages(&self, messages: &[Message]) -> std::result::Result<(), ApiError> {
        let sql = self.sql();
        sql.exec("DELETE FROM messages", None)
            .map_err(|e| internal("replacing the timeline", e))?;
        for message in messages {
            self.insert(message)?;
        }
        self.broadcast(&ServerFrame::Reset {
            messages: messages.to_vec(),
            status: self.status()?,
        });
        Ok(())
    }

    fn insert(&self, message: &Message) -> std::result::Result<(), ApiError> {
        let role = serde_json::to_value(message.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let bot = message
            .bot
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| internal("bot detail", e))?;
        self.sql()
            .exec(
                "INSERT INTO messages (seq, id, role, text, at, reply_to, bot, channel, origin, helpful) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    SqlStorageValue::from(message.seq as i64),
                    message.id.clone().into(),
                    role.into(),
                    message.text.clone().into(),
                    SqlStorageValue::from(message.at as i64),
                    message.reply_to.clone().into(),
                    bot.into(),
                    message.channel.as_str().into(),
                    message.origin.clone().into(),
                    message.helpful.map(i64::from).into(),
                ],
            )
            .map_err(|e| internal("storing a message", e))?;
        Ok(())
    }

    fn key(&self) -> std::result::Result<ConversationKey, ApiError> {
        let value = self
            .meta("key")?
            .ok_or_else(|| internal("conversation key", "missing"))?;
        serde_json::from_str(&value).map_err(|e| internal("conversation key", e))
    }

    fn meta(&self, key: &str) -> std::result::Result<Option<String>, ApiError> {
        let rows: Vec<MetaRow> = self
            .sql()
            .exec("SELECT value FROM meta WHERE key = ?", vec![key.into()])
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading conversation state", e))?;
        Ok(rows.into_iter().next().map(|row| row.value))
    }

    fn set_meta(&self, key: &str, value: &str) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                vec![key.into(), value.into()],
            )
            .map_err(|e| internal("writing conversation state", e))?;
        Ok(())
    }

    fn status(&self) -> std::result::Result<ConversationStatus, ApiError> {
        Ok(match self.meta("status")?.as_deref() {
            Some("waiting_for_human") => ConversationStatus::WaitingForHuman,
            _ => ConversationStatus::Bot,
        })
    }

    fn transcript(&self, after: Option<u64>) -> std::result::Result<TranscriptResponse, ApiError> {
        let limit = shared::limits::MAX_TRANSCRIPT_MESSAGES as i64;
        let rows: Vec<MessageRow> = match after {
            Some(after) => self.sql().exec(
                "SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![SqlStorageValue::from(after as i64), limit.into()],
            ),
            // Without a cursor, the most recent page.
            None => self.sql().exec(
                "SELECT * FROM (SELECT * FROM messages ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                vec![SqlStorageValue::from(limit)],
            ),
        }
        .and_then(|cursor| cursor.to_array())
        .map_err(|e| internal("reading the transcript", e))?;
        let messages = rows
            .into_iter()
            .map(message_from_row)
            .collect::<std::result::Result<_, _>>()?;
        Ok(TranscriptResponse {
            messages,
            status: self.status()?,
        })
    }

    fn find(&self, id: &str) -> std::result::Result<Option<Message>, ApiError> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec("SELECT * FROM messages WHERE id = ?", vec![id.into()])
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("finding a message", e))?;
        rows.into_iter().next().map(message_from_row).transpose()
    }

    fn replies_to(&self, id: &str) -> std::result::Result<Vec<Message>, ApiError> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT * FROM messages WHERE reply_to = ? ORDER BY seq",
                vec![id.into()],
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("finding replies", e))?;
        rows.into_iter().map(message_from_row).collect()
    }

    /// Stores a widget message and pushes it to every open tab of the conversation.
    fn store(
        &self,
        id: String,
        role: Role,
        text: String,
        reply_to: Option<String>,
        bot: Option<BotDetail>,
    ) -> std::result::Result<Message, ApiError> {
        self.store_on(Channel::Chat, id, role, text, reply_to, bot)
    }

    /// Stores a message that travelled on `channel` and pushes it to every open tab.
    fn store_on(
        &self,
        channel: Channel,
        id: String,
        role: Role,
        text: String,
        reply_to: Option<String>,
        bot: Option<BotDetail>,
    ) -> std::result::Result<Message, ApiError> {
        let at = now_ms();
        let role_text = serde_json::to_value(role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let bot_text = bot
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| internal("bot detail", e))?;
        let row: SeqRow = self
            .sql()
            .exec(
                "INSERT INTO messages (id, role, text, at, reply_to, bot, channel) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                vec![
                    id.clone().into(),
                    role_text.into(),
                    text.clone().into(),
                    SqlStorageValue::from(at as i64),
                    reply_to.clone().into(),
                    bot_text.into(),
                    channel.as_str().into(),
                ],
            )
            .and_then(|cursor| cursor.one())
            .map_err(|e| internal("storing a message", e))?;
        let message = Message {
            seq: row.seq as u64,
            id,
            role,
            text,
            at,
            reply_to,
            bot,
            channel,
            origin: None,
            helpful: None,
        };
        // What a bot reply did not answer is kept, to show what the knowledge base is missing.
        let question = match (&message.bot, &message.reply_to) {
            (Some(BotDetail::NoAnswer { .. }), Some(id)) => self.find(id)?.map(|q| q.text),
            _ => None,
        };
        if let Some(event) = metrics::event_of_message(&self.key()?.conversation, &message, question.as_deref()) {
            self.record(&event)?;
        }
        self.broadcast(&ServerFrame::Message {
            message: message.clone(),
        });
        Ok(message)
    }

    /// For a client id already stored: the stored message and what replied to it, sent again to
    /// the socket that asked (a resend is answered from storage, never stored twice).
    fn replay(&self, id: &str, from: Option<&WebSocket>) -> std::result::Result<Option<Vec<Message>>, ApiError> {
        let Some(existing) = self.find(id)? else {
            return Ok(None);
        };
        let mut messages = vec![existing];
        messages.extend(self.replies_to(id)?);
        if let Some(ws) = from {
            for message in &messages {
                send(
                    ws,
                    &ServerFrame::Message {
                        message: message.clone(),
                    },
                );
            }
        }
        Ok(Some(messages))
    }

    /// What was stored for a resent message id (answered now if the first attempt's answer
    /// failed), or `None` for a new one.
    async fn replayed(
        &self,
        id: &str,
        from: Option<&WebSocket>,
    ) -> std::result::Result<Option<Vec<Message>>, ApiError> {
        let Some(mut messages) = self.replay(id, from)? else {
            return Ok(None);
        };
        let existing = messages[0].clone();
        let unanswered = messages.len() == 1 && existing.role == Role::Visitor;
        if unanswered && self.status()? == ConversationStatus::Bot && !self.answering.borrow().contains(id) {
            messages.extend(self.answer(&existing).await?);
        }
        Ok(Some(messages))
    }

    /// Counts a new visitor message from `ip` against the site's per-address and whole-site
    /// limits; returns the site's limits.
    async fn admit(&self, ip: &str) -> std::result::Result<shared::rate::RateLimits, ApiError> {
        if self.limits_off() {
            return Ok(shared::rate::RateLimits::default());
        }
        let command = SiteCommand::Admit {
            action: shared::rate::Action::Message,
            ip: ip.to_owned(),
            now: now_ms(),
        };
        let site: crate::internal::SiteRecord = site_command(&self.env, &self.key()?.site, &command).await?;
        let limit = serde_json::to_string(&site.rate_limits.session_messages).map_err(|e| internal("limit", e))?;
        if self.meta("session_limit")?.as_deref() != Some(limit.as_str()) {
            self.set_meta("session_limit", &limit)?;
        }
        Ok(site.rate_limits)
    }

    /// For benchmarks only (scripts/bench-identity.mjs fills conversations of 1,000 messages):
    /// never set in a deployment.
    fn limits_off(&self) -> bool {
        self.env
            .var("UNSAFE_NO_RATE_LIMITS")
            .is_ok_and(|v| v.to_string() == "1")
    }

    /// Stores a visitor message (once per id), then the bot's reply unless a person has the
    /// conversation. A retry of a stored id returns what was stored, answering it only if the
    /// first attempt's answer failed.
    async fn send_message(
        &self,
        id: String,
        text: String,
        from: Option<&WebSocket>,
        ip: &str,
    ) -> std::result::Result<Vec<Message>, ApiError> {
        if let Some(messages) = self.replayed(&id, from).await? {
            return Ok(messages);
        }
        // Admission awaits the site object, when the next message may already be here: one at a
        // time, so messages are stored in the order they came.
        let turn = self.admission.enter().await;
        let limits = self.admit(ip).await?;
        // The same message may have arrived meanwhile (a resend from another tab), and must
        // still be stored once.
        if let Some(messages) = self.replayed(&id, from).await? {
            return Ok(messages);
        }
        self.take_rate_token(&limits.session_messages)?;
        let message = self.store(id, Role::Visitor, text, None, None)?;
        drop(turn);
        let mut messages = vec![message.clone()];
        if self.status()? == ConversationStatus::Bot {
            messages.extend(self.answer(&message).await?);
        } else {
            // A person has the conversation: staff tools hear of the new message.
            let command = SiteCommand::Notify {
                conversation: self.key()?.conversation,
                message: message.clone(),
            };
            if let Err(error) = site_command::<serde_json::Value>(&self.env, &self.key()?.site, &command).await {
                worker::console_error!("message.created event not queued: {}", error.body.message);
            }
        }
        Ok(messages)
    }

    /// Answers a chat question, once even when the visitor's resend arrives meanwhile.
    async fn answer(&self, question: &Message) -> std::result::Result<Option<Message>, ApiError> {
        self.answering.borrow_mut().insert(question.id.clone());
        let result = self.answer_on(Channel::Chat, question).await;
        self.answering.borrow_mut().remove(&question.id);
        result.map(Some)
    }

    /// The bot's answer to `question` on `channel`, stored. The site's rules may hand the
    /// conversation to a person now (asked for one, urgent, upset, a human-only topic, the bot
    /// failing again): from here the bot stays quiet.
    async fn answer_on(&self, channel: Channel, question: &Message) -> std::result::Result<Message, ApiError> {
        let reply = self.ask_site(&question.text, channel).await?;
        if let Some(escalation) = &reply.escalation {
            self.escalate(escalation, &question.text)?;
        }
        let message = self.store_on(
            channel,
            format!("bot:{}", question.id),
            Role::Bot,
            reply.text,
            Some(question.id.clone()),
            Some(reply.detail),
        )?;
        if reply.escalation.is_some() {
            self.broadcast(&ServerFrame::Status {
                status: ConversationStatus::WaitingForHuman,
            });
            self.enqueue_now().await;
        }
        Ok(message)
    }

    /// Hands the conversation to people: stored first (with the queue entry still to deliver),
    /// so an escalation is never lost, even if the site's queue cannot be reached right now.
    fn escalate(&self, escalation: &Escalation, last_words: &str) -> std::result::Result<(), ApiError> {
        let record = serde_json::to_string(escalation).map_err(|e| internal("escalation", e))?;
        self.set_meta("escalation", &record)?;
        self.record_now(
            "escalated",
            EventKind::Escalated {
                reasons: escalation.reasons.clone(),
                topic: escalation.topic.clone(),
            },
        )?;
        self.set_meta("status", "waiting_for_human")?;
        let command = SiteCommand::Enqueue {
            conversation: self.key()?.conversation,
            package: self.package(escalation.clone(), last_words)?,
        };
        let pending = serde_json::to_string(&command).map_err(|e| internal("queue entry", e))?;
        self.set_meta("enqueue", &pending)
    }

    /// The package for people: why, what the bot tried, and the conversation so far (its newest
    /// messages, as many as fit a webhook body; the rest is behind a signed link). Who the
    /// customer is joins it when it is sent.
    fn package(&self, escalation: Escalation, last_words: &str) -> std::result::Result<Package, ApiError> {
        let messages = self.all_messages()?;
        let bot_attempts = package::bot_attempts(&messages);
        let (transcript, truncation) = package::fit_transcript(
            messages,
            package::MAX_TRANSCRIPT_MESSAGES,
            package::MAX_TRANSCRIPT_BYTES,
        );
        Ok(Package {
            escalation,
            at: now_ms(),
            excerpt: last_words.chars().take(280).collect(),
            transcript,
            profile: None,
            truncation,
            bot_attempts,
            billing: None,
            crm: None,
            connector: None,
        })
    }

    /// Adds who the customer is to a package, when they were identified: their profile and,
    /// from the site's integrations, their billing and CRM contact (never failing the package: a
    /// slow or failing integration leaves its part out, and shows in the admin API).
    async fn add_customer(&self, package: &mut Package) -> std::result::Result<(), ApiError> {
        package.profile = self.profile().await?;
        let Some(profile) = &package.profile else {
            return Ok(());
        };
        let email = profile
            .identities
            .iter()
            .filter(|i| i.verified && i.key.kind == shared::identity::IdentityKind::Email)
            .max_by_key(|i| i.at)
            .map(|i| i.key.value.clone());
        let customer = profile
            .traits
            .get("stripe_customer_id")
            .and_then(|t| t.value.as_str())
            .map(str::to_owned);
        if email.is_none() && customer.is_none() {
            return Ok(());
        }
        // A call put through to a person sends two packages moments apart (the escalation and
        // `call.incoming`): the integrations are asked once for both.
        let asked = serde_json::json!({ "email": email, "customer": customer });
        let remembered = self
            .meta("customer_context")?
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .filter(|memo| {
                memo["asked"] == asked && memo["at"].as_u64().is_some_and(|at| now_ms() < at + CONTEXT_MEMO_MS)
            })
            .and_then(|memo| serde_json::from_value::<crate::internal::CustomerContext>(memo["context"].clone()).ok());
        let context = match remembered {
            Some(context) => context,
            None => {
                let lookup = SiteCommand::CustomerContext { email, customer };
                match site_command::<crate::internal::CustomerContext>(&self.env, &self.key()?.site, &lookup).await {
                    Ok(context) => {
                        let memo = serde_json::json!({ "asked": asked, "at": now_ms(), "context": context });
                        self.set_meta("customer_context", &memo.to_string())?;
                        context
                    }
                    Err(error) => {
                        worker::console_error!("customer context left out: {}", error.body.message);
                        return Ok(());
                    }
                }
            }
        };
        package.billing = context.billing;
        package.crm = context.crm;
        package.connector = context.connector;
        Ok(())
    }

    /// The customer's profile, when they were identified.
    async fn profile(&self) -> std::result::Result<Option<shared::profile::Profile>, ApiError> {
        let key = self.key()?;
        let lookup = DirectoryCommand::ProfileOfConversation {
            conversation: key.conversation,
        };
        super::http::directory(&self.env, &key.site, lookup).await
    }

    /// Delivers a pending queue entry now, leaving a retry alarm if the site cannot take it.
    async fn enqueue_now(&self) {
        if let Err(error) = self.flush_enqueue().await {
            worker::console_error!("queueing an escalation failed, will retry: {}", error.body.message);
            self.arm_within(ENQUEUE_RETRY).await;
        }
    }

    async fn flush_enqueue(&self) -> std::result::Result<(), ApiError> {
        let Some(pending) = self.meta("enqueue")? else {
            return Ok(());
        };
        let mut command: SiteCommand =
            serde_json::from_str(&pending).map_err(|e| internal("pending queue entry", e))?;
        let key = self.key()?;
        // The package carries who the customer is, when they were identified.
        if let SiteCommand::Enqueue { package, .. } = &mut command {
            self.add_customer(package).await?;
        }
        let _: serde_json::Value = site_command(&self.env, &key.site, &command).await?;
        self.sql()
            .exec("DELETE FROM meta WHERE key = 'enqueue'", None)
            .map_err(|e| internal("queued", e))?;
        Ok(())
    }

    fn rating(&self) -> std::result::Result<Option<Rating>, ApiError> {
        self.meta("rating")?
            .map(|text| serde_json::from_str(&text).map_err(|e| internal("stored rating", e)))
            .transpose()
    }

    fn escalation(&self) -> std::result::Result<Option<Escalation>, ApiError> {
        self.meta("escalation")?
            .map(|text| serde_json::from_str(&text).map_err(|e| internal("stored escalation", e)))
            .transpose()
    }

    async fn ask_site(&self, question: &str, channel: Channel) -> std::result::Result<AnswerReply, ApiError> {
        let command = SiteCommand::Answer {
            question: question.to_owned(),
            bot_failures: self.bot_failures()?,
            conversation: Some(self.key()?.conversation),
            hand_over_doubt: channel != Channel::Chat,
        };
        site_command(&self.env, &self.key()?.site, &command).await
    }

    /// Emails a staff reply to the customer's address: a verified one if the profile has one,
    /// else the one they gave (a claim may be replied to; it never merges or reveals anything).
    /// False when there is no address or no email provider.
    /// Stores a message to the customer and sends it where they are: back on the channel they
    /// last wrote on (email in their thread, SMS, WhatsApp and Meta inboxes within their 24-hour
    /// window, Telegram), to the open widget if they are in the chat, else by email if we have an
    /// address. Returns it with how it went (`delivered_by`) and, when it could not go out on
    /// their channel, why.
    async fn tell_customer(
        &self,
        id: String,
        role: Role,
        text: String,
        bot: Option<BotDetail>,
    ) -> std::result::Result<(Message, String, Option<String>), ApiError> {
        let channel = match self.last_visitor_channel()?.unwrap_or(Channel::Chat) {
            // After a call, a written message goes to the caller's number by SMS.
            Channel::Phone => Channel::Sms,
            channel => channel,
        };
        let live = !self.state.get_websockets().is_empty();
        let fallback = if live { "chat" } else { "stored" };
        let message = self.store_on(channel, id, role, text, None, bot)?;
        let (delivered_by, reason) = if channel != Channel::Chat {
            match self.deliver(channel, &message, "staff-reply").await {
                Ok(Sent::Yes) => (channel.as_str(), None),
                Ok(Sent::No(reason)) => (fallback, Some(reason)),
                // Kept and retried: an outage at the provider.
                Err(error) if error.body.retry_after_ms.is_some() => ("retrying", Some(error.body.message)),
                Err(error) => (fallback, Some(error.body.message)),
            }
        } else if live {
            ("chat", None)
        } else {
            match self.email_reply(&message).await {
                Ok(true) => ("email", None),
                Ok(false) => ("stored", None),
                Err(error) => ("stored", Some(error.body.message)),
            }
        };
        Ok((message, delivered_by.to_owned(), reason))
    }

    /// Why the conversation was handed to a person (`no_match`, `visitor_asked`, …), if it was.
    fn escalation_reasons(&self) -> std::result::Result<Vec<String>, ApiError> {
        Ok(self
            .escalation()?
            .map(|e| {
                e.reasons
                    .iter()
                    .filter_map(|r| serde_json::to_value(r).ok()?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Keeps an internal note for staff; a resend (same id) is stored once.
    fn add_note(&self, id: String, author: String, text: String) -> std::result::Result<(), ApiError> {
        self.sql()
            .exec(
                "INSERT OR IGNORE INTO notes (id, author, text, at) VALUES (?, ?, ?, ?)",
                vec![
                    id.into(),
                    author.into(),
                    text.into(),
                    SqlStorageValue::from(now_ms() as i64),
                ],
            )
            .map(drop)
            .map_err(|e| internal("storing a note", e))
    }

    /// What a bug filed from this conversation says of it: the customer's latest messages, the
    /// channels, why it was handed over and what the bot answered with.
    fn bug_report(&self) -> std::result::Result<shared::linear::Report, ApiError> {
        let messages = self.all_messages()?;
        let mut report = shared::linear::Report::default();
        for message in &messages {
            if message.role == Role::Visitor && !report.channels.contains(&message.channel) {
                report.channels.push(message.channel);
            }
            if let Some(BotDetail::Answer { article, .. }) = &message.bot
                && !report.bot_tried.contains(&article.title)
            {
                report.bot_tried.push(article.title.clone());
            }
        }
        let mut said: Vec<String> = messages
            .iter()
            .rev()
            .filter(|m| m.role == Role::Visitor)
            .take(shared::linear::QUOTED_MESSAGES)
            .map(|m| m.text.clone())
            .collect();
        said.reverse();
        report.messages = said;
        report.reasons = self.escalation_reasons()?;
        Ok(report)
    }

    /// The bug filed from this conversation changed state: fixed tells the customer; closed
    /// without a fix, or reopened, is a note for staff (nobody tells a customer "won't fix"
    /// but a person).
    async fn bug_changed(&self, command: BugCommand) -> std::result::Result<serde_json::Value, ApiError> {
        use shared::linear::Outcome;
        if let Some(existing) = self.find(&command.id)? {
            return Ok(serde_json::json!({ "message": existing, "delivered_by": "duplicate" }));
        }
        let issue = &command.issue;
        let note = match command.outcome {
            Outcome::Fixed => None,
            Outcome::Canceled => Some(format!(
                "{} was closed in Linear without a fix (canceled); the customer has not been told.",
                issue.identifier
            )),
            Outcome::Reopened => Some(format!("{} was reopened in Linear.", issue.identifier)),
        };
        if let Some(text) = note {
            self.add_note(command.id, "Linear".into(), text)?;
            return Ok(serde_json::json!({ "delivered_by": "note" }));
        }
        let detail = BotDetail::BugFixed {
            issue: issue.identifier.clone(),
        };
        let (message, delivered_by, reason) = self
            .tell_customer(command.id, Role::Bot, command.message, Some(detail))
            .await?;
        Ok(serde_json::json!({ "message": message, "delivered_by": delivered_by, "reason": reason }))
    }

    async fn email_reply(&self, message: &Message) -> std::result::Result<bool, ApiError> {
        let text = message.text.as_str();
        let Some(config) = super::http::email_config(&self.env) else {
            return Ok(false);
        };
        // The customer wrote by email: answer in their thread.
        if let Some(context) = self.meta("email")? {
            let email: EmailContext = serde_json::from_str(&context).map_err(|e| internal("email context", e))?;
            self.send_in_thread(&email, message, "staff-reply").await?;
            return Ok(true);
        }
        let key = self.key()?;
        let lookup = DirectoryCommand::ProfileOfConversation {
            conversation: key.conversation.clone(),
        };
        let profile: Option<shared::profile::Profile> = super::http::directory(&self.env, &key.site, lookup).await?;
        let Some(profile) = profile else {
            return Ok(false);
        };
        let mut emails: Vec<_> = profile
            .identities
            .iter()
            .filter(|i| i.key.kind == shared::identity::IdentityKind::Email)
            .collect();
        emails.sort_by_key(|i| (!i.verified, std::cmp::Reverse(i.at)));
        let Some(address) = emails.first() else {
            return Ok(false);
        };
        let site: crate::internal::SiteRecord = site_command(&self.env, &key.site, &SiteCommand::Get).await?;
        let email = crate::email::reply_email(&site.name, &address.key.value, text);
        super::http::send_email(&config, &email).await?;
        Ok(true)
    }

    /// A message from another channel: stored once, recorded but never answered when automatic,
    /// passed to staff when a person has the conversation, else answered by the bot on the same
    /// channel (by email, in the sender's thread).
    async fn inbound(&self, command: InboundCommand) -> std::result::Result<InboundResult, ApiError> {
        if let Some(existing) = self.find(&command.id)? {
            let answer = self.replies_to(&command.id)?.into_iter().next();
            return Ok(InboundResult {
                message: existing,
                duplicate: true,
                answer,
                waiting_for_person: self.status()? != ConversationStatus::Bot,
            });
        }
        let message = self.store_on(
            command.channel,
            command.id.clone(),
            Role::Visitor,
            command.text,
            None,
            None,
        )?;
        if let Some(raw) = &command.raw {
            // In parts: a stored value may not exceed 2 MB (base64 is ASCII, so any cut is safe).
            for (part, chunk) in raw.as_bytes().chunks(RAW_PART_BYTES).enumerate() {
                self.sql()
                    .exec(
                        "INSERT OR REPLACE INTO raw_parts (id, part, raw) VALUES (?, ?, ?)",
                        vec![
                            command.id.clone().into(),
                            SqlStorageValue::from(part as i64),
                            String::from_utf8_lossy(chunk).into_owned().into(),
                        ],
                    )
                    .map_err(|e| internal("keeping the raw message", e))?;
            }
        }
        // What each channel needs to answer there (read back by `send_on`).
        self.keep_context("email", command.email.as_ref())?;
        self.keep_context("sms", command.sms.as_ref())?;
        self.keep_context("whatsapp", command.whatsapp.as_ref())?;
        self.keep_context("telegram", command.telegram.as_ref())?;
        self.keep_context("page", command.page.as_ref())?;
        let mut result = InboundResult {
            message: message.clone(),
            duplicate: false,
            answer: None,
            waiting_for_person: self.status()? != ConversationStatus::Bot,
        };
        if command.automatic {
            return Ok(result);
        }
        // A "continue on another channel" code: say on this channel what came of it.
        if let Some(redeemed) = command.continued {
            let reply = self.store_on(
                command.channel,
                format!("bot:{}", message.id),
                Role::Bot,
                redeemed.reply().to_owned(),
                Some(message.id.clone()),
                None,
            )?;
            self.deliver_or_log(command.channel, &reply, "continued").await;
            result.answer = Some(reply);
            return Ok(result);
        }
        if self.status()? != ConversationStatus::Bot {
            let notify = SiteCommand::Notify {
                conversation: self.key()?.conversation,
                message,
            };
            if let Err(error) = site_command::<serde_json::Value>(&self.env, &self.key()?.site, &notify).await {
                worker::console_error!("message.created event not queued: {}", error.body.message);
            }
            return Ok(result);
        }
        let answer = self.answer_on(command.channel, &message).await?;
        // On a call the answer is spoken, in the TwiML the caller's request is answered with.
        if command.channel != Channel::Phone {
            self.deliver_or_log(command.channel, &answer, "bot-answer").await;
        }
        result.answer = Some(answer);
        result.waiting_for_person = self.status()? != ConversationStatus::Bot;
        Ok(result)
    }

    /// Emails `message` to the customer in their thread, and records its `Message-ID` so their
    /// reply threads back.
    async fn send_in_thread(
        &self,
        email: &EmailContext,
        message: &Message,
        tag: &'static str,
    ) -> std::result::Result<(), ApiError> {
        let config = super::http::email_config(&self.env)
            .ok_or_else(|| ApiError::new(ErrorCode::EmailUnavailable, "no email provider is configured"))?;
        let key = self.key()?;
        let domain = super::http::setting(&self.env, "EMAIL_DOMAIN").unwrap_or_else(|| "threadline.invalid".into());
        let digest = {
            use sha2::Digest as _;
            shared::hex::encode(&sha2::Sha256::digest(message.id.as_bytes())[..8])
        };
        let message_id = format!("{}.{digest}@{domain}", key.conversation);
        let mut references = email.references.clone();
        references.extend(email.message_id.clone());
        let thread = crate::email::Threading {
            message_id: message_id.clone(),
            in_reply_to: email.message_id.clone(),
            references,
        };
        let site: crate::internal::SiteRecord = site_command(&self.env, &key.site, &SiteCommand::Get).await?;
        let outbound = crate::email::answer_email(
            &site.name,
            &email.from,
            &email.subject,
            &message.text,
            &email.reply_address,
            thread,
            tag,
        );
        super::http::send_email(&config, &outbound).await?;
        let record = DirectoryCommand::RecordEmail {
            message_id,
            conversation: key.conversation,
        };
        let _: serde_json::Value = super::http::directory(&self.env, &key.site, record).await?;
        Ok(())
    }

    /// The channel the customer last wrote on.
    fn last_visitor_channel(&self) -> std::result::Result<Option<Channel>, ApiError> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT * FROM messages WHERE role = 'visitor' ORDER BY seq DESC LIMIT 1",
                None,
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading the conversation", e))?;
        rows.into_iter()
            .next()
            .map(message_from_row)
            .transpose()
            .map(|m| m.map(|m| m.channel))
    }

    /// Keeps a channel's context from the customer's latest message on it.
    fn keep_context<T: serde::Serialize>(&self, key: &str, context: Option<&T>) -> std::result::Result<(), ApiError> {
        if let Some(context) = context {
            let text = serde_json::to_string(context).map_err(|e| internal("channel context", e))?;
            self.set_meta(key, &text)?;
        }
        Ok(())
    }

    /// Delivers a message nobody waits on (a bot answer, a confirmation); what went wrong is
    /// logged (and retried, when it may pass).
    async fn deliver_or_log(&self, channel: Channel, message: &Message, tag: &'static str) {
        match self.deliver(channel, message, tag).await {
            Ok(Sent::Yes) => {}
            Ok(Sent::No(reason)) => worker::console_error!("{tag} on {} not sent: {reason}", channel.as_str()),
            Err(error) => worker::console_error!("{tag} on {} failed: {}", channel.as_str(), error.body.message),
        }
    }

    /// Sends as `send_on` does; when the provider fails in a way that may pass (an outage, a
    /// rate limit), keeps the message and retries it from the alarm on
    /// `shared::resend::RESEND_SCHEDULE_SECS`, and says so in the error.
    async fn deliver(
        &self,
        channel: Channel,
        message: &Message,
        tag: &'static str,
    ) -> std::result::Result<Sent, ApiError> {
        match self.send_on(channel, message, tag).await {
            Err(mut error) if error.body.retry_after_ms.is_some() => {
                let retry_after = error.body.retry_after_ms.map(|ms| ms / 1000);
                if let Some(wait) = shared::resend::next_after(1, retry_after, self.resend_cap()) {
                    self.sql()
                        .exec(
                            "INSERT OR REPLACE INTO resends (message, channel, tag, attempts, next_at, last_error) VALUES (?, ?, ?, 1, ?, ?)",
                            vec![
                                message.id.clone().into(),
                                channel.as_str().into(),
                                tag.into(),
                                SqlStorageValue::from((now_ms() + wait * 1000) as i64),
                                error.body.message.clone().into(),
                            ],
                        )
                        .map_err(|e| internal("keeping a send to retry", e))?;
                    self.arm_within(std::time::Duration::from_secs(wait)).await;
                    error.body.message = format!("{}; it will be retried for several hours", error.body.message);
                }
                Err(error)
            }
            other => other,
        }
    }

    /// The longest wait between resends, when `RESEND_MAX_DELAY_SECS` caps it (tests).
    fn resend_cap(&self) -> Option<u64> {
        super::http::setting(&self.env, "RESEND_MAX_DELAY_SECS").and_then(|v| v.parse().ok())
    }

    /// When the next kept send is due (milliseconds), if any.
    fn next_resend(&self) -> std::result::Result<Option<u64>, ApiError> {
        #[derive(Deserialize)]
        struct NextRow {
            next_at: Option<i64>,
        }
        let rows: Vec<NextRow> = rows(
            &self.sql(),
            "SELECT MIN(next_at) AS next_at FROM resends",
            None,
            "reading resends",
        )?;
        Ok(rows.into_iter().next().and_then(|r| r.next_at).map(|at| at as u64))
    }

    /// Sends again what is due: delivered or no longer possible leaves the list; another
    /// transient failure waits its turn; the end of the schedule, or a lasting refusal, gives up.
    async fn resend_due(&self) -> std::result::Result<(), ApiError> {
        let now = now_ms();
        let due: Vec<ResendRow> = rows(
            &self.sql(),
            "SELECT message, channel, tag, attempts FROM resends WHERE next_at <= ?",
            vec![SqlStorageValue::from(now as i64)],
            "reading resends",
        )?;
        for row in due {
            let forget = |this: &Self| {
                this.sql()
                    .exec(
                        "DELETE FROM resends WHERE message = ?",
                        vec![row.message.clone().into()],
                    )
                    .map(|_| ())
                    .map_err(|e| internal("forgetting a resend", e))
            };
            let channel: Option<Channel> = serde_json::from_value(serde_json::Value::String(row.channel.clone())).ok();
            let (Some(channel), Some(message)) = (channel, self.find(&row.message)?) else {
                forget(self)?;
                continue;
            };
            let tag: &'static str = match row.tag.as_str() {
                "staff-reply" => "staff-reply",
                "continued" => "continued",
                _ => "bot-answer",
            };
            let attempts = row.attempts as u32 + 1;
            match self.send_on(channel, &message, tag).await {
                Ok(Sent::Yes) => forget(self)?,
                Ok(Sent::No(reason)) => {
                    worker::console_error!("a resend is no longer possible: {reason}");
                    forget(self)?;
                }
                Err(error) => {
                    let retry_after = error.body.retry_after_ms.map(|ms| ms / 1000);
                    let next = error
                        .body
                        .retry_after_ms
                        .and_then(|_| shared::resend::next_after(attempts, retry_after, self.resend_cap()));
                    match next {
                        Some(wait) => {
                            self.sql()
                                .exec(
                                    "UPDATE resends SET attempts = ?, next_at = ?, last_error = ? WHERE message = ?",
                                    vec![
                                        SqlStorageValue::from(attempts as i64),
                                        SqlStorageValue::from((now + wait * 1000) as i64),
                                        error.body.message.clone().into(),
                                        row.message.clone().into(),
                                    ],
                                )
                                .map_err(|e| internal("rescheduling a resend", e))?;
                        }
                        None => {
                            worker::console_error!(
                                "gave up sending message {} on {} after {attempts} attempts: {}",
                                row.message,
                                row.channel,
                                error.body.message
                            );
                            forget(self)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Makes sure the alarm rings within `wait` (an earlier one stays).
    async fn arm_within(&self, wait: std::time::Duration) {
        let storage = self.state.storage();
        let due = now_ms() + wait.as_millis() as u64;
        let current = storage.get_alarm().await.ok().flatten();
        if current.is_none_or(|at| at as u64 > due) {
            let _ = storage.set_alarm(wait).await;
        }
    }

    /// Sends `message` to the customer on `channel`, with what they last wrote there (stored
    /// with each inbound message) telling where and whether the channel's window is open.
    async fn send_on(
        &self,
        channel: Channel,
        message: &Message,
        tag: &'static str,
    ) -> std::result::Result<Sent, ApiError> {
        fn context<T: serde::de::DeserializeOwned>(text: Option<String>) -> std::result::Result<Option<T>, ApiError> {
            text.map(|t| serde_json::from_str(&t).map_err(|e| internal("channel context", e)))
                .transpose()
        }
        let site = self.key()?.site;
        let now = now_ms() / 1000;
        let not_set_up = || {
            Sent::No(format!(
                "could not be sent on {}: the channel is not set up for this site, or the customer opted out",
                channel.as_str()
            ))
        };
        let outside_window = || {
            Sent::No(format!(
                "outside {}'s 24-hour customer-service window: only an approved template can reach them now",
                channel.as_str()
            ))
        };
        let sent = |ok: bool| if ok { Sent::Yes } else { not_set_up() };
        match channel {
            Channel::Email => match context::<EmailContext>(self.meta("email")?)? {
                Some(email) => self.send_in_thread(&email, message, tag).await.map(|()| Sent::Yes),
                None => Ok(not_set_up()),
            },
            Channel::Sms => match context::<crate::internal::SmsContext>(self.meta("sms")?)? {
                Some(sms) => super::http::send_sms(&self.env, &site, &sms.to, &message.text)
                    .await
                    .map(sent),
                None => Ok(not_set_up()),
            },
            Channel::Whatsapp => match context::<crate::internal::WhatsappContext>(self.meta("whatsapp")?)? {
                Some(wa) if !shared::whatsapp::window_open(wa.last_inbound_at, now) => Ok(outside_window()),
                Some(wa) => super::http::send_whatsapp(&self.env, &site, &wa.to, &message.text)
                    .await
                    .map(sent),
                None => Ok(not_set_up()),
            },
            Channel::Messenger | Channel::Instagram => {
                match context::<crate::internal::PageContext>(self.meta("page")?)? {
                    Some(page) if !shared::whatsapp::window_open(page.last_inbound_at, now) => Ok(outside_window()),
                    Some(page) => super::http::send_page(&self.env, &site, &page, &message.text)
                        .await
                        .map(sent),
                    None => Ok(not_set_up()),
                }
            }
            Channel::Telegram => match context::<crate::internal::TelegramContext>(self.meta("telegram")?)? {
                Some(tg) => super::http::send_telegram(&self.env, &site, tg.chat_id, &message.text)
                    .await
                    .map(sent),
                None => Ok(not_set_up()),
            },
            Channel::Chat | Channel::Phone => Ok(not_set_up()),
        }
    }

    /// Keeps a metric event to hand to the site object (in the same step as what caused it).
    fn record(&self, event: &Event) -> std::result::Result<(), ApiError> {
        let text = serde_json::to_string(event).map_err(|e| internal("metric event", e))?;
        self.sql()
            .exec("INSERT INTO metric_outbox (event) VALUES (?)", vec![text.into()])
            .map_err(|e| internal("keeping a metric event", e))?;
        Ok(())
    }

    /// Records something that happened now on the customer's current channel; `name` and the
    /// time make its id.
    fn record_now(&self, name: &str, kind: EventKind) -> std::result::Result<(), ApiError> {
        let at = now_ms();
        self.record(&Event {
            id: format!("{name}:{at}"),
            at,
            conversation: self.key()?.conversation,
            channel: self.last_visitor_channel()?.unwrap_or(Channel::Chat),
            kind,
        })
    }

    /// Hands kept metric events to the site object, oldest first; what it cannot take now goes
    /// with the next request's (each event counts once, by id).
    async fn flush_metrics(&self) {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            event: String,
        }
        let rows: Vec<Row> = match self
            .sql()
            .exec("SELECT seq, event FROM metric_outbox ORDER BY seq LIMIT 200", None)
            .and_then(|c| c.to_array())
        {
            Ok(rows) if !rows.is_empty() => rows,
            _ => return,
        };
        let (Ok(key), Some(last)) = (self.key(), rows.last().map(|r| r.seq)) else {
            return;
        };
        let events: Vec<Event> = rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.event).ok())
            .collect();
        let command = SiteCommand::Record { events };
        match site_command::<serde_json::Value>(&self.env, &key.site, &command).await {
            Ok(_) => {
                let _ = self.sql().exec(
                    "DELETE FROM metric_outbox WHERE seq <= ?",
                    vec![SqlStorageValue::from(last)],
                );
            }
            Err(error) => worker::console_error!("metric events kept for later: {}", error.body.message),
        }
    }

    fn notes(&self) -> std::result::Result<Vec<Note>, ApiError> {
        #[derive(Deserialize)]
        struct NoteRow {
            id: String,
            author: String,
            text: String,
            at: i64,
        }
        let rows: Vec<NoteRow> = rows(
            &self.sql(),
            "SELECT id, author, text, at FROM notes ORDER BY at, id",
            None,
            "reading notes",
        )?;
        Ok(rows
            .into_iter()
            .map(|row| Note {
                id: row.id,
                author: row.author,
                text: row.text,
                at: row.at as u64,
            })
            .collect())
    }

    /// Records the customer's "did that help?" on one of the bot's answers (a changed mind
    /// replaces it). A "no" counts as the bot failing, towards handing over to a person.
    fn feedback(&self, command: &FeedbackCommand) -> std::result::Result<Message, ApiError> {
        let message = self.find(&command.message)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("no message {:?} in this conversation", command.message),
            )
        })?;
        if !matches!(message.bot, Some(BotDetail::Answer { .. })) {
            return Err(ApiError::field(
                "message",
                "feedback is for the bot's answers (messages with bot.kind \"answer\")",
            ));
        }
        self.sql()
            .exec(
                "UPDATE messages SET helpful = ? WHERE id = ?",
                vec![
                    SqlStorageValue::from(i64::from(command.helpful)),
                    command.message.clone().into(),
                ],
            )
            .map_err(|e| internal("storing feedback", e))?;
        if let Some(BotDetail::Answer { article, .. }) = &message.bot {
            // The question it answered: a "yes" teaches it to the article.
            let question = match &message.reply_to {
                Some(id) => self.find(id)?.filter(|q| q.role == Role::Visitor).map(|q| q.text),
                None => None,
            };
            let kind = EventKind::Helpful {
                article: article.id.clone(),
                yes: command.helpful,
                question,
            };
            self.record_now(&format!("helpful:{}:{}", message.id, command.helpful), kind)?;
        }
        Ok(Message {
            helpful: Some(command.helpful),
            ..message
        })
    }

    /// Bot replies in this conversation that did not answer, or that the customer said did not
    /// help.
    fn bot_failures(&self) -> std::result::Result<u32, ApiError> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let count: Count = self
            .sql()
            .exec(
                "SELECT COUNT(*) AS n FROM messages WHERE role = 'bot' AND (helpful = 0 OR bot LIKE '%\"kind\":\"no_answer\"%')",
                None,
            )
            .and_then(|cursor| cursor.one())
            .map_err(|e| internal("counting bot failures", e))?;
        Ok(count.n as u32)
    }

    /// The visitor accepts the offer of a person: the conversation waits for staff and the bot
    /// stops answering it.
    async fn request_human(&self, id: String, from: Option<&WebSocket>) -> std::result::Result<Vec<Message>, ApiError> {
        if let Some(messages) = self.replay(&id, from)? {
            return Ok(messages);
        }
        // The site's per-conversation limit as of its last message (a handoff follows one).
        let limit = self
            .meta("session_limit")?
            .and_then(|stored| serde_json::from_str(&stored).ok())
            .unwrap_or_else(|| shared::rate::RateLimits::default().session_messages);
        self.take_rate_token(&limit)?;
        let message = self.store(id.clone(), Role::Visitor, HANDOFF_TEXT.to_owned(), None, None)?;
        let already_waiting = self.status()? == ConversationStatus::WaitingForHuman;
        let mut messages = vec![message];
        if !already_waiting {
            self.hand_to_person().await?;
            let reply = answer::handoff_reply();
            let confirmation = self.store(format!("bot:{id}"), Role::Bot, reply.text, Some(id), Some(reply.detail))?;
            self.broadcast(&ServerFrame::Status {
                status: ConversationStatus::WaitingForHuman,
            });
            messages.push(confirmation);
            self.enqueue_now().await;
        }
        Ok(messages)
    }

    /// Escalates because the customer asked for a person: routed to the team for what they last
    /// asked about (a person is on the way regardless of routing).
    async fn hand_to_person(&self) -> std::result::Result<(), ApiError> {
        let last_words = self.last_visitor_words()?.unwrap_or_else(|| HANDOFF_TEXT.to_owned());
        let routed: Option<Escalation> = site_command(
            &self.env,
            &self.key()?.site,
            &SiteCommand::RouteHandoff {
                text: last_words.clone(),
            },
        )
        .await
        .map_err(|error| worker::console_error!("routing a hand-over: {}", error.body.message))
        .ok();
        let escalation = Escalation {
            reasons: vec![EscalationReason::VisitorAsked],
            priority: Priority::Normal,
            ..routed.unwrap_or_else(|| Escalation {
                reasons: Vec::new(),
                priority: Priority::Normal,
                team: "support".into(),
                topic: None,
                team_source: Default::default(),
            })
        };
        self.escalate(&escalation, &last_words)
    }

    /// Something happened on a phone call in this conversation (see [`CallCommand`]).
    async fn call(&self, command: CallCommand) -> std::result::Result<CallReply, ApiError> {
        let waiting =
            |this: &Self| -> std::result::Result<bool, ApiError> { Ok(this.status()? != ConversationStatus::Bot) };
        match command {
            CallCommand::Note { id, text, note, sms } => {
                self.keep_context("sms", sms.as_ref())?;
                if self.find(&id)?.is_none() {
                    self.keep_call_note(id, text, note)?;
                }
            }
            CallCommand::Transfer { id, text, note } => {
                if self.find(&id)?.is_some() {
                    return Ok(CallReply {
                        waiting_for_person: waiting(self)?,
                        sent: false,
                    });
                }
                let newly = !waiting(self)?;
                if newly {
                    self.hand_to_person().await?;
                    self.broadcast(&ServerFrame::Status {
                        status: ConversationStatus::WaitingForHuman,
                    });
                }
                let dialled = note.to.is_some();
                self.keep_call_note(id, text, note.clone())?;
                if newly {
                    self.enqueue_now().await;
                }
                if dialled {
                    // Whoever picks up sees the whole story: the same package as an escalation,
                    // with the call.
                    let escalation = match self.escalation()? {
                        Some(escalation) => escalation,
                        None => Escalation {
                            reasons: vec![EscalationReason::VisitorAsked],
                            priority: Priority::Normal,
                            team: "support".into(),
                            topic: None,
                            team_source: Default::default(),
                        },
                    };
                    let last_words = self.last_visitor_words()?.unwrap_or_default();
                    let mut package = self.package(escalation, &last_words)?;
                    self.add_customer(&mut package).await?;
                    let command = SiteCommand::CallIncoming {
                        conversation: self.key()?.conversation,
                        call: note,
                        package,
                    };
                    let _: serde_json::Value = site_command(&self.env, &self.key()?.site, &command).await?;
                }
            }
            CallCommand::Text { id, sms } => {
                let answer = self
                    .all_messages()?
                    .into_iter()
                    .rev()
                    .find(|m| m.channel == Channel::Phone && matches!(m.bot, Some(BotDetail::Answer { .. })));
                let Some(answer) = answer else {
                    return Ok(CallReply {
                        waiting_for_person: waiting(self)?,
                        sent: false,
                    });
                };
                if self.find(&id)?.is_some() {
                    return Ok(CallReply {
                        waiting_for_person: waiting(self)?,
                        sent: true,
                    });
                }
                self.keep_context("sms", Some(&sms))?;
                let mut text = answer.text.clone();
                if let Some(BotDetail::Answer { article, .. }) = &answer.bot
                    && let Some(url) = &article.url
                {
                    text.push_str(&format!("\n{url}"));
                }
                let message = self.store_on(Channel::Sms, id, Role::Bot, text, Some(answer.id.clone()), None)?;
                let sent = matches!(self.deliver(Channel::Sms, &message, "call-text").await, Ok(Sent::Yes));
                return Ok(CallReply {
                    waiting_for_person: waiting(self)?,
                    sent,
                });
            }
        }
        Ok(CallReply {
            waiting_for_person: waiting(self)?,
            sent: false,
        })
    }

    /// A note about a call in the timeline, on the phone channel.
    fn keep_call_note(&self, id: String, text: String, note: CallNote) -> std::result::Result<Message, ApiError> {
        let detail = BotDetail::Call(Box::new(note));
        self.store_on(Channel::Phone, id, Role::Bot, text, None, Some(detail))
    }

    /// What the visitor last wrote before pressing "talk to a person".
    fn last_visitor_words(&self) -> std::result::Result<Option<String>, ApiError> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT * FROM messages WHERE role = 'visitor' AND text != ? ORDER BY seq DESC LIMIT 1",
                vec![HANDOFF_TEXT.into()],
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading the conversation", e))?;
        Ok(rows.into_iter().next().map(|row| row.text))
    }

    fn take_rate_token(&self, limit: &shared::rate::Limit) -> std::result::Result<(), ApiError> {
        if self.limits_off() {
            return Ok(());
        }
        let config = limit.config();
        let now = now_ms();
        let bucket = match self.meta("rate")? {
            Some(stored) => serde_json::from_str(&stored).unwrap_or_else(|_| Bucket::full(&config, now)),
            None => Bucket::full(&config, now),
        };
        match rate::take(bucket, &config, now) {
            Ok(bucket) => self.set_meta(
                "rate",
                &serde_json::to_string(&bucket).map_err(|e| internal("rate", e))?,
            ),
            Err(retry_after_ms) => {
                let mut error = ApiError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "too many messages in this conversation: at most {} at once, then {} an hour; retry in {} s",
                        limit.burst,
                        limit.per_hour,
                        retry_after_ms.div_ceil(1000)
                    ),
                );
                error.body.retry_after_ms = Some(retry_after_ms);
                Err(error)
            }
        }
    }

    /// Upgrades to a hibernatable WebSocket and sends the history after `after` first.
    fn accept_live(&self, after: Option<u64>, visitor: &str, ip: &str) -> std::result::Result<Response, ApiError> {
        let pair = WebSocketPair::new().map_err(|e| internal("websocket pair", e))?;
        // Tagged with the visitor, so revoking their access closes their sockets.
        self.state.accept_websocket_with_tags(&pair.server, &[visitor]);
        // The sender's address, for the site's rate limits; kept through hibernation.
        pair.server
            .serialize_attachment(ip)
            .map_err(|e| internal("websocket attachment", e))?;
        let transcript = self.transcript(after)?;
        send(
            &pair.server,
            &ServerFrame::History {
                messages: transcript.messages,
                status: transcript.status,
            },
        );
        let response = Response::from_websocket(pair.client).map_err(|e| internal("websocket response", e))?;
        let _ = response.headers().set("Sec-WebSocket-Protocol", PROTOCOL);
        Ok(response)
    }

    fn broadcast(&self, frame: &ServerFrame) {
        for ws in self.state.get_websockets() {
            send(&ws, frame);
        }
    }
}

fn create_schema(sql: &SqlStorage) {
    if let Err(error) = sql.exec(SCHEMA, None) {
        worker::console_error!("ConversationObject schema: {error}");
    }
    for migration in MIGRATIONS {
        let _ = sql.exec(migration, None);
    }
}

fn send(ws: &WebSocket, frame: &ServerFrame) {
    if let Ok(text) = serde_json::to_string(frame) {
        // A socket that is closing cannot take the frame; its client catches up on reconnect.
        let _ = ws.send_with_str(text);
    }
}

fn error_frame(reply_to: Option<String>, error: ApiError) -> ServerFrame {
    ServerFrame::Error {
        reply_to,
        error: error.body,
    }
}

fn message_from_row(row: MessageRow) -> std::result::Result<Message, ApiError> {
    let role: Role =
        serde_json::from_value(serde_json::Value::String(row.role)).map_err(|e| internal("stored role", e))?;
    let bot = row
        .bot
        .map(|b| serde_json::from_str(&b))
        .transpose()
        .map_err(|e| internal("stored bot detail", e))?;
    Ok(Message {
        seq: row.seq as u64,
        id: row.id,
        role,
        text: row.text,
        at: row.at as u64,
        reply_to: row.reply_to,
        bot,
        channel: row
            .channel
            .and_then(|c| serde_json::from_value(serde_json::Value::String(c)).ok())
            .unwrap_or(Channel::Chat),
        origin: row.origin,
        helpful: row.helpful.map(|h| h != 0),
    })
}

fn parse_query(url: &worker::Url) -> std::result::Result<Query, ApiError> {
    let mut site = None;
    let mut conversation = None;
    let mut visitor = None;
    let mut after = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "site" => site = Some(value.into_owned()),
            "conversation" => conversation = Some(value.into_owned()),
            "visitor" => visitor = Some(value.into_owned()),
            "after" => after = value.parse().ok(),
            _ => {}
        }
    }
    match (site, conversation) {
        (Some(site), Some(conversation)) => Ok(Query {
            site,
            conversation,
            visitor,
            after,
        }),
        _ => Err(internal("conversation query", "site and conversation are required")),
    }
}
