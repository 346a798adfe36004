//! A small JSON reader for the widget. Decoding through serde costs a visitor's download tens of
//! kilobytes (every type's generated visitor, float parsing and formatting tables); the widget
//! reads a handful of small bodies, so it parses them into a [`Json`] tree and picks fields out
//! by hand (`wire::lite`). The edge and everything else keep serde.
//!
//! Strict RFC 8259 grammar; objects keep their members in order (the first of a repeated name
//! wins on lookup); nesting deeper than [`MAX_DEPTH`] is refused rather than recursing without
//! bound. Numbers keep their text: integers are read exactly as `u64`, others as a close `f64`
//! (to about 15 significant digits, which is all the widget's numbers need); like serde_json, a
//! number too large for a double is refused.

/// How deeply arrays and objects may nest.
pub const MAX_DEPTH: usize = 64;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text, as it appeared (already checked against the grammar).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses a whole document (surrounding whitespace allowed); `None` for anything that is not
    /// exactly one valid JSON value.
    pub fn parse(text: &str) -> Option<Json> {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = parser.value(0)?;
        parser.skip_space();
        (parser.at == parser.bytes.len()).then_some(value)
    }

    /// The member `key` of an object; `None` when this is not an object, the member is missing
    /// or it is `null` (so optional fields read the same either way).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value)
                .filter(|value| **value != Json::Null),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// A non-negative integer that fits `u64` (`3`, not `3.0` or `-3`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// Any number, to about 15 significant digits.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(text) => Some(number_value(text)),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The member `key` as a string (see [`Json::get`]).
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// The member `key` as an owned string.
    pub fn string(&self, key: &str) -> Option<String> {
        self.str(key).map(str::to_owned)
    }

    /// The member `key` as a `u64`.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }

    /// The member `key` as a bool.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    /// The member `key` as an array.
    pub fn array(&self, key: &str) -> Option<&[Json]> {
        self.get(key)?.as_array()
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Consumes `byte` if it comes next (after whitespace).
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn literal(&mut self, word: &str, value: Json) -> Option<Json> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end) == Some(word.as_bytes())).then(|| {
            self.at = end;
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        self.skip_space();
        match self.peek()? {
            b'n' => self.literal("null", Json::Null),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'"' => self.string().map(Json::String),
            b'[' if depth < MAX_DEPTH => {
                self.at += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            break;
                        }
                        self.eat(b',').then_some(())?;
                    }
                }
                Some(Json::Array(items))
            }
            b'{' if depth < MAX_DEPTH => {
                self.at += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.skip_space();
                        let name = self.string()?;
                        self.eat(b':').then_some(())?;
                        members.push((name, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            break;
                        }
                        self.eat(b',').then_some(())?;
                    }
                }
                Some(Json::Object(members))
            }
            b'-' | b'0'..=b'9' => self.number().map(Json::Number),
            _ => None,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Option<String> {
        let start = self.at;
        self.at += usize::from(self.peek() == Some(b'-'));
        let int_start = self.at;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            (self.digits() > 0).then_some(())?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        // Only ASCII was consumed, so this slice is on character boundaries.
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        // Like serde_json, refuse a number too large for a double.
        number_value(text).is_finite().then(|| text.to_owned())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        digits
            .iter()
            .try_fold(0u32, |sum, &digit| Some(sum * 16 + char::from(digit).to_digit(16)?))
    }

    /// A string, opening quote next.
    fn string(&mut self) -> Option<String> {
        (self.peek() == Some(b'"')).then_some(())?;
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let byte = self.peek()?;
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escape = self.peek()?;
                    self.at += 1;
                    let ch = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut buffer = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buffer).as_bytes());
                }
                0..=0x1f => return None,
                _ => out.push(byte),
            }
        }
        // The input was a `&str` and escapes were encoded as UTF-8, so this only fails on a
        // bug; refusing is still the safe answer.
        String::from_utf8(out).ok()
    }

    /// The character of `\uXXXX` (the `\u` consumed), joining a surrogate pair.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xd800..0xdc00).contains(&first) {
            return char::from_u32(first);
        }
        (self.bytes.get(self.at..self.at + 2) == Some(b"\\u")).then_some(())?;
        self.at += 2;
        let second = self.hex4()?;
        (0xdc00..0xe000).contains(&second).then_some(())?;
        char::from_u32(0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00))
    }
}

/// The value of a number's text (grammar-checked): its first 19 significant digits as an
/// integer, scaled by a power of ten in steps that cannot overflow on the way. Within about
/// 1e-15 of the exact value for normal magnitudes (not always correctly rounded in the last bit,
/// which no widget number needs), and far smaller than the standard library's exact parser.
fn number_value(text: &str) -> f64 {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => {
            let exponent = &text[at + 1..];
            // Too long for an i32 is far out of range either way.
            let huge = if exponent.starts_with('-') { -10_000 } else { 10_000 };
            (&text[..at], exponent.parse::<i32>().unwrap_or(huge))
        }
        None => (text, 0),
    };
    let mut digits = 0f64;
    let mut scale = exponent.clamp(-10_000, 10_000);
    let mut after_point = false;
    for byte in mantissa.bytes() {
        match byte {
            b'.' => after_point = true,
            _ if digits < 1e18 => {
                digits = digits * 10.0 + f64::from(byte - b'0');
                scale -= i32::from(after_point);
            }
            // Past the precision kept: an integer digit still scales the value; a fraction
            // digit is dropped.
            _ => scale += i32::from(!after_point),
        }
    }
    let mut value = digits;
    while scale > 0 && value.is_finite() && value != 0.0 {
        let step = scale.min(300);
        value *= 10f64.powi(step);
        scale -= step;
    }
    while scale < 0 && value != 0.0 {
        let step = (-scale).min(300);
        value /= 10f64.powi(step);
        scale += step;
    }
    if negative { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_treat_null_as_missing_and_check_types() {
        let value = Json::parse(r#"{"s": "x", "n": 7, "f": 0.25, "b": true, "z": null, "a": [1], "neg": -3}"#).unwrap();
        assert_eq!(value.str("s"), Some("x"));
        assert_eq!(value.u64("n"), Some(7));
        assert_eq!(value.get("f").and_then(Json::as_f64), Some(0.25));
        assert_eq!(value.bool("b"), Some(true));
        assert_eq!(value.get("z"), None);
        assert_eq!(value.get("missing"), None);
        assert_eq!(value.array("a").map(<[Json]>::len), Some(1));
        // Wrong types are absent, not coerced.
        assert_eq!(value.u64("s"), None);
        assert_eq!(value.str("n"), None);
        assert_eq!(value.u64("f"), None);
        assert_eq!(value.u64("neg"), None);
        assert_eq!(Json::parse("[1]").unwrap().get("a"), None);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(Json::parse(&deep(MAX_DEPTH)).is_some());
        assert!(Json::parse(&deep(MAX_DEPTH + 1)).is_none());
        // Far past the bound: refused without exhausting the stack.
        assert!(Json::parse(&deep(100_000)).is_none());
    }
}
