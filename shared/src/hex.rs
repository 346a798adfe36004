//! Lowercase hexadecimal, for digests and ids.

/// `bytes` as lowercase hex, two digits per byte.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

/// Exactly `bytes` bytes from hex digits (either case); `None` for anything else.
pub fn decode(text: &str, bytes: usize) -> Option<Vec<u8>> {
    if text.len() != bytes * 2 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lowercase_digits_per_byte() {
        assert_eq!(super::encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::encode(&[]), "");
        assert_eq!(super::decode("000fA5ff", 4), Some(vec![0x00, 0x0f, 0xa5, 0xff]));
        assert_eq!(super::decode("000f", 4), None);
        assert_eq!(super::decode("zz", 1), None);
    }
}
