//! The generic connector: for a system we do not know, a site names an HTTPS endpoint; we `POST`
//! it a signed lookup (Standard Webhooks headers, see [`crate::webhook`]) naming the customer's
//! verified identities, and it answers JSON traits, which join the profile and the escalation
//! package. Answers are cached for a configurable time, and a slow endpoint is given up on, so a
//! connector never holds a conversation up.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::identity::IdentityKey;

/// How long answers are cached unless the site says (seconds), and the most it may say.
pub const DEFAULT_CACHE_SECS: u64 = 300;
pub const MAX_CACHE_SECS: u64 = 86_400;

/// How long a lookup may take unless the site says (ms), and the range it may choose from.
pub const DEFAULT_TIMEOUT_MS: u64 = 1_500;
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=5_000;

/// Most traits one answer may set, and the longest text value.
pub const MAX_TRAITS: usize = 50;
pub const MAX_TRAIT_CHARS: usize = 1_000;

/// The lookup's JSON body: an event like our webhooks' (`type`, `timestamp` in ms, `data`).
pub fn lookup_body(site: &str, profile: Option<&str>, identities: &[IdentityKey], now_ms: u64) -> Value {
    let identities: Vec<Value> = identities
        .iter()
        .map(|key| json!({"kind": key.kind.as_str(), "value": key.value}))
        .collect();
    json!({
        "type": "customer.lookup",
        "timestamp": now_ms,
        "data": {"site": site, "profile": profile, "identities": identities},
    })
}

/// The traits a connector answered: `{"traits": {...}}` of names (lowercase letters, digits,
/// `_`, at most 64) to strings (at most [`MAX_TRAIT_CHARS`]), numbers or booleans; `null` values
/// are skipped. Anything else is refused, naming what was wrong.
pub fn parse_traits(body: &[u8]) -> Result<BTreeMap<String, Value>, String> {
    let answer: Value = serde_json::from_slice(body).map_err(|_| "the connector's answer is not JSON".to_owned())?;
    let traits = answer
        .get("traits")
        .and_then(Value::as_object)
        .ok_or("the connector's answer has no `traits` object")?;
    if traits.len() > MAX_TRAITS {
        return Err(format!(
            "the connector answered {} traits; at most {MAX_TRAITS}",
            traits.len()
        ));
    }
    let mut kept = BTreeMap::new();
    for (name, value) in traits {
        let valid_name = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(format!(
                "trait name {name:?} is not 1 to 64 lowercase letters, digits and _"
            ));
        }
        match value {
            Value::Null => {}
            Value::String(text) if text.chars().count() > MAX_TRAIT_CHARS => {
                return Err(format!("trait {name:?} is longer than {MAX_TRAIT_CHARS} characters"));
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                kept.insert(name.clone(), value.clone());
            }
            _ => return Err(format!("trait {name:?} is not a string, number or boolean")),
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;

    #[test]
    fn a_lookup_names_the_customer_and_an_answer_is_checked() {
        let email = IdentityKey {
            kind: IdentityKind::Email,
            value: "ana@example.com".into(),
        };
        let body = lookup_body("shop", Some("p_1"), &[email], 1_700_000_000_000);
        assert_eq!(body["type"], "customer.lookup");
        assert_eq!(
            body["data"]["identities"][0],
            json!({"kind": "email", "value": "ana@example.com"})
        );
        let traits =
            parse_traits(br#"{"traits": {"tier": "gold", "seats": 12, "churn_risk": false, "note": null}}"#).unwrap();
        assert_eq!(traits.len(), 3);
        assert_eq!(traits["seats"], 12);
        for bad in [
            &br#"{"tier": "gold"}"#[..],
            br#"{"traits": {"Tier": "gold"}}"#,
            br#"{"traits": {"tier": {"nested": 1}}}"#,
            b"<html>",
        ] {
            assert!(parse_traits(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = format!(r#"{{"traits": {{"bio": "{}"}}}}"#, "x".repeat(1_001));
        assert!(parse_traits(long.as_bytes()).unwrap_err().contains("longer than"));
    }
}
