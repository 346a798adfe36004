//! Per-conversation rate limiting of visitor messages: a token bucket, as plain data the caller
//! stores and passes back in.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::limits::{RATE_BURST_MESSAGES, RATE_REFILL_MS_PER_MESSAGE};
use crate::wire::FieldError;

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RateConfig {
    pub burst: u32,
    pub refill_ms_per_message: u64,
}

impl Default for RateConfig {
    fn default() -> RateConfig {
        RateConfig {
            burst: RATE_BURST_MESSAGES,
            refill_ms_per_message: RATE_REFILL_MS_PER_MESSAGE,
        }
    }
}

/// The bucket's state: how many messages it could take at `updated_at` (ms).
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Bucket {
    /// Thousandths of a message, so refills need no floating point.
    pub milli_tokens: u64,
    pub updated_at: u64,
}

impl Bucket {
    pub fn full(config: &RateConfig, now: u64) -> Bucket {
        Bucket {
            milli_tokens: u64::from(config.burst) * 1000,
            updated_at: now,
        }
    }
}

/// Takes one message from the bucket at `now` (ms). On refusal, says how long until one fits.
pub fn take(bucket: Bucket, config: &RateConfig, now: u64) -> Result<Bucket, u64> {
    let capacity = u64::from(config.burst) * 1000;
    let elapsed = now.saturating_sub(bucket.updated_at);
    let refilled = elapsed.saturating_mul(1000) / config.refill_ms_per_message.max(1);
    let milli_tokens = bucket.milli_tokens.saturating_add(refilled).min(capacity);
    if milli_tokens >= 1000 {
        Ok(Bucket {
            milli_tokens: milli_tokens - 1000,
            updated_at: now,
        })
    } else {
        let missing = 1000 - milli_tokens;
        Err((missing * config.refill_ms_per_message).div_ceil(1000))
    }
}

/// One limit: bursts of up to `burst`, refilled evenly at `per_hour` an hour.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub burst: u32,
    pub per_hour: u32,
}

impl Limit {
    const fn new(burst: u32, per_hour: u32) -> Limit {
        Limit { burst, per_hour }
    }

    pub fn config(self) -> RateConfig {
        RateConfig {
            burst: self.burst,
            refill_ms_per_message: (3_600_000 / u64::from(self.per_hour.max(1))).max(1),
        }
    }
}

/// A site's rate limits: per conversation (session), per network address and for the whole
/// site, on messages, new sessions and one-time or continuation codes. Fields left out keep their
/// defaults.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Visitor messages in one conversation.
    pub session_messages: Limit,
    /// Visitor messages from one network address, across its sessions.
    pub ip_messages: Limit,
    /// Visitor messages on the whole site.
    pub site_messages: Limit,
    /// New sessions (first visits) from one network address.
    pub ip_sessions: Limit,
    /// New sessions on the whole site.
    pub site_sessions: Limit,
    /// Email codes and "continue on another channel" codes requested from one network address.
    pub ip_codes: Limit,
    /// The same on the whole site.
    pub site_codes: Limit,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits {
            session_messages: Limit::new(RATE_BURST_MESSAGES, (3_600_000 / RATE_REFILL_MS_PER_MESSAGE) as u32),
            // An office or a mobile carrier puts many visitors behind one address.
            ip_messages: Limit::new(60, 3_600),
            site_messages: Limit::new(600, 72_000),
            ip_sessions: Limit::new(20, 600),
            site_sessions: Limit::new(300, 36_000),
            ip_codes: Limit::new(30, 60),
            site_codes: Limit::new(200, 2_000),
        }
    }
}

/// Highest burst or hourly rate a site may set.
pub const MAX_LIMIT: u32 = 10_000_000;

/// What a request asks to do, for the limits that apply to it.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Session,
    Message,
    Code,
}

impl Action {
    /// In the words of an error message.
    pub fn noun(self) -> &'static str {
        match self {
            Action::Session => "new sessions",
            Action::Message => "messages",
            Action::Code => "code requests",
        }
    }
}

impl RateLimits {
    /// Reads and checks a site's `rate_limits` object; a refusal names the field.
    pub fn from_json(value: &serde_json::Value) -> Result<RateLimits, FieldError> {
        let limits: RateLimits = serde_json::from_value(value.clone()).map_err(|error| {
            FieldError::new(
                "rate_limits",
                format!("`rate_limits` is not valid: {error} (each limit is {{\"burst\": n, \"per_hour\": n}}; see docs/api.md)"),
            )
        })?;
        for (name, limit) in limits.named() {
            for (part, n) in [("burst", limit.burst), ("per_hour", limit.per_hour)] {
                if !(1..=MAX_LIMIT).contains(&n) {
                    return Err(FieldError::new(
                        format!("rate_limits.{name}.{part}"),
                        format!("`rate_limits.{name}.{part}` must be 1 to {MAX_LIMIT}, got {n}"),
                    ));
                }
            }
        }
        Ok(limits)
    }

    fn named(&self) -> [(&'static str, Limit); 7] {
        [
            ("session_messages", self.session_messages),
            ("ip_messages", self.ip_messages),
            ("site_messages", self.site_messages),
            ("ip_sessions", self.ip_sessions),
            ("site_sessions", self.site_sessions),
            ("ip_codes", self.ip_codes),
            ("site_codes", self.site_codes),
        ]
    }

    /// The per-address and whole-site limits on `action`.
    pub fn shared(&self, action: Action) -> (Limit, Limit) {
        match action {
            Action::Session => (self.ip_sessions, self.site_sessions),
            Action::Message => (self.ip_messages, self.site_messages),
            Action::Code => (self.ip_codes, self.site_codes),
        }
    }
}

/// Most keys [`Buckets`] keeps before it forgets the ones that have refilled.
pub const MAX_BUCKETS: usize = 50_000;

/// Token buckets for many keys (an address, the site), kept by whoever counts them.
#[derive(Default, Debug)]
pub struct Buckets {
    map: HashMap<String, (Bucket, RateConfig)>,
}

impl Buckets {
    /// Takes one from every bucket named in `checks` at `now`, or from none: on refusal, the
    /// index of the first check that refused and how long until all of them would admit.
    pub fn take_all(&mut self, checks: &[(String, RateConfig)], now: u64) -> Result<(), (usize, u64)> {
        let mut taken = Vec::with_capacity(checks.len());
        let mut refused: Option<(usize, u64)> = None;
        for (i, (key, config)) in checks.iter().enumerate() {
            let bucket = self
                .map
                .get(key)
                .map_or_else(|| Bucket::full(config, now), |(bucket, _)| *bucket);
            match take(bucket, config, now) {
                Ok(bucket) => taken.push((key.clone(), bucket, *config)),
                Err(wait) => {
                    let (first, longest) = refused.unwrap_or((i, 0));
                    refused = Some((first, longest.max(wait)));
                }
            }
        }
        if let Some(refused) = refused {
            return Err(refused);
        }
        if self.map.len() + taken.len() > MAX_BUCKETS {
            self.forget_full(now);
        }
        for (key, bucket, config) in taken {
            self.map.insert(key, (bucket, config));
        }
        Ok(())
    }

    /// Drops buckets that would be full again by `now`: forgetting them changes nothing.
    fn forget_full(&mut self, now: u64) {
        self.map.retain(|_, (bucket, config)| {
            let missing = u64::from(config.burst) * 1000 - bucket.milli_tokens.min(u64::from(config.burst) * 1000);
            now.saturating_sub(bucket.updated_at) * 1000 < missing * config.refill_ms_per_message
        });
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_buckets_take_from_all_or_none_and_forget_the_refilled() {
        let tight = RateConfig {
            burst: 1,
            refill_ms_per_message: 1000,
        };
        let loose = RateConfig {
            burst: 5,
            refill_ms_per_message: 1000,
        };
        let mut buckets = Buckets::default();
        let checks = |ip: &str| vec![(format!("ip:{ip}"), tight), ("site".to_owned(), loose)];
        assert_eq!(buckets.take_all(&checks("a"), 0), Ok(()));
        // The address is spent: refused, and the site's bucket is not charged for it.
        assert_eq!(buckets.take_all(&checks("a"), 100), Err((0, 900)));
        for ip in ["b", "c", "d", "e"] {
            assert_eq!(buckets.take_all(&checks(ip), 200), Ok(()), "{ip}");
        }
        // Five taken from the site, none refused: now the site is what refuses.
        assert_eq!(buckets.take_all(&checks("f"), 200), Err((1, 800)));
        assert_eq!(buckets.take_all(&checks("a"), 1_000), Ok(()));
        assert_eq!(buckets.len(), 6);
        buckets.forget_full(100_000);
        assert!(buckets.is_empty());
    }

    #[test]
    fn site_limits_are_read_with_defaults_and_refused_by_name() {
        let defaults = RateLimits::default();
        assert_eq!(defaults.session_messages.config(), RateConfig::default());
        let partial = RateLimits::from_json(&serde_json::json!({"ip_messages": {"burst": 5, "per_hour": 60}})).unwrap();
        assert_eq!(partial.ip_messages.config().refill_ms_per_message, 60_000);
        assert_eq!(partial.site_messages, defaults.site_messages);
        let zero = RateLimits::from_json(&serde_json::json!({"site_codes": {"burst": 0, "per_hour": 60}}));
        assert_eq!(zero.unwrap_err().field, "rate_limits.site_codes.burst");
        for bad in [
            serde_json::json!({"ip_messages": {"burst": 5}}),
            serde_json::json!({"ip_mesages": {"burst": 5, "per_hour": 60}}),
            serde_json::json!({"ip_messages": {"burst": -1, "per_hour": 60}}),
        ] {
            assert_eq!(RateLimits::from_json(&bad).unwrap_err().field, "rate_limits", "{bad}");
        }
    }

    #[test]
    fn burst_then_steady_rate() {
        let config = RateConfig {
            burst: 3,
            refill_ms_per_message: 1000,
        };
        let mut bucket = Bucket::full(&config, 0);
        for _ in 0..3 {
            bucket = take(bucket, &config, 0).unwrap();
        }
        assert_eq!(take(bucket, &config, 0), Err(1000));
        assert_eq!(take(bucket, &config, 400), Err(600));
        bucket = take(bucket, &config, 1000).unwrap();
        assert_eq!(take(bucket, &config, 1000), Err(1000));
        // A long pause refills to the burst size, not beyond.
        bucket = take(bucket, &config, 1_000_000).unwrap();
        assert_eq!(bucket.milli_tokens, 2000);
    }

    #[test]
    fn a_refusal_does_not_spend() {
        let config = RateConfig {
            burst: 1,
            refill_ms_per_message: 1000,
        };
        let bucket = take(Bucket::full(&config, 0), &config, 0).unwrap();
        assert!(take(bucket, &config, 500).is_err());
        // The refused attempt left the stored bucket untouched, so the full refill still counts.
        assert!(take(bucket, &config, 1000).is_ok());
    }
}
