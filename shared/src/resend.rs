//! Retrying what we send to customers on their channels (SMS, WhatsApp, Messenger, Instagram,
//! Telegram, email in their thread): a bot answer or a staff reply that the provider could not
//! take because of an outage must still reach them. Transient failures (the provider
//! unreachable, `408`, `425`, `429`, `5xx`) are kept and retried on [`RESEND_SCHEDULE_SECS`]
//! (about eight hours in all); a refusal that will not change (`4xx`: a bad number, an opted-out
//! recipient) is not.

/// Delays before each retry, after the first (immediate) attempt.
pub const RESEND_SCHEDULE_SECS: [u64; 6] = [10, 60, 300, 1_800, 7_200, 21_600];

/// Longest `Retry-After` honoured, in seconds.
pub const MAX_RETRY_AFTER_SECS: u64 = 21_600;

/// Whether a provider's answer (`None`: no answer at all) is worth trying again.
pub fn transient(status: Option<u16>) -> bool {
    matches!(status, None | Some(408 | 425 | 429 | 500..=599))
}

/// After `attempts` failed attempts (1 for the first), how many seconds until the next, or
/// `None` when the schedule is used up. A provider's `Retry-After` longer than the schedule's
/// delay is honoured (capped); `cap` shortens every delay (tests).
pub fn next_after(attempts: u32, retry_after_secs: Option<u64>, cap: Option<u64>) -> Option<u64> {
    let delay = *RESEND_SCHEDULE_SECS.get(attempts.checked_sub(1)? as usize)?;
    let delay = delay.max(retry_after_secs.unwrap_or(0).min(MAX_RETRY_AFTER_SECS));
    Some(cap.map_or(delay, |cap| delay.min(cap)).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_retried_and_refusals_are_not() {
        for status in [None, Some(408), Some(429), Some(500), Some(503)] {
            assert!(transient(status), "{status:?}");
        }
        for status in [Some(400), Some(401), Some(403), Some(404), Some(410), Some(422)] {
            assert!(!transient(status), "{status:?}");
        }
    }

    #[test]
    fn the_schedule_runs_out_and_honours_retry_after() {
        assert_eq!(next_after(0, None, None), None);
        assert_eq!(next_after(1, None, None), Some(10));
        assert_eq!(next_after(2, Some(120), None), Some(120));
        assert_eq!(next_after(2, Some(999_999), None), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(next_after(6, None, None), Some(21_600));
        assert_eq!(next_after(7, None, None), None);
        let total: u64 = (1..=6).filter_map(|n| next_after(n, None, None)).sum();
        assert_eq!(total, 30_970, "about eight and a half hours");
        assert_eq!(next_after(4, None, Some(1)), Some(1));
        assert_eq!(next_after(7, None, Some(1)), None);
    }
}
