//! The launcher and the chat panel, drawn with Leptos inside the shadow root the loader made.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use shared::limits::MAX_MESSAGE_CHARS;
use shared::wire::{BotDetail, ConversationStatus, Message, Role};
use wasm_bindgen::prelude::*;

use crate::state::{EmailCheck, Moving, RatingPrompt, Row, channel_name};
use crate::transport::{Connection, Transport};

const STYLE: &str = include_str!("widget.css");

thread_local! {
    /// The mounted widget's open/closed signal, for `Threadline('open')` and friends.
    static OPEN: RefCell<Option<RwSignal<bool>>> = const { RefCell::new(None) };
    /// The mounted widget's connection, for `Threadline('identify', ...)` and `shutdown`.
    static TRANSPORT: RefCell<Option<Rc<Transport>>> = const { RefCell::new(None) };
}

/// Mounts the widget into `container` (a node inside the loader's shadow root).
/// `options`: `{ site: string, api: string, open: boolean, emit?: (name, detail) => void }`.
#[wasm_bindgen]
pub fn mount(container: web_sys::HtmlElement, options: JsValue) -> Result<(), JsValue> {
    let get = |key: &str| js_sys::Reflect::get(&options, &JsValue::from_str(key)).ok();
    let site = get("site")
        .and_then(|v| v.as_string())
        .ok_or("mount: `site` is required")?;
    let api = get("api")
        .and_then(|v| v.as_string())
        .ok_or("mount: `api` is required")?;
    let open = get("open").and_then(|v| v.as_bool()).unwrap_or(false);
    if let Some(emit) = get("emit").and_then(|v| v.dyn_into::<js_sys::Function>().ok()) {
        crate::events::set_emitter(emit);
    }
    leptos::mount::mount_to(container, move || view! { <App site api initially_open=open/> }).forget();
    Ok(())
}

/// The JS API's commands that reach the mounted widget: `open`, `close`, `toggle`,
/// `identify` (with the proof the site's backend signed: `{ token }` or
/// `{ user_id, user_hash, expires_at, email?, traits? }`) and `shutdown` (the visitor logged out).
#[wasm_bindgen]
pub fn command(name: &str, argument: JsValue) -> Result<(), JsValue> {
    let open = OPEN
        .with(|open| *open.borrow())
        .ok_or("Threadline is not mounted yet")?;
    let transport = TRANSPORT
        .with(|t| t.borrow().clone())
        .ok_or("Threadline is not mounted yet")?;
    match name {
        "open" => open.set(true),
        "close" => open.set(false),
        "toggle" => open.update(|o| *o = !*o),
        "identify" => {
            transport.identify(object(&argument).ok_or(
                "Threadline('identify', proof): proof must be { token } or { user_id, user_hash, expires_at }",
            )?)
        }
        "update" => transport.update_traits(
            object(&argument).ok_or("Threadline('update', traits): traits must be an object, e.g. { plan: 'pro' }")?,
        ),
        "shutdown" => transport.shutdown(),
        other => return Err(JsValue::from_str(&format!("Threadline: unknown command {other:?}"))),
    }
    Ok(())
}

/// A JS API argument as a JSON object, if it is one.
fn object(argument: &JsValue) -> Option<serde_json::Value> {
    let text = js_sys::JSON::stringify(argument).ok()?.as_string()?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .filter(serde_json::Value::is_object)
}

#[component]
fn App(site: String, api: String, initially_open: bool) -> impl IntoView {
    let connection = Transport::new(site, api);
    TRANSPORT.with(|slot| *slot.borrow_mut() = Some(Rc::clone(&connection)));
    let transport = StoredValue::new_local(connection);
    let open = RwSignal::new(initially_open);
    OPEN.with(|slot| *slot.borrow_mut() = Some(open));
    let launcher = NodeRef::<html::Button>::new();
    // The newest message seen with the panel open: replies after it are unread.
    let chat = transport.with_value(|t| t.chat);
    let seen = RwSignal::new(None::<u64>);
    Effect::new(move |_| {
        let last = chat.with(|c| c.last_seq());
        if open.get() {
            seen.set(last);
        }
    });
    let unread = move || {
        if open.get() {
            0
        } else {
            chat.with(|c| c.unread_after(seen.get()))
        }
    };

    // The first open connects; closing keeps the connection so replies still arrive. The page
    // hears of every change (and of the first open).
    Effect::new(move |was_open: Option<bool>| {
        let is_open = open.get();
        if is_open {
            transport.with_value(|t| t.start());
        }
        if was_open.unwrap_or(false) != is_open {
            crate::events::emit(if is_open { "open" } else { "close" }, None);
        }
        is_open
    });

    let close = move || {
        open.set(false);
        if let Some(button) = launcher.get_untracked() {
            let _ = button.focus();
        }
    };

    view! {
        <style>{STYLE}</style>
        <Show when=move || open.get()>
            <Panel transport close/>
        </Show>
        <button
            class="tl-launcher"
            node_ref=launcher
            aria-label=move || match (open.get(), unread()) {
                (true, _) => "Close chat".to_owned(),
                (false, 0) => "Open chat".to_owned(),
                (false, 1) => "Open chat (1 unread reply)".to_owned(),
                (false, n) => format!("Open chat ({n} unread replies)"),
            }
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)
        >
            <Show when=move || open.get() fallback=|| view! { <Icon path=CHAT_ICON size=26/> }>
                <Icon path=CLOSE_ICON size=22/>
            </Show>
            <Show when=move || { unread() > 0 }>
                <span class="tl-badge" aria-hidden="true">{move || unread().min(99)}</span>
            </Show>
        </button>
    }
}

#[component]
fn Panel(transport: StoredValue<Rc<Transport>, LocalStorage>, close: impl Fn() + Copy + 'static) -> impl IntoView {
    let (chat, connection, notice) = transport.with_value(|t| (t.chat, t.connection, t.notice));
    let draft = RwSignal::new(String::new());
    let input = NodeRef::<html::Textarea>::new();
    let list = NodeRef::<html::Ol>::new();

    // Focus moves into the panel when it opens.
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
    // Keep the newest message in view.
    Effect::new(move |_| {
        chat.with(|c| c.messages.len() + c.outbox.len());
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
    });

    let n_chars = move || draft.with(|d| d.chars().count());
    let too_long = move || n_chars() > MAX_MESSAGE_CHARS;
    let stopped = move || matches!(connection.get(), Connection::Stopped(_));
    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() || too_long() || stopped() {
            return;
        }
        draft.set(String::new());
        transport.with_value(|t| t.send_text(text));
    };

    view! {
        <section
            class="tl-panel"
            role="dialog"
            aria-label="Chat with support"
            on:keydown=move |event: web_sys::KeyboardEvent| {
                if event.key() == "Escape" {
                    close();
                }
            }
        >
            <header class="tl-header">
                <div>
                    <h2 class="tl-title">"Support"</h2>
                    <p class="tl-subtitle">
                        {move || match (connection.get(), chat.with(|c| c.status)) {
                            (Connection::Stopped(_), _) => "Unavailable".to_owned(),
                            (Connection::Offline { .. }, _) => "Reconnecting…".to_owned(),
                            (Connection::Connecting | Connection::Idle, _) => "Connecting…".to_owned(),
                            (Connection::Online, ConversationStatus::WaitingForHuman) => "Waiting for a person from the team".to_owned(),
                            (Connection::Online, ConversationStatus::Bot) => "Answers from our help centre, or a person".to_owned(),
                        }}
                    </p>
                </div>
                <button class="tl-close" aria-label="Close chat" on:click=move |_| close()>
                    <Icon path=CLOSE_ICON size=22/>
                </button>
            </header>
            <Show when=move || notice.with(Option::is_some)>
                <p class="tl-notice" role="alert">{move || notice.get().unwrap_or_default()}</p>
            </Show>
            <ol class="tl-messages" node_ref=list aria-live="polite" aria-label="Conversation">
                <Show when=move || chat.with(|c| c.messages.is_empty() && c.outbox.is_empty())>
                    <li class="tl-empty">"Hi! Ask a question and I'll look in our help centre. A person from the team is always an option."</li>
                </Show>
                <For each=move || chat.with(|c| c.rows()) key=Row::key let:row>
                    <MessageRow row transport/>
                </For>
                {move || {
                    chat.with(|c| c.writer(js_sys::Date::now() as u64))
                        .map(|name| view! {
                            <li class="tl-typing" data-role="typing">
                                <span class="tl-dots" aria-hidden="true"><i></i><i></i><i></i></span>
                                {format!("{name} is writing…")}
                            </li>
                        })
                }}
            </ol>
            <Feedback transport/>
            <RatingOffer transport/>
            <EmailOffer transport/>
            <ContinueOffer transport/>
            <Show when=move || chat.with(|c| c.offers_person())>
                <div class="tl-actions">
                    <button class="tl-handoff" on:click=move |_| transport.with_value(|t| t.request_human())>
                        "Talk to a person"
                    </button>
                </div>
            </Show>
            <form
                class="tl-composer"
                on:submit=move |event| {
                    event.prevent_default();
                    submit();
                }
            >
                <textarea
                    node_ref=input
                    rows="1"
                    aria-label="Your message"
                    placeholder="Ask a question…"
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                    on:keydown=move |event: web_sys::KeyboardEvent| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            submit();
                        }
                    }
                ></textarea>
                <button type="submit" class="tl-send" aria-label="Send" disabled=move || too_long() || stopped()>
                    <Icon path=SEND_ICON size=20/>
                </button>
            </form>
            <Show when=too_long>
                <p class="tl-limit" role="status">
                    {move || format!("{} / {MAX_MESSAGE_CHARS} characters: please shorten your message.", n_chars())}
                </p>
            </Show>
        </section>
    }
}

/// "Continue on any device": verify an address the visitor typed with a one-time code.
#[component]
fn EmailOffer(transport: StoredValue<Rc<Transport>, LocalStorage>) -> impl IntoView {
    let check = transport.with_value(|t| t.email);
    let code = RwSignal::new(String::new());
    let submit = move || {
        let entered: String = code.get_untracked().chars().filter(char::is_ascii_digit).collect();
        if entered.len() == 6 {
            code.set(String::new());
            transport.with_value(|t| t.verify_code(entered));
        }
    };
    move || {
        match check.get() {
        EmailCheck::Idle => None,
        EmailCheck::Offered { email } => Some(
            view! {
                <div class="tl-verify" role="group" aria-label="Continue on any device">
                    <p>"Want to pick this conversation up on any device? We can send a code to " <strong>{email}</strong> "."</p>
                    <div class="tl-verify-actions">
                        <button class="tl-handoff" data-action="send-code" on:click=move |_| transport.with_value(|t| t.send_code())>"Send code"</button>
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.decline_email())>"No thanks"</button>
                    </div>
                </div>
            }
            .into_any(),
        ),
        EmailCheck::Sending { .. } => Some(view! { <div class="tl-verify" role="status"><p>"Sending a code…"</p></div> }.into_any()),
        EmailCheck::CodeSent { sent_to, error, .. } => Some(
            view! {
                <form
                    class="tl-verify"
                    on:submit=move |event| {
                        event.prevent_default();
                        submit();
                    }
                >
                    <label for="tl-code">"Enter the 6-digit code we sent to " {sent_to}</label>
                    <div class="tl-verify-actions">
                        <input
                            id="tl-code"
                            class="tl-code"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength="7"
                            prop:value=move || code.get()
                            on:input=move |event| code.set(event_target_value(&event))
                        />
                        <button type="submit" class="tl-handoff" data-action="verify-code">"Verify"</button>
                    </div>
                    {error.map(|e| view! { <p class="tl-failed" role="alert">{e}</p> })}
                </form>
            }
            .into_any(),
        ),
        EmailCheck::Verifying { .. } => Some(view! { <div class="tl-verify" role="status"><p>"Checking the code…"</p></div> }.into_any()),
        EmailCheck::Verified { email } => Some(
            view! {
                <div class="tl-verify tl-verified" role="status">
                    <p>"Verified " <strong>{email}</strong> ": this conversation now follows you to any device where you use it."</p>
                </div>
            }
            .into_any(),
        ),
        EmailCheck::Failed { error, .. } => Some(
            view! {
                <div class="tl-verify" role="alert">
                    <p class="tl-failed">{error}</p>
                    <div class="tl-verify-actions">
                        <button class="tl-handoff" data-action="send-code" on:click=move |_| transport.with_value(|t| t.send_code())>"Send a new code"</button>
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.decline_email())>"Not now"</button>
                    </div>
                </div>
            }
            .into_any(),
        ),
    }
    }
}

/// "Did that help?" under the newest bot answer: yes thanks the visitor, no offers a person.
#[component]
fn Feedback(transport: StoredValue<Rc<Transport>, LocalStorage>) -> impl IntoView {
    let chat = transport.with_value(|t| t.chat);
    let last = move || chat.with(|c| c.last_answer().map(|m| (m.id.clone(), m.helpful)));
    move || {
        let (id, helpful) = last()?;
        Some(match helpful {
            None => {
                let no = id.clone();
                view! {
                    <div class="tl-feedback" role="group" aria-label="Did that help?">
                        <span>"Did that help?"</span>
                        <button class="tl-chip" data-action="helpful-yes" on:click=move |_| transport.with_value(|t| t.feedback(id.clone(), true))>"Yes"</button>
                        <button class="tl-chip" data-action="helpful-no" on:click=move |_| transport.with_value(|t| t.feedback(no.clone(), false))>"No"</button>
                    </div>
                }
                .into_any()
            }
            Some(true) => view! { <p class="tl-feedback" role="status">"Glad that helped. Anything else?"</p> }.into_any(),
            Some(false) => view! {
                <p class="tl-feedback" role="status">"Sorry that didn't help. Try asking another way, or talk to a person."</p>
            }
            .into_any(),
        })
    }
}

/// "How did we do?" once a person resolved the conversation: one tap, 1 to 5.
#[component]
fn RatingOffer(transport: StoredValue<Rc<Transport>, LocalStorage>) -> impl IntoView {
    let chat = transport.with_value(|t| t.chat);
    move || match chat.with(|c| c.rating) {
        RatingPrompt::Hidden => None,
        RatingPrompt::Asking => Some(
            view! {
                <div class="tl-feedback tl-rating" role="group" aria-label="How did we do?">
                    <span>"How did we do?"</span>
                    {(1..=5u8)
                        .map(|score| view! {
                            <button
                                class="tl-chip"
                                data-score=score
                                aria-label=format!("{score} of 5")
                                on:click=move |_| transport.with_value(|t| t.rate(score))
                            >
                                {score}
                            </button>
                        })
                        .collect_view()}
                </div>
            }
            .into_any(),
        ),
        RatingPrompt::Thanks(_) => {
            Some(view! { <p class="tl-feedback" role="status">"Thanks for rating us."</p> }.into_any())
        }
    }
}

/// "Continue on another channel": pick one, then follow its link (or send the code by hand).
#[component]
fn ContinueOffer(transport: StoredValue<Rc<Transport>, LocalStorage>) -> impl IntoView {
    let (moving, channels, chat) = transport.with_value(|t| (t.moving, t.channels, t.chat));
    let arrived = move || moving.with(|m| chat.with(|c| m.arrived(&c.messages)));
    move || {
        if channels.with(Vec::is_empty) {
            return None;
        }
        Some(match moving.get() {
            Moving::Closed => view! {
                <div class="tl-continue">
                    <button class="tl-link" data-action="continue" on:click=move |_| transport.with_value(|t| t.choose_channel(true))>
                        "Continue on another channel"
                    </button>
                </div>
            }
            .into_any(),
            Moving::Choosing => view! {
                <div class="tl-verify" role="group" aria-label="Continue on another channel">
                    <p>"Carry on where it suits you; this conversation comes along."</p>
                    <div class="tl-verify-actions tl-channels">
                        {channels
                            .get()
                            .into_iter()
                            .map(|channel| view! {
                                <button class="tl-handoff" data-channel=channel.as_str() on:click=move |_| transport.with_value(|t| t.start_continue(channel))>
                                    {channel_name(channel)}
                                </button>
                            })
                            .collect_view()}
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.choose_channel(false))>"Cancel"</button>
                    </div>
                </div>
            }
            .into_any(),
            Moving::Creating { channel } => view! {
                <div class="tl-verify" role="status"><p>{format!("Getting your {} link…", channel_name(channel))}</p></div>
            }
            .into_any(),
            Moving::Ready { invitation } => {
                let name = channel_name(invitation.channel);
                if arrived() {
                    view! {
                        <div class="tl-verify tl-verified" role="status" data-state="connected">
                            <p>{format!("Connected on {name}: carry on there whenever you like. Replies reach you there.")}</p>
                        </div>
                    }
                    .into_any()
                } else {
                    let minutes = invitation.expires_at.saturating_sub((js_sys::Date::now() / 1000.0) as u64).div_ceil(60);
                    view! {
                        <div class="tl-verify" role="group" aria-label=format!("Continue on {name}") data-state="invited">
                            <a class="tl-handoff tl-open" href=invitation.link target="_blank" rel="noopener noreferrer">
                                {format!("Open {name}")}
                            </a>
                            <p class="tl-manual">
                                "Or send " <code class="tl-code-text">{invitation.text}</code> " to " <strong>{invitation.to}</strong>
                                {format!(". The code works once, for {minutes} minutes.")}
                            </p>
                            <button class="tl-link" on:click=move |_| transport.with_value(|t| t.choose_channel(false))>"Cancel"</button>
                        </div>
                    }
                    .into_any()
                }
            }
            Moving::Failed { error } => view! {
                <div class="tl-verify" role="alert">
                    <p class="tl-failed">{error}</p>
                    <button class="tl-link" on:click=move |_| transport.with_value(|t| t.choose_channel(true))>"Try again"</button>
                </div>
            }
            .into_any(),
        })
    }
}

#[component]
fn MessageRow(row: Row, transport: StoredValue<Rc<Transport>, LocalStorage>) -> impl IntoView {
    match row {
        Row::Stored(message) => stored_message(message).into_any(),
        Row::Pending { id, text, failed } => {
            let failed_view = failed.map(|reason| {
                view! {
                    <p class="tl-failed">
                        {reason} " "
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.dismiss(&id))>"Dismiss"</button>
                    </p>
                }
            });
            view! {
                <li class="tl-message tl-visitor tl-pending" data-role="visitor" data-state="pending">
                    <div class="tl-bubble">{text}</div>
                    {failed_view}
                </li>
            }
            .into_any()
        }
    }
}

fn stored_message(message: Message) -> impl IntoView {
    let role = match message.role {
        Role::Visitor => "visitor",
        Role::Bot => "bot",
        Role::Agent => "agent",
    };
    let kind = match &message.bot {
        Some(BotDetail::Answer { .. }) => "answer",
        Some(BotDetail::NoAnswer { .. }) => "no_answer",
        Some(BotDetail::HandoffRequested { .. }) => "handoff",
        None => "",
    };
    let source = match message.bot {
        Some(BotDetail::Answer { article, .. }) => Some(match article.url {
            Some(url) => view! {
                <p class="tl-source">"From " <a href=url target="_blank" rel="noopener noreferrer">{article.title}</a></p>
            }
            .into_any(),
            None => view! { <p class="tl-source">"From " <cite>{article.title}</cite></p> }.into_any(),
        }),
        _ => None,
    };
    // Text is always rendered as text: Leptos escapes it, so nothing a visitor, an article or
    // an agent writes can inject markup.
    view! {
        <li class=format!("tl-message tl-{role}") data-role=role data-kind=kind data-seq=message.seq>
            <div class="tl-bubble">{message.text}</div>
            {source}
        </li>
    }
}

/// SVG paths of the widget's icons, on a 24 × 24 grid.
const CHAT_ICON: &str = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
const CLOSE_ICON: &str =
    "M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z";
const SEND_ICON: &str = "M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z";

/// A decorative icon: hidden from assistive technology, which reads the button's label instead.
#[component]
fn Icon(path: &'static str, size: u32) -> impl IntoView {
    view! {
        <svg viewBox="0 0 24 24" width=size height=size aria-hidden="true" focusable="false">
            <path fill="currentColor" d=path/>
        </svg>
    }
}
