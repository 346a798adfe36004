//! Events for the page: `Threadline('on', name, handler)` registers handlers in the loader, which
//! hands `mount` its `emit` function; the widget calls it here.

use std::cell::RefCell;

use wasm_bindgen::JsValue;

use crate::state::WidgetEvent;

thread_local! {
    static EMIT: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Keeps the loader's `emit(name, detail)`.
pub fn set_emitter(emit: js_sys::Function) {
    EMIT.with(|slot| *slot.borrow_mut() = Some(emit));
}

/// Tells the page's handlers of `name`, with `detail` (or nothing).
pub fn emit(name: &str, detail: Option<JsValue>) {
    let detail = detail.unwrap_or(JsValue::UNDEFINED);
    EMIT.with(|slot| {
        if let Some(emit) = slot.borrow().as_ref() {
            let _ = emit.call2(&JsValue::NULL, &JsValue::from_str(name), &detail);
        }
    });
}

/// Tells the page of a conversation event.
pub fn emit_event(event: &WidgetEvent) {
    match event {
        // What a page may show or count: never the bot's internal details.
        WidgetEvent::Message(message) => emit(
            event.name(),
            Some(crate::js::object(&[
                ("id", message.id.as_str().into()),
                ("role", message.role.as_str().into()),
                ("text", message.text.as_str().into()),
                ("at", (message.at as f64).into()),
                ("channel", message.channel.as_str().into()),
            ])),
        ),
        WidgetEvent::Escalated => emit(event.name(), None),
    }
}
