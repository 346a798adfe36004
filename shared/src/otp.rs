//! One-time codes that prove a visitor can read an email address.
//!
//! A code is six digits, valid for `CODE_TTL_SECS`, good for one use and `MAX_CODE_ATTEMPTS`
//! guesses, and bound to the session and the address it was sent to: only its hash over
//! (site, visitor, address, code) is stored, so a code entered for another address or from
//! another session simply does not match. Sending is rate-limited per session and per address.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Digits in a code.
pub const CODE_DIGITS: u32 = 6;
/// How long a code is valid, in seconds.
pub const CODE_TTL_SECS: u64 = 10 * 60;
/// Wrong guesses allowed per code; then it is void and a new one must be requested.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
/// Codes one session may request per `CODE_WINDOW_SECS`.
pub const MAX_CODES_PER_SESSION: usize = 3;
/// Codes one address may be sent per `CODE_WINDOW_SECS`, whoever asks.
pub const MAX_CODES_PER_ADDRESS: usize = 5;
/// The window of the two send limits, in seconds.
pub const CODE_WINDOW_SECS: u64 = 60 * 60;

/// A uniformly drawn code from caller-supplied random bytes (the bias of 2^64 mod 10^6 is
/// below 10^-13).
pub fn code(random: [u8; 8]) -> String {
    let n = u64::from_le_bytes(random) % 10u64.pow(CODE_DIGITS);
    format!("{n:0width$}", width = CODE_DIGITS as usize)
}

/// What is stored for a code: never the code itself.
pub fn code_hash(site: &str, visitor: &str, email: &str, code: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [site, visitor, email, code] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    crate::hex::encode(&hasher.finalize())
}

/// A code waiting to be entered.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PendingCode {
    pub email: String,
    pub hash: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    pub attempts: u32,
    pub used: bool,
}

impl PendingCode {
    pub fn new(site: &str, visitor: &str, email: &str, code: &str, now: u64) -> PendingCode {
        PendingCode {
            email: email.to_owned(),
            hash: code_hash(site, visitor, email, code),
            expires_at: now + CODE_TTL_SECS,
            attempts: 0,
            used: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("no code was sent to this address from this session; request one first")]
    NoPendingCode,
    #[error("this code was already used; request a new one")]
    AlreadyUsed,
    #[error("this code expired; request a new one")]
    Expired,
    #[error("too many wrong codes; request a new one")]
    TooManyAttempts,
    #[error("that code is not right; {attempts_left} attempts left")]
    Wrong { attempts_left: u32 },
}

/// Checks `presented` against the pending code and returns the code's new state (store it
/// whatever the outcome: attempts count, and success uses the code up).
pub fn check(
    pending: &PendingCode,
    site: &str,
    visitor: &str,
    presented: &str,
    now: u64,
) -> (PendingCode, Result<(), CodeError>) {
    let mut next = pending.clone();
    if pending.used {
        return (next, Err(CodeError::AlreadyUsed));
    }
    if now >= pending.expires_at {
        return (next, Err(CodeError::Expired));
    }
    if pending.attempts >= MAX_CODE_ATTEMPTS {
        return (next, Err(CodeError::TooManyAttempts));
    }
    next.attempts += 1;
    let presented: String = presented.chars().filter(|c| !c.is_whitespace()).collect();
    let hash = code_hash(site, visitor, &pending.email, &presented);
    if constant_time_eq(hash.as_bytes(), pending.hash.as_bytes()) {
        next.used = true;
        (next, Ok(()))
    } else if next.attempts >= MAX_CODE_ATTEMPTS {
        (next, Err(CodeError::TooManyAttempts))
    } else {
        let attempts_left = MAX_CODE_ATTEMPTS - next.attempts;
        (next, Err(CodeError::Wrong { attempts_left }))
    }
}

/// Whether another code may be sent now, given when codes were sent before (seconds) to this
/// session and to this address; `Err` carries how many seconds until one may.
pub fn may_send(session_sends: &[u64], address_sends: &[u64], now: u64) -> Result<(), u64> {
    let wait = |sends: &[u64], limit: usize| -> Option<u64> {
        let mut recent: Vec<u64> = sends
            .iter()
            .copied()
            .filter(|&at| at + CODE_WINDOW_SECS > now)
            .collect();
        if recent.len() < limit {
            return None;
        }
        recent.sort_unstable();
        // The oldest send that must age out of the window first.
        Some(recent[recent.len() - limit] + CODE_WINDOW_SECS - now)
    };
    match (
        wait(session_sends, MAX_CODES_PER_SESSION),
        wait(address_sends, MAX_CODES_PER_ADDRESS),
    ) {
        (None, None) => Ok(()),
        (a, b) => Err(a.unwrap_or(0).max(b.unwrap_or(0))),
    }
}

/// Shows an address without giving it away in full: `a***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000;

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(code([0; 8]), "000000");
        assert_eq!(code(1_234_567u64.to_le_bytes()), "234567");
        assert_eq!(code([0xff; 8]).len(), 6);
    }

    #[test]
    fn a_code_works_once_for_its_address_and_session_until_it_expires() {
        let pending = PendingCode::new("demo", "v1", "ana@example.com", "123456", NOW);
        let (used, result) = check(&pending, "demo", "v1", "123 456", NOW + 5);
        assert_eq!(result, Ok(()));
        assert_eq!(
            check(&used, "demo", "v1", "123456", NOW + 6).1,
            Err(CodeError::AlreadyUsed)
        );
        assert_eq!(
            check(&pending, "demo", "v1", "123456", NOW + CODE_TTL_SECS).1,
            Err(CodeError::Expired)
        );
        // The same digits from another session do not match.
        assert_eq!(
            check(&pending, "demo", "v2", "123456", NOW).1,
            Err(CodeError::Wrong { attempts_left: 4 })
        );
        // Nor does a code sent to another address.
        let other = PendingCode::new("demo", "v1", "bo@example.com", "654321", NOW);
        assert!(check(&other, "demo", "v1", "123456", NOW).1.is_err());
    }

    #[test]
    fn guessing_stops_at_the_attempt_limit() {
        let mut pending = PendingCode::new("demo", "v1", "ana@example.com", "123456", NOW);
        for left in (1..MAX_CODE_ATTEMPTS).rev() {
            let (next, result) = check(&pending, "demo", "v1", "000000", NOW);
            assert_eq!(result, Err(CodeError::Wrong { attempts_left: left }));
            pending = next;
        }
        let (next, result) = check(&pending, "demo", "v1", "000000", NOW);
        assert_eq!(result, Err(CodeError::TooManyAttempts));
        // Even the right code is refused now.
        assert_eq!(
            check(&next, "demo", "v1", "123456", NOW).1,
            Err(CodeError::TooManyAttempts)
        );
    }

    #[test]
    fn sending_is_limited_per_session_and_per_address() {
        assert_eq!(may_send(&[], &[], NOW), Ok(()));
        let session = [NOW - 100, NOW - 50, NOW - 10];
        assert_eq!(may_send(&session, &[], NOW), Err(CODE_WINDOW_SECS - 100));
        // Old sends age out.
        assert_eq!(
            may_send(&[NOW - CODE_WINDOW_SECS, NOW - 50, NOW - 10], &[], NOW),
            Ok(())
        );
        let address = [NOW - 500, NOW - 400, NOW - 300, NOW - 200, NOW - 100];
        assert_eq!(may_send(&[], &address, NOW), Err(CODE_WINDOW_SECS - 500));
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_email("ana@example.com"), "a***@example.com");
    }
}
