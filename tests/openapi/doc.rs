//! A small builder for the OpenAPI document: operations are written in `paths.rs`, schemas come
//! from the wire types. Responses are described as the types serialize, request bodies as they
//! deserialize (a field with a default is optional in a request, always present in a response);
//! where the two differ, the request schema is named `<Type>Input`.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

const OUT: &str = "#/components/schemas/";
const IN: &str = "#/components/requestSchemas/";

#[derive(Debug)]
pub struct Doc {
    out: SchemaGenerator,
    input: SchemaGenerator,
    paths: BTreeMap<String, Map<String, Value>>,
}

/// Who may call an operation; each is a security scheme in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credential (public, or the request's own signature is checked by the handler).
    None,
    Operator,
    Admin,
    /// A staff key or the admin key.
    Staff,
    Session,
    /// A session token to renew, or none for a new session.
    SessionOptional,
    /// HTTP Basic with the inbound email secret.
    InboundEmail,
}

impl Auth {
    fn scheme(self) -> Option<&'static str> {
        match self {
            Auth::None => None,
            Auth::Operator => Some("operatorKey"),
            Auth::Admin => Some("adminKey"),
            Auth::Staff => Some("staffKey"),
            Auth::Session | Auth::SessionOptional => Some("sessionToken"),
            Auth::InboundEmail => Some("inboundEmail"),
        }
    }
}

impl Doc {
    pub fn new() -> Doc {
        let settings = |serialize: bool| {
            let s = SchemaSettings::draft2020_12().with(|s| {
                s.meta_schema = None;
                s.definitions_path = if serialize { OUT } else { IN }.trim_start_matches('#').into();
            });
            if serialize {
                s.for_serialize()
            } else {
                s.for_deserialize()
            }
        };
        Doc {
            out: settings(true).into_generator(),
            input: settings(false).into_generator(),
            paths: BTreeMap::new(),
        }
    }

    /// The schema of a response body of type `T` (as it serializes).
    pub fn res<T: JsonSchema>(&mut self) -> Value {
        self.out.subschema_for::<T>().to_value()
    }

    /// The schema of a request body of type `T` (as it deserializes).
    pub fn req<T: JsonSchema>(&mut self) -> Value {
        self.input.subschema_for::<T>().to_value()
    }

    /// Adds an operation. `op` is the OpenAPI operation object; the path's `{…}` parameters
    /// are declared here from `path_param`.
    pub fn add(&mut self, method: &str, path: &str, auth: Auth, mut op: Value) {
        let obj = op.as_object_mut().expect("an operation is an object");
        let given = match obj.remove("parameters") {
            Some(Value::Array(given)) => given,
            _ => Vec::new(),
        };
        let declared = |name: &str| given.iter().any(|p| p["name"] == name && p["in"] == "path");
        let mut all: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .filter(|name| !declared(name))
            .map(path_param)
            .collect();
        all.extend(given);
        if !all.is_empty() {
            obj.insert("parameters".into(), Value::Array(all));
        }
        let security = match auth.scheme() {
            Some(scheme) if auth == Auth::Staff => json!([{ scheme: [] }, { "adminKey": [] }]),
            Some(scheme) if auth == Auth::SessionOptional => json!([{}, { scheme: [] }]),
            Some(scheme) => json!([{ scheme: [] }]),
            None => json!([]),
        };
        obj.insert("security".into(), security);
        let previous = self
            .paths
            .entry(path.to_owned())
            .or_default()
            .insert(method.to_lowercase(), op);
        assert!(previous.is_none(), "{method} {path} is described twice");
    }

    /// The finished document.
    pub fn finish(mut self, head: Value, responses: Value) -> Value {
        let mut schemas: Map<String, Value> = self.out.take_definitions(true).into_iter().collect();
        let inputs: Map<String, Value> = self.input.take_definitions(true).into_iter().collect();
        let names = merge_inputs(&mut schemas, &inputs);
        let mut doc = head;
        doc["paths"] = serde_json::to_value(&self.paths).expect("paths");
        doc["components"]["schemas"] = Value::Object(schemas);
        doc["components"]["responses"] = responses;
        doc["components"]["securitySchemes"] = json!({
            "operatorKey": {"type": "http", "scheme": "bearer",
                "description": "The operator key (`OPERATOR_KEY` secret): creates sites, rotates admin keys."},
            "adminKey": {"type": "http", "scheme": "bearer",
                "description": "A site's admin key (`tl_admin_…`), returned once when the site is created."},
            "staffKey": {"type": "http", "scheme": "bearer",
                "description": "A staff key (`tl_staff_…`) made with the admin key; the admin key works too."},
            "inboundEmail": {"type": "http", "scheme": "basic",
                "description": "Inbound email webhooks: any user name, the `INBOUND_EMAIL_TOKEN` secret as the password."},
            "sessionToken": {"type": "http", "scheme": "bearer",
                "description": "A visitor's session token from `POST /v1/sites/{site}/sessions` (the widget keeps it)."},
        });
        rewrite_refs(&mut doc, &names);
        doc
    }
}

/// Request schemas join the response schemas: one that is the same (and refers only to ones
/// that are the same) is shared; one that differs becomes `<Name>Input`. Returns the name each
/// request schema ends up with.
fn merge_inputs(schemas: &mut Map<String, Value>, inputs: &Map<String, Value>) -> BTreeMap<String, String> {
    let normal = |v: &Value| v.to_string().replace(IN, OUT);
    let refs = |v: &Value| -> BTreeSet<String> {
        let text = v.to_string();
        text.match_indices(IN)
            .map(|(i, _)| text[i + IN.len()..].split('"').next().unwrap_or_default().to_owned())
            .collect()
    };
    // Same text, then drop any whose references are not shared, until nothing changes.
    let mut shared: BTreeSet<String> = inputs
        .iter()
        .filter(|(name, v)| {
            schemas
                .get(*name)
                .is_some_and(|o| serde_json::to_string(o).ok() == Some(normal(v)))
        })
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let before = shared.len();
        shared = shared
            .iter()
            .filter(|n| refs(&inputs[*n]).is_subset(&shared))
            .cloned()
            .collect();
        if shared.len() == before {
            break;
        }
    }
    let mut names = BTreeMap::new();
    for (name, schema) in inputs {
        if shared.contains(name) {
            names.insert(name.clone(), name.clone());
        } else {
            let new = if schemas.contains_key(name) {
                format!("{name}Input")
            } else {
                name.clone()
            };
            schemas.insert(new.clone(), schema.clone());
            names.insert(name.clone(), new);
        }
    }
    names
}

fn rewrite_refs(value: &mut Value, names: &BTreeMap<String, String>) {
    match value {
        Value::String(s) if s.starts_with(IN) => {
            let name = &s[IN.len()..];
            *s = format!("{OUT}{}", names.get(name).map_or(name, String::as_str));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, names)),
        Value::Object(map) => map.values_mut().for_each(|v| rewrite_refs(v, names)),
        _ => {}
    }
}

/// The declaration of a path parameter.
fn path_param(name: &str) -> Value {
    let (description, schema) = match name {
        "site" => (
            "The site's id.",
            json!({"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"}),
        ),
        "conversation" => (
            "A conversation id, as the queue and webhooks give it (`v_…` or `c_…`).",
            json!({"type": "string", "pattern": "^[vc]_[A-Za-z0-9_]{1,78}$"}),
        ),
        "kind" => ("The channel.", json!({"type": "string"})),
        _ => ("An id the API returned.", json!({"type": "string", "minLength": 1})),
    };
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

/// A path with each parameter replaced by a well-formed value (for resolving against the router).
pub fn sample_path(path: &str) -> String {
    path.split('/')
        .map(|s| match s {
            "{site}" => "demo",
            "{conversation}" => "v_sample",
            "{kind}" => "messenger",
            "{decision}" => "approve",
            "{step}" => "status",
            "{integration}" => "stripe",
            s if s.starts_with('{') => "sample",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}
