//! The mounted widget's words: the table of the visitor's language the edge served with the site's
//! widget settings (`shared::i18n::Words`), else English; and the language tag dates and times
//! are formatted for (`Intl`).

use std::cell::{Cell, RefCell};

pub use shared::i18n::{Segment, Text, Words, segments};

thread_local! {
    static WORDS: Cell<Words> = Cell::new(Words::default());
    static FORMAT_TAG: RefCell<String> = RefCell::new(String::from("en"));
}

/// Sets what `t` and `tf` say, and the tag dates are formatted for (at mount).
pub fn set_current(words: Words, format_tag: &str) {
    WORDS.with(|current| current.set(words));
    FORMAT_TAG.with(|tag| *tag.borrow_mut() = format_tag.to_owned());
}

pub fn words() -> Words {
    WORDS.with(Cell::get)
}

pub fn format_tag() -> String {
    FORMAT_TAG.with(|tag| tag.borrow().clone())
}

/// `key` in the mounted widget's words.
pub fn t(key: Text) -> &'static str {
    words().text(key)
}

/// `key` in the mounted widget's words, placeholders filled.
pub fn tf(key: Text, values: &[(&str, &str)]) -> String {
    words().fill(key, values)
}
