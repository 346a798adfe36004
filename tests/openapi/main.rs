//! The OpenAPI 3.1 description of the REST API (`www/docs/openapi.json`) is generated here from
//! the wire types themselves (schemars), so it cannot drift from the code:
//!
//! - this test fails when the committed file differs from what the types and `paths.rs` say;
//!   `THREADLINE_BLESS=1 cargo test -p tests --test openapi` rewrites it;
//! - every operation in it must resolve to a route of the worker's router, and every route of
//!   the router must be in it (`edge/src/route.rs` is the list);
//! - `scripts/schemathesis` then checks the running worker against it (no 5xx, no status,
//!   header or body outside it).

mod doc;
mod paths;

use std::collections::BTreeSet;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let spec = paths::spec();
    let text = serde_json::to_string_pretty(&spec).expect("the description serializes") + "\n";
    let file = root.join("www/docs/openapi.json");

    routes_match(
        &spec,
        &std::fs::read_to_string(root.join("edge/src/route.rs")).expect("route.rs"),
    );

    if std::env::var_os("THREADLINE_BLESS").is_some() {
        std::fs::write(&file, &text).expect("writing www/docs/openapi.json");
        println!("openapi: wrote {} ({} bytes)", file.display(), text.len());
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if committed != text {
        let first = committed
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(text.lines().count()));
        panic!(
            "www/docs/openapi.json is out of date (first difference at line {}): the wire types or \
             tests/openapi/paths.rs changed. Regenerate it with \
             `THREADLINE_BLESS=1 cargo test -p tests --test openapi` and commit it.",
            first + 1
        );
    }
    println!(
        "openapi: www/docs/openapi.json is current ({} operations)",
        operations(&spec).len()
    );
}

/// `(METHOD, path)` of every operation in the description.
fn operations(spec: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Every described operation is a route of the router, and every route is described.
fn routes_match(spec: &serde_json::Value, route_rs: &str) {
    let body = route_rs
        .split_once("pub enum Route {")
        .and_then(|(_, rest)| rest.split_once("\n}\n"))
        .expect("the Route enum in route.rs")
        .0;
    let known: BTreeSet<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(|l| l.trim_end_matches([',', '{', ' ']).to_owned())
        .collect();
    assert!(known.len() > 40, "read {} routes from route.rs", known.len());

    let mut described = BTreeSet::new();
    for (method, path) in operations(spec) {
        let concrete = doc::sample_path(&path);
        let route = edge::route::resolve(&method, &concrete)
            .unwrap_or_else(|e| panic!("{method} {path} ({concrete}) is not a route: {e:?}"));
        let name = format!("{route:?}");
        let name = name.split([' ', '{', '(']).next().unwrap_or_default().to_owned();
        described.insert(name);
    }
    let missing: Vec<_> = known.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "routes with no operation in the OpenAPI description: {missing:?}"
    );
}
