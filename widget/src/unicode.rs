//! The Unicode data the widget's email checks use (`shared::identity::Unicode`): the browser's in
//! the widget, so Rust's tables (case mappings, alphabetic ranges: 8.4 KB brotli) stay out of
//! the download; natively (the tests) the standard library's. Both apply the same Unicode data.

/// What `shared::identity::find_email_with` is given here.
#[cfg(target_arch = "wasm32")]
pub const UNICODE: shared::identity::Unicode = shared::identity::Unicode {
    lowercase,
    is_alphanumeric: |c| c.is_ascii_alphanumeric() || (!c.is_ascii() && browser_alphanumeric(c)),
};
#[cfg(not(target_arch = "wasm32"))]
pub const UNICODE: shared::identity::Unicode = shared::identity::Unicode::RUST;

/// `text` in lower case by Unicode's default case mapping (see [`UNICODE`]).
pub fn lowercase(text: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    return js_sys::JsString::from(text).to_lower_case().into();
    #[cfg(not(target_arch = "wasm32"))]
    return text.to_lowercase();
}

/// Whether the browser's Unicode data calls `c` alphabetic or numeric, as `char::is_alphanumeric`.
#[cfg(target_arch = "wasm32")]
fn browser_alphanumeric(c: char) -> bool {
    thread_local! {
        static ALPHANUMERIC: js_sys::RegExp = js_sys::RegExp::new(r"^[\p{Alphabetic}\p{N}]$", "u");
    }
    ALPHANUMERIC.with(|pattern| pattern.test(c.encode_utf8(&mut [0; 4])))
}
