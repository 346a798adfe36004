//! CORS for the visitor API. Threadline authenticates with bearer tokens and keys, never with
//! cookies, so CORS protects nothing ambient here; it only lets pages read our responses. The
//! origin check that matters (is this page allowed to embed this site?) is done separately and
//! refuses with 403 — a response the widget must be able to read, hence reflecting the origin.

/// Headers for a response to a request that carried `origin`.
pub fn response_headers(origin: Option<&str>) -> Vec<(&'static str, String)> {
    match origin {
        Some(origin) => vec![
            ("Access-Control-Allow-Origin", origin.to_owned()),
            ("Access-Control-Expose-Headers", "Retry-After".to_owned()),
            ("Vary", "Origin".to_owned()),
        ],
        None => Vec::new(),
    }
}

/// Headers for a preflight (`OPTIONS`) response.
pub fn preflight_headers(origin: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = response_headers(origin);
    if origin.is_some() {
        // Every method the API takes (an admin tool in a browser deletes webhooks and keys too).
        headers.push((
            "Access-Control-Allow-Methods",
            "GET, POST, PUT, PATCH, DELETE".to_owned(),
        ));
        headers.push(("Access-Control-Allow-Headers", "Authorization, Content-Type".to_owned()));
        headers.push(("Access-Control-Max-Age", "600".to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflects_only_a_present_origin() {
        assert!(response_headers(None).is_empty());
        let headers = preflight_headers(Some("https://shop.example.com"));
        assert!(headers.contains(&("Access-Control-Allow-Origin", "https://shop.example.com".to_owned())));
        assert!(
            headers
                .iter()
                .any(|(name, value)| *name == "Access-Control-Allow-Headers" && value.contains("Authorization"))
        );
    }

    #[test]
    fn preflight_allows_every_method_the_router_takes() {
        let headers = preflight_headers(Some("https://admin.example.com"));
        let allowed = &headers
            .iter()
            .find(|(name, _)| *name == "Access-Control-Allow-Methods")
            .expect("methods")
            .1;
        for (method, path) in [
            ("GET", "/v1/sites/demo"),
            ("POST", "/v1/sites"),
            ("PUT", "/v1/sites/demo/articles"),
            ("PATCH", "/v1/sites/demo"),
            ("DELETE", "/v1/sites/demo/webhooks/wh_1"),
        ] {
            assert!(crate::route::resolve(method, path).is_ok(), "{method} {path}");
            assert!(allowed.split(", ").any(|m| m == method), "{method} in {allowed}");
        }
    }
}
