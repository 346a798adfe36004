//! Per-conversation rate limiting of visitor messages: a token bucket, as plain data the caller
//! stores and passes back in.

use serde::{Deserialize, Serialize};

use crate::limits::{RATE_BURST_MESSAGES, RATE_REFILL_MS_PER_MESSAGE};

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
