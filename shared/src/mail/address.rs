//! Our email addresses. A site receives mail at `<site>@<EMAIL_DOMAIN>` (the deployment's
//! domain, routed to the worker: a site forwards its own support address there), and each
//! conversation has a reply address `<site>+<conversation>-<tag>@<EMAIL_DOMAIN>`, where the tag
//! is an HMAC of the site and conversation: a reply to it joins that conversation, and nobody
//! can write into a conversation by guessing its address.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Hex digits of the tag (48 bits).
const TAG_HEX: usize = 12;

/// Where an inbound email is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The site's address: a new email (or one threaded by its headers).
    Site { site: String },
    /// A conversation's reply address, tag checked.
    Conversation { site: String, conversation: String },
}

/// The key reply-address tags are made with, derived from the deployment's session secret.
pub fn address_key(session_secret: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(session_secret).expect("HMAC accepts any key length");
    mac.update(b"threadline reply addresses v1");
    mac.finalize().into_bytes().into()
}

fn tag(key: &[u8; 32], site: &str, conversation: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(format!("{site}\n{conversation}").as_bytes());
    crate::hex::encode(&mac.finalize().into_bytes())[..TAG_HEX].to_owned()
}

/// The reply address of `conversation` on `site`.
pub fn reply_address(key: &[u8; 32], site: &str, conversation: &str, domain: &str) -> String {
    format!("{site}+{conversation}-{}@{domain}", tag(key, site, conversation))
}

/// Which of our addresses `address` is, if it is one at `domain`. A reply address with a wrong
/// tag counts as the site's address (the email starts or joins a conversation by its sender,
/// never the one it names).
pub fn recipient(key: &[u8; 32], address: &str, domain: &str) -> Option<Recipient> {
    let address = address.trim().to_ascii_lowercase();
    let (local, at) = address.rsplit_once('@')?;
    if at != domain.to_ascii_lowercase() {
        return None;
    }
    let (site, detail) = match local.split_once('+') {
        Some((site, detail)) => (site, Some(detail)),
        None => (local, None),
    };
    if site.is_empty() || !site.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let site = site.to_owned();
    let threaded = detail.and_then(|detail| {
        let (conversation, given) = detail.rsplit_once('-')?;
        let expected = tag(key, &site, conversation);
        // Constant-time comparison of the tag.
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then(|| conversation.to_owned())
    });
    Some(match threaded {
        Some(conversation) => Recipient::Conversation { site, conversation },
        None => Recipient::Site { site },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_addresses_thread_back_only_with_their_tag() {
        let key = address_key(b"secret");
        let address = reply_address(&key, "shop", "v_0123abcd", "mail.threadline.example");
        assert!(address.starts_with("shop+v_0123abcd-") && address.ends_with("@mail.threadline.example"));
        assert!(address.split('@').next().unwrap().len() <= 64);
        assert_eq!(
            recipient(&key, &address.to_uppercase(), "mail.threadline.example"),
            Some(Recipient::Conversation {
                site: "shop".into(),
                conversation: "v_0123abcd".into()
            })
        );
        // Another conversation's id with this tag, or another deployment's key: just the site.
        let forged = address.replace("v_0123abcd", "v_9999");
        assert_eq!(
            recipient(&key, &forged, "mail.threadline.example"),
            Some(Recipient::Site { site: "shop".into() })
        );
        let other = address_key(b"other");
        assert_eq!(
            recipient(&other, &address, "mail.threadline.example"),
            Some(Recipient::Site { site: "shop".into() })
        );
        assert_eq!(
            recipient(&key, "shop@mail.threadline.example", "mail.threadline.example"),
            Some(Recipient::Site { site: "shop".into() })
        );
        assert_eq!(
            recipient(&key, "shop@elsewhere.example", "mail.threadline.example"),
            None
        );
        assert_eq!(
            recipient(&key, "sh/op@mail.threadline.example", "mail.threadline.example"),
            None
        );
        assert_eq!(recipient(&key, "not an address", "mail.threadline.example"), None);
    }
}
