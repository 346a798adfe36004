//! Who a customer is: the identities a profile can hold, how each is normalised, and how the
//! edge checks the proofs a site's backend hands to `Threadline('identify', ...)`.
//!
//! Two proofs are accepted, both signed with one of the site's identity secrets:
//!
//! - **An identity token**: a compact JWT, `alg: HS256`, with the secret's `kid` in its header
//!   and the claims `sub` (the site's user id), `aud` (the site id), `exp` (mandatory) and,
//!   optionally, `email`, `email_verified`, `phone`, `name` and `traits` (an object of custom
//!   traits). Everything in it is vouched for by the site.
//! - **A user hash** in the style of Intercom's and Chatwoot's identity verification, but with an
//!   expiry: `user_hash = hex(HMAC-SHA256(secret, "<user_id>:<expires_at>"))`. Only the user id
//!   (and the expiry) are signed, so anything else sent beside it is a claim, never proof.
//!
//! Tokens from a site's servers are checked with `IDENTIFY_LEEWAY_SECS` of tolerance for their
//! clock, and may not live longer than `MAX_IDENTIFY_TTL_SECS`: a leaked token is short-lived.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::jwt::{self, JwtError, KeyRing};

/// Clock skew tolerated between a site's servers and ours, in seconds.
pub const IDENTIFY_LEEWAY_SECS: u64 = 60;

/// Longest an identity token or user hash may be valid for, counted from now, in seconds (one
/// day). Sites mint one per page load or login.
pub const MAX_IDENTIFY_TTL_SECS: u64 = 24 * 60 * 60;

/// Longest identity value (an email, a user id, ...), in bytes.
pub const MAX_IDENTITY_BYTES: usize = 254;

/// The kinds of identity a profile can hold.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// An anonymous widget session (its visitor id).
    Session,
    /// The site's own user id.
    UserId,
    Email,
    /// E.164, e.g. `+14155550100`.
    Phone,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 8] = [
        IdentityKind::Session,
        IdentityKind::UserId,
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::Whatsapp,
        IdentityKind::Messenger,
        IdentityKind::Instagram,
        IdentityKind::Telegram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Session => "session",
            IdentityKind::UserId => "user_id",
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Whatsapp => "whatsapp",
            IdentityKind::Messenger => "messenger",
            IdentityKind::Instagram => "instagram",
            IdentityKind::Telegram => "telegram",
        }
    }

    pub fn parse(text: &str) -> Option<IdentityKind> {
        IdentityKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One identity, normalised so that the same person written two ways is one key.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct IdentityKey {
    pub kind: IdentityKind,
    pub value: String,
}

impl IdentityKey {
    /// Normalises and checks `value` for `kind`.
    pub fn new(kind: IdentityKind, value: &str) -> Result<IdentityKey, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{} is empty", kind.as_str()));
        }
        if value.len() > MAX_IDENTITY_BYTES {
            return Err(format!(
                "{} is {} bytes; the limit is {MAX_IDENTITY_BYTES}",
                kind.as_str(),
                value.len()
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{} contains control characters", kind.as_str()));
        }
        let value = match kind {
            IdentityKind::Email => normalize_email(value)?,
            IdentityKind::Phone | IdentityKind::Whatsapp => normalize_phone(value)?,
            _ => value.to_owned(),
        };
        Ok(IdentityKey { kind, value })
    }

    /// `kind:value`, the form the admin API takes in `?identity=`.
    pub fn parse(text: &str) -> Result<IdentityKey, String> {
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| format!("identity {text:?} must look like kind:value, e.g. email:ana@example.com"))?;
        let kind = IdentityKind::parse(kind).ok_or_else(|| {
            let kinds: Vec<&str> = IdentityKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("identity kind {kind:?} is not one of {}", kinds.join(", "))
        })?;
        IdentityKey::new(kind, value)
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// Lowercases the domain and the local part (every large provider treats them case-blind) and
/// checks the shape: one `@`, a dotted domain, no spaces.
pub fn normalize_email(email: &str) -> Result<String, String> {
    email_normalized(email).ok_or_else(|| format!("{:?} is not an email address", email.trim()))
}

/// [`normalize_email`] without the message (and the code that writes it, which the widget,
/// calling [`find_email_with`], need not download).
fn email_normalized(email: &str) -> Option<String> {
    email_normalized_with(email, Unicode::RUST)
}

/// The Unicode character data the email checks use. [`Unicode::RUST`] is the standard library's;
/// the widget passes the browser's (`toLowerCase`, a `\p{Alphabetic}` / `\p{N}` regular
/// expression), which apply the same Unicode data, so Rust's tables (8.4 KB brotli of case
/// mappings and alphabetic ranges) stay out of its download.
#[derive(Clone, Copy, Debug)]
pub struct Unicode {
    /// Unicode's default lowercase mapping, as `str::to_lowercase`.
    pub lowercase: fn(&str) -> String,
    /// Alphabetic or numeric, as `char::is_alphanumeric`.
    pub is_alphanumeric: fn(char) -> bool,
}

impl Unicode {
    pub const RUST: Unicode = Unicode {
        lowercase: str::to_lowercase,
        is_alphanumeric: char::is_alphanumeric,
    };
}

fn email_normalized_with(email: &str, unicode: Unicode) -> Option<String> {
    let email = email.trim();
    let (local, domain) = email.rsplit_once('@')?;
    // Dotted, no empty label (no leading, trailing or doubled dot).
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && domain
            .chars()
            .all(|c| (unicode.is_alphanumeric)(c) || c == '.' || c == '-');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    (domain_ok && local_ok).then(|| format!("{}@{}", (unicode.lowercase)(local), (unicode.lowercase)(domain)))
}

/// Reduces a phone number to E.164 (`+` and 8 to 15 digits); spaces, dots, dashes and
/// parentheses are dropped. Numbers without a country code are refused rather than guessed.
pub fn normalize_phone(phone: &str) -> Result<String, String> {
    let phone = phone.trim();
    let rest = phone
        .strip_prefix('+')
        .ok_or_else(|| format!("{phone:?} must be in international form, starting with + and the country code"))?;
    let mut digits = String::from("+");
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' => {}
            _ => return Err(format!("{phone:?} is not a phone number")),
        }
    }
    if !(9..=16).contains(&digits.len()) {
        return Err(format!("{phone:?} is not a phone number (8 to 15 digits after +)"));
    }
    Ok(digits)
}

/// Finds the first thing that looks like an email address in a visitor's message, so the widget
/// can offer to verify it.
pub fn find_email(text: &str) -> Option<String> {
    find_email_with(text, Unicode::RUST)
}

/// [`find_email`] with the caller's Unicode data (see [`Unicode`]).
pub fn find_email_with(text: &str, unicode: Unicode) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '<' | '>' | '"' | '\''))
        .map(|word| word.trim_end_matches(['.', '!', '?', ':']))
        .find_map(|word| email_normalized_with(word, unicode))
}

/// Claims of an identity token, as the site's backend writes them.
#[derive(Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
struct IdentityTokenClaims {
    sub: String,
    aud: String,
    exp: u64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    traits: Option<Map<String, Value>>,
}

/// How an identity came to be believed.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Proof {
    /// The site's backend signed an identity token with the secret `kid`.
    IdentityToken { kid: String },
    /// The site's backend signed a user hash (secret `kid`).
    UserHash { kid: String },
    /// The visitor entered a one-time code sent to the address.
    EmailCode,
    /// The identity of the widget session itself.
    Session,
    /// Said by the visitor (or sent unsigned beside a proof): never merges anything.
    Claimed,
    /// Imported by the site's admin (`POST /v1/sites/{site}/profiles/import`).
    Import,
    /// The address sent an email that the receiving server authenticated (DMARC, or DKIM or SPF
    /// aligned with the `From:` domain).
    AuthenticatedEmail,
    /// The identity of an inbound channel itself (an email sender), as `Session` is for the
    /// widget: which profile that channel's messages belong to.
    Channel,
    /// A WhatsApp sender's number: WhatsApp verified it when the account was registered.
    Whatsapp,
    /// A Telegram user id, delivered by Telegram to the site's bot.
    Telegram,
    /// A Messenger or Instagram page-scoped id, delivered by Meta to the site's page.
    MetaPage,
    /// One of the site's integrations vouches for it (a Stripe customer's email, from the
    /// site's own Stripe account), as an import by the site's admin would.
    Integration { name: String },
    /// The channel's sender sent the one-time code the widget session showed ("continue on
    /// another channel"): the session and that channel identity are the same customer.
    ContinueCode { channel: crate::continuation::Target },
}

impl Proof {
    pub fn verifies(&self) -> bool {
        !matches!(self, Proof::Claimed)
    }
}

/// What a checked `identify` call establishes: verified identities, claimed ones, and traits.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Identified {
    pub proof: Proof,
    pub verified: Vec<IdentityKey>,
    pub claimed: Vec<IdentityKey>,
    /// Traits vouched for by the site (from a token) or merely passed along (beside a user hash).
    pub traits: BTreeMap<String, Value>,
    pub traits_verified: bool,
}

/// Why an identify call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifyError {
    #[error("identity token is malformed or its signature does not match any of the site's identity secrets")]
    Invalid,
    #[error("identity token names key id {0:?}, which is not one of the site's identity secrets")]
    UnknownKey(String),
    #[error("identity proof expired at {expired_at}; the site's backend must sign a fresh one")]
    Expired { expired_at: u64 },
    #[error(
        "identity proof is valid until {expires_at}, more than {MAX_IDENTIFY_TTL_SECS} seconds from now; sign short-lived ones"
    )]
    TooLongLived { expires_at: u64 },
    #[error("identity token was issued for site {0:?}, not this one")]
    WrongSite(String),
    #[error("identity token claims are not valid: {0}")]
    Claims(String),
    #[error("the site has no identity secret yet; create one with POST /v1/sites/{{site}}/identity-secrets")]
    NotConfigured,
}

/// Verifies an identity token for `site` at `now` against the site's identity secrets.
pub fn verify_identity_token(token: &str, site: &str, now: u64, keys: &KeyRing) -> Result<Identified, IdentifyError> {
    let header_kid = token_kid(token);
    let claims: IdentityTokenClaims =
        jwt::verify(token, keys, now, IDENTIFY_LEEWAY_SECS).map_err(|error| match error {
            JwtError::Expired { expired_at } => IdentifyError::Expired { expired_at },
            JwtError::UnknownKey => IdentifyError::UnknownKey(header_kid.clone().unwrap_or_default()),
            JwtError::Claims(message) => IdentifyError::Claims(message),
            JwtError::MissingExpiry => IdentifyError::Claims("`exp` is required".into()),
            _ => IdentifyError::Invalid,
        })?;
    if claims.aud != site {
        return Err(IdentifyError::WrongSite(claims.aud));
    }
    if claims.exp > now + MAX_IDENTIFY_TTL_SECS + IDENTIFY_LEEWAY_SECS {
        return Err(IdentifyError::TooLongLived { expires_at: claims.exp });
    }
    let kid = header_kid.unwrap_or_else(|| keys.signing_key().kid.clone());
    let mut verified = vec![IdentityKey::new(IdentityKind::UserId, &claims.sub).map_err(IdentifyError::Claims)?];
    let mut claimed = Vec::new();
    if let Some(email) = &claims.email {
        let key = IdentityKey::new(IdentityKind::Email, email).map_err(IdentifyError::Claims)?;
        // As in OpenID Connect: an email the site says it has not verified is only a claim.
        if claims.email_verified == Some(false) {
            claimed.push(key);
        } else {
            verified.push(key);
        }
    }
    if let Some(phone) = &claims.phone {
        verified.push(IdentityKey::new(IdentityKind::Phone, phone).map_err(IdentifyError::Claims)?);
    }
    let mut traits: BTreeMap<String, Value> = claims.traits.unwrap_or_default().into_iter().collect();
    if let Some(name) = claims.name {
        traits.insert("name".into(), Value::String(name));
    }
    check_traits(&traits).map_err(IdentifyError::Claims)?;
    Ok(Identified {
        proof: Proof::IdentityToken { kid },
        verified,
        claimed,
        traits,
        traits_verified: true,
    })
}

/// The user hash a site's backend computes for `user_id`, valid until `expires_at`.
pub fn user_hash(secret: &[u8], user_id: &str, expires_at: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(format!("{user_id}:{expires_at}").as_bytes());
    crate::hex::encode(&mac.finalize().into_bytes())
}

/// Verifies a user hash for `user_id`. Each of the site's secrets is tried (there are at most a
/// couple, during a rotation), each comparison in constant time. `email`, if given, stays a
/// claim: the hash does not cover it.
pub fn verify_user_hash(
    user_id: &str,
    hash: &str,
    expires_at: u64,
    email: Option<&str>,
    traits: BTreeMap<String, Value>,
    now: u64,
    keys: &[jwt::Key],
) -> Result<Identified, IdentifyError> {
    if keys.is_empty() {
        return Err(IdentifyError::NotConfigured);
    }
    let Some(presented) = crate::hex::decode(hash, 32) else {
        return Err(IdentifyError::Invalid);
    };
    let matching = keys.iter().find(|key| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&key.secret).expect("HMAC accepts any key length");
        mac.update(format!("{user_id}:{expires_at}").as_bytes());
        mac.verify_slice(&presented).is_ok()
    });
    let Some(key) = matching else {
        return Err(IdentifyError::Invalid);
    };
    if now >= expires_at.saturating_add(IDENTIFY_LEEWAY_SECS) {
        return Err(IdentifyError::Expired { expired_at: expires_at });
    }
    if expires_at > now + MAX_IDENTIFY_TTL_SECS + IDENTIFY_LEEWAY_SECS {
        return Err(IdentifyError::TooLongLived { expires_at });
    }
    let claimed = email
        .map(|email| IdentityKey::new(IdentityKind::Email, email))
        .transpose()
        .map_err(IdentifyError::Claims)?
        .into_iter()
        .collect();
    check_traits(&traits).map_err(IdentifyError::Claims)?;
    Ok(Identified {
        proof: Proof::UserHash { kid: key.kid.clone() },
        verified: vec![IdentityKey::new(IdentityKind::UserId, user_id).map_err(IdentifyError::Claims)?],
        claimed,
        traits,
        traits_verified: false,
    })
}

/// Most traits one call may set, and the longest trait name and value (as JSON), in bytes.
pub const MAX_TRAITS: usize = 50;
pub const MAX_TRAIT_NAME_BYTES: usize = 64;
pub const MAX_TRAIT_VALUE_BYTES: usize = 1024;

/// Checks trait names and sizes: names are `a-z`, `0-9`, `_` (so they work as keys everywhere),
/// values are JSON scalars.
pub fn check_traits(traits: &BTreeMap<String, Value>) -> Result<(), String> {
    if traits.len() > MAX_TRAITS {
        return Err(format!("{} traits given; the limit is {MAX_TRAITS}", traits.len()));
    }
    for (name, value) in traits {
        let name_ok = !name.is_empty()
            && name.len() <= MAX_TRAIT_NAME_BYTES
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(format!(
                "trait name {name:?} must be 1 to {MAX_TRAIT_NAME_BYTES} of a-z, 0-9 and _"
            ));
        }
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            return Err(format!("trait {name:?} must be a string, number, boolean or null"));
        }
        if value.to_string().len() > MAX_TRAIT_VALUE_BYTES {
            return Err(format!("trait {name:?} is longer than {MAX_TRAIT_VALUE_BYTES} bytes"));
        }
    }
    Ok(())
}

fn token_kid(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Key;
    use serde_json::json;

    const NOW: u64 = 1_790_000_000;

    fn ring(keys: &[(&str, &[u8])]) -> KeyRing {
        KeyRing::new(
            keys.iter()
                .map(|(kid, secret)| Key {
                    kid: kid.to_string(),
                    secret: secret.to_vec(),
                })
                .collect(),
        )
        .unwrap()
    }

    fn token(claims: Value, keys: &KeyRing) -> String {
        jwt::sign(&claims, keys)
    }

    #[test]
    fn a_site_signed_token_verifies_its_user_id_and_email() {
        let keys = ring(&[("k1", b"site secret")]);
        let t = token(
            json!({"sub": "u-42", "aud": "demo", "exp": NOW + 300, "email": "Ana@Example.COM", "name": "Ana", "traits": {"plan": "pro"}}),
            &keys,
        );
        let identified = verify_identity_token(&t, "demo", NOW, &keys).unwrap();
        assert_eq!(identified.proof, Proof::IdentityToken { kid: "k1".into() });
        assert_eq!(
            identified.verified,
            vec![
                IdentityKey::new(IdentityKind::UserId, "u-42").unwrap(),
                IdentityKey::new(IdentityKind::Email, "ana@example.com").unwrap()
            ]
        );
        assert_eq!(identified.traits["plan"], "pro");
        assert_eq!(identified.traits["name"], "Ana");
    }

    #[test]
    fn an_email_the_site_has_not_verified_is_only_a_claim() {
        let keys = ring(&[("k1", b"site secret")]);
        let t = token(
            json!({"sub": "u-42", "aud": "demo", "exp": NOW + 300, "email": "ana@example.com", "email_verified": false}),
            &keys,
        );
        let identified = verify_identity_token(&t, "demo", NOW, &keys).unwrap();
        assert_eq!(identified.verified.len(), 1);
        assert_eq!(identified.claimed[0].value, "ana@example.com");
    }

    #[test]
    fn forged_expired_wrong_kid_other_site_and_long_lived_tokens_are_refused() {
        let keys = ring(&[("k1", b"site secret")]);
        let claims = json!({"sub": "u-42", "aud": "demo", "exp": NOW + 300});
        let forged = token(claims.clone(), &ring(&[("k1", b"attacker's guess")]));
        assert_eq!(
            verify_identity_token(&forged, "demo", NOW, &keys),
            Err(IdentifyError::Invalid)
        );
        let expired = token(json!({"sub": "u-42", "aud": "demo", "exp": NOW - 61}), &keys);
        assert_eq!(
            verify_identity_token(&expired, "demo", NOW, &keys),
            Err(IdentifyError::Expired { expired_at: NOW - 61 })
        );
        // Within the leeway for the site's clock: still good.
        let just = token(json!({"sub": "u-42", "aud": "demo", "exp": NOW - 30}), &keys);
        assert!(verify_identity_token(&just, "demo", NOW, &keys).is_ok());
        let wrong_kid = token(claims.clone(), &ring(&[("k9", b"site secret")]));
        assert_eq!(
            verify_identity_token(&wrong_kid, "demo", NOW, &keys),
            Err(IdentifyError::UnknownKey("k9".into()))
        );
        let other_site = token(json!({"sub": "u-42", "aud": "other", "exp": NOW + 300}), &keys);
        assert_eq!(
            verify_identity_token(&other_site, "demo", NOW, &keys),
            Err(IdentifyError::WrongSite("other".into()))
        );
        let forever = token(json!({"sub": "u-42", "aud": "demo", "exp": NOW + 365 * 86400}), &keys);
        assert!(matches!(
            verify_identity_token(&forever, "demo", NOW, &keys),
            Err(IdentifyError::TooLongLived { .. })
        ));
        let no_sub = token(json!({"aud": "demo", "exp": NOW + 300}), &keys);
        assert!(matches!(
            verify_identity_token(&no_sub, "demo", NOW, &keys),
            Err(IdentifyError::Claims(_))
        ));
    }

    #[test]
    fn rotation_keeps_old_tokens_working_until_the_old_secret_is_dropped() {
        let old = ring(&[("k1", b"old secret")]);
        let t = token(json!({"sub": "u-1", "aud": "demo", "exp": NOW + 60}), &old);
        let rotated = ring(&[("k2", b"new secret"), ("k1", b"old secret")]);
        assert!(verify_identity_token(&t, "demo", NOW, &rotated).is_ok());
        let dropped = ring(&[("k2", b"new secret")]);
        assert_eq!(
            verify_identity_token(&t, "demo", NOW, &dropped),
            Err(IdentifyError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn user_hashes_verify_with_an_expiry_and_leave_the_email_a_claim() {
        let keys = vec![Key {
            kid: "k1".into(),
            secret: b"site secret".to_vec(),
        }];
        let hash = user_hash(b"site secret", "u-42", NOW + 600);
        let identified = verify_user_hash(
            "u-42",
            &hash,
            NOW + 600,
            Some("ana@example.com"),
            BTreeMap::new(),
            NOW,
            &keys,
        )
        .unwrap();
        assert_eq!(identified.verified[0].value, "u-42");
        assert_eq!(identified.claimed[0].value, "ana@example.com");
        assert!(!identified.traits_verified);
        // The hash covers the user id and the expiry: changing either breaks it.
        assert_eq!(
            verify_user_hash("u-43", &hash, NOW + 600, None, BTreeMap::new(), NOW, &keys),
            Err(IdentifyError::Invalid)
        );
        assert_eq!(
            verify_user_hash("u-42", &hash, NOW + 6000, None, BTreeMap::new(), NOW, &keys),
            Err(IdentifyError::Invalid)
        );
        assert_eq!(
            verify_user_hash("u-42", &hash, NOW + 600, None, BTreeMap::new(), NOW + 700, &keys),
            Err(IdentifyError::Expired { expired_at: NOW + 600 })
        );
        assert_eq!(
            verify_user_hash("u-42", "zz", NOW + 600, None, BTreeMap::new(), NOW, &keys),
            Err(IdentifyError::Invalid)
        );
    }

    #[test]
    fn identities_normalise() {
        assert_eq!(normalize_email(" Ana.B@Example.COM ").unwrap(), "ana.b@example.com");
        for bad in [
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@ex..com",
            "ana@.example.com",
            "ana@example.com.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_phone("+1 (415) 555-0100").unwrap(), "+14155550100");
        assert!(normalize_phone("415 555 0100").is_err());
        assert_eq!(
            IdentityKey::parse("email:Ana@Example.com").unwrap().to_string(),
            "email:ana@example.com"
        );
        assert!(IdentityKey::parse("fax:123").is_err());
        assert!(IdentityKey::new(IdentityKind::UserId, &"x".repeat(300)).is_err());
    }

    #[test]
    fn emails_are_found_in_messages() {
        assert_eq!(
            find_email("my email is Ana@Example.com."),
            Some("ana@example.com".into())
        );
        assert_eq!(find_email("write to <bo@shop.io>, thanks"), Some("bo@shop.io".into()));
        assert_eq!(find_email("no address here @ all"), None);
        // Beyond ASCII: Unicode's default case mapping.
        assert_eq!(
            find_email("write to ÉLODIE@Example.FR please"),
            Some("élodie@example.fr".into())
        );
        assert_eq!(find_email("ana@bücher.de"), Some("ana@bücher.de".into()));
        // The caller's Unicode data is the one applied (the widget passes the browser's).
        let odd = Unicode {
            lowercase: str::to_uppercase,
            is_alphanumeric: |c| c.is_ascii_alphanumeric(),
        };
        assert_eq!(find_email_with("ana@example.com", odd), Some("ANA@EXAMPLE.COM".into()));
        assert_eq!(find_email_with("ana@bücher.de", odd), None);
    }

    #[test]
    fn traits_are_checked() {
        let ok: BTreeMap<String, Value> = [("plan".to_string(), json!("pro")), ("ltv".into(), json!(1200))].into();
        assert!(check_traits(&ok).is_ok());
        let bad_name: BTreeMap<String, Value> = [("Plan Name".to_string(), json!("pro"))].into();
        assert!(check_traits(&bad_name).is_err());
        let nested: BTreeMap<String, Value> = [("plan".to_string(), json!({"a": 1}))].into();
        assert!(check_traits(&nested).is_err());
    }
}
