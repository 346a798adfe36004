//! Validation of what visitors send: message text and client-generated message ids.

use crate::limits::{MAX_CLIENT_ID_BYTES, MAX_MESSAGE_CHARS};

/// Why a message text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("message is empty")]
    Empty,
    #[error("message is {n_chars} characters long; the limit is {limit} characters")]
    TooLong { n_chars: usize, limit: usize },
    #[error("message contains a control character (U+{code_point:04X}); only text, tabs and newlines are accepted")]
    ControlCharacter { code_point: u32 },
}

/// Returns the text as it will be stored: trimmed of surrounding whitespace, with Windows line
/// endings made plain. Refuses empty text, text over `MAX_MESSAGE_CHARS`, and control
/// characters other than tab and newline (they have no business in a chat and some terminals and
/// log viewers act on them).
pub fn validate_text(text: &str) -> Result<String, TextError> {
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    let n_chars = text.chars().count();
    if n_chars > MAX_MESSAGE_CHARS {
        return Err(TextError::TooLong {
            n_chars,
            limit: MAX_MESSAGE_CHARS,
        });
    }
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n' && c != '\t') {
        return Err(TextError::ControlCharacter { code_point: c as u32 });
    }
    Ok(text)
}

/// Client ids are short opaque tokens (the widget uses a random UUID). Keeping them to a small
/// alphabet keeps them safe in logs, URLs and SQL.
pub fn validate_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("`id` must not be empty".into());
    }
    if id.len() > MAX_CLIENT_ID_BYTES {
        return Err(format!(
            "`id` is {} bytes long; the limit is {MAX_CLIENT_ID_BYTES}",
            id.len()
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("`id` may only contain ASCII letters, digits, '-' and '_'".into());
    }
    Ok(())
}

/// `text` made safe as HTML or XML text and attribute values: `&`, `<`, `>`, `"` and `'` become
/// entities (`&#39;`, which HTML and XML both read), and control characters neither may carry
/// become spaces.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, ending in "…" when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<&str, TextError>) {
        assert_eq!(validate_text(text), expected.map(str::to_owned));
    }

    #[test]
    fn text() {
        check("  hello \r\n there  ", Ok("hello \n there"));
        check("tab\tok", Ok("tab\tok"));
        check(" \n\t ", Err(TextError::Empty));
        check("bell\u{7}", Err(TextError::ControlCharacter { code_point: 7 }));
        check("bidi \u{202e} is not a control", Ok("bidi \u{202e} is not a control"));
        let long = "a".repeat(MAX_MESSAGE_CHARS + 5);
        check(
            &long,
            Err(TextError::TooLong {
                n_chars: MAX_MESSAGE_CHARS + 5,
                limit: MAX_MESSAGE_CHARS,
            }),
        );
    }

    #[test]
    fn client_ids() {
        assert_eq!(validate_client_id("0b6f2c1e-8d2a-4c4b-9d4e-1f6a2b3c4d5e"), Ok(()));
        assert!(validate_client_id("").is_err());
        assert!(validate_client_id("a'; drop table messages; --").is_err());
        assert!(validate_client_id(&"a".repeat(MAX_CLIENT_ID_BYTES + 1)).is_err());
    }
}
