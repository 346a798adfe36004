//! Outbound webhooks signed per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>, copy in `../shared/fixtures/webhooks/`), and the
//! delivery policy around them: which responses count as delivered, when to retry, when to give
//! up on an endpoint.
//!
//! Each delivery carries `webhook-id` (stable across retries, so receivers deduplicate),
//! `webhook-timestamp` (seconds) and `webhook-signature`: `v1,<base64 HMAC-SHA256>` over
//! `id.timestamp.body`, one signature per active secret (space separated) so a secret rotates
//! without downtime. Secrets are `whsec_` + base64 of 24 to 64 random bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const SECRET_PREFIX: &str = "whsec_";

/// How far a receiver's clock may be from the timestamp before it refuses a delivery.
pub const TIMESTAMP_TOLERANCE_SECS: u64 = 5 * 60;

/// A symmetric signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// A new secret from caller-supplied random bytes.
    pub fn from_random(random: [u8; 32]) -> WebhookSecret {
        WebhookSecret { key: random.to_vec() }
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<WebhookSecret, String> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("a webhook secret starts with {SECRET_PREFIX}"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "a webhook secret is whsec_ followed by base64".to_owned())?;
        if !(16..=64).contains(&key.len()) {
            return Err(format!("a webhook secret holds 16 to 64 bytes, this one {}", key.len()));
        }
        Ok(WebhookSecret { key })
    }

    /// The `whsec_<base64>` form, shown once to whoever configures the receiver.
    pub fn encode(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The `webhook-signature` header: one `v1,<signature>` per secret, current secret first.
pub fn signature_header(id: &str, timestamp: u64, body: &[u8], secrets: &[WebhookSecret]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let signature = secret.mac(id, timestamp, body).finalize().into_bytes();
            format!("v1,{}", STANDARD.encode(signature))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three headers of one delivery.
pub fn headers(id: &str, timestamp: u64, body: &[u8], secrets: &[WebhookSecret]) -> [(&'static str, String); 3] {
    [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature_header(id, timestamp, body, secrets)),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-id must be non-empty and contain no '.'")]
    BadId,
    #[error("webhook-timestamp is {0} s away from now; the tolerance is {TIMESTAMP_TOLERANCE_SECS} s")]
    Stale(u64),
    #[error("no signature in webhook-signature matches")]
    NoMatch,
}

/// Verifies a delivery as a receiver does: timestamp within tolerance, and any one `v1`
/// signature matching one of `secrets` (compared in constant time). Used by our tests' receiver
/// and by anyone checking our deliveries in Rust.
pub fn verify(
    id: &str,
    timestamp: u64,
    signature_header: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: u64,
) -> Result<(), VerifyError> {
    if id.is_empty() || id.contains('.') {
        return Err(VerifyError::BadId);
    }
    let skew = now.abs_diff(timestamp);
    if skew > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::Stale(skew));
    }
    let presented: Vec<Vec<u8>> = signature_header
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    let matches = secrets.iter().any(|secret| {
        presented
            .iter()
            .any(|signature| secret.mac(id, timestamp, body).verify_slice(signature).is_ok())
    });
    if matches { Ok(()) } else { Err(VerifyError::NoMatch) }
}

/// The events a webhook endpoint can subscribe to.
pub const EVENTS: [&str; 6] = [
    "conversation.escalated",
    "call.incoming",
    "message.created",
    "conversation.assigned",
    "conversation.resolved",
    "customer.churn_risk",
];

/// Checks an endpoint URL: `https` (plain `http` only to loopback, and loopback only when
/// `allow_loopback`, i.e. in local development), never a private-network or link-local address,
/// no credentials in it. Returns it as given, trimmed.
pub fn validate_endpoint_url(url: &str, allow_loopback: bool) -> Result<String, String> {
    let url = url.trim();
    if url.len() > 2048 {
        return Err("the URL is longer than 2048 characters".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed; use the signature to authenticate".into());
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default().to_ascii_lowercase()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_ascii_lowercase()
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let loopback = host == "localhost" || host.ends_with(".localhost") || host == "::1" || host.starts_with("127.");
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if loopback && allow_loopback => {}
        "http" => return Err("webhook endpoints must use https".into()),
        other => return Err(format!("scheme {other:?} is not allowed; use https")),
    }
    if loopback && !allow_loopback {
        return Err("loopback addresses are allowed only in local development".into());
    }
    if is_private(&host) {
        return Err(format!(
            "{host} is a private-network address; webhooks go to public endpoints"
        ));
    }
    Ok(url.to_owned())
}

fn is_private(host: &str) -> bool {
    if host.ends_with(".internal") || host.ends_with(".local") || host == "metadata.google.internal" {
        return true;
    }
    if let Ok(v4) = host.parse::<std::net::Ipv4Addr>() {
        return v4.is_private()
            || v4.is_link_local()
            || v4.is_unspecified()
            || v4.is_broadcast()
            || v4.octets()[0] == 0
            || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]));
    }
    if let Ok(v6) = host.parse::<std::net::Ipv6Addr>() {
        let first = v6.segments()[0];
        return v6.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80;
    }
    false
}

/// What to do after an attempt, from the receiver's answer (`None`: no answer, e.g. a timeout
/// or a refused connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// `410 Gone`: the receiver wants no more; disable the endpoint.
    Disable,
    /// Try again after `after_secs`.
    Retry {
        after_secs: u64,
    },
    /// The schedule is exhausted: to the dead-letter store.
    GiveUp,
}

/// Delays between attempts, after the first (immediate) one: the specification's example
/// schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h; about three days in all).
pub const RETRY_SCHEDULE_SECS: [u64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// Decides after attempt number `attempt` (1 for the first) answered with `status` and an
/// optional `Retry-After` in seconds. `jitter` in `[0, 1)` spreads retries by up to 10%, so
/// endpoints that failed together are not retried in step. A `Retry-After` longer than the
/// schedule's delay is honoured (capped at a day).
pub fn after_attempt(attempt: u32, status: Option<u16>, retry_after_secs: Option<u64>, jitter: f64) -> Outcome {
    match status {
        Some(200..=299) => return Outcome::Delivered,
        Some(410) => return Outcome::Disable,
        _ => {}
    }
    let Some(&delay) = RETRY_SCHEDULE_SECS.get(attempt.saturating_sub(1) as usize) else {
        return Outcome::GiveUp;
    };
    let jittered = delay + (delay as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as u64;
    let after_secs = jittered.max(retry_after_secs.unwrap_or(0).min(86_400));
    Outcome::Retry { after_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published Standard Webhooks test vector (see tests/fixtures for its source).
    fn vector() -> serde_json::Value {
        serde_json::from_str(include_str!("../tests/fixtures/standard-webhooks-vector.json")).unwrap()
    }

    #[test]
    fn signs_the_published_test_vector() {
        let v = vector();
        let secret = WebhookSecret::parse(v["secret"].as_str().unwrap()).unwrap();
        let header = signature_header(
            v["webhook_id"].as_str().unwrap(),
            v["webhook_timestamp"].as_u64().unwrap(),
            v["body"].as_str().unwrap().as_bytes(),
            std::slice::from_ref(&secret),
        );
        assert_eq!(header, v["expected_webhook_signature"].as_str().unwrap());
        assert_eq!(secret.encode(), v["secret"].as_str().unwrap());
    }

    #[test]
    fn verifies_what_it_signs_and_nothing_else() {
        let v = vector();
        let secret = WebhookSecret::parse(v["secret"].as_str().unwrap()).unwrap();
        let (id, ts, body) = (
            v["webhook_id"].as_str().unwrap(),
            v["webhook_timestamp"].as_u64().unwrap(),
            v["body"].as_str().unwrap().as_bytes(),
        );
        let header = v["expected_webhook_signature"].as_str().unwrap();
        let secrets = std::slice::from_ref(&secret);
        assert_eq!(verify(id, ts, header, body, secrets, ts + 10), Ok(()));
        assert_eq!(
            verify(id, ts, header, b"{\"email\":\"other@example.com\"}", secrets, ts),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify("msg_other", ts, header, body, secrets, ts),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(id, ts, header, body, secrets, ts + 301),
            Err(VerifyError::Stale(301))
        );
        assert_eq!(verify("a.b", ts, header, body, secrets, ts), Err(VerifyError::BadId));
        let other = WebhookSecret::from_random([7; 32]);
        assert_eq!(
            verify(id, ts, header, body, std::slice::from_ref(&other), ts),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn rotation_sends_a_signature_per_secret() {
        let new = WebhookSecret::from_random([1; 32]);
        let old = WebhookSecret::from_random([2; 32]);
        let header = signature_header("msg_1", 100, b"{}", &[new.clone(), old.clone()]);
        assert_eq!(header.split(' ').count(), 2);
        // A receiver that knows only the old secret still accepts it.
        assert_eq!(verify("msg_1", 100, &header, b"{}", &[old], 100), Ok(()));
        assert_eq!(verify("msg_1", 100, &header, b"{}", &[new], 100), Ok(()));
    }

    #[test]
    fn secrets_parse_and_never_print() {
        assert!(WebhookSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        assert!(WebhookSecret::parse("whsec_AAAA").is_err());
        let secret = WebhookSecret::from_random([9; 32]);
        assert_eq!(WebhookSecret::parse(&secret.encode()).unwrap(), secret);
        assert!(!format!("{secret:?}").contains(&secret.encode()[6..]));
    }

    #[test]
    fn endpoint_urls_are_public_https() {
        assert!(validate_endpoint_url("https://hooks.example.com/threadline", false).is_ok());
        assert!(validate_endpoint_url(" https://hooks.example.com:8443/x?y=1 ", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com",
            "hooks.example.com",
            "https://user:pass@hooks.example.com",
            "https://10.0.0.5/hook",
            "https://192.168.1.2/hook",
            "https://172.20.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00::1]/hook",
            "https://printer.local/hook",
            "http://127.0.0.1:9000/hook",
            "https://localhost/hook",
        ] {
            assert!(validate_endpoint_url(bad, false).is_err(), "{bad}");
        }
        // Local development may deliver to loopback, plain http included, but still not to the
        // private network.
        assert!(validate_endpoint_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(validate_endpoint_url("http://localhost:9000/hook", true).is_ok());
        assert!(validate_endpoint_url("http://10.0.0.5/hook", true).is_err());
    }

    #[test]
    fn the_retry_policy_follows_the_schedule_and_the_receiver() {
        assert_eq!(after_attempt(1, Some(204), None, 0.0), Outcome::Delivered);
        assert_eq!(after_attempt(3, Some(410), None, 0.0), Outcome::Disable);
        assert_eq!(after_attempt(1, Some(500), None, 0.0), Outcome::Retry { after_secs: 5 });
        assert_eq!(after_attempt(2, None, None, 0.0), Outcome::Retry { after_secs: 300 });
        // Redirects are failures, not followed.
        assert_eq!(after_attempt(1, Some(301), None, 0.0), Outcome::Retry { after_secs: 5 });
        // Retry-After is honoured when longer, capped at a day.
        assert_eq!(
            after_attempt(1, Some(503), Some(120), 0.0),
            Outcome::Retry { after_secs: 120 }
        );
        assert_eq!(
            after_attempt(1, Some(429), Some(10_000_000), 0.0),
            Outcome::Retry { after_secs: 86_400 }
        );
        // Jitter adds at most 10%.
        assert_eq!(
            after_attempt(3, Some(500), None, 0.99),
            Outcome::Retry { after_secs: 1_978 }
        );
        assert_eq!(
            after_attempt(9, Some(500), None, 0.0),
            Outcome::Retry { after_secs: 86_400 }
        );
        assert_eq!(after_attempt(10, Some(500), None, 0.0), Outcome::GiveUp);
        let total: u64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert_eq!(total, 75 * 3600 + 35 * 60 + 5, "the spec's 75:35:05");
    }
}
