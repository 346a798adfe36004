//! Linear, the bug tracker: a conversation staff mark as a bug becomes a Linear issue (once per
//! conversation), and Linear's webhook for that issue's state tells its customer when it is
//! fixed, on the channel they last wrote on. The issues filed are kept here, so a webhook about
//! any other issue is acknowledged and ignored, and each close is told once however often
//! Linear delivers it.

use std::time::Duration;

use serde::Deserialize;
use shared::linear::{self, Issue, Outcome};
use shared::wire::ErrorCode;
use worker::SqlStorageValue;

use super::SiteObject;
use crate::api_error::ApiError;
use crate::glue::http::{call, integration_call, internal, json, rows, setting};
use crate::internal::{BugCommand, BugToFile, FiledBug, LinearConfig};

/// Created with the site object's other migrations.
pub const SCHEMA: [&str; 1] = [
    // One issue per conversation; `closes` counts the times it was closed (each told once).
    "CREATE TABLE IF NOT EXISTS linear_issues (conversation TEXT PRIMARY KEY, issue TEXT NOT NULL UNIQUE, data TEXT NOT NULL, filed_by TEXT NOT NULL, filed_at INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'open', closes INTEGER NOT NULL DEFAULT 0)",
];

/// How long Linear has to file an issue.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct IssueRow {
    conversation: String,
    data: String,
    filed_by: String,
    filed_at: i64,
    state: String,
    closes: i64,
}

impl SiteObject {
    fn linear_issue(&self, column: &str, value: &str) -> std::result::Result<Option<IssueRow>, ApiError> {
        let query = match column {
            "issue" => "SELECT * FROM linear_issues WHERE issue = ?",
            _ => "SELECT * FROM linear_issues WHERE conversation = ?",
        };
        let rows: Vec<IssueRow> = rows(&self.sql(), query, vec![value.into()], "reading Linear issues")?;
        Ok(rows.into_iter().next())
    }

    fn linear_config(&self) -> std::result::Result<LinearConfig, ApiError> {
        let record = self.existing()?;
        self.integration_config::<LinearConfig>("linear")?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "site {:?} has no Linear integration set up (PUT /v1/sites/{}/integrations/linear)",
                    record.id, record.id
                ),
            )
        })
    }

    /// Files the bug's conversation in Linear, or answers the issue filed for it before.
    pub(super) async fn file_bug(&self, bug: &BugToFile) -> std::result::Result<worker::Response, ApiError> {
        let record = self.existing()?;
        let config = self.linear_config()?;
        let conversation = bug.conversation.as_str();
        if let Some(row) = self.linear_issue("conversation", conversation)? {
            return json(200, &filed(row, false)?);
        }
        // Two marks at once: the second waits for nothing and files nothing.
        if !self.filing.borrow_mut().insert(conversation.to_owned()) {
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!("conversation {conversation:?} is being filed as a bug right now; ask again in a moment"),
            );
            error.body.retry_after_ms = Some(1000);
            return Err(error);
        }
        let outcome = self.create_issue(&record, &config, bug).await;
        self.filing.borrow_mut().remove(conversation);
        let issue = match outcome {
            Ok(issue) => issue,
            Err(why) => {
                self.integration_outcome("linear", Err(&why));
                return Err(ApiError::new(
                    ErrorCode::IntegrationFailed,
                    format!("{why}; nothing was filed, try again"),
                ));
            }
        };
        self.integration_outcome("linear", Ok(()));
        let data = serde_json::to_string(&issue).map_err(|e| internal("Linear issue", e))?;
        self.sql()
            .exec(
                "INSERT INTO linear_issues (conversation, issue, data, filed_by, filed_at) VALUES (?, ?, ?, ?, ?)",
                vec![
                    conversation.into(),
                    issue.id.clone().into(),
                    data.into(),
                    bug.staff.clone().into(),
                    SqlStorageValue::from(bug.at as i64),
                ],
            )
            .map_err(|e| internal("keeping a Linear issue", e))?;
        json(
            201,
            &FiledBug {
                issue,
                created: true,
                filed_by: bug.staff.clone(),
                filed_at: bug.at,
            },
        )
    }

    async fn create_issue(
        &self,
        record: &crate::internal::SiteRecord,
        config: &LinearConfig,
        bug: &BugToFile,
    ) -> std::result::Result<Issue, String> {
        let link = self
            .transcript_link(&record.id, &bug.conversation, bug.at)
            .map(|(url, _)| url);
        let mut report = bug.report.clone();
        // What goes to a third party is redacted as the site's privacy settings say.
        for text in &mut report.messages {
            if let Some(redacted) = record.privacy.redact(text) {
                *text = redacted;
            }
        }
        let title = linear::title(bug.title.as_deref(), &report);
        let title = record.privacy.redact(&title).unwrap_or(title);
        let description = linear::description(
            &record.name,
            &bug.conversation,
            &bug.staff,
            bug.details.as_deref(),
            &report,
            link.as_deref(),
        );
        let body = linear::create_body(&config.team_id, &title, &description, &config.label_ids);
        let base = setting(&self.env, "LINEAR_API_URL").unwrap_or_else(|| "https://api.linear.app".into());
        let url = format!("{}/graphql", base.trim_end_matches('/'));
        let headers = [("Authorization", config.api_key.clone())];
        let answer = integration_call("Linear's API", &url, &headers, Some(&body.to_string()), CREATE_TIMEOUT).await?;
        linear::created(&answer)
    }

    /// A Linear webhook: checked, read, and for an issue filed here that was closed (or
    /// reopened), its conversation told; Linear retries what fails, and each close is told once.
    pub(super) async fn linear_webhook(
        &self,
        signature: Option<&str>,
        body: &str,
        now: u64,
    ) -> std::result::Result<worker::Response, ApiError> {
        let record = self.existing()?;
        let config = self.linear_config()?;
        linear::verify(&config.webhook_secret, signature, body.as_bytes(), now)
            .map_err(|why| ApiError::new(ErrorCode::InvalidSignature, format!("{why}; nothing was changed")))?;
        let change = linear::state_change(body.as_bytes()).map_err(|why| ApiError::field("body", why))?;
        let Some(change) = change else {
            return json(200, &serde_json::json!({ "received": true, "applied": false }));
        };
        let Some(row) = self.linear_issue("issue", &change.issue)? else {
            // Not an issue filed from a conversation.
            return json(200, &serde_json::json!({ "received": true, "applied": false }));
        };
        let closed = matches!(change.outcome, Outcome::Fixed | Outcome::Canceled);
        let state = match change.outcome {
            Outcome::Fixed => "fixed",
            Outcome::Canceled => "canceled",
            Outcome::Reopened => "open",
        };
        if row.state == state || (!closed && row.state == "open") {
            // Delivered again, or a move between open states: nothing new.
            return json(
                200,
                &serde_json::json!({ "received": true, "applied": false, "duplicate": true }),
            );
        }
        let issue: Issue = serde_json::from_str(&row.data).map_err(|e| internal("stored Linear issue", e))?;
        let closes = row.closes + i64::from(closed);
        let command = BugCommand {
            id: format!("bug:{}:{state}:{closes}", issue.id),
            issue,
            outcome: change.outcome,
            message: config.fixed_message.clone(),
        };
        let stub = self
            .env
            .durable_object("CONVERSATIONS")
            .and_then(|ns| ns.get_by_name(&crate::internal::object_name(&record.id, &row.conversation)))
            .map_err(|e| internal("conversation object", e))?;
        let path = format!("/bug?site={}&conversation={}", record.id, row.conversation);
        // Told first, then remembered: should telling fail, Linear's retry tells (once, by id).
        let told: serde_json::Value = call(&stub, "POST", &path, Some(&command)).await?;
        self.sql()
            .exec(
                "UPDATE linear_issues SET state = ?, closes = ? WHERE issue = ?",
                vec![state.into(), SqlStorageValue::from(closes), change.issue.into()],
            )
            .map_err(|e| internal("updating a Linear issue", e))?;
        self.integration_outcome("linear", Ok(()));
        json(
            200,
            &serde_json::json!({
                "received": true,
                "applied": true,
                "conversation": row.conversation,
                "outcome": change.outcome,
                "delivered_by": told["delivered_by"],
            }),
        )
    }
}

fn filed(row: IssueRow, created: bool) -> std::result::Result<FiledBug, ApiError> {
    Ok(FiledBug {
        issue: serde_json::from_str(&row.data).map_err(|e| internal("stored Linear issue", e))?,
        created,
        filed_by: row.filed_by,
        filed_at: row.filed_at as u64,
    })
}
