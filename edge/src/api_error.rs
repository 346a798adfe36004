//! The one error type of the public API. Every refusal becomes `{"error": {...}}` with a status
//! from one exhaustive table, so a code always means the same status everywhere.

use shared::article::ArticleError;
use shared::identity::IdentifyError;
use shared::otp::CodeError;
use shared::session::SessionError;
use shared::wire::{ErrorBody, ErrorCode, ErrorEnvelope, RequestError};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub body: ErrorBody,
    /// For 405 responses: the methods the path does accept (the `Allow` header).
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            body: ErrorBody::new(code, message),
            allow: None,
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            body: ErrorBody::new(ErrorCode::InvalidField, message).with_field(field),
            allow: None,
        }
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            ErrorCode::Internal,
            "something went wrong on our side; nothing you sent was lost, please retry",
        )
    }

    pub fn status(&self) -> u16 {
        status(self.body.code)
    }

    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            error: self.body.clone(),
        }
    }

    /// Server faults are logged; client mistakes are not (they are the client's to read).
    pub fn is_server_fault(&self) -> bool {
        self.status() >= 500
    }
}

/// The code → HTTP status table. Exhaustive on purpose: a new code does not compile until it has
/// a status.
pub fn status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::MalformedJson | ErrorCode::InvalidField | ErrorCode::MalformedEmail => 400,
        ErrorCode::MissingToken
        | ErrorCode::InvalidToken
        | ErrorCode::TokenExpired
        | ErrorCode::TokenWrongSite
        | ErrorCode::InvalidKey
        | ErrorCode::IdentityInvalid
        | ErrorCode::IdentityExpired
        | ErrorCode::IdentityWrongSite
        | ErrorCode::CodeInvalid
        | ErrorCode::CodeExpired
        | ErrorCode::InvalidSignature => 401,
        ErrorCode::OriginNotAllowed | ErrorCode::NotAMember | ErrorCode::CodeAttemptsExceeded => 403,
        ErrorCode::UnknownSite
        | ErrorCode::NotFound
        | ErrorCode::UnknownProfile
        | ErrorCode::UnknownMerge
        | ErrorCode::UnknownConversation
        | ErrorCode::UnknownSecret
        | ErrorCode::UnknownRecipient => 404,
        ErrorCode::MethodNotAllowed => 405,
        ErrorCode::SiteExists
        | ErrorCode::Superseded
        | ErrorCode::IdentityNotConfigured
        | ErrorCode::CodeUsed
        | ErrorCode::MergeNotUndoable
        | ErrorCode::TooManySecrets
        | ErrorCode::ChannelUnavailable => 409,
        ErrorCode::PayloadTooLarge => 413,
        ErrorCode::UnsupportedMediaType => 415,
        ErrorCode::UpgradeRequired => 426,
        ErrorCode::RateLimited => 429,
        ErrorCode::Internal | ErrorCode::Unknown => 500,
        ErrorCode::EmailFailed | ErrorCode::IntegrationFailed => 502,
        ErrorCode::EmailUnavailable => 503,
    }
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> ApiError {
        match error {
            RequestError::MalformedJson(message) => ApiError::new(ErrorCode::MalformedJson, message),
            RequestError::Field(field) => ApiError::field(field.field, field.message),
            RequestError::TooLarge { field, message, limit } => {
                let mut body = ErrorBody::new(ErrorCode::PayloadTooLarge, message).with_limit(limit);
                body.field = field;
                ApiError { body, allow: None }
            }
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> ApiError {
        let code = match error {
            SessionError::Invalid => ErrorCode::InvalidToken,
            SessionError::Expired { .. } => ErrorCode::TokenExpired,
            SessionError::WrongSite => ErrorCode::TokenWrongSite,
        };
        ApiError::new(code, error.to_string())
    }
}

impl From<IdentifyError> for ApiError {
    fn from(error: IdentifyError) -> ApiError {
        let code = match error {
            IdentifyError::Invalid | IdentifyError::UnknownKey(_) | IdentifyError::Claims(_) => {
                ErrorCode::IdentityInvalid
            }
            IdentifyError::Expired { .. } | IdentifyError::TooLongLived { .. } => ErrorCode::IdentityExpired,
            IdentifyError::WrongSite(_) => ErrorCode::IdentityWrongSite,
            IdentifyError::NotConfigured => ErrorCode::IdentityNotConfigured,
        };
        ApiError::new(code, error.to_string())
    }
}

impl From<CodeError> for ApiError {
    fn from(error: CodeError) -> ApiError {
        let code = match error {
            CodeError::NoPendingCode | CodeError::Wrong { .. } => ErrorCode::CodeInvalid,
            CodeError::Expired => ErrorCode::CodeExpired,
            CodeError::AlreadyUsed => ErrorCode::CodeUsed,
            CodeError::TooManyAttempts => ErrorCode::CodeAttemptsExceeded,
        };
        ApiError::new(code, error.to_string())
    }
}

impl From<ArticleError> for ApiError {
    fn from(error: ArticleError) -> ApiError {
        let mut api_error = ApiError::new(ErrorCode::InvalidField, error.to_string());
        api_error.body.field = Some(match &error.field {
            Some(field) => format!("line {}: {field}", error.line),
            None => format!("line {}", error.line),
        });
        if error.message.starts_with("not valid JSON") || error.message.starts_with("each line") {
            api_error.body.code = ErrorCode::MalformedJson;
        }
        api_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::wire::FieldError;

    #[test]
    fn statuses() {
        let cases = [
            (ErrorCode::UnknownSite, 404),
            (ErrorCode::OriginNotAllowed, 403),
            (ErrorCode::TokenWrongSite, 401),
            (ErrorCode::MalformedJson, 400),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::RateLimited, 429),
            (ErrorCode::MalformedEmail, 400),
            (ErrorCode::UnknownRecipient, 404),
            (ErrorCode::InvalidSignature, 401),
        ];
        for (code, expected) in cases {
            assert_eq!(status(code), expected, "{code:?}");
        }
    }

    #[test]
    fn request_errors_keep_field_and_limit() {
        let error = ApiError::from(RequestError::Field(FieldError::new("text", "`text` is required")));
        assert_eq!(
            serde_json::to_value(error.envelope()).unwrap(),
            serde_json::json!({
                "error": {"code": "invalid_field", "message": "`text` is required", "field": "text"}
            })
        );
        let error = ApiError::from(RequestError::TooLarge {
            field: Some("text".into()),
            message: "too long".into(),
            limit: 2000,
        });
        assert_eq!(error.status(), 413);
        assert_eq!(error.body.limit, Some(2000));
    }

    #[test]
    fn article_errors_name_the_line() {
        let error =
            ApiError::from(shared::article::parse_jsonl("{\"id\":\"a\",\"title\":\"A\"}\n{\"id\":\"b\"}").unwrap_err());
        assert_eq!(error.body.field.as_deref(), Some("line 2: title"));
        assert_eq!(error.status(), 400);
    }
}
