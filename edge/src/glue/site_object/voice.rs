//! The site's phone line (Twilio Voice).
//!
//! Each of a call's webhooks is checked here with the voice channel's auth token before
//! anything is read or kept (an unsigned request changes nothing), and answered with TwiML
//! there and then: a call cannot wait in an inbox. The first request routes the caller through
//! the profile directory (a number someone verified joins its owner's conversation; any other
//! caller ID is only a claim), and the conversation keeps the call's timeline: started, what the
//! caller said as recognised text, the bot's answers, the transfer, voicemail, duration and
//! outcome. The words of each step (`shared::voice::Line`) are pure and tested natively.

use serde::Deserialize;
use shared::voice::{self, CallRequest, CallState, Intent, Line, Step};
use shared::wire::{CallEvent, CallNote, Channel};
use worker::SqlStorageValue;

use super::SiteObject;
use crate::api_error::ApiError;
use crate::glue::http::{call, internal, json, now_ms, rows};
use crate::glue::inbound;
use crate::internal::{
    CallCommand, CallReply, ChannelProof, DirectoryCommand, InboundCommand, InboundResult, InboundRoute, SiteRecord,
    SmsConfig, SmsContext, VoiceConfig, VoiceReply,
};

/// The table, created with the site object's other migrations: a call's state between its
/// webhooks, kept a day after it started (a voicemail's transcription can come late).
pub const SCHEMA: [&str; 1] =
    ["CREATE TABLE IF NOT EXISTS calls (sid TEXT PRIMARY KEY, state TEXT NOT NULL, started_at INTEGER NOT NULL)"];

const KEEP_CALLS_MS: i64 = 86_400_000;

#[derive(Deserialize)]
struct StateRow {
    state: String,
}

impl SiteObject {
    /// Answers one of a call's webhooks with TwiML.
    pub(super) async fn voice(
        &self,
        step: Step,
        proof: ChannelProof,
        body: &str,
        base: &str,
    ) -> std::result::Result<worker::Response, ApiError> {
        let answer = |verbs: &[voice::Verb]| {
            json(
                200,
                &VoiceReply {
                    twiml: voice::twiml(verbs),
                },
            )
        };
        let not_in_service = || {
            json(
                200,
                &VoiceReply {
                    twiml: voice::not_in_service(),
                },
            )
        };
        // A number no site here answers hears a polite message, never an error tone; nothing is
        // read or kept for it.
        let Some(record) = self.record()? else {
            return not_in_service();
        };
        let Some(config) = self.channel_config::<VoiceConfig>("voice")? else {
            return not_in_service();
        };
        let ChannelProof::Twilio { presented, url } = proof else {
            return Err(internal("voice webhook", "a Twilio signature is expected"));
        };
        let params: Vec<(String, String)> = worker::url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        if !shared::sms::verify(&config.auth_token, &url, &params, &presented) {
            return Err(ApiError::new(
                shared::wire::ErrorCode::InvalidSignature,
                "X-Twilio-Signature does not match this request signed with the site's Twilio auth token",
            ));
        }
        let call = voice::parse(&params).map_err(|(field, why)| ApiError::field(field, why))?;
        if call.to != config.number {
            return not_in_service();
        }
        let sms = self.channel_config::<SmsConfig>("sms")?;
        let line = Line {
            site_name: record.name.clone(),
            language: config.language.clone(),
            base: base.to_owned(),
            support_number: config.support_number.clone(),
            record_calls: config.record_calls,
            can_text: sms.is_some() && call.from.is_some(),
        };
        let texting = match (&sms, &call.from) {
            (Some(sms), Some(from)) => Some(SmsContext {
                from: sms.from.clone(),
                to: from.clone(),
            }),
            _ => None,
        };
        let state = self.call_state(&call.call_sid)?;
        let verbs = match (step, state) {
            (Step::Incoming, state) => {
                let state = match state {
                    Some(state) => state,
                    None => self.route_call(&record, &call).await?,
                };
                let from = match (&call.from, state.verified) {
                    (Some(number), true) => format!("from {number} (verified)"),
                    (Some(number), false) => format!("from {number}"),
                    (None, _) => "from a withheld number".to_owned(),
                };
                let note = CallCommand::Note {
                    id: format!("call:{}:started", call.call_sid),
                    text: format!("Phone call {from} started."),
                    note: note(&call, &state, CallEvent::Started),
                    sms: texting,
                };
                let reply = self.tell_conversation(&record, &state, &note).await?;
                if reply.waiting_for_person {
                    let hello = format!("Hello, you have reached {}. A person will take your call.", record.name);
                    self.transfer(&record, &line, &call, &state, Some(&hello)).await?
                } else {
                    line.greeting()
                }
            }
            // A call this site has no record of (or forgot after a day): end it politely.
            (_, None) if step != Step::Status && step != Step::Transcription => line.end(),
            (_, None) => Vec::new(),
            (Step::Gather { turn }, Some(state)) => {
                match voice::intent(call.speech.as_deref(), call.digits.as_deref()) {
                    Intent::Done => line.end(),
                    Intent::Person => self.transfer(&record, &line, &call, &state, None).await?,
                    Intent::TextMe => {
                        let sent = match texting {
                            Some(sms) => {
                                let command = CallCommand::Text {
                                    id: format!("call:{}:text:{turn}", call.call_sid),
                                    sms,
                                };
                                self.tell_conversation(&record, &state, &command).await?.sent
                            }
                            None => false,
                        };
                        line.texted(sent, turn + 1)
                    }
                    Intent::Question => {
                        let question = call.speech.clone().unwrap_or_default();
                        let command =
                            InboundCommand::new(format!("call:{}:{turn}", call.call_sid), Channel::Phone, question);
                        let result: InboundResult =
                            inbound::hand_over(&self.env, &record.id, &state.conversation, &command).await?;
                        self.update_call(&call.call_sid, |s| s.turns = s.turns.max(turn))?;
                        let said = result.answer.as_ref().map(|a| a.text.as_str());
                        match (result.waiting_for_person, said) {
                            (false, Some(answer)) => line.answered(answer, turn + 1),
                            (_, said) => self.transfer(&record, &line, &call, &state, said).await?,
                        }
                    }
                }
            }
            (Step::Dial, Some(_)) => {
                let answered = voice::person_answered(call.dial_status.as_deref());
                let recording = call.recording_url.clone().filter(|_| config.record_calls);
                self.update_call(&call.call_sid, |s| {
                    s.answered |= answered;
                    if recording.is_some() {
                        s.recording_url = recording;
                    }
                })?;
                line.after_dial(call.dial_status.as_deref())
            }
            (Step::Recorded, Some(state)) => {
                let recording = call.recording_url.clone().filter(|_| config.record_calls);
                if recording.is_some() {
                    self.update_call(&call.call_sid, |s| s.voicemail = true)?;
                    let mut note = note(&call, &state, CallEvent::Voicemail);
                    note.recording_url = recording;
                    let command = CallCommand::Note {
                        id: format!("call:{}:voicemail", call.call_sid),
                        text: "The caller left a voicemail.".into(),
                        note,
                        sms: None,
                    };
                    self.tell_conversation(&record, &state, &command).await?;
                }
                line.recorded()
            }
            (Step::Transcription, Some(state)) => {
                if let Some(text) = call.transcription.as_deref().filter(|_| config.record_calls) {
                    let command = InboundCommand::new(
                        format!("call:{}:transcription", call.call_sid),
                        Channel::Phone,
                        format!("(voicemail) {text}"),
                    );
                    let _: InboundResult =
                        inbound::hand_over(&self.env, &record.id, &state.conversation, &command).await?;
                }
                Vec::new()
            }
            (Step::Status, Some(state)) => {
                if voice::ended(call.status.as_deref()) && !state.ended {
                    let state = self.update_call(&call.call_sid, |s| s.ended = true)?.unwrap_or(state);
                    let outcome = state.outcome();
                    let mut note = note(&call, &state, CallEvent::Ended);
                    note.duration_secs = call.duration_secs;
                    note.outcome = Some(outcome);
                    note.recording_url = state.recording_url.clone();
                    let duration = call
                        .duration_secs
                        .map(|secs| format!(" after {}", voice::duration_words(secs)))
                        .unwrap_or_default();
                    let command = CallCommand::Note {
                        id: format!("call:{}:ended", call.call_sid),
                        text: format!("Phone call ended{duration}: {}.", outcome.as_str()),
                        note,
                        sms: None,
                    };
                    self.tell_conversation(&record, &state, &command).await?;
                }
                Vec::new()
            }
        };
        answer(&verbs)
    }

    /// Routes a new call to its conversation and keeps its state.
    async fn route_call(&self, record: &SiteRecord, call: &CallRequest) -> std::result::Result<CallState, ApiError> {
        let command = DirectoryCommand::InboundCall {
            phone: call.from.clone(),
            call_sid: call.call_sid.clone(),
            new_ids: inbound::new_ids()?,
            rules: record.trait_rules.clone(),
            now: now_ms(),
        };
        let route: InboundRoute = crate::glue::http::directory(&self.env, &record.id, command).await?;
        let now = now_ms();
        let state = CallState::new(route.conversation, call.from.clone(), route.verified, now);
        let text = serde_json::to_string(&state).map_err(|e| internal("call state", e))?;
        let sql = self.sql();
        sql.exec(
            "INSERT OR IGNORE INTO calls (sid, state, started_at) VALUES (?, ?, ?)",
            vec![
                call.call_sid.clone().into(),
                text.into(),
                SqlStorageValue::from(now as i64),
            ],
        )
        .and_then(|_| {
            sql.exec(
                "DELETE FROM calls WHERE started_at < ?",
                vec![SqlStorageValue::from(now as i64 - KEEP_CALLS_MS)],
            )
        })
        .map_err(|e| internal("keeping a call", e))?;
        // Two first requests at once keep the first's conversation.
        Ok(self.call_state(&call.call_sid)?.unwrap_or(state))
    }

    /// Puts the caller through to a person (or to voicemail, with no support number): the
    /// conversation escalates if the bot had it, and `call.incoming` goes out with the package.
    async fn transfer(
        &self,
        record: &SiteRecord,
        line: &Line,
        call: &CallRequest,
        state: &CallState,
        said: Option<&str>,
    ) -> std::result::Result<Vec<voice::Verb>, ApiError> {
        let mut note = note(call, state, CallEvent::Transferred);
        note.to = line.support_number.clone();
        let text = match &note.to {
            Some(number) => format!("The call was put through to {number}."),
            None => "The caller asked for a person; nobody takes calls on this line, so it went to voicemail.".into(),
        };
        let command = CallCommand::Transfer {
            id: format!("call:{}:transfer", call.call_sid),
            text,
            note,
        };
        self.tell_conversation(record, state, &command).await?;
        self.update_call(&call.call_sid, |s| s.transferred = true)?;
        Ok(line.transfer(said))
    }

    async fn tell_conversation(
        &self,
        record: &SiteRecord,
        state: &CallState,
        command: &CallCommand,
    ) -> std::result::Result<CallReply, ApiError> {
        let stub = self
            .env
            .durable_object("CONVERSATIONS")
            .and_then(|ns| ns.get_by_name(&crate::internal::object_name(&record.id, &state.conversation)))
            .map_err(|e| internal("conversation object", e))?;
        let path = format!("/call?site={}&conversation={}", record.id, state.conversation);
        call(&stub, "POST", &path, Some(command)).await
    }

    fn call_state(&self, sid: &str) -> std::result::Result<Option<CallState>, ApiError> {
        let rows: Vec<StateRow> = rows(
            &self.sql(),
            "SELECT state FROM calls WHERE sid = ?",
            vec![sid.into()],
            "reading a call",
        )?;
        rows.into_iter()
            .next()
            .map(|row| serde_json::from_str(&row.state).map_err(|e| internal("stored call", e)))
            .transpose()
    }

    /// Changes a call's state in one step (nothing else runs between the read and the write).
    fn update_call(
        &self,
        sid: &str,
        change: impl FnOnce(&mut CallState),
    ) -> std::result::Result<Option<CallState>, ApiError> {
        let Some(mut state) = self.call_state(sid)? else {
            return Ok(None);
        };
        change(&mut state);
        let text = serde_json::to_string(&state).map_err(|e| internal("call state", e))?;
        self.sql()
            .exec(
                "UPDATE calls SET state = ? WHERE sid = ?",
                vec![text.into(), sid.into()],
            )
            .map_err(|e| internal("keeping a call", e))?;
        Ok(Some(state))
    }
}

/// A note about `call` for its timeline.
fn note(call: &CallRequest, state: &CallState, event: CallEvent) -> CallNote {
    CallNote {
        call_sid: call.call_sid.clone(),
        event,
        from: state.from.clone(),
        verified: state.verified,
        to: None,
        duration_secs: None,
        outcome: None,
        recording_url: None,
    }
}
