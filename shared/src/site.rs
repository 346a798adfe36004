//! Sites: the ids they go by, the page origins allowed to embed them, and their admin keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Site ids appear in script tags, URLs and storage keys: 1 to 40 of `a-z`, `0-9` and `-`,
/// not starting or ending with `-`.
pub fn validate_site_id(id: &str) -> Result<(), String> {
    let well_formed = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "site id {id:?} is not valid: use 1 to 40 lowercase letters, digits and '-', not starting or ending with '-'"
        ))
    }
}

/// Normalises an origin to `scheme://host[:port]` as browsers send it in the `Origin` header:
/// lowercase, default ports dropped, a trailing `/` tolerated, anything else after the host
/// refused (an origin has no path).
pub fn normalize_origin(origin: &str) -> Result<String, String> {
    let lowered = origin.trim().to_ascii_lowercase();
    let (scheme, rest) = lowered
        .split_once("://")
        .ok_or_else(|| format!("origin {origin:?} must look like https://example.com"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("origin {origin:?} must use http or https"));
    }
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    let valid_chars = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'[' || b == b']' || b == b':')
    };
    if host_port.is_empty() || !valid_chars(host_port) {
        return Err(format!(
            "origin {origin:?} must be scheme://host[:port] with no path, query or credentials"
        ));
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host_port = host_port.strip_suffix(default_port).unwrap_or(host_port);
    Ok(format!("{scheme}://{host_port}"))
}

/// Whether a browser request from `origin` may use the site. Requests without an `Origin`
/// header come from servers and tools, not from pages, and an origin check cannot constrain
/// them anyway (they can send any header), so they pass; tokens and keys protect the data.
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    match origin {
        None => true,
        Some(origin) => normalize_origin(origin).is_ok_and(|origin| allowed.contains(&origin)),
    }
}

/// Makes an admin key from 32 random bytes supplied by the caller. Only its hash is stored.
pub fn admin_key(random: [u8; 32]) -> String {
    format!("tl_admin_{}", URL_SAFE_NO_PAD.encode(random))
}

/// The stored form of an admin key. Keys carry 256 random bits, so a plain SHA-256 is enough:
/// there is nothing for a slow password hash to protect against.
pub fn admin_key_hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    crate::hex::encode(&digest)
}

/// Compares a presented key with the stored hash in constant time.
pub fn admin_key_matches(presented: &str, stored_hash: &str) -> bool {
    let presented = admin_key_hash(presented);
    presented.len() == stored_hash.len()
        && presented
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_origin(input: &str, expected: Result<&str, ()>) {
        assert_eq!(
            normalize_origin(input).map_err(|_| ()),
            expected.map(str::to_owned),
            "{input}"
        );
    }

    #[test]
    fn origins() {
        check_origin("https://Shop.Example.com", Ok("https://shop.example.com"));
        check_origin("https://shop.example.com/", Ok("https://shop.example.com"));
        check_origin("https://shop.example.com:443", Ok("https://shop.example.com"));
        check_origin("http://127.0.0.1:8787", Ok("http://127.0.0.1:8787"));
        check_origin("http://[::1]:8787", Ok("http://[::1]:8787"));
        check_origin("https://shop.example.com/path", Err(()));
        check_origin("https://user@shop.example.com", Err(()));
        check_origin("javascript://alert(1)", Err(()));
        check_origin("shop.example.com", Err(()));
        check_origin("null", Err(()));
    }

    #[test]
    fn origin_check() {
        let allowed = vec!["https://shop.example.com".to_owned()];
        assert!(origin_allowed(&allowed, Some("https://shop.example.com")));
        assert!(origin_allowed(&allowed, Some("https://SHOP.example.com:443")));
        assert!(!origin_allowed(&allowed, Some("https://evil.example.com")));
        assert!(!origin_allowed(&allowed, Some("https://shop.example.com.evil.com")));
        assert!(!origin_allowed(&allowed, Some("null")));
        assert!(origin_allowed(&allowed, None));
    }

    #[test]
    fn site_ids() {
        assert!(validate_site_id("demo").is_ok());
        assert!(validate_site_id("acme-shop-2").is_ok());
        for bad in ["", "Demo", "-demo", "demo-", "de mo", "demo/../x", &"a".repeat(41)] {
            assert!(validate_site_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn admin_keys() {
        let key = admin_key([7; 32]);
        assert!(key.starts_with("tl_admin_"));
        let stored = admin_key_hash(&key);
        assert!(admin_key_matches(&key, &stored));
        assert!(!admin_key_matches(&admin_key([8; 32]), &stored));
        assert!(!admin_key_matches("", &stored));
    }
}
