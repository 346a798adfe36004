//! Reading request bodies into typed requests. Every refusal names the field, the value's type
//! and what was expected, because "invalid request" helps nobody integrate.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::identity;
use crate::limits::{MAX_ALLOWED_ORIGINS, MAX_JSON_BODY_BYTES};
use crate::message::{self, TextError};
use crate::site;

use super::ClientFrame;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Not JSON at all, or not the JSON object the endpoint expects.
    MalformedJson(String),
    /// Well-formed JSON with a bad field.
    Field(FieldError),
    /// Over a documented size limit; `limit` is in the unit `message` names.
    TooLarge {
        field: Option<String>,
        message: String,
        limit: u64,
    },
}

impl RequestError {
    /// A request body of `len` bytes over an endpoint's `limit`.
    pub fn body_too_large(len: usize, limit: usize) -> RequestError {
        RequestError::TooLarge {
            field: None,
            message: format!("request body is {len} bytes; the limit is {limit} bytes"),
            limit: limit as u64,
        }
    }
}

/// A field that is missing, of the wrong type, or out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for RequestError {
    fn from(error: FieldError) -> RequestError {
        RequestError::Field(error)
    }
}

/// Parses a request body that must be one JSON object.
pub fn parse_json_body(body: &[u8]) -> Result<Map<String, Value>, RequestError> {
    if body.len() > MAX_JSON_BODY_BYTES {
        return Err(RequestError::body_too_large(body.len(), MAX_JSON_BODY_BYTES));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| RequestError::MalformedJson(format!("body is not valid JSON: {error}")))?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(RequestError::MalformedJson(format!(
            "body must be a JSON object, got {}",
            json_type(&other)
        ))),
    }
}

/// `POST /v1/sites/{site}/conversation/messages`, and the `send` WebSocket frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageRequest {
    pub id: String,
    /// Trimmed, non-empty and within `MAX_MESSAGE_CHARS`.
    pub text: String,
}

impl SendMessageRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<SendMessageRequest, RequestError> {
        let id = required_str(object, "id")?;
        message::validate_client_id(id).map_err(|why| FieldError::new("id", why))?;
        let text = required_str(object, "text")?;
        let text = message::validate_text(text).map_err(|error| match error {
            TextError::TooLong { n_chars, limit } => RequestError::TooLarge {
                field: Some("text".into()),
                message: format!("`text` is {n_chars} characters long; the limit is {limit} characters"),
                limit: limit as u64,
            },
            other => FieldError::new("text", other.to_string()).into(),
        })?;
        Ok(SendMessageRequest {
            id: id.to_owned(),
            text,
        })
    }
}

/// `POST /v1/sites/{site}/conversation/handoff`, and the `request_human` WebSocket frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffRequest {
    pub id: String,
}

impl HandoffRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<HandoffRequest, RequestError> {
        let id = required_str(object, "id")?;
        message::validate_client_id(id).map_err(|why| FieldError::new("id", why))?;
        Ok(HandoffRequest { id: id.to_owned() })
    }
}

impl ClientFrame {
    /// Parses one WebSocket text frame from the widget.
    pub fn parse(frame: &str) -> Result<ClientFrame, RequestError> {
        let object = parse_json_body(frame.as_bytes())?;
        match required_str(&object, "type")? {
            "send" => {
                let SendMessageRequest { id, text } = SendMessageRequest::from_json(&object)?;
                Ok(ClientFrame::Send { id, text })
            }
            "request_human" => {
                let HandoffRequest { id } = HandoffRequest::from_json(&object)?;
                Ok(ClientFrame::RequestHuman { id })
            }
            other => Err(FieldError::new(
                "type",
                format!("unknown frame type {other:?}; expected \"send\" or \"request_human\""),
            )
            .into()),
        }
    }
}

/// The `id` of a frame that could not be parsed, if it has a well-formed one, so the refusal can
/// name the message it refuses.
pub fn frame_id(frame: &str) -> Option<String> {
    let value: Value = serde_json::from_str(frame).ok()?;
    let id = value.get("id")?.as_str()?;
    message::validate_client_id(id).ok()?;
    Some(id.to_owned())
}

/// `POST /v1/sites` (operator API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSiteRequest {
    pub id: String,
    pub name: String,
    /// Normalised to `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
}

impl CreateSiteRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<CreateSiteRequest, RequestError> {
        let id = required_str(object, "id")?;
        site::validate_site_id(id).map_err(|why| FieldError::new("id", why))?;
        let name = site_name(required_str(object, "name")?)?;
        let allowed_origins = origins(object.get("allowed_origins"))?.unwrap_or_default();
        Ok(CreateSiteRequest {
            id: id.to_owned(),
            name,
            allowed_origins,
        })
    }
}

/// `PATCH /v1/sites/{site}`: absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateSiteRequest {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub trait_rules: Option<crate::profile::TraitRules>,
    pub escalation_rules: Option<crate::escalation::EscalationRules>,
    pub widget: Option<crate::widget_settings::WidgetSettings>,
    pub rate_limits: Option<crate::rate::RateLimits>,
    pub privacy: Option<crate::redact::Privacy>,
}

impl UpdateSiteRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<UpdateSiteRequest, RequestError> {
        let name = match object.get("name") {
            None => None,
            Some(Value::String(name)) => Some(site_name(name)?),
            Some(other) => return Err(wrong_type("name", "a string", other).into()),
        };
        let trait_rules = match object.get("trait_rules") {
            None => None,
            Some(value @ Value::Object(rules)) => {
                if rules.len() > identity::MAX_TRAITS {
                    return Err(FieldError::new(
                        "trait_rules",
                        format!("at most {} trait rules", identity::MAX_TRAITS),
                    )
                    .into());
                }
                Some(serde_json::from_value(value.clone()).map_err(|_| {
                    FieldError::new(
                        "trait_rules",
                        "`trait_rules` maps trait names to \"newest\", \"keep_first\" or \"max\"",
                    )
                })?)
            }
            Some(other) => return Err(wrong_type("trait_rules", "an object", other).into()),
        };
        let escalation_rules = match object.get("escalation_rules") {
            None => None,
            Some(value @ Value::Object(_)) => Some(serde_json::from_value(value.clone()).map_err(|error| {
                FieldError::new(
                    "escalation_rules",
                    format!("`escalation_rules` is not valid: {error} (see docs/api.md)"),
                )
            })?),
            Some(other) => return Err(wrong_type("escalation_rules", "an object", other).into()),
        };
        let widget = match object.get("widget") {
            None => None,
            Some(value @ Value::Object(_)) => Some(crate::widget_settings::WidgetSettings::from_json(value)?),
            Some(other) => return Err(wrong_type("widget", "an object", other).into()),
        };
        let rate_limits = match object.get("rate_limits") {
            None => None,
            Some(value @ Value::Object(_)) => Some(crate::rate::RateLimits::from_json(value)?),
            Some(other) => return Err(wrong_type("rate_limits", "an object", other).into()),
        };
        let privacy = match object.get("privacy") {
            None => None,
            Some(value @ Value::Object(_)) => Some(serde_json::from_value(value.clone()).map_err(|error| {
                FieldError::new(
                    "privacy",
                    format!("`privacy` is not valid: {error} (e.g. {{\"redact_card_numbers\": true}})"),
                )
            })?),
            Some(other) => return Err(wrong_type("privacy", "an object", other).into()),
        };
        Ok(UpdateSiteRequest {
            name,
            widget,
            rate_limits,
            privacy,
            allowed_origins: origins(object.get("allowed_origins"))?,
            trait_rules,
            escalation_rules,
        })
    }
}

/// `POST /v1/sites/{site}/identify`: proof from the site's backend of who the visitor is.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentifyRequest {
    /// An identity token (JWT) signed with one of the site's identity secrets.
    Token { token: String },
    /// An Intercom-style user hash over `user_id` and `expires_at`; `email` and `traits` beside it
    /// are claims.
    UserHash {
        user_id: String,
        user_hash: String,
        expires_at: u64,
        email: Option<String>,
        traits: BTreeMap<String, Value>,
    },
}

/// Longest identity token accepted, in bytes.
pub const MAX_IDENTITY_TOKEN_BYTES: usize = 4096;

impl IdentifyRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<IdentifyRequest, RequestError> {
        if let Some(token) = object.get("token") {
            let Value::String(token) = token else {
                return Err(wrong_type("token", "a string (the identity JWT)", token).into());
            };
            if token.len() > MAX_IDENTITY_TOKEN_BYTES {
                return Err(RequestError::TooLarge {
                    field: Some("token".into()),
                    message: format!(
                        "`token` is {} bytes; the limit is {MAX_IDENTITY_TOKEN_BYTES} bytes",
                        token.len()
                    ),
                    limit: MAX_IDENTITY_TOKEN_BYTES as u64,
                });
            }
            return Ok(IdentifyRequest::Token { token: token.clone() });
        }
        if !object.contains_key("user_id") {
            return Err(FieldError::new(
                "token",
                "send either `token` (a signed identity JWT) or `user_id`, `user_hash` and `expires_at`",
            )
            .into());
        }
        let user_id = required_str(object, "user_id")?.to_owned();
        let user_hash = required_str(object, "user_hash")?.to_owned();
        let expires_at = match object.get("expires_at") {
            Some(value) => value
                .as_u64()
                .ok_or_else(|| wrong_type("expires_at", "a whole number of seconds since the Unix epoch", value))?,
            None => return Err(FieldError::new("expires_at", "`expires_at` is required").into()),
        };
        let email = match object.get("email") {
            None | Some(Value::Null) => None,
            Some(Value::String(email)) => Some(email.clone()),
            Some(other) => return Err(wrong_type("email", "a string", other).into()),
        };
        let traits = match object.get("traits") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(traits)) => traits.clone().into_iter().collect(),
            Some(other) => return Err(wrong_type("traits", "an object", other).into()),
        };
        identity::check_traits(&traits).map_err(|why| FieldError::new("traits", why))?;
        Ok(IdentifyRequest::UserHash {
            user_id,
            user_hash,
            expires_at,
            email,
            traits,
        })
    }
}

/// `POST /v1/sites/{site}/identify/email`: send a one-time code to this address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCodeRequest {
    /// Normalised.
    pub email: String,
}

impl EmailCodeRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<EmailCodeRequest, RequestError> {
        let email =
            identity::normalize_email(required_str(object, "email")?).map_err(|why| FieldError::new("email", why))?;
        Ok(EmailCodeRequest { email })
    }
}

/// `POST /v1/sites/{site}/identify/email/verify`: the code the visitor received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailVerifyRequest {
    pub email: String,
    pub code: String,
}

impl EmailVerifyRequest {
    pub fn from_json(object: &Map<String, Value>) -> Result<EmailVerifyRequest, RequestError> {
        let EmailCodeRequest { email } = EmailCodeRequest::from_json(object)?;
        let code = required_str(object, "code")?;
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != crate::otp::CODE_DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "code",
                format!("`code` must be the {} digits from the email", crate::otp::CODE_DIGITS),
            )
            .into());
        }
        Ok(EmailVerifyRequest { email, code: digits })
    }
}

fn site_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    let n_chars = name.chars().count();
    if n_chars == 0 || n_chars > 100 {
        return Err(FieldError::new(
            "name",
            format!("`name` must be 1 to 100 characters, got {n_chars}"),
        ));
    }
    Ok(name.to_owned())
}

fn origins(value: Option<&Value>) -> Result<Option<Vec<String>>, FieldError> {
    let items = match value {
        None => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(wrong_type("allowed_origins", "an array of strings", other)),
    };
    if items.len() > MAX_ALLOWED_ORIGINS {
        return Err(FieldError::new(
            "allowed_origins",
            format!("at most {MAX_ALLOWED_ORIGINS} origins are allowed, got {}", items.len()),
        ));
    }
    let mut origins = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("allowed_origins[{i}]");
        let Value::String(origin) = item else {
            return Err(wrong_type(&field, "a string", item));
        };
        let origin = site::normalize_origin(origin).map_err(|why| FieldError::new(&field, why))?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(Some(origins))
}

fn required_str<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, FieldError> {
    match object.get(field) {
        Some(Value::String(value)) => Ok(value),
        None | Some(Value::Null) => Err(FieldError::new(field, format!("`{field}` is required"))),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

fn wrong_type(field: &str, expected: &str, got: &Value) -> FieldError {
    FieldError::new(field, format!("`{field}` must be {expected}, got {}", json_type(got)))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_MESSAGE_CHARS;

    #[track_caller]
    fn check_send(body: &str, expected: Result<(&str, &str), RequestError>) {
        let actual = parse_json_body(body.as_bytes()).and_then(|o| SendMessageRequest::from_json(&o));
        let expected = expected.map(|(id, text)| SendMessageRequest {
            id: id.into(),
            text: text.into(),
        });
        assert_eq!(actual, expected, "body: {body}");
    }

    fn field(field: &str, message: &str) -> RequestError {
        RequestError::Field(FieldError::new(field, message))
    }

    #[test]
    fn send_message_accepts_and_trims() {
        check_send(
            r#"{"id":"m-1","text":"  How do I reset my password?\n"}"#,
            Ok(("m-1", "How do I reset my password?")),
        );
    }

    #[test]
    fn send_message_names_the_bad_field() {
        check_send(r#"{"id":"m-1"}"#, Err(field("text", "`text` is required")));
        check_send(
            r#"{"id":"m-1","text":5}"#,
            Err(field("text", "`text` must be a string, got a number")),
        );
        check_send(
            r#"{"id":7,"text":"hi"}"#,
            Err(field("id", "`id` must be a string, got a number")),
        );
        check_send(r#"{"id":"m-1","text":"   "}"#, Err(field("text", "message is empty")));
        check_send(
            r#"{"id":"has space","text":"hi"}"#,
            Err(field("id", "`id` may only contain ASCII letters, digits, '-' and '_'")),
        );
    }

    #[test]
    fn send_message_refuses_malformed_json() {
        let error = parse_json_body(b"{\"id\":").unwrap_err();
        assert!(
            matches!(error, RequestError::MalformedJson(ref m) if m.starts_with("body is not valid JSON")),
            "{error:?}"
        );
        let error = parse_json_body(b"[1,2]").unwrap_err();
        assert_eq!(
            error,
            RequestError::MalformedJson("body must be a JSON object, got an array".into())
        );
    }

    #[test]
    fn oversized_text_states_the_limit() {
        let text = "é".repeat(MAX_MESSAGE_CHARS + 1);
        let body = format!(r#"{{"id":"m-1","text":"{text}"}}"#);
        let error = parse_json_body(body.as_bytes())
            .and_then(|o| SendMessageRequest::from_json(&o))
            .unwrap_err();
        assert_eq!(
            error,
            RequestError::TooLarge {
                field: Some("text".into()),
                message: format!(
                    "`text` is {} characters long; the limit is {MAX_MESSAGE_CHARS} characters",
                    MAX_MESSAGE_CHARS + 1
                ),
                limit: MAX_MESSAGE_CHARS as u64,
            }
        );
        // Exactly at the limit is fine.
        let text = "é".repeat(MAX_MESSAGE_CHARS);
        let body = format!(r#"{{"id":"m-1","text":"{text}"}}"#);
        assert!(
            parse_json_body(body.as_bytes())
                .and_then(|o| SendMessageRequest::from_json(&o))
                .is_ok()
        );
    }

    #[test]
    fn oversized_body_is_refused_before_parsing() {
        let body = vec![b' '; MAX_JSON_BODY_BYTES + 1];
        assert!(matches!(
            parse_json_body(&body),
            Err(RequestError::TooLarge { field: None, .. })
        ));
    }

    #[test]
    fn client_frames() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"send","id":"a1","text":"hello"}"#),
            Ok(ClientFrame::Send {
                id: "a1".into(),
                text: "hello".into()
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"request_human","id":"a2"}"#),
            Ok(ClientFrame::RequestHuman { id: "a2".into() })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"shout","id":"a2"}"#),
            Err(field(
                "type",
                "unknown frame type \"shout\"; expected \"send\" or \"request_human\""
            ))
        );
    }

    #[test]
    fn refused_frames_still_name_their_message() {
        assert_eq!(frame_id(r#"{"type":"send","id":"a1","text":5}"#), Some("a1".into()));
        assert_eq!(frame_id(r#"{"type":"send","id":"bad id"}"#), None);
        assert_eq!(frame_id("{not json"), None);
    }

    #[test]
    fn create_site_normalises_origins() {
        let body = r#"{"id":"acme","name":" Acme ","allowed_origins":["https://Shop.Acme.com/","https://shop.acme.com","http://localhost:3000"]}"#;
        let request = CreateSiteRequest::from_json(&parse_json_body(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            request,
            CreateSiteRequest {
                id: "acme".into(),
                name: "Acme".into(),
                allowed_origins: vec!["https://shop.acme.com".into(), "http://localhost:3000".into()],
            }
        );
        let body = r#"{"id":"acme","name":"Acme","allowed_origins":["https://ok.com", 3]}"#;
        assert_eq!(
            CreateSiteRequest::from_json(&parse_json_body(body.as_bytes()).unwrap()),
            Err(field(
                "allowed_origins[1]",
                "`allowed_origins[1]` must be a string, got a number"
            ))
        );
        let body = r#"{"id":"Not A Site","name":"Acme"}"#;
        assert!(matches!(
            CreateSiteRequest::from_json(&parse_json_body(body.as_bytes()).unwrap()),
            Err(RequestError::Field(FieldError { ref field, .. })) if field == "id"
        ));
    }
}
