//! Every operation of the REST API. Response bodies are the wire types' own schemas; request
//! bodies that the worker parses by hand (to name the offending field) are written out here with
//! the limits from `shared::limits`.

use edge::internal as int;
use serde_json::{Map, Value, json};
use shared::limits::{
    MAX_ALLOWED_ORIGINS, MAX_ARTICLES_UPLOAD_BYTES, MAX_CLIENT_ID_BYTES, MAX_JSON_BODY_BYTES, MAX_MESSAGE_CHARS,
};
use shared::wire as w;

use crate::doc::{Auth, Doc};

/// An operation object under construction.
struct Op(Map<String, Value>);

impl Op {
    fn new(id: &str, tag: &str, summary: &str) -> Op {
        let mut m = Map::new();
        m.insert("operationId".into(), json!(id));
        m.insert("tags".into(), json!([tag]));
        m.insert("summary".into(), json!(summary));
        m.insert(
            "responses".into(),
            json!({"500": {"$ref": "#/components/responses/Internal"}}),
        );
        Op(m)
    }

    fn about(mut self, text: &str) -> Op {
        self.0.insert("description".into(), json!(text));
        self
    }

    fn query(mut self, name: &str, required: bool, schema: Value, description: &str) -> Op {
        let params = self.0.entry("parameters").or_insert_with(|| json!([]));
        params.as_array_mut().expect("parameters").push(json!({
            "name": name, "in": "query", "required": required, "schema": schema, "description": description,
        }));
        self
    }

    fn header(mut self, name: &str, required: bool, description: &str) -> Op {
        let params = self.0.entry("parameters").or_insert_with(|| json!([]));
        params.as_array_mut().expect("parameters").push(json!({
            "name": name, "in": "header", "required": required, "schema": {"type": "string"}, "description": description,
        }));
        self
    }

    /// A JSON body (`Content-Type: application/json`, at most 16 KiB).
    fn json(self, schema: Value) -> Op {
        self.body(
            true,
            json!({"application/json": {"schema": schema}}),
            MAX_JSON_BODY_BYTES,
        )
    }

    /// An optional JSON body: read only when the request has a non-empty one.
    fn optional_json(self, schema: Value) -> Op {
        self.body(
            false,
            json!({"application/json": {"schema": schema}}),
            MAX_JSON_BODY_BYTES,
        )
    }

    /// A JSON Lines body (`application/x-ndjson` or `application/jsonl`, at most 4 MiB), one
    /// `line` object per line. Described as the array of its lines.
    fn json_lines(self, line: Value) -> Op {
        let schema = json!({"type": "array", "items": line,
            "description": "Sent as JSON Lines: each item is one line; blank lines are skipped."});
        self.body(
            true,
            json!({"application/x-ndjson": {"schema": schema}, "application/jsonl": {"schema": schema}}),
            MAX_ARTICLES_UPLOAD_BYTES,
        )
    }

    fn body(mut self, required: bool, content: Value, limit: usize) -> Op {
        self.0.insert(
            "requestBody".into(),
            json!({"required": required, "content": content, "description": format!("At most {limit} bytes.")}),
        );
        self.errors(&[400, 413, 415])
    }

    /// A JSON success response.
    fn ok(self, status: u16, description: &str, schema: Value) -> Op {
        self.ok_as(status, description, json!({"application/json": {"schema": schema}}))
    }

    fn ok_as(mut self, status: u16, description: &str, content: Value) -> Op {
        let responses = self
            .0
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .expect("responses");
        responses.insert(
            status.to_string(),
            json!({"description": description, "content": content}),
        );
        self
    }

    fn errors(mut self, statuses: &[u16]) -> Op {
        let responses = self
            .0
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .expect("responses");
        for status in statuses {
            let name = match status {
                400 => "BadRequest",
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                413 => "PayloadTooLarge",
                415 => "UnsupportedMediaType",
                426 => "UpgradeRequired",
                429 => "TooManyRequests",
                502 => "BadGateway",
                503 => "Unavailable",
                other => panic!("no error response for {other}"),
            };
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/{name}")}),
            );
        }
        self
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// An object whose listed properties are all present.
fn obj(props: &[(&str, Value)]) -> Value {
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    let properties: Map<String, Value> = props.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    json!({"type": "object", "required": required, "properties": properties})
}

/// An object with some required and some optional properties.
fn obj_opt(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut o = obj(required);
    for (k, v) in optional {
        o["properties"][*k] = v.clone();
    }
    o
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn text(min: usize, max: usize) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max})
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn client_id() -> Value {
    json!({"type": "string", "pattern": format!("^[A-Za-z0-9_-]{{1,{MAX_CLIENT_ID_BYTES}}}$"),
        "description": "The client's own id for this message: a resend with the same id is stored once."})
}

fn date() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
}

fn deleted() -> Value {
    obj(&[("deleted", string())])
}

pub fn spec() -> Value {
    let mut d = Doc::new();
    operator(&mut d);
    site_admin(&mut d);
    channels(&mut d);
    integrations(&mut d);
    inbound(&mut d);
    visitor(&mut d);
    identity_admin(&mut d);
    webhooks_and_keys(&mut d);
    metrics(&mut d);
    staff(&mut d);
    d.res::<w::ErrorEnvelope>(); // the error responses refer to it
    d.finish(head(), error_responses())
}

fn head() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Threadline API",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Multi-channel customer support: one customer, one conversation, on every channel.",
            "description": "Generated from the wire types by `tests/openapi` (do not edit by hand). \
                Every error is `{\"error\": {\"code\", \"message\", \"field\"?, \"limit\"?, \"retry_after_ms\"?}}`; \
                the prose reference is /docs/api.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "The worker that serves this file (`wrangler dev` or your Cloudflare deployment)."}],
        "tags": [
            {"name": "Visitor", "description": "Called by the widget from the site's pages (session token, origin checked)."},
            {"name": "Site admin", "description": "A site's settings, knowledge and channels (admin key)."},
            {"name": "Identity and profiles", "description": "Identity secrets, profiles, imports, merges (admin key)."},
            {"name": "Webhooks and keys", "description": "Outbound webhooks, dead letters, staff keys (admin key)."},
            {"name": "Metrics and learning", "description": "Support metrics and the knowledge that learns (admin key)."},
            {"name": "Staff", "description": "The queue and replies (staff key or admin key)."},
            {"name": "Inbound channels", "description": "Providers' webhooks (each checks its provider's signature)."},
            {"name": "Operator", "description": "Running the service (operator key)."},
        ],
    })
}

fn error_responses() -> Value {
    let body = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}});
    let response = |description: &str| json!({"description": description, "content": body});
    let retry_after = |required: bool| {
        json!({"Retry-After": {"required": required, "description": "Seconds to wait before trying again.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"}}})
    };
    let mut too_many =
        response("Over a rate limit (`rate_limited`): nothing was stored; `retry_after_ms` says when to try again.");
    too_many["headers"] = retry_after(true);
    let mut bad_gateway =
        response("The email provider failed (`email_failed`); transient failures carry `retry_after_ms`.");
    bad_gateway["headers"] = retry_after(false);
    json!({
        "BadRequest": response("The body or a parameter is wrong (`malformed_json`, `invalid_field` naming the `field`, `malformed_email`). Nothing changed."),
        "Unauthorized": response("A credential is missing or wrong (`invalid_key`, `missing_token`, `invalid_token`, `token_expired`, `token_wrong_site`, `invalid_signature`, `identity_*`, `code_*`)."),
        "Forbidden": response("Not allowed (`origin_not_allowed`, `not_a_member`, `code_attempts_exceeded`)."),
        "NotFound": response("No such thing (`unknown_site`, `unknown_conversation`, `unknown_profile`, `unknown_merge`, `unknown_secret`, `unknown_recipient`, `not_found`)."),
        "Conflict": response("The state does not allow it (`site_exists`, `superseded`, `too_many_secrets`, `identity_not_configured`, `code_used`, `merge_not_undoable`, `channel_unavailable`)."),
        "PayloadTooLarge": response("The body, or a field in it, is over its limit (`payload_too_large`, with `limit` and sometimes `field`)."),
        "UnsupportedMediaType": response("The `Content-Type` is not one this endpoint reads (`unsupported_media_type`)."),
        "UpgradeRequired": response("This endpoint speaks WebSocket (`upgrade_required`)."),
        "TooManyRequests": too_many,
        "Internal": response("Something failed on our side (`internal`); nothing already accepted was lost. Retry."),
        "BadGateway": bad_gateway,
        "Unavailable": response("A provider this needs is not configured (`email_unavailable`)."),
    })
}

fn operator(d: &mut Doc) {
    d.add(
        "GET",
        "/healthz",
        Auth::None,
        Op::new("health", "Operator", "Is the worker up")
            .ok(200, "Up.", obj(&[("ok", json!({"const": true}))]))
            .done(),
    );
    let create = obj_opt(
        &[
            (
                "id",
                json!({"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"}),
            ),
            ("name", text(1, 100)),
        ],
        &[("allowed_origins", origins())],
    );
    let created = d.res::<w::SiteKeyResponse>();
    d.add(
        "POST",
        "/v1/sites",
        Auth::Operator,
        Op::new("createSite", "Operator", "Create a site")
            .about("Returns the site and its admin key (shown once).")
            .json(create)
            .ok(201, "Created.", created.clone())
            .errors(&[401, 409])
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/admin-key",
        Auth::Operator,
        Op::new("rotateAdminKey", "Operator", "Replace a site's admin key")
            .about("The old key stops working at once.")
            .ok(200, "The new key.", created)
            .errors(&[401, 404])
            .done(),
    );
}

fn origins() -> Value {
    json!({"type": "array", "maxItems": MAX_ALLOWED_ORIGINS, "items": {"type": "string"},
        "description": "Origins (`scheme://host[:port]`) whose pages may use the visitor API."})
}

fn site_admin(d: &mut Doc) {
    let view = d.res::<w::SiteView>();
    d.add(
        "GET",
        "/v1/sites/{site}",
        Auth::Admin,
        Op::new("getSite", "Site admin", "Read a site's settings")
            .ok(200, "The site.", view.clone())
            .errors(&[401, 404])
            .done(),
    );
    let update = json!({
        "type": "object",
        "description": "Each field present replaces the stored value; a field left out keeps it. `null` is refused.",
        "properties": {
            "name": text(1, 100),
            "allowed_origins": origins(),
            "trait_rules": d.req::<shared::profile::TraitRules>(),
            "escalation_rules": d.req::<shared::escalation::EscalationRules>(),
            "widget": d.req::<shared::widget_settings::WidgetSettings>(),
            "rate_limits": d.req::<shared::rate::RateLimits>(),
            "privacy": d.req::<shared::redact::Privacy>(),
        },
    });
    d.add(
        "PATCH",
        "/v1/sites/{site}",
        Auth::Admin,
        Op::new("updateSite", "Site admin", "Change a site's settings")
            .json(update)
            .ok(200, "The site as stored.", view)
            .errors(&[401, 404])
            .done(),
    );
    let articles = array(d.res::<shared::article::Article>());
    d.add(
        "GET",
        "/v1/sites/{site}/articles",
        Auth::Admin,
        Op::new("getArticles", "Site admin", "The knowledge base's articles")
            .ok(200, "Every article.", articles)
            .errors(&[401, 404])
            .done(),
    );
    let stored = d.res::<w::ArticlesResponse>();
    d.add(
        "PUT",
        "/v1/sites/{site}/articles",
        Auth::Admin,
        Op::new("putArticles", "Site admin", "Replace the knowledge base")
            .about("One article per line: `{\"id\", \"title\", \"body\"?, \"questions\"?, \"url\"?}`. An empty body empties it.")
            .json_lines(obj_opt(
                &[
                    ("id", json!({"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,100}$"})),
                    ("title", text(1, shared::limits::MAX_ARTICLE_TITLE_CHARS)),
                ],
                &[
                    ("body", nullable(text(0, shared::limits::MAX_ARTICLE_BODY_CHARS))),
                    ("questions", nullable(json!({"type": "array", "maxItems": shared::limits::MAX_ARTICLE_QUESTIONS, "items": string()}))),
                    ("url", nullable(json!({"type": "string", "pattern": "^https?://[^\\s]+$"}))),
                ],
            ))
            .ok(200, "Stored and indexed.", stored)
            .errors(&[401, 404, 409])
            .done(),
    );
}

fn channels(d: &mut Doc) {
    let info = d.res::<int::ChannelInfo>();
    let inbox = d.res::<int::InboxStatus>();
    d.add(
        "GET",
        "/v1/sites/{site}/channels",
        Auth::Admin,
        Op::new("listChannels", "Site admin", "The channels set up (no secrets), and the inbox's backlog")
            .ok(
                200,
                "The channels, and the channel messages acknowledged to their providers but not yet in their conversations.",
                obj(&[("channels", array(info.clone())), ("inbox", inbox)]),
            )
            .errors(&[401, 404])
            .done(),
    );
    let hex32 = json!({"type": "string", "pattern": "^[0-9a-fA-F]{32}$"});
    let sms = obj(&[
        (
            "account_sid",
            json!({"type": "string", "pattern": "^AC[0-9a-fA-F]{32}$"}),
        ),
        ("auth_token", hex32.clone()),
        ("from", string()),
    ]);
    let whatsapp = obj_opt(
        &[
            ("phone_number_id", json!({"type": "string", "pattern": "^[0-9]{1,32}$"})),
            ("access_token", text(1, 1024)),
            ("app_secret", hex32.clone()),
            ("verify_token", text(8, 128)),
        ],
        &[("phone_number", nullable(string()))],
    );
    let telegram = obj_opt(
        &[
            ("bot_token", string()),
            (
                "secret_token",
                json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,256}$"}),
            ),
        ],
        &[("username", nullable(string()))],
    );
    let page = obj(&[
        ("page_id", json!({"type": "string", "pattern": "^[0-9]{1,32}$"})),
        ("access_token", text(1, 1024)),
        ("app_secret", hex32.clone()),
        ("verify_token", text(8, 128)),
    ]);
    let voice = obj_opt(
        &[
            (
                "account_sid",
                json!({"type": "string", "pattern": "^AC[0-9a-fA-F]{32}$"}),
            ),
            ("auth_token", hex32.clone()),
            ("number", string()),
        ],
        &[
            ("support_number", nullable(string())),
            ("record_calls", json!({"type": "boolean", "default": true})),
            (
                "language",
                json!({"type": "string", "default": "en-US", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,4}){1,2}$"}),
            ),
        ],
    );
    let kind = json!({"name": "kind", "in": "path", "required": true,
        "schema": {"enum": ["sms", "voice", "whatsapp", "telegram", "messenger", "instagram"]}});
    let mut put = Op::new("putChannel", "Site admin", "Set up a channel (replaces its settings)")
        .about("The body depends on `kind`: sms (Twilio Messaging), voice (Twilio Voice: the line's `number`, the `support_number` calls are put through to, `record_calls` for recorded transfers and voicemail, the `language` spoken and heard), whatsapp, telegram, messenger or instagram. Secrets are stored, never returned.")
        .json(json!({"anyOf": [sms, voice, whatsapp, telegram, page]}))
        .ok(200, "The channel, with the webhook URL to give the provider.", info)
        .errors(&[401, 404])
        .done();
    put["parameters"] = json!([kind.clone()]);
    d.add("PUT", "/v1/sites/{site}/channels/{kind}", Auth::Admin, put);
    let mut delete = Op::new("deleteChannel", "Site admin", "Remove a channel")
        .ok(200, "Removed.", deleted())
        .errors(&[401, 404])
        .done();
    delete["parameters"] = json!([kind]);
    d.add("DELETE", "/v1/sites/{site}/channels/{kind}", Auth::Admin, delete);
}

fn integrations(d: &mut Doc) {
    let info = d.res::<int::IntegrationInfo>();
    d.add(
        "GET",
        "/v1/sites/{site}/integrations",
        Auth::Admin,
        Op::new("listIntegrations", "Site admin", "The integrations set up (no secrets), and how each last went")
            .about("`last_ok_at`, or `last_error` and `last_error_at`: a failing integration shows here, and never breaks a conversation.")
            .ok(200, "The integrations.", obj(&[("integrations", array(info.clone()))]))
            .errors(&[401, 404])
            .done(),
    );
    let kind = json!({"name": "integration", "in": "path", "required": true, "description": "The integration.", "schema": {"enum": ["stripe", "hubspot", "linear", "connector"]}});
    let stripe = obj(&[
        (
            "api_key",
            json!({"type": "string", "pattern": "^(sk|rk)_[A-Za-z0-9_]{9,253}$"}),
        ),
        (
            "webhook_secret",
            json!({"type": "string", "pattern": "^whsec_.{10,250}$"}),
        ),
    ]);
    let hubspot = obj_opt(
        &[(
            "access_token",
            json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{16,512}$"}),
        )],
        &[(
            "properties",
            nullable(
                json!({"type": "array", "maxItems": shared::hubspot::MAX_PROPERTIES, "items": {"type": "string", "pattern": "^[a-z0-9_]{1,100}$"}}),
            ),
        )],
    );
    let connector = obj_opt(
        &[("url", json!({"type": "string", "format": "uri", "maxLength": 2048}))],
        &[
            (
                "cache_secs",
                json!({"type": "integer", "minimum": 0, "maximum": shared::connector::MAX_CACHE_SECS}),
            ),
            (
                "timeout_ms",
                json!({"type": "integer", "minimum": 100, "maximum": 5000}),
            ),
        ],
    );
    let uuid = json!({"type": "string", "format": "uuid"});
    let linear = obj_opt(
        &[
            (
                "api_key",
                json!({"type": "string", "pattern": "^lin_api_[A-Za-z0-9_]{16,248}$"}),
            ),
            ("team_id", uuid.clone()),
            (
                "webhook_secret",
                json!({"type": "string", "pattern": "^[!-~]{16,256}$"}),
            ),
        ],
        &[
            (
                "label_ids",
                nullable(json!({"type": "array", "maxItems": 10, "items": uuid})),
            ),
            ("fixed_message", nullable(text(1, 1000))),
        ],
    );
    let mut put = Op::new("putIntegration", "Site admin", "Set up an integration (replaces its settings)")
        .about("`stripe`: a secret or restricted API key (read access to customers, subscriptions and invoices) and the webhook endpoint's signing secret. `hubspot`: a private app's access token and the contact properties to read. `linear`: a personal API key, the team bugs are filed in (and labels they get), the signing secret of the Linear webhook you point at `webhook_url`, and what customers are told when their bug is fixed. `connector`: your own https endpoint, which we ask for a customer's traits (signed like our webhooks, with a new `secret` returned by this call only), how long its answers are cached and how long it may take. Secrets are stored, never returned (but for the connector's, once).")
        .json(json!({"anyOf": [stripe, hubspot, linear, connector]}))
        .ok(200, "The integration, with the webhook URL to give the service.", info)
        .errors(&[401, 404])
        .done();
    put["parameters"] = json!([kind.clone()]);
    d.add("PUT", "/v1/sites/{site}/integrations/{integration}", Auth::Admin, put);
    let mut delete = Op::new("deleteIntegration", "Site admin", "Remove an integration")
        .ok(200, "Removed.", deleted())
        .errors(&[401, 404])
        .done();
    delete["parameters"] = json!([kind]);
    d.add(
        "DELETE",
        "/v1/sites/{site}/integrations/{integration}",
        Auth::Admin,
        delete,
    );
    d.add(
        "POST",
        "/v1/sites/{site}/integrations/stripe/webhook",
        Auth::None,
        Op::new("stripeWebhook", "Inbound channels", "A Stripe event")
            .about("Checks `Stripe-Signature` (HMAC-SHA256 of `{t}.{body}` with the signing secret, `t` within 300 s of now) before reading anything. Subscription, customer and invoice events update the customer's traits at once, each event once; others are acknowledged and ignored.")
            .header("Stripe-Signature", false, "Stripe's signature: `t=<seconds>,v1=<hex>`.")
            .body(true, json!({"application/json": {"schema": {"type": "object"}}}), 512 * 1024)
            .ok(
                200,
                "Received: whether it changed a profile (`applied`), or had been applied before (`duplicate`).",
                obj_opt(
                    &[("received", json!({"type": "boolean"}))],
                    &[("applied", json!({"type": "boolean"})), ("duplicate", json!({"type": "boolean"})), ("profile", nullable(string()))],
                ),
            )
            .errors(&[401, 404, 502])
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/integrations/linear/webhook",
        Auth::None,
        Op::new("linearWebhook", "Inbound channels", "A Linear webhook")
            .about("Checks `Linear-Signature` (HMAC-SHA256 of the body with the webhook's signing secret, hex) and `webhookTimestamp` (within 60 s of now) before reading anything. An issue filed from a conversation moving to a completed state tells its customer, on the channel they last wrote on; canceled or reopened leaves staff a note. Everything else is acknowledged and ignored; each close is told once.")
            .header("Linear-Signature", false, "Linear's signature: hex HMAC-SHA256 of the body.")
            .body(true, json!({"application/json": {"schema": {"type": "object"}}}), 512 * 1024)
            .ok(
                200,
                "Received: whether it changed anything (`applied`), or had before (`duplicate`), and how the customer was told.",
                obj_opt(
                    &[("received", json!({"type": "boolean"}))],
                    &[
                        ("applied", json!({"type": "boolean"})),
                        ("duplicate", json!({"type": "boolean"})),
                        ("conversation", string()),
                        ("outcome", json!({"enum": ["fixed", "canceled", "reopened"]})),
                        ("delivered_by", nullable(string())),
                    ],
                ),
            )
            .errors(&[401, 404])
            .done(),
    );
}

fn inbound(d: &mut Doc) {
    let result = d.res::<int::InboundResult>();
    let postmark = json!({"type": "object", "description": "Postmark's inbound webhook (only these fields are read).",
        "properties": {"OriginalRecipient": string(), "To": string(), "RawEmail": string(),
            "Headers": array(obj(&[("Name", string()), ("Value", string())]))}});
    let email_op = |id: &str, summary: &str| {
        Op::new(id, "Inbound channels", summary).about(
            "HTTP Basic credentials: any user name, the `INBOUND_EMAIL_TOKEN` secret as the password. Raw messages over 5 MiB are refused.",
        )
    };
    d.add(
        "POST",
        "/v1/inbound/email/postmark",
        Auth::InboundEmail,
        email_op("inboundPostmark", "An email, from Postmark")
            .body(
                true,
                json!({"application/json": {"schema": postmark}}),
                15 * 1024 * 1024,
            )
            .ok(200, "Stored (or already stored).", result.clone())
            .errors(&[401, 404, 503])
            .done(),
    );
    let sendgrid = json!({"type": "object", "description": "SendGrid Inbound Parse, raw or parsed mode.",
        "properties": {"envelope": string(), "to": string(), "email": string(), "headers": string(),
            "text": string(), "html": string(), "dkim": string(), "SPF": string()}});
    d.add(
        "POST",
        "/v1/inbound/email/sendgrid",
        Auth::InboundEmail,
        email_op("inboundSendgrid", "An email, from SendGrid Inbound Parse")
            .body(
                true,
                json!({"multipart/form-data": {"schema": sendgrid}}),
                15 * 1024 * 1024,
            )
            .ok(200, "Stored (or already stored).", result)
            .errors(&[401, 404, 503])
            .done(),
    );
    let twilio = json!({"type": "object", "required": ["MessageSid", "From"], "properties": {
        "MessageSid": string(), "From": string(), "To": string(), "Body": string(), "NumMedia": string()}});
    d.add(
        "POST",
        "/v1/sites/{site}/inbound/sms/twilio",
        Auth::None,
        Op::new("inboundTwilioSms", "Inbound channels", "An SMS, from Twilio")
            .about("Checks `X-Twilio-Signature` (HMAC-SHA1 of the URL and sorted parameters with the channel's auth token).")
            .header("X-Twilio-Signature", false, "Twilio's signature of the request.")
            .body(true, json!({"application/x-www-form-urlencoded": {"schema": twilio}}), 64 * 1024)
            .ok_as(200, "TwiML: empty, or the answer to a STOP/START/HELP keyword.",
                json!({"text/xml": {"schema": string()}}))
            .errors(&[401, 404])
            .done(),
    );
    let call = json!({"type": "object", "required": ["CallSid", "To"], "description": "Twilio Voice's request parameters (only these are read).",
        "properties": {"CallSid": json!({"type": "string", "pattern": "^CA[0-9a-fA-F]{32}$"}), "From": string(), "To": string(),
            "CallStatus": string(), "SpeechResult": string(), "Confidence": string(), "Digits": string(),
            "CallDuration": string(), "DialCallStatus": string(), "RecordingUrl": string(), "TranscriptionText": string()}});
    let twiml = || json!({"text/xml": {"schema": string()}});
    d.add(
        "POST",
        "/v1/sites/{site}/inbound/voice/twilio",
        Auth::None,
        Op::new("inboundVoice", "Inbound channels", "A phone call comes in, from Twilio Voice")
            .about("The number's \"A call comes in\" webhook. Checks `X-Twilio-Signature` (as for SMS) before anything is read or kept. A site or number with no phone line set up hears a polite message (TwiML, `200`), never an error tone.")
            .header("X-Twilio-Signature", false, "Twilio's signature of the full URL and the sorted parameters.")
            .body(true, json!({"application/x-www-form-urlencoded": {"schema": call.clone()}}), 64 * 1024)
            .ok_as(200, "TwiML: the greeting and a `<Gather>` for the caller's question, or the transfer to a person.", twiml())
            .errors(&[401, 404])
            .done(),
    );
    let mut step = Op::new("inboundVoiceStep", "Inbound channels", "The rest of a call, from Twilio Voice")
        .about("`gather` (what the caller said or pressed; `turn` numbers the question), `dial` (how a transfer ended), `recorded` (a voicemail), `transcription` (its text, possibly after the call) are the actions of the TwiML we answered; `status` is the number's \"Call status changes\" webhook. All are signed like the first request.")
        .query("turn", false, json!({"type": "integer", "minimum": 1, "maximum": shared::voice::MAX_TURNS}), "`gather`: the question's number (required there).")
        .header("X-Twilio-Signature", false, "Twilio's signature of the full URL and the sorted parameters.")
        .body(true, json!({"application/x-www-form-urlencoded": {"schema": call}}), 64 * 1024)
        .ok_as(200, "TwiML: the next thing the caller hears (empty for `transcription` and `status`).", twiml())
        .errors(&[401, 404])
        .done();
    step["parameters"]
        .as_array_mut()
        .expect("parameters")
        .push(json!({"name": "step", "in": "path", "required": true,
        "schema": {"enum": ["gather", "dial", "recorded", "transcription", "status"]}}));
    d.add("POST", "/v1/sites/{site}/inbound/voice/twilio/{step}", Auth::None, step);
    let handshake = |id: &str, provider: &str| {
        Op::new(
            id,
            "Inbound channels",
            &format!("{provider}'s webhook verification handshake"),
        )
        .query("hub.mode", false, json!({"const": "subscribe"}), "Always `subscribe`.")
        .query("hub.verify_token", false, string(), "The channel's `verify_token`.")
        .query("hub.challenge", false, string(), "Echoed back on success.")
        .ok_as(
            200,
            "The challenge, echoed.",
            json!({"text/plain": {"schema": string()}}),
        )
        .errors(&[401, 404])
        .done()
    };
    let events = |id: &str, provider: &str, limit: usize, header: &str| {
        Op::new(id, "Inbound channels", &format!("{provider}'s message events"))
            .header(header, false, "The provider's signature of the body.")
            .body(true, json!({"application/json": {"schema": {"type": "object"}}}), limit)
            .ok(
                200,
                "How many messages were stored.",
                obj(&[("messages", json!({"type": "integer", "minimum": 0}))]),
            )
            .errors(&[401, 404])
            .done()
    };
    d.add(
        "GET",
        "/v1/sites/{site}/inbound/whatsapp",
        Auth::None,
        handshake("whatsappHandshake", "WhatsApp"),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/inbound/whatsapp",
        Auth::None,
        events("inboundWhatsapp", "WhatsApp", 256 * 1024, "X-Hub-Signature-256"),
    );
    let page_kind =
        json!([{"name": "kind", "in": "path", "required": true, "schema": {"enum": ["messenger", "instagram"]}}]);
    let mut get = handshake("pageHandshake", "Messenger's or Instagram");
    get["parameters"]
        .as_array_mut()
        .expect("parameters")
        .insert(0, page_kind[0].clone());
    d.add("GET", "/v1/sites/{site}/inbound/{kind}", Auth::None, get);
    let mut post = events(
        "inboundPage",
        "Messenger's or Instagram",
        256 * 1024,
        "X-Hub-Signature-256",
    );
    post["parameters"]
        .as_array_mut()
        .expect("parameters")
        .insert(0, page_kind[0].clone());
    d.add("POST", "/v1/sites/{site}/inbound/{kind}", Auth::None, post);
    d.add(
        "POST",
        "/v1/sites/{site}/inbound/telegram",
        Auth::None,
        events(
            "inboundTelegram",
            "Telegram",
            64 * 1024,
            "X-Telegram-Bot-Api-Secret-Token",
        ),
    );
}

fn visitor(d: &mut Doc) {
    let config = d.res::<w::WidgetConfig>();
    d.add(
        "GET",
        "/v1/sites/{site}/widget",
        Auth::None,
        Op::new("widgetConfig", "Visitor", "How the widget looks and speaks")
            .query(
                "lang",
                false,
                string(),
                "The visitor's languages, best first (comma-separated tags).",
            )
            .ok(200, "The widget's settings, in the visitor's language.", config)
            .errors(&[403, 404])
            .done(),
    );
    let session = d.res::<w::SessionResponse>();
    d.add(
        "POST",
        "/v1/sites/{site}/sessions",
        Auth::SessionOptional,
        Op::new("createSession", "Visitor", "Start a session, or renew one")
            .about("Without a token, a new visitor (rate-limited per address and per site); with one, the same visitor with a fresh token.")
            .ok(201, "A session token.", session)
            .errors(&[401, 403, 404, 429])
            .done(),
    );
    let visitor_errors = [401, 403, 404];
    let transcript = d.res::<w::TranscriptResponse>();
    d.add(
        "GET",
        "/v1/sites/{site}/conversation",
        Auth::Session,
        Op::new("transcript", "Visitor", "The visitor's conversation")
            .query(
                "after",
                false,
                json!({"type": "integer", "minimum": 0}),
                "Only messages after this sequence number.",
            )
            .ok(200, "Up to 500 messages.", transcript)
            .errors(&visitor_errors)
            .errors(&[400])
            .done(),
    );
    let sent = d.res::<w::SendMessageResponse>();
    let message = obj(&[("id", client_id()), ("text", text(1, MAX_MESSAGE_CHARS))]);
    d.add(
        "POST",
        "/v1/sites/{site}/conversation/messages",
        Auth::Session,
        Op::new("sendMessage", "Visitor", "Send a message")
            .about("Idempotent by `id`. The answer holds the stored message and the bot's reply, if any.")
            .json(message.clone())
            .ok(200, "Stored.", sent.clone())
            .errors(&visitor_errors)
            .errors(&[429])
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/conversation/handoff",
        Auth::Session,
        Op::new("requestHuman", "Visitor", "Ask for a person")
            .json(obj(&[("id", client_id())]))
            .ok(200, "Queued for the team.", sent)
            .errors(&visitor_errors)
            .errors(&[429])
            .done(),
    );
    let msg = d.res::<w::Message>();
    d.add(
        "POST",
        "/v1/sites/{site}/conversation/feedback",
        Auth::Session,
        Op::new("feedback", "Visitor", "Did a bot answer help")
            .json(obj(&[
                ("message", text(1, 200)),
                ("helpful", json!({"type": "boolean"})),
            ]))
            .ok(200, "The answer, with the vote.", obj(&[("message", msg)]))
            .errors(&visitor_errors)
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/conversation/traits",
        Auth::Session,
        Op::new(
            "updateTraits",
            "Visitor",
            "What the page says about the visitor (claims, never proof)",
        )
        .json(obj(&[(
            "traits",
            json!({"type": "object", "maxProperties": shared::identity::MAX_TRAITS}),
        )]))
        .ok(200, "The visitor's profile.", obj(&[("profile", string())]))
        .errors(&visitor_errors)
        .done(),
    );
    let rating = d.res::<int::Rating>();
    d.add(
        "POST",
        "/v1/sites/{site}/conversation/rating",
        Auth::Session,
        Op::new("rate", "Visitor", "Rate the conversation (CSAT)")
            .json(obj_opt(
                &[("score", json!({"type": "integer", "minimum": 1, "maximum": 5}))],
                &[("comment", nullable(text(0, 1000)))],
            ))
            .ok(200, "Stored.", obj(&[("rating", rating)]))
            .errors(&visitor_errors)
            .done(),
    );
    let target = d.res::<shared::continuation::Target>();
    d.add(
        "GET",
        "/v1/sites/{site}/conversation/continue",
        Auth::Session,
        Op::new("continueChannels", "Visitor", "Channels the conversation can move to")
            .ok(200, "The channels.", obj(&[("channels", array(target))]))
            .errors(&visitor_errors)
            .done(),
    );
    let invitation = d.res::<shared::continuation::Invitation>();
    let channel = d.req::<shared::continuation::Target>();
    d.add(
        "POST",
        "/v1/sites/{site}/conversation/continue",
        Auth::Session,
        Op::new(
            "startContinue",
            "Visitor",
            "A code and link to continue on another channel",
        )
        .json(obj(&[("channel", channel)]))
        .ok(201, "The invitation.", invitation)
        .errors(&visitor_errors)
        .errors(&[409, 429])
        .done(),
    );
    d.add(
        "GET",
        "/v1/sites/{site}/conversation/live",
        Auth::None,
        Op::new("live", "Visitor", "The conversation, live (WebSocket)")
            .about(
                "Upgrade with `Sec-WebSocket-Protocol: threadline.v1, bearer.<session token>`. \
                 Frames are described in /docs/api. A request without `Upgrade: websocket` gets 426.",
            )
            .query(
                "after",
                false,
                json!({"type": "integer", "minimum": 0}),
                "History after this sequence number.",
            )
            .ok_as(101, "Switched to WebSocket.", json!({}))
            .errors(&[400, 401, 403, 404, 426])
            .done(),
    );
    let identified = d.res::<w::IdentifyResponse>();
    let identify = json!({"anyOf": [
        obj(&[("token", text(1, w::MAX_IDENTITY_TOKEN_BYTES))]),
        obj_opt(
            &[("user_id", string()), ("user_hash", json!({"type": "string", "pattern": "^[0-9a-fA-F]{64}$"})),
              ("expires_at", json!({"type": "integer", "minimum": 0}))],
            &[("email", nullable(string())), ("traits", nullable(json!({"type": "object"})))],
        ),
    ]});
    d.add(
        "POST",
        "/v1/sites/{site}/identify",
        Auth::Session,
        Op::new("identify", "Visitor", "Prove who the visitor is (site-signed)")
            .about("A JWT signed with an identity secret, or a `user_hash` (HMAC of the user id). Returns a new session token.")
            .json(identify)
            .ok(200, "Identified.", identified.clone())
            .errors(&visitor_errors)
            .errors(&[409])
            .done(),
    );
    let code_sent = d.res::<w::EmailCodeResponse>();
    let email = json!({"type": "string", "maxLength": 254});
    d.add(
        "POST",
        "/v1/sites/{site}/identify/email",
        Auth::Session,
        Op::new("requestEmailCode", "Visitor", "Send a code to an email address")
            .json(obj(&[("email", email.clone())]))
            .ok(202, "Sent.", code_sent)
            .errors(&visitor_errors)
            .errors(&[429, 502, 503])
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/identify/email/verify",
        Auth::Session,
        Op::new("verifyEmailCode", "Visitor", "Prove an email address with its code")
            .json(obj(&[("email", email), ("code", json!({"type": "string"}))]))
            .ok(200, "Identified.", identified)
            .errors(&visitor_errors)
            .errors(&[409])
            .done(),
    );
}

fn identity_admin(d: &mut Doc) {
    let tag = "Identity and profiles";
    let info = d.res::<w::IdentitySecretInfo>();
    d.add(
        "GET",
        "/v1/sites/{site}/identity-secrets",
        Auth::Admin,
        Op::new("listIdentitySecrets", tag, "Identity secrets (ids only)")
            .ok(200, "Newest first.", obj(&[("secrets", array(info))]))
            .errors(&[401, 404])
            .done(),
    );
    let secret = d.res::<w::IdentitySecretResponse>();
    d.add(
        "POST",
        "/v1/sites/{site}/identity-secrets",
        Auth::Admin,
        Op::new("createIdentitySecret", tag, "Make an identity secret (shown once)")
            .ok(201, "The secret.", secret)
            .errors(&[401, 404, 409])
            .done(),
    );
    d.add(
        "DELETE",
        "/v1/sites/{site}/identity-secrets/{kid}",
        Auth::Admin,
        Op::new("deleteIdentitySecret", tag, "Delete an identity secret")
            .ok(200, "Deleted.", deleted())
            .errors(&[401, 404])
            .done(),
    );
    let view = d.res::<int::ProfileView>();
    d.add(
        "GET",
        "/v1/sites/{site}/profiles",
        Auth::Admin,
        Op::new("findProfiles", tag, "Profiles holding an identity")
            .query("identity", true, json!({"type": "string", "pattern": "^(session|user_id|email|phone|whatsapp|messenger|instagram|telegram):.+$"}), "`kind:value`, e.g. `email:ana@example.com`.")
            .ok(200, "Verified holder first.", obj(&[("profiles", array(view.clone()))]))
            .errors(&[400, 401, 404])
            .done(),
    );
    let report = d.res::<int::ImportReport>();
    d.add(
        "POST",
        "/v1/sites/{site}/profiles/import",
        Auth::Admin,
        Op::new("importProfiles", tag, "Import customers")
            .json_lines(obj_opt(
                &[("user_id", text(1, shared::identity::MAX_IDENTITY_BYTES))],
                &[
                    ("email", nullable(string())),
                    ("phone", nullable(string())),
                    (
                        "traits",
                        nullable(json!({"type": "object", "maxProperties": shared::identity::MAX_TRAITS})),
                    ),
                ],
            ))
            .ok(200, "What changed.", report)
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "GET",
        "/v1/sites/{site}/profiles/{profile}",
        Auth::Admin,
        Op::new("getProfile", tag, "A profile")
            .ok(200, "The profile.", view)
            .errors(&[401, 404])
            .done(),
    );
    let erased = d.res::<int::ErasureReport>();
    d.add(
        "DELETE",
        "/v1/sites/{site}/profiles/{profile}",
        Auth::Admin,
        Op::new("deleteProfile", tag, "Erase a profile and its conversations")
            .ok(200, "What was erased.", erased)
            .errors(&[401, 404])
            .done(),
    );
    let export = d.res::<int::ProfileExport>();
    d.add(
        "GET",
        "/v1/sites/{site}/profiles/{profile}/export",
        Auth::Admin,
        Op::new("exportProfile", tag, "Everything held about a customer")
            .ok(200, "The export.", export)
            .errors(&[401, 404])
            .done(),
    );
    let undo = d.res::<int::UndoReport>();
    d.add(
        "POST",
        "/v1/sites/{site}/merges/{merge}/undo",
        Auth::Admin,
        Op::new("undoMerge", tag, "Undo a merge of two profiles")
            .ok(200, "The two profiles again.", undo)
            .errors(&[401, 404, 409])
            .done(),
    );
}

fn webhooks_and_keys(d: &mut Doc) {
    let tag = "Webhooks and keys";
    let info = d.res::<int::WebhookInfo>();
    let format = d.req::<int::WebhookFormat>();
    let events = json!({"type": "array", "minItems": 1, "items": {"enum": shared::webhook::EVENTS}});
    d.add(
        "POST",
        "/v1/sites/{site}/webhooks",
        Auth::Admin,
        Op::new("createWebhook", tag, "Subscribe an endpoint to events")
            .about("Deliveries are signed (Standard Webhooks) with the returned secret, and retried.")
            .json(obj_opt(
                &[(
                    "url",
                    json!({"type": "string", "maxLength": 2048, "pattern": "^https?://"}),
                )],
                &[("events", events), ("format", format)],
            ))
            .ok(
                201,
                "The endpoint and its signing secret (shown once).",
                json!({"allOf": [info.clone(), obj(&[("secret", string())])]}),
            )
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "GET",
        "/v1/sites/{site}/webhooks",
        Auth::Admin,
        Op::new("listWebhooks", tag, "Webhook endpoints")
            .ok(200, "The endpoints.", obj(&[("webhooks", array(info))]))
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "DELETE",
        "/v1/sites/{site}/webhooks/{id}",
        Auth::Admin,
        Op::new("deleteWebhook", tag, "Remove a webhook endpoint")
            .ok(200, "Removed.", deleted())
            .errors(&[401, 404])
            .done(),
    );
    let dead = d.res::<int::DeadLetterInfo>();
    d.add(
        "GET",
        "/v1/sites/{site}/dead-letters",
        Auth::Admin,
        Op::new("listDeadLetters", tag, "Deliveries that failed every retry")
            .ok(200, "Up to 500.", obj(&[("dead_letters", array(dead))]))
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/dead-letters/{id}/replay",
        Auth::Admin,
        Op::new("replayDeadLetter", tag, "Deliver a dead letter again")
            .ok(200, "Queued.", obj(&[("replayed", json!({"const": true}))]))
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "POST",
        "/v1/sites/{site}/staff-keys",
        Auth::Admin,
        Op::new("createStaffKey", tag, "Make a staff key (shown once)")
            .json(obj_opt(&[("name", text(1, 100))], &[("team", nullable(text(1, 60)))]))
            .ok(
                201,
                "The key.",
                obj(&[
                    ("id", string()),
                    ("name", string()),
                    ("team", nullable(string())),
                    ("created_at", json!({"type": "integer"})),
                    ("key", string()),
                ]),
            )
            .errors(&[401, 404])
            .done(),
    );
    let key = d.res::<int::StaffKeyInfo>();
    d.add(
        "GET",
        "/v1/sites/{site}/staff-keys",
        Auth::Admin,
        Op::new("listStaffKeys", tag, "Staff keys (never the keys themselves)")
            .ok(200, "The keys.", obj(&[("staff_keys", array(key))]))
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "DELETE",
        "/v1/sites/{site}/staff-keys/{id}",
        Auth::Admin,
        Op::new("deleteStaffKey", tag, "Revoke a staff key")
            .ok(200, "Revoked.", deleted())
            .errors(&[401, 404])
            .done(),
    );
}

fn metrics(d: &mut Doc) {
    let tag = "Metrics and learning";
    let report = d.res::<shared::metrics::Report>();
    d.add(
        "GET",
        "/v1/sites/{site}/metrics",
        Auth::Admin,
        Op::new("metrics", tag, "Support metrics per day and channel")
            .query("from", false, date(), "First day (UTC), default 29 days before `to`.")
            .query("to", false, date(), "Last day (UTC), default today. At most 366 days.")
            .query(
                "format",
                false,
                json!({"enum": ["json", "csv"]}),
                "`csv` for a spreadsheet.",
            )
            .query(
                "hours",
                false,
                json!({"enum": ["all", "business"]}),
                "`business`: count times within the site's opening hours only.",
            )
            .ok_as(
                200,
                "The report.",
                json!({"application/json": {"schema": report}, "text/csv": {"schema": string()}}),
            )
            .errors(&[400, 401, 404])
            .done(),
    );
    let churn = d.res::<shared::insight::ChurnSignal>();
    d.add(
        "GET",
        "/v1/sites/{site}/metrics/churn",
        Auth::Admin,
        Op::new("churn", tag, "Customers whose contact rate jumped")
            .ok(200, "Up to 50.", obj(&[("as_of", date()), ("customers", array(churn))]))
            .errors(&[401, 404])
            .done(),
    );
    let topic = d.res::<shared::insight::QuestionTopic>();
    d.add(
        "GET",
        "/v1/sites/{site}/metrics/unanswered",
        Auth::Admin,
        Op::new("unanswered", tag, "Questions the bot did not help with, grouped")
            .query("from", false, date(), "First day (UTC).")
            .query("to", false, date(), "Last day (UTC).")
            .ok(
                200,
                "The topics.",
                obj(&[("from", date()), ("to", date()), ("topics", array(topic))]),
            )
            .errors(&[400, 401, 404])
            .done(),
    );
    let event = d.req::<shared::metrics::Event>();
    d.add(
        "POST",
        "/v1/sites/{site}/metrics/events",
        Auth::Admin,
        Op::new("importEvents", tag, "Import history into the metrics")
            .json_lines(event)
            .ok(
                200,
                "Counts.",
                obj(&[
                    ("received", json!({"type": "integer"})),
                    ("recorded", json!({"type": "integer"})),
                ]),
            )
            .errors(&[401, 404])
            .done(),
    );
    let proposal = d.res::<shared::learning::Proposal>();
    d.add(
        "GET",
        "/v1/sites/{site}/proposals",
        Auth::Admin,
        Op::new("listProposals", tag, "Knowledge proposals from staff resolutions")
            .query(
                "state",
                false,
                json!({"enum": ["pending", "approved", "rejected", "all"]}),
                "Default `pending`.",
            )
            .ok(200, "Oldest first.", obj(&[("proposals", array(proposal.clone()))]))
            .errors(&[400, 401, 404])
            .done(),
    );
    let mut decide = Op::new("decideProposal", tag, "Approve or reject a proposal")
        .ok(200, "The decided proposal.", proposal)
        .errors(&[401, 404, 409])
        .done();
    decide["parameters"] =
        json!([{"name": "decision", "in": "path", "required": true, "schema": {"enum": ["approve", "reject"]}}]);
    d.add(
        "POST",
        "/v1/sites/{site}/proposals/{id}/{decision}",
        Auth::Admin,
        decide,
    );
    let learned = obj(&[
        ("article", string()),
        ("question", string()),
        ("yes", json!({"type": "integer"})),
        ("no", json!({"type": "integer"})),
        ("approved", json!({"type": "boolean"})),
        ("in_index", json!({"type": "boolean"})),
    ]);
    d.add(
        "GET",
        "/v1/sites/{site}/learned",
        Auth::Admin,
        Op::new("learned", tag, "Phrasings learned from customers' votes")
            .ok(200, "The phrasings.", obj(&[("learned", array(learned))]))
            .errors(&[401, 404])
            .done(),
    );
}

fn staff(d: &mut Doc) {
    let tag = "Staff";
    let entry = d.res::<int::QueueEntry>();
    d.add(
        "GET",
        "/v1/sites/{site}/queue",
        Auth::Staff,
        Op::new("queue", tag, "Conversations waiting for, or with, a person")
            .query("include", false, json!({"const": "resolved"}), "Also resolved ones.")
            .ok(
                200,
                "Most urgent, then oldest.",
                obj(&[("queue", array(entry.clone()))]),
            )
            .errors(&[400, 401, 404])
            .done(),
    );
    let conversation = d.res::<int::StaffConversation>();
    let base = "/v1/sites/{site}/conversations/{conversation}";
    d.add(
        "GET",
        base,
        Auth::Staff,
        Op::new("staffConversation", tag, "A conversation, with notes and escalation")
            .ok(200, "The conversation.", conversation)
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "POST",
        &format!("{base}/claim"),
        Auth::Staff,
        Op::new("claim", tag, "Assign a conversation (to the caller by default)")
            .optional_json(json!({"type": "object", "properties": {"to": string()}}))
            .ok(200, "Assigned.", entry.clone())
            .errors(&[401, 404])
            .done(),
    );
    let reply = d.res::<int::AgentReplyResult>();
    let message = obj(&[("id", client_id()), ("text", text(1, MAX_MESSAGE_CHARS))]);
    d.add(
        "POST",
        &format!("{base}/replies"),
        Auth::Staff,
        Op::new("reply", tag, "Reply to the customer, on the channel they are on now")
            .json(message.clone())
            .ok(200, "Stored, and how it was delivered.", reply)
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "POST",
        &format!("{base}/typing"),
        Auth::Staff,
        Op::new("staffTyping", tag, "Show the customer that someone is writing")
            .ok(200, "Shown.", obj(&[("ok", json!({"const": true}))]))
            .errors(&[401, 404])
            .done(),
    );
    let proposal = d.res::<shared::learning::Proposal>();
    let resolved = json!({"anyOf": [
        {"allOf": [entry, {"type": "object", "properties": {"proposal": proposal.clone()}}]},
        obj_opt(&[("state", json!({"const": "resolved"}))], &[("proposal", proposal)]),
    ]});
    d.add(
        "POST",
        &format!("{base}/resolve"),
        Auth::Staff,
        Op::new("resolve", tag, "Resolve a conversation")
            .about("With `article`, the answer that solved it; unless `propose` is false, the resolution is proposed as knowledge.")
            .optional_json(json!({"type": "object", "properties": {
                "team": nullable(text(1, 60)), "article": nullable(string()), "propose": nullable(json!({"type": "boolean"}))}}))
            .ok(200, "Resolved.", resolved)
            .errors(&[401, 404])
            .done(),
    );
    let filed = d.res::<int::FiledBug>();
    d.add(
        "POST",
        &format!("{base}/bug"),
        Auth::Staff,
        Op::new("fileBug", tag, "Mark a conversation as a bug: file it in Linear")
            .about("Files a Linear issue with the customer's latest words (escaped), the channels, why the bot handed over and what it tried, your `details`, and a link back; leaves a note in the conversation. Once per conversation: marking again answers the same issue (200, `created: false`). When the issue is fixed, the customer is told where they are.")
            .optional_json(json!({"type": "object", "properties": {
                "title": nullable(text(0, shared::linear::MAX_TITLE_CHARS)),
                "details": nullable(text(0, shared::linear::MAX_DETAILS_CHARS))}}))
            .ok(201, "Filed.", filed.clone())
            .ok(200, "Filed before: that issue.", filed)
            .errors(&[401, 404, 429, 502])
            .done(),
    );
    let note = d.res::<int::Note>();
    d.add(
        "POST",
        &format!("{base}/notes"),
        Auth::Staff,
        Op::new("addNote", tag, "An internal note (never shown to the customer)")
            .json(message)
            .ok(201, "Stored.", note)
            .errors(&[401, 404])
            .done(),
    );
    d.add(
        "GET",
        &format!("{base}/messages/{{message}}/raw"),
        Auth::Staff,
        Op::new("rawMessage", tag, "The raw email behind a message")
            .ok_as(
                200,
                "The message as received (RFC 5322).",
                json!({"message/rfc822": {"schema": string()}}),
            )
            .errors(&[401, 404])
            .done(),
    );
    let status = d.res::<w::ConversationStatus>();
    let messages = array(d.res::<w::Message>());
    d.add(
        "GET",
        &format!("{base}/transcript"),
        Auth::None,
        Op::new(
            "signedTranscript",
            tag,
            "A transcript by signed link (the link is the credential)",
        )
        .about("Links come in escalation webhooks and expire. With `Accept: text/html`, a page.")
        .query(
            "expires",
            true,
            json!({"type": "integer", "minimum": 0}),
            "Unix seconds.",
        )
        .query(
            "signature",
            true,
            json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
            "The link's signature.",
        )
        .ok_as(
            200,
            "The transcript.",
            json!({
                "application/json": {"schema": obj(&[("id", string()), ("status", status), ("messages", messages)])},
                "text/html": {"schema": string()},
            }),
        )
        .errors(&[401, 404])
        .done(),
    );
}
