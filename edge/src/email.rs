//! Outbound email through one documented HTTP provider API: Postmark's `POST /email`
//! (<https://postmarkapp.com/developer/api/email-api>). The worker builds the request here
//! (native, tested) and the glue sends it.
//!
//! Configuration: `EMAIL_API_URL` (default `https://api.postmarkapp.com`), `EMAIL_API_TOKEN`
//! (the server token, a secret) and `EMAIL_FROM` (a sender signature, e.g.
//! `Larkspur Support <support@larkspur.example>`). Without a token, email is unavailable and the
//! endpoints that send it answer `503 email_unavailable`.

use serde_json::{Value, json};
/// HTML escaping for every text an email or page shows (the one `shared` has for HTML and XML).
pub use shared::message::escape_markup as escape_html;

pub const DEFAULT_API_URL: &str = "https://api.postmarkapp.com";

#[derive(Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub api_url: String,
    pub token: String,
    pub from: String,
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("api_url", &self.api_url)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl EmailConfig {
    /// The configuration from the environment, if email is configured.
    pub fn from_env(api_url: Option<&str>, token: Option<&str>, from: Option<&str>) -> Option<EmailConfig> {
        let token = token.filter(|t| !t.is_empty())?;
        let from = from.filter(|f| !f.is_empty())?;
        Some(EmailConfig {
            api_url: api_url
                .filter(|u| !u.is_empty())
                .unwrap_or(DEFAULT_API_URL)
                .trim_end_matches('/')
                .to_owned(),
            token: token.to_owned(),
            from: from.to_owned(),
        })
    }

    /// The endpoint that sends one email.
    pub fn endpoint(&self) -> String {
        format!("{}/email", self.api_url)
    }

    /// The request headers Postmark requires.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("Accept", "application/json".into()),
            ("Content-Type", "application/json".into()),
            ("X-Postmark-Server-Token", self.token.clone()),
        ]
    }
}

/// One email to send.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutboundEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Postmark's tag, for the provider's statistics.
    pub tag: &'static str,
    /// Where the customer's reply should go (a conversation's reply address).
    pub reply_to: Option<String>,
    /// `Message-ID`, `In-Reply-To`, `References`, when the email belongs to a thread.
    pub thread: Option<Threading>,
}

/// The headers that thread an email into a conversation: ours, and the one it answers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Threading {
    /// Our `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The message this answers, without angle brackets.
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first, without angle brackets.
    pub references: Vec<String>,
}

impl Threading {
    /// The headers as Postmark takes them.
    fn headers(&self) -> Vec<Value> {
        let mut headers = vec![json!({ "Name": "Message-ID", "Value": format!("<{}>", self.message_id) })];
        if let Some(parent) = &self.in_reply_to {
            headers.push(json!({ "Name": "In-Reply-To", "Value": format!("<{parent}>") }));
        }
        if !self.references.is_empty() {
            let references: Vec<String> = self.references.iter().map(|r| format!("<{r}>")).collect();
            headers.push(json!({ "Name": "References", "Value": references.join(" ") }));
        }
        headers
    }
}

/// `Re: <subject>` (once), or a default when there was none.
pub fn reply_subject(subject: &str, site_name: &str) -> String {
    let subject = subject.trim();
    if subject.is_empty() {
        format!("Your question to {site_name}")
    } else if subject.len() >= 3 && subject[..3].eq_ignore_ascii_case("re:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// An answer (the bot's or staff's) to a customer who wrote by email, in their thread.
pub fn answer_email(
    site_name: &str,
    to: &str,
    subject: &str,
    answer: &str,
    reply_to: &str,
    thread: Threading,
    tag: &'static str,
) -> OutboundEmail {
    let text = format!("{answer}\n\n{site_name} support\n\nReply to this email to continue the conversation.");
    let paragraphs = paragraphs_html(answer);
    let html = format!(
        "{paragraphs}<p>{site} support</p><p style=\"color:#475569\">Reply to this email to continue the conversation.</p>",
        site = escape_html(site_name),
    );
    OutboundEmail {
        to: to.to_owned(),
        subject: reply_subject(subject, site_name),
        text,
        html,
        tag,
        reply_to: Some(reply_to.to_owned()),
        thread: Some(thread),
    }
}

/// The one-time code email.
pub fn code_email(site_name: &str, to: &str, code: &str, ttl_minutes: u64) -> OutboundEmail {
    let subject = format!("{code} is your {site_name} verification code");
    let text = format!(
        "Your verification code is {code}.\n\nEnter it in the {site_name} chat to continue your conversation. It works once, for {ttl_minutes} minutes.\n\nIf you did not ask for it, ignore this email: nothing happens without the code."
    );
    let html = format!(
        "<p>Your verification code is</p><p style=\"font-size:28px;font-weight:bold;letter-spacing:4px\">{code}</p><p>Enter it in the {site} chat to continue your conversation. It works once, for {ttl_minutes} minutes.</p><p>If you did not ask for it, ignore this email: nothing happens without the code.</p>",
        code = escape_html(code),
        site = escape_html(site_name),
    );
    OutboundEmail {
        to: to.to_owned(),
        subject,
        text,
        html,
        tag: "verification-code",
        reply_to: None,
        thread: None,
    }
}

/// A staff reply, for a customer who is no longer in the chat.
pub fn reply_email(site_name: &str, to: &str, reply: &str) -> OutboundEmail {
    let subject = format!("A reply from {site_name} support");
    let text = format!(
        "{reply}\n\n{site_name} support\n\nYour conversation is kept in the chat on our site: open it to reply, or answer this email."
    );
    let paragraphs = paragraphs_html(reply);
    let html = format!(
        "{paragraphs}<p>{site} support</p><p style=\"color:#475569\">Your conversation is kept in the chat on our site: open it to reply, or answer this email.</p>",
        site = escape_html(site_name),
    );
    OutboundEmail {
        to: to.to_owned(),
        subject,
        text,
        html,
        tag: "staff-reply",
        reply_to: None,
        thread: None,
    }
}

/// The JSON body of Postmark's `POST /email`.
pub fn postmark_body(config: &EmailConfig, email: &OutboundEmail) -> Value {
    let mut body = json!({
        "From": config.from,
        "To": email.to,
        "Subject": email.subject,
        "TextBody": email.text,
        "HtmlBody": email.html,
        "Tag": email.tag,
        "MessageStream": "outbound",
    });
    if let Some(reply_to) = &email.reply_to {
        body["ReplyTo"] = json!(reply_to);
    }
    if let Some(thread) = &email.thread {
        body["Headers"] = Value::Array(thread.headers());
    }
    body
}

/// Reads Postmark's reply: success is HTTP 200 with `ErrorCode: 0`; otherwise its message.
pub fn postmark_result(status: u16, body: &str) -> Result<(), String> {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed.get("ErrorCode").and_then(Value::as_i64);
    if status == 200 && code == Some(0) {
        return Ok(());
    }
    let message = parsed.get("Message").and_then(Value::as_str).unwrap_or("no message");
    Err(format!(
        "the email provider answered {status} (error code {}): {message}",
        code.map_or("none".into(), |c| c.to_string())
    ))
}

/// Plain text as HTML paragraphs (blank lines split them, single line breaks stay), escaped.
fn paragraphs_html(text: &str) -> String {
    text.split("\n\n")
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br>")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmailConfig {
        EmailConfig::from_env(None, Some("server-token"), Some("Support <support@example.com>")).unwrap()
    }

    #[test]
    fn configuration_needs_a_token_and_a_sender() {
        assert!(EmailConfig::from_env(None, None, Some("a@b.c")).is_none());
        assert!(EmailConfig::from_env(None, Some("t"), None).is_none());
        assert_eq!(config().endpoint(), "https://api.postmarkapp.com/email");
        let local = EmailConfig::from_env(Some("http://127.0.0.1:9/"), Some("t"), Some("a@b.c")).unwrap();
        assert_eq!(local.endpoint(), "http://127.0.0.1:9/email");
        assert!(!format!("{:?}", config()).contains("server-token"));
    }

    #[test]
    fn the_code_email_is_a_postmark_request_with_text_and_escaped_html() {
        let email = code_email("Bob's <Shop>", "ana@example.com", "123456", 10);
        let body = postmark_body(&config(), &email);
        assert_eq!(body["To"], "ana@example.com");
        assert_eq!(body["From"], "Support <support@example.com>");
        assert!(body["Subject"].as_str().unwrap().starts_with("123456 "));
        assert!(body["TextBody"].as_str().unwrap().contains("123456"));
        let html = body["HtmlBody"].as_str().unwrap();
        assert!(html.contains("Bob&#39;s &lt;Shop&gt;"));
        assert!(!html.contains("<Shop>"));
        assert_eq!(body["MessageStream"], "outbound");
    }

    #[test]
    fn a_staff_reply_email_keeps_the_text_and_escapes_the_html() {
        let email = reply_email("Larkspur", "ana@example.com", "Hi Ana,\n\nFixed: <b>done</b> & dusted.");
        assert_eq!(email.subject, "A reply from Larkspur support");
        assert!(email.text.starts_with("Hi Ana,\n\nFixed: <b>done</b> & dusted."));
        assert!(
            email
                .html
                .contains("<p>Fixed: &lt;b&gt;done&lt;/b&gt; &amp; dusted.</p>")
        );
        assert_eq!(email.tag, "staff-reply");
    }

    #[test]
    fn provider_replies() {
        assert!(postmark_result(200, r#"{"To":"a@b.c","ErrorCode":0,"Message":"OK"}"#).is_ok());
        let error = postmark_result(422, r#"{"ErrorCode":300,"Message":"Invalid 'To' address"}"#).unwrap_err();
        assert!(error.contains("300") && error.contains("Invalid 'To'"));
        assert!(postmark_result(500, "oops").is_err());
    }

    #[test]
    fn answers_by_email_stay_in_the_customer_thread() {
        let thread = Threading {
            message_id: "c_1.bot-q@mail.example".into(),
            in_reply_to: Some("abc@customer.example".into()),
            references: vec!["first@customer.example".into(), "abc@customer.example".into()],
        };
        let email = answer_email(
            "Shop",
            "ada@example.com",
            "Where is my <order>?",
            "It ships today.\n\nTrack it <here>.",
            "shop+c_1-0123456789ab@mail.example",
            thread,
            "bot-answer",
        );
        assert_eq!(email.subject, "Re: Where is my <order>?");
        assert!(email.html.contains("Track it &lt;here&gt;."));
        let body = postmark_body(&config(), &email);
        assert_eq!(body["ReplyTo"], "shop+c_1-0123456789ab@mail.example");
        assert_eq!(body["Headers"][0]["Name"], "Message-ID");
        assert_eq!(body["Headers"][0]["Value"], "<c_1.bot-q@mail.example>");
        assert_eq!(body["Headers"][1]["Value"], "<abc@customer.example>");
        assert_eq!(
            body["Headers"][2]["Value"],
            "<first@customer.example> <abc@customer.example>"
        );
        assert_eq!(reply_subject("RE: hi", "Shop"), "RE: hi");
        assert_eq!(reply_subject("  ", "Shop"), "Your question to Shop");
        // Emails outside a thread carry none of it.
        let code = postmark_body(&config(), &code_email("Shop", "a@b.co", "123456", 10));
        assert!(code.get("ReplyTo").is_none() && code.get("Headers").is_none());
    }
}
