//! The widget's connection to the edge: the session token in `localStorage`, a WebSocket for live
//! messages, reconnection with backoff, and plain HTTP when a WebSocket cannot be opened (some
//! proxies block them). Every event is handed to `state::Chat`; nothing here decides anything a
//! test would want to check.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use shared::json::Json;
use shared::wire::lite::{self, FromJson, WireName};
use shared::wire::{
    ClientFrame, EmailCodeResponse, ErrorBody, ErrorCode, IdentifyResponse, ServerFrame, SessionResponse,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use shared::continuation::{Invitation, Target};

use crate::i18n::{self, Text, t};
use crate::state::{self, Chat, EmailCheck, Moving, OutgoingKind, StoredSession};

/// A DOM event handler, kept alive as long as the socket it listens to.
type Handler = Closure<dyn FnMut(JsValue)>;

/// What the panel shows about the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    Idle,
    Connecting,
    Online,
    Offline {
        retry_in_ms: u32,
    },
    /// This page can never chat (unknown site, origin not allowed); the text says why.
    Stopped(String),
}

pub struct Transport {
    site: String,
    /// The edge's origin, e.g. `http://127.0.0.1:8787`.
    api: String,
    pub chat: RwSignal<Chat>,
    pub connection: RwSignal<Connection>,
    pub notice: RwSignal<Option<String>>,
    /// The "continue on any device" email verification offer.
    pub email: RwSignal<EmailCheck>,
    /// The channels this conversation can move to (loaded once connected).
    pub channels: RwSignal<Vec<Target>>,
    /// "Continue on another channel".
    pub moving: RwSignal<Moving>,
    /// The visitor answered the site's pre-chat fields (or there were none to answer).
    pub pre_chat_done: RwSignal<bool>,
    channels_loaded: Cell<bool>,
    /// Addresses the visitor declined to verify, not offered again.
    declined: RefCell<Vec<String>>,
    session: RefCell<Option<StoredSession>>,
    socket: RefCell<Option<WebSocket>>,
    /// Ids sent on the current socket, so a new message does not resend the whole outbox.
    sent_on_socket: RefCell<SentIds>,
    /// The current socket's event handlers, kept alive as long as it is.
    handlers: RefCell<Vec<Handler>>,
    attempt: Cell<u32>,
    /// The pending reconnect's timer, if any.
    reconnect_timer: Cell<Option<i32>>,
    http_mode: Cell<bool>,
    started: Cell<bool>,
}

/// The ids of the frames sent on the current socket (or being posted). A list, not a `HashSet`:
/// it holds the few frames of one connection, and a `HashSet` here compiled a second hash table
/// implementation into the widget (the standard library's, beside the one Leptos uses).
#[derive(Default)]
struct SentIds(Vec<String>);

impl SentIds {
    fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|sent| sent == id)
    }

    /// Adds `id`; false if it was there already.
    fn insert(&mut self, id: String) -> bool {
        let new = !self.contains(&id);
        if new {
            self.0.push(id);
        }
        new
    }

    fn remove(&mut self, id: &str) {
        self.0.retain(|sent| sent != id);
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Why a request failed, sorted by what the widget should do about it.
enum Failure {
    /// Show this and stop: nothing will change by retrying.
    Fatal(String),
    /// The session token is useless; get a new one.
    Session,
    /// The session's conversation changed (profiles merged or split): renew it, same visitor.
    Stale,
    /// Try again later (network down, server error).
    Transient,
    /// The edge refused this particular request.
    Refused(ErrorBody),
}

impl Transport {
    pub fn new(site: String, api: String) -> Rc<Transport> {
        let pre_chat_done = local_storage()
            .and_then(|s| s.get_item(&format!("threadline:{site}:pre-chat")).ok().flatten())
            .is_some();
        Rc::new(Transport {
            site,
            api,
            chat: RwSignal::new(Chat {
                words: i18n::words(),
                ..Chat::default()
            }),
            connection: RwSignal::new(Connection::Idle),
            notice: RwSignal::new(None),
            email: RwSignal::new(EmailCheck::Idle),
            channels: RwSignal::new(Vec::new()),
            moving: RwSignal::new(Moving::Closed),
            pre_chat_done: RwSignal::new(pre_chat_done),
            channels_loaded: Cell::new(false),
            declined: RefCell::new(Vec::new()),
            session: RefCell::new(None),
            socket: RefCell::new(None),
            sent_on_socket: RefCell::new(SentIds::default()),
            handlers: RefCell::new(Vec::new()),
            attempt: Cell::new(0),
            reconnect_timer: Cell::new(None),
            http_mode: Cell::new(false),
            started: Cell::new(false),
        })
    }

    /// Connects, once; later calls do nothing.
    pub fn start(self: &Rc<Self>) {
        if !self.started.replace(true) {
            self.connect();
            self.wake_on_network_and_focus();
        }
    }

    /// The network came back, or the page is shown again (the laptop woke up): reconnect now
    /// rather than wait out the backoff.
    fn wake_on_network_and_focus(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let this = Rc::clone(self);
        let wake = Closure::<dyn FnMut()>::new(move || {
            let visible = web_sys::window()
                .and_then(|w| w.document())
                .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            if visible && matches!(this.connection.get_untracked(), Connection::Offline { .. }) {
                if let (Some(timer), Some(window)) = (this.reconnect_timer.take(), web_sys::window()) {
                    window.clear_timeout_with_handle(timer);
                }
                this.attempt.set(0);
                this.connect();
            }
        });
        let _ = window.add_event_listener_with_callback("online", wake.as_ref().unchecked_ref());
        if let Some(document) = window.document() {
            let _ = document.add_event_listener_with_callback("visibilitychange", wake.as_ref().unchecked_ref());
        }
        // One widget per page, for the page's life.
        wake.forget();
    }

    pub fn send_text(self: &Rc<Self>, text: String) {
        let declined = self.declined.borrow().clone();
        self.email
            .update(|check| *check = std::mem::take(check).after_message(&text, &declined));
        self.chat
            .update(|chat| chat.queue(random_id(), OutgoingKind::Text(text)));
        self.flush();
    }

    /// `Threadline('identify', proof)`: the site's backend vouches for who the visitor is. On
    /// success the widget switches to the conversation of that person's profile.
    pub fn identify(self: &Rc<Self>, proof: JsValue) {
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let token = match this.token().await {
                Ok(token) => token,
                Err(_) => return warn("Threadline: identify failed: no session (the chat is unavailable)"),
            };
            let url = this.url("/identify");
            match this
                .request::<IdentifyResponse>("POST", &url, Some(&token), Some(crate::js::stringify(&proof)))
                .await
            {
                Ok(identified) => this.adopt(identified),
                Err(Failure::Refused(error)) => warn(&format!(
                    "Threadline: identify refused ({}): {}",
                    error.code.wire_name(),
                    error.message
                )),
                Err(_) => warn("Threadline: identify failed; the chat stays anonymous"),
            }
        });
    }

    /// `Threadline('shutdown')`: the visitor logged out. Forget the session and start afresh, so
    /// the next person on this browser sees nothing of theirs.
    pub fn shutdown(self: &Rc<Self>) {
        self.forget_session();
        self.chat.set(Chat {
            words: i18n::words(),
            ..Chat::default()
        });
        self.email.set(EmailCheck::Idle);
        self.declined.borrow_mut().clear();
        self.drop_socket();
        if self.started.get() {
            self.connect();
        }
    }

    /// The visitor's answers to the pre-chat fields: kept as (unverified) traits of their
    /// profile; an email among them is offered for verification.
    pub fn finish_pre_chat(self: &Rc<Self>, answers: Vec<(String, String)>, email: Option<String>) {
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(&self.pre_chat_key(), "1");
        }
        self.pre_chat_done.set(true);
        if !answers.is_empty() {
            let traits: Vec<(&str, JsValue)> = answers.iter().map(|(k, v)| (k.as_str(), v.as_str().into())).collect();
            self.update_traits(crate::js::object(&traits));
        }
        if let Some(email) = email {
            self.offer_email(email, false);
        }
    }

    /// Offers `email` for verification (and sends the code at once when `send`): the visitor
    /// typed it into a form rather than a message.
    pub fn offer_email(self: &Rc<Self>, email: String, send: bool) {
        self.email.set(EmailCheck::Offered { email });
        if send {
            self.send_code();
        }
    }

    /// Sends a one-time code to the offered address.
    pub fn send_code(self: &Rc<Self>) {
        let Some(email) = self.email.with_untracked(|c| c.email().map(str::to_owned)) else {
            return;
        };
        self.email.set(EmailCheck::Sending { email: email.clone() });
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let next = match this.token().await {
                Err(_) => EmailCheck::Failed {
                    email,
                    error: t(Text::ErrUnreachable).into(),
                },
                Ok(token) => {
                    let url = this.url("/identify/email");
                    let body = crate::js::json(&[("email", email.as_str().into())]);
                    match this
                        .request::<EmailCodeResponse>("POST", &url, Some(&token), Some(body))
                        .await
                    {
                        Ok(sent) => EmailCheck::CodeSent {
                            email,
                            sent_to: sent.sent_to,
                            error: None,
                        },
                        Err(Failure::Refused(error)) => EmailCheck::Failed {
                            email,
                            error: state::describe(&error, i18n::words()),
                        },
                        Err(_) => EmailCheck::Failed {
                            email,
                            error: t(Text::ErrSendCode).into(),
                        },
                    }
                }
            };
            this.email.set(next);
        });
    }

    /// Checks the code the visitor entered; on success the chat joins that address's profile.
    pub fn verify_code(self: &Rc<Self>, code: String) {
        let EmailCheck::CodeSent { email, sent_to, .. } = self.email.get_untracked() else {
            return;
        };
        self.email.set(EmailCheck::Verifying {
            email: email.clone(),
            sent_to: sent_to.clone(),
        });
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let retry = |error: String| EmailCheck::CodeSent {
                email: email.clone(),
                sent_to: sent_to.clone(),
                error: Some(error),
            };
            let next = match this.token().await {
                Err(_) => retry(t(Text::ErrUnreachable).into()),
                Ok(token) => {
                    let url = this.url("/identify/email/verify");
                    let body = crate::js::json(&[("email", email.as_str().into()), ("code", code.as_str().into())]);
                    match this
                        .request::<IdentifyResponse>("POST", &url, Some(&token), Some(body))
                        .await
                    {
                        Ok(identified) => {
                            this.adopt(identified);
                            EmailCheck::Verified { email: email.clone() }
                        }
                        // A code that can no longer work: offer a new one.
                        Err(Failure::Refused(error))
                            if matches!(
                                error.code,
                                ErrorCode::CodeExpired | ErrorCode::CodeUsed | ErrorCode::CodeAttemptsExceeded
                            ) =>
                        {
                            EmailCheck::Failed {
                                email: email.clone(),
                                error: state::describe(&error, i18n::words()),
                            }
                        }
                        Err(Failure::Refused(error)) => retry(state::describe(&error, i18n::words())),
                        Err(_) => retry(t(Text::ErrCheckCode).into()),
                    }
                }
            };
            this.email.set(next);
        });
    }

    /// The visitor does not want to verify the offered address.
    pub fn decline_email(&self) {
        if let Some(email) = self.email.with_untracked(|c| c.email().map(str::to_owned)) {
            self.declined.borrow_mut().push(email);
        }
        self.email.set(EmailCheck::Idle);
    }

    /// Takes the session an identify or a verified code returned: same visitor, the profile's
    /// conversation, loaded afresh.
    fn adopt(self: &Rc<Self>, identified: IdentifyResponse) {
        self.store_session(StoredSession {
            token: identified.token,
            visitor_id: identified.visitor_id,
            expires_at: identified.expires_at,
        });
        self.chat.update(|chat| chat.messages.clear());
        self.drop_socket();
        if self.started.get() {
            self.connect();
        }
    }

    /// Closes the current socket without reconnecting through its close handler.
    fn drop_socket(&self) {
        self.sent_on_socket.borrow_mut().clear();
        if let Some(old) = self.socket.replace(None) {
            detach(&old);
        }
    }

    /// Applies a frame to the chat and tells the page what is news in it.
    fn absorb(&self, frame: ServerFrame) -> Option<String> {
        let events = self.chat.with_untracked(|chat| chat.events_for(&frame));
        let typing = matches!(frame, ServerFrame::Typing { .. });
        let mut notice = None;
        self.chat.update(|chat| notice = chat.receive(frame));
        if typing {
            // The signal fades unless repeated.
            let chat = self.chat;
            let seq = chat.with_untracked(|c| c.typing_seq);
            let expire = Closure::once_into_js(move || chat.update(|c| c.typing_expired(seq)));
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                    expire.unchecked_ref(),
                    state::TYPING_SHOWN_MS as i32,
                );
            }
        }
        for event in &events {
            crate::events::emit_event(event);
        }
        notice
    }

    /// Which channels the conversation can move to; none on failure (the offer stays hidden).
    async fn load_channels(&self, token: String) {
        let url = self.url("/conversation/continue");
        let read = |text: &str| lite::field::<Vec<Target>>(&Json::parse(text)?, "channels");
        match self.request_with("GET", &url, Some(&token), None, read).await {
            Ok(channels) => self.channels.set(channels),
            Err(_) => self.channels_loaded.set(false),
        }
    }

    /// Shows (or hides) the list of channels to continue on.
    pub fn choose_channel(&self, open: bool) {
        self.moving.set(if open { Moving::Choosing } else { Moving::Closed });
    }

    /// Gets a one-time code and deep link to continue on `channel`.
    pub fn start_continue(self: &Rc<Self>, channel: Target) {
        self.moving.set(Moving::Creating { channel });
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let next = match this.token().await {
                Err(_) => Moving::Failed {
                    error: t(Text::ErrUnreachable).into(),
                },
                Ok(token) => {
                    let url = this.url("/conversation/continue");
                    let body = crate::js::json(&[("channel", channel.as_str().into())]);
                    match this.request::<Invitation>("POST", &url, Some(&token), Some(body)).await {
                        Ok(invitation) => Moving::Ready { invitation },
                        Err(Failure::Refused(error)) => Moving::Failed {
                            error: state::describe(&error, i18n::words()),
                        },
                        Err(_) => Moving::Failed {
                            error: t(Text::ErrGetLink).into(),
                        },
                    }
                }
            };
            this.moving.set(next);
        });
    }

    /// Traits the page knows about the visitor (`Threadline('update', ...)`), kept on their
    /// profile as unverified; a refusal is logged for the page's developer.
    pub fn update_traits(self: &Rc<Self>, traits: JsValue) {
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let Ok(token) = this.token().await else {
                return;
            };
            let url = this.url("/conversation/traits");
            let body = crate::js::json(&[("traits", traits)]);
            if let Err(Failure::Refused(error)) = this
                .request_with("POST", &url, Some(&token), Some(body), any_body)
                .await
            {
                warn(&format!(
                    "Threadline('update') refused: {} ({})",
                    error.message,
                    error.code.wire_name()
                ));
            }
        });
    }

    /// The visitor's satisfaction rating (1 to 5) of the help a person gave: thanked at once,
    /// asked again (with a notice) if the edge refuses it.
    pub fn rate(self: &Rc<Self>, score: u8) {
        self.chat
            .update(|chat| chat.rating = state::RatingPrompt::Thanks(score));
        let chat = self.chat;
        self.post_or_undo(
            "/conversation/rating",
            crate::js::json(&[("score", score.into())]),
            t(Text::ErrSaveRating),
            move || chat.update(|chat| chat.rating = state::RatingPrompt::Asking),
        );
    }

    /// Posts what the visitor did (already shown); if the edge does not take it, `undo` takes it
    /// back and `notice` says so.
    fn post_or_undo(
        self: &Rc<Self>,
        path: &'static str,
        body: String,
        notice: &'static str,
        undo: impl FnOnce() + 'static,
    ) {
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            let sent = match this.token().await {
                Ok(token) => this
                    .request_with("POST", &this.url(path), Some(&token), Some(body), any_body)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if !sent {
                undo();
                this.notice.set(Some(notice.into()));
            }
        });
    }

    /// The visitor's "did that help?" on bot answer `id`: shown at once, sent to the edge, and
    /// taken back (with a notice) if the edge refuses it.
    pub fn feedback(self: &Rc<Self>, id: String, helpful: bool) {
        self.chat.update(|chat| chat.set_helpful(&id, Some(helpful)));
        let chat = self.chat;
        self.post_or_undo(
            "/conversation/feedback",
            crate::js::json(&[("message", id.as_str().into()), ("helpful", helpful.into())]),
            t(Text::ErrSaveFeedback),
            move || chat.update(|chat| chat.set_helpful(&id, None)),
        );
    }

    pub fn request_human(self: &Rc<Self>) {
        self.chat
            .update(|chat| chat.queue(random_id(), OutgoingKind::RequestHuman));
        self.flush();
    }

    pub fn dismiss(&self, id: &str) {
        self.chat.update(|chat| chat.dismiss(id));
    }

    fn connect(self: &Rc<Self>) {
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            this.connection.set(Connection::Connecting);
            match this.token().await {
                Ok(token) => {
                    this.open_socket(&token);
                    if !this.channels_loaded.replace(true) {
                        this.load_channels(token).await;
                    }
                }
                Err(failure) => this.handle_failure(failure),
            }
        });
    }

    fn open_socket(self: &Rc<Self>, token: &str) {
        // http(s)://… → ws(s)://… (by prefix: a substring search would compile a string
        // searcher into the widget for this one line).
        let url = self.url(&format!("/conversation/live{}", self.after()));
        let url = format!("ws{}", url.strip_prefix("http").unwrap_or(&url));
        let protocols = js_sys::Array::of2(
            &JsValue::from_str("threadline.v1"),
            &JsValue::from_str(&format!("bearer.{token}")),
        );
        let socket = match WebSocket::new_with_str_sequence(&url, &protocols) {
            Ok(socket) => socket,
            Err(_) => return self.spawn_probe(),
        };
        let opened = Rc::new(Cell::new(false));

        let this = Rc::clone(self);
        let was_opened = Rc::clone(&opened);
        let on_open = Handler::new(move |_| {
            was_opened.set(true);
            this.attempt.set(0);
            this.http_mode.set(false);
            this.connection.set(Connection::Online);
            this.notice.set(None);
            this.sent_on_socket.borrow_mut().clear();
            this.flush();
        });
        let this = Rc::clone(self);
        let on_message = Handler::new(move |event: JsValue| {
            let Some(text) = event.unchecked_into::<MessageEvent>().data().as_string() else {
                return;
            };
            let Some(frame) = lite::server_frame(&text) else {
                return;
            };
            if frame == ServerFrame::Moved {
                // Another tab or device merged this visitor into a profile: follow it there.
                this.renew_session();
                this.chat.update(|chat| chat.messages.clear());
                this.drop_socket();
                this.connect();
                return;
            }
            if let ServerFrame::Error { error, .. } = &frame {
                if error.code == ErrorCode::NotAMember {
                    this.renew_session();
                } else if state::is_session_error(error.code) {
                    this.forget_session();
                }
            }
            let notice = this.absorb(frame);
            if notice.is_some() {
                this.notice.set(notice);
            }
        });
        let this = Rc::clone(self);
        let current = socket.clone();
        let on_close = Handler::new(move |event: JsValue| {
            let _ = event.unchecked_into::<CloseEvent>();
            let is_current = this.socket.borrow().as_ref().is_some_and(|s| s == &current);
            if !is_current {
                return;
            }
            this.socket.replace(None);
            if opened.get() {
                this.schedule_reconnect();
            } else {
                // The handshake failed, and browsers hide why: ask over HTTP.
                this.spawn_probe();
            }
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        if let Some(old) = self.socket.replace(Some(socket)) {
            detach(&old);
        }
        self.handlers.replace(vec![on_open, on_message, on_close]);
    }

    /// Sends what is queued: over the socket when it is open, else over HTTP when in fallback.
    fn flush(self: &Rc<Self>) {
        let frames = self.chat.with_untracked(|chat| chat.unsent());
        let socket = self.socket.borrow().clone();
        match socket {
            Some(socket) if socket.ready_state() == WebSocket::OPEN => {
                for frame in frames {
                    let id = frame_id(&frame).to_owned();
                    if self.sent_on_socket.borrow().contains(&id) {
                        continue;
                    }
                    if socket.send_with_str(&frame_json(&frame)).is_ok() {
                        self.sent_on_socket.borrow_mut().insert(id);
                    }
                }
            }
            _ if self.http_mode.get() => {
                let this = Rc::clone(self);
                wasm_bindgen_futures::spawn_local(async move { this.flush_over_http(frames).await });
            }
            // Not connected yet: the queue goes out when the socket opens.
            _ => self.start(),
        }
    }

    async fn flush_over_http(self: Rc<Self>, frames: Vec<ClientFrame>) {
        for frame in frames {
            let id = frame_id(&frame).to_owned();
            if !self.sent_on_socket.borrow_mut().insert(id.clone()) {
                continue;
            }
            let (path, body) = match &frame {
                ClientFrame::Send { id, text } => (
                    "messages",
                    crate::js::json(&[("id", id.as_str().into()), ("text", text.as_str().into())]),
                ),
                ClientFrame::RequestHuman { id } => ("handoff", crate::js::json(&[("id", id.as_str().into())])),
            };
            let token = match self.token().await {
                Ok(token) => token,
                Err(failure) => {
                    self.sent_on_socket.borrow_mut().remove(&id);
                    return self.handle_failure(failure);
                }
            };
            let url = self.url(&format!("/conversation/{path}"));
            match self
                .request_with("POST", &url, Some(&token), Some(body), lite::messages)
                .await
            {
                Ok((messages, _)) => {
                    for message in messages {
                        self.absorb(ServerFrame::Message { message });
                    }
                }
                Err(Failure::Refused(error)) => {
                    let mut notice = None;
                    self.chat.update(|chat| {
                        notice = chat.receive(ServerFrame::Error {
                            reply_to: Some(id),
                            error,
                        })
                    });
                    self.notice.set(notice);
                }
                Err(failure) => {
                    self.sent_on_socket.borrow_mut().remove(&id);
                    return self.handle_failure(failure);
                }
            }
        }
    }

    fn spawn_probe(self: &Rc<Self>) {
        let this = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move { this.probe().await });
    }

    /// The WebSocket would not open. Find out over HTTP whether the edge refuses us (and why) or
    /// only WebSockets are blocked, in which case carry on over HTTP.
    async fn probe(self: Rc<Self>) {
        let token = match self.token().await {
            Ok(token) => token,
            Err(failure) => return self.handle_failure(failure),
        };
        let url = self.url(&format!("/conversation{}", self.after()));
        let transcript = |text: &str| match lite::messages(text) {
            Some((messages, Some(status))) => Some((messages, status)),
            _ => None,
        };
        match self.request_with("GET", &url, Some(&token), None, transcript).await {
            Ok((messages, status)) => {
                self.chat.update(|chat| {
                    chat.receive(ServerFrame::History { messages, status });
                });
                self.http_mode.set(true);
                self.sent_on_socket.borrow_mut().clear();
                self.connection.set(Connection::Online);
                self.flush();
                // Keep trying the WebSocket now and then: it is what brings replies from staff.
                self.schedule_reconnect_quietly();
            }
            Err(failure) => self.handle_failure(failure),
        }
    }

    fn handle_failure(self: &Rc<Self>, failure: Failure) {
        match failure {
            Failure::Fatal(text) => {
                self.connection.set(Connection::Stopped(text.clone()));
                self.notice.set(Some(text));
            }
            Failure::Session => {
                self.forget_session();
                self.schedule_reconnect();
            }
            Failure::Stale => {
                self.renew_session();
                self.chat.update(|chat| chat.messages.clear());
                self.schedule_reconnect();
            }
            Failure::Refused(error) => match state::busy(&error, i18n::words()) {
                Some((wait, text)) => {
                    self.connection.set(Connection::Offline { retry_in_ms: wait });
                    self.notice.set(Some(text));
                    self.reconnect_after(wait);
                }
                None => self.schedule_reconnect(),
            },
            Failure::Transient => self.schedule_reconnect(),
        }
    }

    fn schedule_reconnect(self: &Rc<Self>) {
        let delay = state::reconnect_delay_ms(self.attempt.get(), js_sys::Math::random());
        self.attempt.set(self.attempt.get().saturating_add(1));
        self.connection.set(Connection::Offline { retry_in_ms: delay });
        self.reconnect_after(delay);
    }

    fn schedule_reconnect_quietly(self: &Rc<Self>) {
        let delay = state::reconnect_delay_ms(self.attempt.get().max(4), js_sys::Math::random());
        self.attempt.set(self.attempt.get().saturating_add(1));
        self.reconnect_after(delay);
    }

    fn reconnect_after(self: &Rc<Self>, delay_ms: u32) {
        let this = Rc::clone(self);
        let callback = Closure::once_into_js(move || {
            this.reconnect_timer.set(None);
            this.connect();
        });
        if let Some(window) = web_sys::window() {
            let timer =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), delay_ms as i32);
            self.reconnect_timer.set(timer.ok());
        }
    }

    /// The address of this site's API endpoint `path` (which starts with `/`).
    fn url(&self, path: &str) -> String {
        format!("{}/v1/sites/{}{path}", self.api, self.site)
    }

    /// The `?after=<seq>` cursor for what the widget already holds, or nothing.
    fn after(&self) -> String {
        self.chat
            .with_untracked(|chat| chat.last_seq())
            .map(|seq| format!("?after={seq}"))
            .unwrap_or_default()
    }

    fn storage_key(&self) -> String {
        format!("threadline:{}:session", self.site)
    }

    fn pre_chat_key(&self) -> String {
        format!("threadline:{}:pre-chat", self.site)
    }

    fn forget_session(&self) {
        self.session.replace(None);
        if let Some(storage) = local_storage() {
            let _ = storage.remove_item(&self.storage_key());
            let _ = storage.remove_item(&self.pre_chat_key());
        }
        self.pre_chat_done.set(false);
    }

    /// Marks the session for renewal: the next request swaps it for one naming the conversation
    /// the visitor's profile has now.
    fn renew_session(&self) {
        if let Some(session) = self.session.borrow_mut().as_mut() {
            // Past half its life, so the next request renews it, but far from expired: a renewal
            // keeps the visitor (an expired token would start a new, empty one).
            let now = (js_sys::Date::now() / 1000.0) as u64;
            session.expires_at = session.expires_at.min(now + shared::limits::SESSION_TTL_SECS / 2);
        }
    }

    fn store_session(&self, session: StoredSession) {
        if let Some(storage) = local_storage() {
            let text = crate::js::json(&[
                ("token", session.token.as_str().into()),
                ("visitor_id", session.visitor_id.as_str().into()),
                ("expires_at", (session.expires_at as f64).into()),
            ]);
            // Storage can be full or disabled; the session then lasts as long as the page.
            let _ = storage.set_item(&self.storage_key(), &text);
        }
        self.session.replace(Some(session));
    }

    /// A usable session token: the stored one, renewed past half its life, or a new one.
    async fn token(&self) -> Result<String, Failure> {
        let now = (js_sys::Date::now() / 1000.0) as u64;
        if self.session.borrow().is_none() {
            let stored = local_storage()
                .and_then(|storage| storage.get_item(&self.storage_key()).ok().flatten())
                .and_then(|text| lite::decode::<StoredSession>(&text));
            self.session.replace(stored);
        }
        let stored = self.session.borrow().clone();
        let url = self.url("/sessions");
        let issued = match stored {
            Some(session) if !session.needs_renewal(now) => return Ok(session.token),
            Some(session) if !session.expired(now) => {
                match self
                    .request::<SessionResponse>("POST", &url, Some(&session.token), None)
                    .await
                {
                    Err(Failure::Session) => self.request::<SessionResponse>("POST", &url, None, None).await?,
                    other => other?,
                }
            }
            _ => self.request::<SessionResponse>("POST", &url, None, None).await?,
        };
        let token = issued.token.clone();
        self.store_session(StoredSession {
            token: issued.token,
            visitor_id: issued.visitor_id,
            expires_at: issued.expires_at,
        });
        Ok(token)
    }

    async fn request<T: FromJson>(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<T, Failure> {
        decoded(self.send(method, url, token, body).await, lite::decode)
    }

    /// A request whose successful body `read` decodes (a body it cannot read is a transient
    /// failure); refusals sorted as `Failure`s.
    async fn request_with<T>(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
        read: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, Failure> {
        decoded(self.send(method, url, token, body).await, read)
    }

    /// A request's successful body, or why it failed. Not generic: one copy of the waiting and
    /// the sorting of refusals serves every kind of answer.
    async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<String, Failure> {
        let (status, text) = fetch(method, url, token, body).await.map_err(|_| Failure::Transient)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let Some(error) = lite::error_envelope(&text) else {
            return Err(Failure::Transient);
        };
        Err(if state::is_fatal(error.code) {
            Failure::Fatal(state::describe(&error, i18n::words()))
        } else if error.code == ErrorCode::NotAMember {
            Failure::Stale
        } else if state::is_session_error(error.code) {
            Failure::Session
        } else if matches!(error.code, ErrorCode::Internal | ErrorCode::Unknown) {
            Failure::Transient
        } else {
            Failure::Refused(error)
        })
    }
}

/// A successful body as `read` decodes it; one it cannot read is a transient failure.
fn decoded<T>(body: Result<String, Failure>, read: impl FnOnce(&str) -> Option<T>) -> Result<T, Failure> {
    body.and_then(|text| read(&text).ok_or(Failure::Transient))
}

/// A successful body the caller does not need.
fn any_body(_: &str) -> Option<()> {
    Some(())
}

/// A frame as the live socket takes it: `{"type": "send", "id": ..., "text": ...}`.
fn frame_json(frame: &ClientFrame) -> String {
    match frame {
        ClientFrame::Send { id, text } => crate::js::json(&[
            ("type", "send".into()),
            ("id", id.as_str().into()),
            ("text", text.as_str().into()),
        ]),
        ClientFrame::RequestHuman { id } => {
            crate::js::json(&[("type", "request_human".into()), ("id", id.as_str().into())])
        }
    }
}

fn frame_id(frame: &ClientFrame) -> &str {
    match frame {
        ClientFrame::Send { id, .. } | ClientFrame::RequestHuman { id } => id,
    }
}

async fn fetch(method: &str, url: &str, token: Option<&str>, body: Option<String>) -> Result<(u16, String), JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_mode(web_sys::RequestMode::Cors);
    let headers = web_sys::Headers::new()?;
    if let Some(token) = token {
        headers.set("Authorization", &format!("Bearer {token}"))?;
    }
    if let Some(body) = body {
        headers.set("Content-Type", "application/json")?;
        init.set_body(&JsValue::from_str(&body));
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request)).await?.dyn_into()?;
    let text = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    Ok((response.status(), text))
}

/// Closes a socket the widget is done with, unhooking its handlers first: they are dropped with
/// it, and a late event must not call into them.
fn detach(socket: &WebSocket) {
    socket.set_onopen(None);
    socket.set_onmessage(None);
    socket.set_onclose(None);
    let _ = socket.close();
}

fn warn(text: &str) {
    web_sys::console::warn_1(&JsValue::from_str(text));
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// A random message id. `crypto.randomUUID` needs a secure context and host pages may be plain
/// http, so build one from `getRandomValues`, which works everywhere.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    if bytes == [0u8; 16] {
        // No crypto at all: fall back to Math.random, which is fine for an id (not a secret).
        for byte in &mut bytes {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
