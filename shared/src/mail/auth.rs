//! Whether an inbound email's sender is authenticated: the receiving server's SPF, DKIM and
//! DMARC results (`Authentication-Results`, RFC 8601), aligned with the `From:` domain as
//! DMARC defines alignment (relaxed: the same organisational domain, approximated as one domain
//! being the other or a subdomain of it). Only results the receiving server wrote count: the
//! caller says which `authserv-id` it trusts, and a sender cannot forge that server's header
//! above the one it adds.

/// One `Authentication-Results` header, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthResults {
    /// Who wrote it (the receiving server).
    pub authserv_id: String,
    /// `(method, result, properties)`, e.g. `("dkim", "pass", [("header.d", "example.com")])`.
    pub results: Vec<MethodResult>,
}

/// One method's result: `(method, result, properties)`, all lowercase.
pub type MethodResult = (String, String, Vec<(String, String)>);

/// Parses one `Authentication-Results` header value; comments in parentheses are skipped.
pub fn parse(value: &str) -> AuthResults {
    let cleaned = strip_comments(value);
    let mut parts = cleaned.split(';');
    let authserv_id = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut results = Vec::new();
    for part in parts {
        let mut tokens = part.split_whitespace();
        let Some((method, result)) = tokens.next().and_then(|t| t.split_once('=')) else {
            continue;
        };
        let props = tokens
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_ascii_lowercase()))
            .collect();
        results.push((method.to_ascii_lowercase(), result.to_ascii_lowercase(), props));
    }
    AuthResults { authserv_id, results }
}

fn strip_comments(value: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `domain` aligns with `from_domain` (relaxed alignment).
pub fn aligned(domain: &str, from_domain: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let from = from_domain.trim_end_matches('.').to_ascii_lowercase();
    !domain.is_empty()
        && (domain == from || from.ends_with(&format!(".{domain}")) || domain.ends_with(&format!(".{from}")))
}

/// Whether the results say the `From:` domain is authentic: DMARC passed for it, or DKIM or SPF
/// passed for an aligned domain.
pub fn sender_authenticated(results: &AuthResults, from_domain: &str) -> bool {
    results.results.iter().any(|(method, result, props)| {
        if result != "pass" {
            return false;
        }
        let prop = |name: &str| props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        match method.as_str() {
            "dmarc" => prop("header.from").is_none_or(|d| aligned(d, from_domain)),
            "dkim" => prop("header.d")
                .or_else(|| prop("header.i").and_then(|i| i.rsplit('@').next()))
                .is_some_and(|d| aligned(d, from_domain)),
            "spf" => prop("smtp.mailfrom")
                .map(|m| m.rsplit('@').next().unwrap_or(m))
                .is_some_and(|d| aligned(d, from_domain)),
            _ => false,
        }
    })
}

/// The first `Authentication-Results` among `headers` (topmost first, as received) written by
/// `trusted_authserv_id`, and whether it authenticates `from_domain`.
pub fn authenticated_by(headers: &[&str], trusted_authserv_id: &str, from_domain: &str) -> bool {
    headers
        .iter()
        .map(|h| parse(h))
        .find(|r| r.authserv_id == trusted_authserv_id.to_ascii_lowercase())
        .is_some_and(|r| sender_authenticated(&r, from_domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDFLARE: &str = "mx.cloudflare.net; dkim=pass header.d=example.com header.s=s1 header.b=abc; \
        dmarc=pass (policy=reject) header.from=example.com; \
        spf=pass (mx.cloudflare.net: domain of ada@example.com designates 1.2.3.4 as permitted sender) smtp.mailfrom=ada@example.com";

    #[test]
    fn parses_methods_results_and_properties() {
        let parsed = parse(CLOUDFLARE);
        assert_eq!(parsed.authserv_id, "mx.cloudflare.net");
        assert_eq!(parsed.results.len(), 3);
        assert_eq!(parsed.results[0].0, "dkim");
        assert_eq!(parsed.results[0].1, "pass");
        assert!(
            parsed.results[2]
                .2
                .contains(&("smtp.mailfrom".into(), "ada@example.com".into()))
        );
    }

    #[test]
    fn only_aligned_passes_from_the_trusted_server_count() {
        assert!(authenticated_by(&[CLOUDFLARE], "mx.cloudflare.net", "example.com"));
        assert!(authenticated_by(&[CLOUDFLARE], "mx.cloudflare.net", "mail.example.com"));
        // The results are for another domain than the From: header claims.
        assert!(!authenticated_by(&[CLOUDFLARE], "mx.cloudflare.net", "bank.example"));
        // A header the sender wrote itself (another authserv-id) is ignored.
        let forged = "mx.cloudflare.net.evil; dkim=pass header.d=bank.example";
        assert!(!authenticated_by(&[forged], "mx.cloudflare.net", "bank.example"));
        let failed = "mx.cloudflare.net; dkim=fail header.d=example.com; spf=softfail smtp.mailfrom=example.com; dmarc=fail header.from=example.com";
        assert!(!authenticated_by(&[failed], "mx.cloudflare.net", "example.com"));
        let spf_only = "mx.cloudflare.net; spf=pass smtp.mailfrom=bounces@example.com";
        assert!(authenticated_by(&[spf_only], "mx.cloudflare.net", "example.com"));
        assert!(!authenticated_by(&[], "mx.cloudflare.net", "example.com"));
        assert!(!aligned("", "example.com"));
        assert!(!aligned("ample.com", "example.com"));
    }
}
