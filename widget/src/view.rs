//! The launcher and the chat panel, drawn with Leptos inside the shadow root the loader made.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use shared::limits::MAX_MESSAGE_CHARS;
use shared::widget_settings::{Availability, FieldKind, Hours, Position};
use shared::wire::{BotDetail, ConversationStatus, Message, Role, WidgetConfig};
use wasm_bindgen::prelude::*;

use crate::i18n::{self, Segment, Text, Words, t, tf};
use crate::state::{self, EmailCheck, Moving, RatingPrompt, Row, channel_name};
use crate::transport::{Connection, Transport};
use shared::i18n::Locale;

const STYLE: &str = include_str!("widget.css");

thread_local! {
    /// The mounted widget's open/closed signal, for `Threadline('open')` and friends.
    static OPEN: RefCell<Option<RwSignal<bool>>> = const { RefCell::new(None) };
    /// The mounted widget's connection, for `Threadline('identify', ...)` and `shutdown`.
    static TRANSPORT: RefCell<Option<Rc<Transport>>> = const { RefCell::new(None) };
}

/// Mounts the widget into `container` (a node inside the loader's shadow root).
/// `options`: `{ site: string, api: string, open: boolean, emit?: (name, detail) => void,
/// config?: WidgetConfig }` (`config` as `GET /v1/sites/{site}/widget` returned it, if it did).
/// Returns a promise that resolves once the widget is drawn: the settings and styles are applied
/// in the calling task and the Leptos render runs in the next, so that V8's first compilation of
/// the functions each part runs (it compiles Wasm lazily) is two short tasks, not one long one.
#[wasm_bindgen]
pub async fn mount(container: web_sys::HtmlElement, options: JsValue) -> Result<(), JsValue> {
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
    let mut config: WidgetConfig = get("config")
        .filter(JsValue::is_object)
        .and_then(|v| js_sys::JSON::stringify(&v).ok()?.as_string())
        .and_then(|text| shared::wire::lite::decode(&text))
        .unwrap_or_default();
    // The edge chose the language (the site's setting, else the browser's, else English) and
    // sent its words; without them (no config), English in the browser's own format.
    let locale = Locale::from_tag(&config.locale).unwrap_or_default();
    let format_tag = match config.format_tag.as_str() {
        "" => web_sys::window()
            .and_then(|w| w.navigator().language())
            .unwrap_or_else(|| "en".to_owned()),
        tag => tag.to_owned(),
    };
    i18n::set_current(Words::from_table(std::mem::take(&mut config.strings)), &format_tag);
    container.set_attribute("lang", locale.tag())?;
    container.set_attribute("dir", if locale.rtl() { "rtl" } else { "ltr" })?;
    if config.widget.position == Position::Left {
        container.set_attribute("data-position", "left")?;
    }
    // The widget's styles as a constructed stylesheet (allowed under a strict CSP); a <style>
    // element where the browser has none.
    // The site's colours come worked out by the edge (`shared::widget_theme`).
    let css = STYLE.to_owned() + &config.theme_css;
    let inline_css = (!adopt_styles(&container, &css)).then_some(css);
    next_task().await;
    leptos::mount::mount_to(
        container,
        move || view! { <App site api initially_open=open config inline_css/> },
    )
    .forget();
    Ok(())
}

/// Resolves in a task of its own (a zero-delay timer), so that the work before and after the
/// await are two tasks on the page's main thread rather than one long one. Without a timer (no
/// window, or it refused) it resolves at once rather than never.
async fn next_task() {
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let scheduled = web_sys::window().is_some_and(|window| window.set_timeout_with_callback(&resolve).is_ok());
        if !scheduled {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(timer).await;
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
        other => return Err(JsValue::from_str(&format!("Threadline: unknown command '{other}'"))),
    }
    Ok(())
}

/// Adds `css` to the shadow root `container` is in, as a constructed stylesheet; false when the
/// browser cannot (no `adoptedStyleSheets`).
fn adopt_styles(container: &web_sys::HtmlElement, css: &str) -> bool {
    let adopted = (|| {
        let root: JsValue = container.get_root_node().into();
        let existing = js_sys::Reflect::get(&root, &"adoptedStyleSheets".into()).ok()?;
        if existing.is_undefined() {
            return None;
        }
        let constructor: js_sys::Function = js_sys::Reflect::get(&js_sys::global(), &"CSSStyleSheet".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let sheet = js_sys::Reflect::construct(&constructor, &js_sys::Array::new()).ok()?;
        let replace: js_sys::Function = js_sys::Reflect::get(&sheet, &"replaceSync".into())
            .ok()?
            .dyn_into()
            .ok()?;
        replace.call1(&sheet, &css.into()).ok()?;
        let sheets = js_sys::Array::from(&existing);
        sheets.push(&sheet);
        js_sys::Reflect::set(&root, &"adoptedStyleSheets".into(), &sheets).ok()
    })();
    adopted == Some(true)
}

/// A JS API argument, if it is a plain object (not an array, a function or null).
fn object(argument: &JsValue) -> Option<JsValue> {
    (argument.is_object() && !js_sys::Array::is_array(argument)).then(|| argument.clone())
}

#[component]
fn App(
    site: String,
    api: String,
    initially_open: bool,
    config: WidgetConfig,
    inline_css: Option<String>,
) -> impl IntoView {
    let launcher_icon = config.widget.launcher_icon.path();
    let config = StoredValue::new(config);
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
        {inline_css.map(|css| view! { <style>{css}</style> })}
        <Show when=move || open.get()>
            <Panel transport close config/>
        </Show>
        <button
            class="tl-launcher"
            node_ref=launcher
            aria-label=move || match (open.get(), unread()) {
                (true, _) => t(Text::CloseChat).to_owned(),
                (false, 0) => t(Text::OpenChat).to_owned(),
                (false, 1) => t(Text::OpenChatOneUnread).to_owned(),
                (false, n) => tf(Text::OpenChatUnread, &[("n", &n.to_string())]),
            }
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)
        >
            <Show when=move || open.get() fallback=move || view! { <Icon path=launcher_icon size=26/> }>
                <Icon path=CLOSE_ICON size=22/>
            </Show>
            <Show when=move || { unread() > 0 }>
                <span class="tl-badge" aria-hidden="true">{move || unread().min(99)}</span>
            </Show>
        </button>
    }
}

#[component]
fn Panel(
    transport: StoredValue<Rc<Transport>, LocalStorage>,
    close: impl Fn() + Copy + 'static,
    config: StoredValue<WidgetConfig>,
) -> impl IntoView {
    let (chat, connection, notice, pre_chat_done) =
        transport.with_value(|t| (t.chat, t.connection, t.notice, t.pre_chat_done));
    // When the team is away, and when it is back (in the visitor's words and time zone), read
    // each time the panel opens.
    let away = config.with_value(|c| c.widget.hours.as_ref().and_then(team_back_at));
    let greeting = config
        .with_value(|c| c.widget.greeting.clone())
        .unwrap_or_else(|| t(Text::Greeting).to_owned());
    let has_pre_chat = config.with_value(|c| !c.widget.pre_chat.is_empty());
    let asking_first =
        move || has_pre_chat && !pre_chat_done.get() && chat.with(|c| c.messages.is_empty() && c.outbox.is_empty());
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
            aria-label=t(Text::PanelLabel)
            on:keydown=move |event: web_sys::KeyboardEvent| {
                if event.key() == "Escape" {
                    close();
                }
            }
        >
            <header class="tl-header">
                <div>
                    <h2 class="tl-title">{t(Text::Support)}</h2>
                    <p class="tl-subtitle">
                        {
                            let away = away.clone();
                            move || match (connection.get(), chat.with(|c| c.status), &away) {
                                (Connection::Stopped(_), _, _) => t(Text::StatusUnavailable).to_owned(),
                                (Connection::Offline { .. }, _, _) => t(Text::StatusReconnecting).to_owned(),
                                (Connection::Connecting | Connection::Idle, _, _) => t(Text::StatusConnecting).to_owned(),
                                (Connection::Online, _, Some(back)) => tf(Text::StatusAway, &[("time", back)]),
                                (Connection::Online, ConversationStatus::WaitingForHuman, None) => t(Text::StatusWaiting).to_owned(),
                                (Connection::Online, ConversationStatus::Bot, None) => t(Text::StatusBot).to_owned(),
                            }
                        }
                    </p>
                </div>
                <button class="tl-close" aria-label=t(Text::CloseChat) on:click=move |_| close()>
                    <Icon path=CLOSE_ICON size=22/>
                </button>
            </header>
            <Show when=move || notice.with(Option::is_some)>
                <p class="tl-notice" role="alert">{move || notice.get().unwrap_or_default()}</p>
            </Show>
            <ol class="tl-messages" node_ref=list aria-live="polite" aria-label=t(Text::ConversationLabel)>
                <Show when=move || chat.with(|c| c.messages.is_empty() && c.outbox.is_empty())>
                    <li class="tl-empty">{greeting.clone()}</li>
                </Show>
                <For each=move || chat.with(|c| c.rows()) key=Row::key let:row>
                    <MessageRow row transport/>
                </For>
                {move || {
                    chat.with(|c| c.writer(js_sys::Date::now() as u64))
                        .map(|name| view! {
                            <li class="tl-typing" data-role="typing">
                                <span class="tl-dots" aria-hidden="true"><i></i><i></i><i></i></span>
                                {tf(Text::Writing, &[("name", &name)])}
                            </li>
                        })
                }}
            </ol>
            <Feedback transport/>
            <RatingOffer transport/>
            {away.clone().map(|back| view! { <AwayOffer transport back/> })}
            <EmailOffer transport/>
            <ContinueOffer transport/>
            <Show when=move || chat.with(|c| c.offers_person())>
                <div class="tl-actions">
                    <button class="tl-handoff" on:click=move |_| transport.with_value(|t| t.request_human())>
                        {t(Text::TalkToPerson)}
                    </button>
                </div>
            </Show>
            <Show when=asking_first>
                <PreChat transport config/>
            </Show>
            <form
                class="tl-composer"
                hidden=asking_first
                on:submit=move |event| {
                    event.prevent_default();
                    submit();
                }
            >
                <textarea
                    node_ref=input
                    rows="1"
                    aria-label=t(Text::MessageLabel)
                    placeholder=t(Text::Placeholder)
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                    on:keydown=move |event: web_sys::KeyboardEvent| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            submit();
                        }
                    }
                ></textarea>
                <button type="submit" class="tl-send" aria-label=t(Text::Send) disabled=move || too_long() || stopped()>
                    <Icon path=SEND_ICON size=20/>
                </button>
            </form>
            <Show when=too_long>
                <p class="tl-limit" role="status">
                    {move || tf(Text::TooLongCount, &[("n", &n_chars().to_string()), ("max", &MAX_MESSAGE_CHARS.to_string())])}
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
                <div class="tl-verify" role="group" aria-label=t(Text::ContinueAnyDevice)>
                    <p>{with_slots(Text::VerifyOffer, |_| view! { <strong>{email.clone()}</strong> }.into_any())}</p>
                    <div class="tl-verify-actions">
                        <button class="tl-handoff" data-action="send-code" on:click=move |_| transport.with_value(|t| t.send_code())>{t(Text::SendCode)}</button>
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.decline_email())>{t(Text::NoThanks)}</button>
                    </div>
                </div>
            }
            .into_any(),
        ),
        EmailCheck::Sending { .. } => Some(view! { <div class="tl-verify" role="status"><p>{t(Text::SendingCode)}</p></div> }.into_any()),
        EmailCheck::CodeSent { sent_to, error, .. } => Some(
            view! {
                <form
                    class="tl-verify"
                    on:submit=move |event| {
                        event.prevent_default();
                        submit();
                    }
                >
                    <label for="tl-code">{tf(Text::EnterCode, &[("address", &sent_to)])}</label>
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
                        <button type="submit" class="tl-handoff" data-action="verify-code">{t(Text::Verify)}</button>
                    </div>
                    {error.map(|e| view! { <p class="tl-failed" role="alert">{e}</p> })}
                </form>
            }
            .into_any(),
        ),
        EmailCheck::Verifying { .. } => Some(view! { <div class="tl-verify" role="status"><p>{t(Text::CheckingCode)}</p></div> }.into_any()),
        EmailCheck::Verified { email } => Some(
            view! {
                <div class="tl-verify tl-verified" role="status">
                    <p>{with_slots(Text::Verified, |_| view! { <strong>{email.clone()}</strong> }.into_any())}</p>
                </div>
            }
            .into_any(),
        ),
        EmailCheck::Failed { error, .. } => Some(
            view! {
                <div class="tl-verify" role="alert">
                    <p class="tl-failed">{error}</p>
                    <div class="tl-verify-actions">
                        <button class="tl-handoff" data-action="send-code" on:click=move |_| transport.with_value(|t| t.send_code())>{t(Text::SendNewCode)}</button>
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.decline_email())>{t(Text::NotNow)}</button>
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
                    <div class="tl-feedback" role="group" aria-label=t(Text::DidThatHelp)>
                        <span>{t(Text::DidThatHelp)}</span>
                        <button class="tl-chip" data-action="helpful-yes" on:click=move |_| transport.with_value(|t| t.feedback(id.clone(), true))>{t(Text::Yes)}</button>
                        <button class="tl-chip" data-action="helpful-no" on:click=move |_| transport.with_value(|t| t.feedback(no.clone(), false))>{t(Text::No)}</button>
                    </div>
                }
                .into_any()
            }
            Some(true) => view! { <p class="tl-feedback" role="status">{t(Text::GladItHelped)}</p> }.into_any(),
            Some(false) => view! {
                <p class="tl-feedback" role="status">{t(Text::SorryNotHelped)}</p>
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
                <div class="tl-feedback tl-rating" role="group" aria-label=t(Text::HowDidWeDo)>
                    <span>{t(Text::HowDidWeDo)}</span>
                    {(1..=5u8)
                        .map(|score| view! {
                            <button
                                class="tl-chip"
                                data-score=score
                                aria-label=tf(Text::ScoreOfFive, &[("score", &score.to_string())])
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
            Some(view! { <p class="tl-feedback" role="status">{t(Text::ThanksForRating)}</p> }.into_any())
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
                        {t(Text::ContinueElsewhere)}
                    </button>
                </div>
            }
            .into_any(),
            Moving::Choosing => view! {
                <div class="tl-verify" role="group" aria-label=t(Text::ContinueElsewhere)>
                    <p>{t(Text::ContinuePitch)}</p>
                    <div class="tl-verify-actions tl-channels">
                        {channels
                            .get()
                            .into_iter()
                            .map(|channel| view! {
                                <button class="tl-handoff" data-channel=channel.as_str() on:click=move |_| transport.with_value(|t| t.start_continue(channel))>
                                    {channel_name(channel, i18n::words())}
                                </button>
                            })
                            .collect_view()}
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.choose_channel(false))>{t(Text::Cancel)}</button>
                    </div>
                </div>
            }
            .into_any(),
            Moving::Creating { channel } => view! {
                <div class="tl-verify" role="status"><p>{tf(Text::GettingLink, &[("channel", channel_name(channel, i18n::words()))])}</p></div>
            }
            .into_any(),
            Moving::Ready { invitation } => {
                let name = channel_name(invitation.channel, i18n::words());
                if arrived() {
                    view! {
                        <div class="tl-verify tl-verified" role="status" data-state="connected">
                            <p>{tf(Text::ConnectedOn, &[("channel", name)])}</p>
                        </div>
                    }
                    .into_any()
                } else {
                    let minutes = invitation.expires_at.saturating_sub((js_sys::Date::now() / 1000.0) as u64).div_ceil(60).to_string();
                    let (text, to) = (invitation.text, invitation.to);
                    view! {
                        <div class="tl-verify" role="group" aria-label=tf(Text::ContinueOn, &[("channel", name)]) data-state="invited">
                            <a class="tl-handoff tl-open" href=invitation.link target="_blank" rel="noopener noreferrer">
                                {tf(Text::OpenChannel, &[("channel", name)])}
                            </a>
                            <p class="tl-manual">
                                {with_slots(Text::SendByHand, |slot| match slot {
                                    "code" => view! { <code class="tl-code-text">{text.clone()}</code> }.into_any(),
                                    "to" => view! { <strong>{to.clone()}</strong> }.into_any(),
                                    _ => minutes.clone().into_any(),
                                })}
                            </p>
                            <button class="tl-link" on:click=move |_| transport.with_value(|t| t.choose_channel(false))>{t(Text::Cancel)}</button>
                        </div>
                    }
                    .into_any()
                }
            }
            Moving::Failed { error } => view! {
                <div class="tl-verify" role="alert">
                    <p class="tl-failed">{error}</p>
                    <button class="tl-link" on:click=move |_| transport.with_value(|t| t.choose_channel(true))>{t(Text::TryAgain)}</button>
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
                        <button class="tl-link" on:click=move |_| transport.with_value(|t| t.dismiss(&id))>{t(Text::Dismiss)}</button>
                    </p>
                }
            });
            view! {
                <li class="tl-message tl-visitor tl-pending" data-role="visitor" data-state="pending">
                    <div class="tl-bubble" dir="auto">{text}</div>
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
        Some(BotDetail::Call(_)) => "call",
        Some(BotDetail::BugFixed { .. }) => "bug_fixed",
        None => "",
    };
    let source = match message.bot {
        Some(BotDetail::Answer { article, .. }) => Some(view! {
            <p class="tl-source">
                {with_slots(Text::FromArticle, |_| match article.url.clone() {
                    Some(url) => view! { <a href=url target="_blank" rel="noopener noreferrer">{article.title.clone()}</a> }.into_any(),
                    None => view! { <cite>{article.title.clone()}</cite> }.into_any(),
                })}
            </p>
        }),
        _ => None,
    };
    let (when, datetime) = message_time(message.at);
    // Text is always rendered as text: Leptos escapes it, so nothing a visitor, an article or
    // an agent writes can inject markup.
    view! {
        <li class=format!("tl-message tl-{role}") data-role=role data-kind=kind data-seq=message.seq>
            <div class="tl-bubble" dir="auto">{message.text}</div>
            {source}
            <time class="tl-time" datetime=datetime>{when}</time>
        </li>
    }
}

/// SVG paths of the widget's icons, on a 24 × 24 grid (the launcher's is the site's choice).
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

/// A text whose placeholders are markup (or live values) that `fill` draws.
fn with_slots(key: Text, fill: impl Fn(&str) -> AnyView) -> Vec<AnyView> {
    i18n::segments(t(key))
        .map(|segment| match segment {
            Segment::Text(text) => text.to_owned().into_any(),
            Segment::Slot(name) => fill(name),
        })
        .collect()
}

/// Calls a `Date` method by name with `args`, catching what it throws (an unknown time zone).
fn date_call(date: &js_sys::Date, method: &str, args: &[JsValue]) -> Option<String> {
    let function: js_sys::Function = js_sys::Reflect::get(date, &method.into()).ok()?.dyn_into().ok()?;
    let args: js_sys::Array = args.iter().collect();
    js_sys::Reflect::apply(&function, date, &args).ok()?.as_string()
}

fn options(pairs: &[(&str, &str)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in pairs {
        let _ = js_sys::Reflect::set(&object, &(*key).into(), &(*value).into());
    }
    object.into()
}

/// A message's time for the visitor (with the date when not from today), and as ISO 8601.
fn message_time(at_ms: u64) -> (String, String) {
    let date = js_sys::Date::new(&JsValue::from_f64(at_ms as f64));
    let today = js_sys::Date::new_0().to_date_string() == date.to_date_string();
    let fields: &[(&str, &str)] = if today {
        &[("hour", "numeric"), ("minute", "2-digit")]
    } else {
        &[
            ("month", "short"),
            ("day", "numeric"),
            ("hour", "numeric"),
            ("minute", "2-digit"),
        ]
    };
    let locale: JsValue = i18n::format_tag().into();
    let when = date_call(&date, "toLocaleString", &[locale, options(fields)]).unwrap_or_default();
    (when, date.to_iso_string().into())
}

/// When the team is back, in the visitor's language and time zone, if it is away now.
fn team_back_at(hours: &Hours) -> Option<String> {
    let now = js_sys::Date::new_0();
    let zone_options = options(&[
        ("timeZone", &hours.time_zone),
        ("weekday", "short"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("hourCycle", "h23"),
    ]);
    let clock = date_call(&now, "toLocaleString", &["en-US".into(), zone_options])?;
    let (day, minute) = state::zone_clock(&clock)?;
    let Availability::Closed { back_in_minutes } = hours.at(day, minute) else {
        return None;
    };
    let back = js_sys::Date::new(&JsValue::from_f64(
        now.get_time() + f64::from(back_in_minutes) * 60_000.0,
    ));
    let fields = options(&[("weekday", "long"), ("hour", "numeric"), ("minute", "2-digit")]);
    date_call(&back, "toLocaleString", &[i18n::format_tag().into(), fields])
}

/// The team is away: say when it is back, and offer to reply by email (verified by a code, so
/// nobody can have someone else's conversation sent to them).
#[component]
fn AwayOffer(transport: StoredValue<Rc<Transport>, LocalStorage>, back: String) -> impl IntoView {
    let (chat, check) = transport.with_value(|t| (t.chat, t.email));
    let email = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let wanted = move || {
        chat.with(|c| c.status == ConversationStatus::WaitingForHuman || c.offers_person())
            && check.with(|c| matches!(c, EmailCheck::Idle))
    };
    let submit = move || {
        let typed = crate::unicode::lowercase(email.get_untracked().trim());
        match shared::identity::find_email_with(&typed, crate::unicode::UNICODE) {
            Some(found) if found == typed => {
                problem.set(None);
                transport.with_value(|t| t.offer_email(found, true));
            }
            _ => problem.set(Some(t(Text::EmailInvalid))),
        }
    };
    move || {
        wanted().then(|| {
            view! {
                <form
                    class="tl-verify tl-away"
                    data-state="away"
                    novalidate=true
                    on:submit=move |event| {
                        event.prevent_default();
                        submit();
                    }
                >
                    <p>{tf(Text::AwayNotice, &[("time", &back)])}</p>
                    <label for="tl-away-email">{t(Text::AwayAskEmail)}</label>
                    <div class="tl-verify-actions">
                        <input
                            id="tl-away-email"
                            class="tl-field"
                            type="email"
                            autocomplete="email"
                            placeholder=t(Text::EmailAddress)
                            prop:value=move || email.get()
                            on:input=move |event| email.set(event_target_value(&event))
                        />
                        <button type="submit" class="tl-handoff" data-action="reply-by-email">{t(Text::ReplyByEmail)}</button>
                    </div>
                    {move || problem.get().map(|p| view! { <p class="tl-failed" role="alert">{p}</p> })}
                </form>
            }
        })
    }
}

/// The site's pre-chat fields, asked before the first message.
#[component]
fn PreChat(transport: StoredValue<Rc<Transport>, LocalStorage>, config: StoredValue<WidgetConfig>) -> impl IntoView {
    let fields = config.with_value(|c| c.widget.pre_chat.clone());
    let values: Vec<RwSignal<String>> = fields.iter().map(|_| RwSignal::new(String::new())).collect();
    let problem = RwSignal::new(None::<String>);
    // Focus moves to the first field when the form appears.
    let form = NodeRef::<html::Form>::new();
    Effect::new(move |_| {
        let first = form.get().and_then(|f| f.query_selector("input").ok().flatten());
        if let Some(input) = first.and_then(|i| i.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = input.focus();
        }
    });
    let submit = {
        let (fields, values) = (fields.clone(), values.clone());
        move || {
            let typed: Vec<String> = values.iter().map(|v| v.get_untracked()).collect();
            match state::pre_chat_answers(&fields, &typed, i18n::words()) {
                Ok(answers) => {
                    let email = fields
                        .iter()
                        .find(|f| f.kind == FieldKind::Email)
                        .and_then(|f| answers.iter().find(|(name, _)| *name == f.name))
                        .map(|(_, value)| value.clone());
                    transport.with_value(|t| t.finish_pre_chat(answers, email));
                }
                Err(why) => problem.set(Some(why)),
            }
        }
    };
    let inputs = fields
        .into_iter()
        .zip(values)
        .enumerate()
        .map(|(i, (field, value))| {
            let id = format!("tl-pre-{i}");
            let kind = match field.kind {
                FieldKind::Text => "text",
                FieldKind::Email => "email",
                FieldKind::Tel => "tel",
            };
            view! {
                <label for=id.clone()>
                    {field.label}
                    {(!field.required).then(|| view! { <span class="tl-optional">{format!(" ({})", t(Text::Optional))}</span> })}
                </label>
                <input
                    id=id.clone()
                    class="tl-field"
                    type=kind
                    name=field.name.clone()
                    required=field.required
                    maxlength=shared::widget_settings::MAX_FIELD_VALUE_CHARS
                    prop:value=move || value.get()
                    on:input=move |event| value.set(event_target_value(&event))
                />
            }
        })
        .collect_view();
    view! {
        <form
            class="tl-verify tl-pre-chat"
            node_ref=form
            // Our own messages, in the widget's language, rather than the browser's bubbles.
            novalidate=true
            on:submit=move |event| {
                event.prevent_default();
                submit();
            }
        >
            <p>{t(Text::PreChatIntro)}</p>
            {inputs}
            {move || problem.get().map(|p| view! { <p class="tl-failed" role="alert">{p}</p> })}
            <button type="submit" class="tl-handoff" data-action="start-chat">{t(Text::StartChat)}</button>
        </form>
    }
}
