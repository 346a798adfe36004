//! Visitor session tokens: who an anonymous visitor is, for which site, until when.
//!
//! The edge issues one to each new visitor and the widget keeps it in `localStorage` and sends
//! it with every request. It is an HS256 JWT (see `jwt`) signed with the edge's session keys,
//! naming the site and an anonymous visitor id; it is refused for another site, when tampered
//! with, and once expired.

use serde::{Deserialize, Serialize};

use crate::jwt::{self, JwtError, KeyRing};
use crate::limits::SESSION_TTL_SECS;

const ISSUER: &str = "threadline";
const TOKEN_TYPE: &str = "session";

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SessionClaims {
    pub iss: String,
    /// Always `"session"`, so a token minted for another purpose with the same keys is refused.
    pub typ: String,
    pub site: String,
    /// The anonymous visitor id.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    /// The conversation the session reads and writes, when it is not the visitor's own (after
    /// the visitor proved who they are and joined their profile's conversation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<String>,
}

impl SessionClaims {
    /// The conversation this session belongs to.
    pub fn conversation(&self) -> &str {
        self.conv.as_deref().unwrap_or(&self.sub)
    }
}

/// A freshly issued token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IssuedSession {
    pub token: String,
    pub visitor_id: String,
    pub conversation: String,
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session token is malformed or its signature does not match")]
    Invalid,
    #[error("session token expired at {expired_at}; request a new one")]
    Expired { expired_at: u64 },
    #[error("session token was issued for another site")]
    WrongSite,
}

/// Makes a visitor id from 16 random bytes supplied by the caller.
pub fn visitor_id(random: [u8; 16]) -> String {
    format!("v_{}", crate::hex::encode(&random))
}

/// Issues a token for `visitor_id` on `site`, valid for `SESSION_TTL_SECS` from `now`, for
/// `conversation` (the visitor's own when `None`).
pub fn issue(site: &str, visitor_id: &str, conversation: Option<&str>, now: u64, keys: &KeyRing) -> IssuedSession {
    let claims = SessionClaims {
        iss: ISSUER.into(),
        typ: TOKEN_TYPE.into(),
        site: site.into(),
        sub: visitor_id.into(),
        iat: now,
        exp: now + SESSION_TTL_SECS,
        conv: conversation.filter(|c| *c != visitor_id).map(str::to_owned),
    };
    IssuedSession {
        token: jwt::sign(&claims, keys),
        visitor_id: visitor_id.into(),
        conversation: claims.conversation().to_owned(),
        expires_at: claims.exp,
    }
}

/// Verifies a token presented for `site` at `now` (seconds since the Unix epoch).
pub fn verify(token: &str, site: &str, now: u64, keys: &KeyRing) -> Result<SessionClaims, SessionError> {
    // Our own tokens are checked against our own clock: no leeway.
    let claims: SessionClaims = jwt::verify(token, keys, now, 0).map_err(|error| match error {
        JwtError::Expired { expired_at } => SessionError::Expired { expired_at },
        _ => SessionError::Invalid,
    })?;
    if claims.iss != ISSUER || claims.typ != TOKEN_TYPE {
        return Err(SessionError::Invalid);
    }
    if claims.site != site {
        return Err(SessionError::WrongSite);
    }
    Ok(claims)
}

/// Whether a still-valid token is past half its life, so the widget should swap it for a fresh
/// one (same visitor) and a returning visitor never meets an expired token.
pub fn should_renew(claims: &SessionClaims, now: u64) -> bool {
    now >= claims.iat + (claims.exp - claims.iat) / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Key;

    fn keys(secret: &[u8]) -> KeyRing {
        KeyRing::new(vec![Key {
            kid: "s1".into(),
            secret: secret.to_vec(),
        }])
        .unwrap()
    }

    const NOW: u64 = 1_790_000_000;

    #[test]
    fn issued_token_verifies_for_its_site_until_it_expires() {
        let keys = keys(b"session secret");
        let issued = issue("demo", "v_01", None, NOW, &keys);
        assert_eq!(issued.expires_at, NOW + SESSION_TTL_SECS);
        let claims = verify(&issued.token, "demo", NOW + 10, &keys).unwrap();
        assert_eq!((claims.site.as_str(), claims.sub.as_str()), ("demo", "v_01"));
        assert_eq!(
            verify(&issued.token, "demo", NOW + SESSION_TTL_SECS, &keys),
            Err(SessionError::Expired {
                expired_at: NOW + SESSION_TTL_SECS
            })
        );
    }

    #[test]
    fn refused_for_another_site() {
        let keys = keys(b"session secret");
        let issued = issue("demo", "v_01", None, NOW, &keys);
        assert_eq!(verify(&issued.token, "other", NOW, &keys), Err(SessionError::WrongSite));
    }

    #[test]
    fn refused_when_forged_or_tampered() {
        let issued = issue("demo", "v_01", None, NOW, &keys(b"session secret"));
        assert_eq!(
            verify(&issued.token, "demo", NOW, &keys(b"attacker's guess")),
            Err(SessionError::Invalid)
        );
        let mut tampered = issued.token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert_eq!(
            verify(&tampered, "demo", NOW, &keys(b"session secret")),
            Err(SessionError::Invalid)
        );
        // A validly signed JWT that is not a session token (for instance one minted for identify
        // with the same keys) is refused too.
        let keys = keys(b"session secret");
        let other_type = jwt::sign(
            &serde_json::json!({"iss": "threadline", "typ": "identify", "site": "demo", "sub": "v_01", "iat": NOW, "exp": NOW + 60}),
            &keys,
        );
        assert_eq!(verify(&other_type, "demo", NOW, &keys), Err(SessionError::Invalid));
    }

    #[test]
    fn renewal_after_half_life() {
        let keys = keys(b"session secret");
        let claims = verify(&issue("demo", "v_01", None, NOW, &keys).token, "demo", NOW, &keys).unwrap();
        assert!(!should_renew(&claims, NOW + SESSION_TTL_SECS / 2 - 1));
        assert!(should_renew(&claims, NOW + SESSION_TTL_SECS / 2));
    }

    #[test]
    fn a_session_can_name_another_conversation() {
        let keys = keys(b"session secret");
        let own = issue("demo", "v_01", None, NOW, &keys);
        assert_eq!(own.conversation, "v_01");
        let joined = issue("demo", "v_01", Some("v_00"), NOW, &keys);
        assert_eq!(joined.conversation, "v_00");
        let claims = verify(&joined.token, "demo", NOW, &keys).unwrap();
        assert_eq!((claims.sub.as_str(), claims.conversation()), ("v_01", "v_00"));
    }

    #[test]
    fn visitor_ids_are_hex() {
        assert_eq!(visitor_id([0xab; 16]), format!("v_{}", "ab".repeat(16)));
    }
}
