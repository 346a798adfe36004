//! The worker's configuration from its environment (secrets and variables), checked once so a
//! misconfigured deployment fails with a clear log line instead of odd behaviour later.

use shared::jwt::{Key, KeyRing};

/// Shortest secret accepted, in bytes: 32 random bytes, written out, are at least this long.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("secret {name} is not set (see README.md, \"Configuration\")")]
    Missing { name: &'static str },
    #[error("secret {name} is {len} bytes; it must be at least {MIN_SECRET_BYTES} (use `openssl rand -hex 32`)")]
    TooShort { name: &'static str, len: usize },
}

/// The session signing keys: `SESSION_SECRET` signs; `SESSION_SECRET_PREVIOUS`, when set, still
/// verifies, so rotating the secret does not log every visitor out.
pub fn session_keys(current: Option<&str>, previous: Option<&str>) -> Result<KeyRing, ConfigError> {
    let current = secret("SESSION_SECRET", current)?;
    let mut keys = vec![Key::from_secret(current.as_bytes())];
    if let Some(previous) = previous.filter(|p| !p.is_empty()) {
        keys.push(Key::from_secret(
            secret("SESSION_SECRET_PREVIOUS", Some(previous))?.as_bytes(),
        ));
    }
    Ok(KeyRing::new(keys).expect("at least the current key"))
}

/// The operator key, which creates sites and rotates their admin keys.
pub fn operator_key(value: Option<&str>) -> Result<&str, ConfigError> {
    secret("OPERATOR_KEY", value)
}

fn secret<'a>(name: &'static str, value: Option<&'a str>) -> Result<&'a str, ConfigError> {
    let value = value.filter(|v| !v.is_empty()).ok_or(ConfigError::Missing { name })?;
    if value.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::TooShort { name, len: value.len() });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_rotate() {
        let a = "a".repeat(32);
        let b = "b".repeat(32);
        let before = session_keys(Some(&a), None).unwrap();
        let after = session_keys(Some(&b), Some(&a)).unwrap();
        let token = shared::jwt::sign(&serde_json::json!({"exp": 10}), &before);
        assert!(shared::jwt::verify::<serde_json::Value>(&token, &after, 1, 0).is_ok());
    }

    #[test]
    fn refuses_missing_and_short_secrets() {
        assert_eq!(
            session_keys(None, None).unwrap_err(),
            ConfigError::Missing { name: "SESSION_SECRET" }
        );
        assert_eq!(
            session_keys(Some("short"), None).unwrap_err(),
            ConfigError::TooShort {
                name: "SESSION_SECRET",
                len: 5
            }
        );
        assert!(operator_key(Some(&"k".repeat(40))).is_ok());
    }
}
