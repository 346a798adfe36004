//! Plain JavaScript objects and JSON text, built with the browser's own `JSON` rather than a
//! JSON library compiled into the widget (the widget's weight is a product feature).

use wasm_bindgen::JsValue;

/// An object with `fields`.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in fields {
        let _ = js_sys::Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

/// `value` as JSON text (`JSON.stringify`); `null` for what JSON cannot hold.
pub fn stringify(value: &JsValue) -> String {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| "null".to_owned())
}

/// JSON text of an object with `fields`.
pub fn json(fields: &[(&str, JsValue)]) -> String {
    stringify(&object(fields))
}
