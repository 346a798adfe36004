//! Compact JSON Web Tokens signed with HMAC-SHA256 (RFC 7515 / RFC 7519, `alg: HS256`).
//!
//! Threadline signs its own session tokens this way, and later verifies tokens that site
//! backends sign for `identify`, so both need the same small, strict verifier: only `HS256` is
//! accepted (never `none`, never an algorithm named by the attacker), keys are chosen by `kid`
//! so secrets can rotate, the signature is compared in constant time, and `exp` is mandatory.
//!
//! Why not the `jsonwebtoken` crate: with its only wasm-capable backend it links RSA and
//! elliptic-curve code into every binary that verifies anything, which the edge would ship for
//! nothing. HS256 is `hmac` + `sha2` (both RustCrypto) and ~100 lines of checking, below.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// One HMAC secret and the id it is published under.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    // Secrets never reach logs, not even through a stray `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A key whose id is derived from the secret (the first 12 hex digits of its SHA-256), so the
    /// id is stable across restarts and rotations without anyone having to name keys.
    pub fn from_secret(secret: &[u8]) -> Key {
        use sha2::Digest as _;
        let digest = Sha256::digest(secret);
        let kid = crate::hex::encode(&digest[..6]);
        Key {
            kid,
            secret: secret.to_vec(),
        }
    }
}

/// The keys a verifier accepts. The first one signs; the others only verify, so a rotated-out
/// secret keeps working until the tokens it signed expire.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// Returns `None` for an empty ring: there is nothing to sign with.
    pub fn new(keys: Vec<Key>) -> Option<KeyRing> {
        if keys.is_empty() { None } else { Some(KeyRing { keys }) }
    }

    pub fn signing_key(&self) -> &Key {
        &self.keys[0]
    }

    fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid == kid),
            // A token without `kid` can only have been signed by a single-key issuer.
            None if self.keys.len() == 1 => Some(&self.keys[0]),
            None => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is not a compact JWT (three base64url parts separated by dots)")]
    Malformed,
    #[error("token algorithm {0:?} is not accepted; only HS256 is")]
    UnsupportedAlgorithm(String),
    #[error("token key id is unknown")]
    UnknownKey,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token has no numeric `exp` claim")]
    MissingExpiry,
    #[error("token expired at {expired_at}")]
    Expired { expired_at: u64 },
    #[error("token is not valid before {not_before}")]
    NotYetValid { not_before: u64 },
    #[error("token claims do not have the expected shape: {0}")]
    Claims(String),
}

/// Signs `claims` with the ring's signing key.
pub fn sign(claims: &impl Serialize, keys: &KeyRing) -> String {
    let key = keys.signing_key();
    let header = serde_json::json!({ "alg": "HS256", "typ": "JWT", "kid": key.kid });
    let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
    token.push('.');
    // Serialising plain data structs to JSON cannot fail.
    let payload = serde_json::to_vec(claims).expect("claims serialise to JSON");
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = mac(&key.secret, token.as_bytes()).finalize().into_bytes();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// Checks the signature, `exp` (mandatory) and `nbf` (if present) against `now` (seconds since
/// the Unix epoch) with `leeway_secs` of tolerance for clock skew, and returns the claims.
pub fn verify<T: DeserializeOwned>(token: &str, keys: &KeyRing, now: u64, leeway_secs: u64) -> Result<T, JwtError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Map<String, Value> = decode_json(header_b64)?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => {}
        Some(other) => return Err(JwtError::UnsupportedAlgorithm(other.to_owned())),
        None => return Err(JwtError::Malformed),
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JwtError::Malformed),
    };
    let key = keys.find(kid).ok_or(JwtError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| JwtError::Malformed)?;
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    mac(&key.secret, &token.as_bytes()[..signed_len])
        .verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)?;

    let claims: Map<String, Value> = decode_json(payload_b64)?;
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(JwtError::MissingExpiry)?;
    if now >= expires_at.saturating_add(leeway_secs) {
        return Err(JwtError::Expired { expired_at: expires_at });
    }
    if let Some(not_before) = claims.get("nbf").and_then(Value::as_u64)
        && now.saturating_add(leeway_secs) < not_before
    {
        return Err(JwtError::NotYetValid { not_before });
    }
    serde_json::from_value(Value::Object(claims)).map_err(|error| JwtError::Claims(error.to_string()))
}

fn mac(secret: &[u8], data: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(data);
    mac
}

fn decode_json<T: DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn ring(secrets: &[(&str, &[u8])]) -> KeyRing {
        KeyRing::new(
            secrets
                .iter()
                .map(|(kid, secret)| Key {
                    kid: kid.to_string(),
                    secret: secret.to_vec(),
                })
                .collect(),
        )
        .unwrap()
    }

    /// RFC 7515, appendix A.1: the published HS256 example, signed by someone else's code.
    #[test]
    fn verifies_the_rfc_7515_example() {
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let secret = URL_SAFE_NO_PAD
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .unwrap();
        let keys = ring(&[("any", &secret)]);
        let claims: Map<String, Value> = verify(token, &keys, 1_300_819_379, 0).unwrap();
        assert_eq!(claims["iss"], "joe");
        assert_eq!(
            verify::<Value>(token, &keys, 1_300_819_380, 0),
            Err(JwtError::Expired {
                expired_at: 1_300_819_380
            })
        );
        let wrong = ring(&[("any", b"not the key")]);
        assert_eq!(
            verify::<Value>(token, &wrong, 1_300_819_379, 0),
            Err(JwtError::BadSignature)
        );
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
    struct Claims {
        sub: String,
        exp: u64,
    }

    #[test]
    fn round_trip_and_rotation() {
        let old = ring(&[("k1", b"first secret")]);
        let token = sign(
            &Claims {
                sub: "v1".into(),
                exp: 100,
            },
            &old,
        );
        assert_eq!(
            verify(&token, &old, 99, 0),
            Ok(Claims {
                sub: "v1".into(),
                exp: 100
            })
        );
        // After rotation, tokens signed with the old key still verify; new ones use the new key.
        let rotated = ring(&[("k2", b"second secret"), ("k1", b"first secret")]);
        assert_eq!(
            verify(&token, &rotated, 99, 0),
            Ok(Claims {
                sub: "v1".into(),
                exp: 100
            })
        );
        let new_token = sign(
            &Claims {
                sub: "v2".into(),
                exp: 100,
            },
            &rotated,
        );
        assert_eq!(verify::<Claims>(&new_token, &old, 99, 0), Err(JwtError::UnknownKey));
        // Once the old key is dropped, its tokens stop verifying.
        let dropped = ring(&[("k2", b"second secret")]);
        assert_eq!(verify::<Claims>(&token, &dropped, 99, 0), Err(JwtError::UnknownKey));
    }

    #[test]
    fn refuses_tampering() {
        let keys = ring(&[("k1", b"secret")]);
        let token = sign(
            &Claims {
                sub: "v1".into(),
                exp: 100,
            },
            &keys,
        );
        let parts: Vec<&str> = token.split('.').collect();
        // Swap in another payload, keeping the original signature.
        let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"v2","exp":100}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(verify::<Claims>(&forged, &keys, 1, 0), Err(JwtError::BadSignature));
        // Flip one bit of the signature.
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[0] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(signature));
        assert_eq!(verify::<Claims>(&flipped, &keys, 1, 0), Err(JwtError::BadSignature));
        // The "none" algorithm and algorithm confusion are refused outright.
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            verify::<Claims>(&unsigned, &keys, 1, 0),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!", &format!("{}.{}", parts[0], parts[1])] {
            assert_eq!(
                verify::<Claims>(garbage, &keys, 1, 0),
                Err(JwtError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn expiry_is_mandatory_and_leeway_applies() {
        let keys = ring(&[("k1", b"secret")]);
        let no_exp = sign(&serde_json::json!({ "sub": "v1" }), &keys);
        assert_eq!(verify::<Value>(&no_exp, &keys, 1, 0), Err(JwtError::MissingExpiry));
        let token = sign(&serde_json::json!({ "sub": "v1", "exp": 100, "nbf": 50 }), &keys);
        assert!(verify::<Value>(&token, &keys, 105, 10).is_ok());
        assert_eq!(
            verify::<Value>(&token, &keys, 110, 10),
            Err(JwtError::Expired { expired_at: 100 })
        );
        assert_eq!(
            verify::<Value>(&token, &keys, 30, 10),
            Err(JwtError::NotYetValid { not_before: 50 })
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let keys = ring(&[("k1", b"hunter2")]);
        assert!(!format!("{keys:?}").contains("hunter2"));
    }
}
