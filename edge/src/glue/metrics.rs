//! The site object's metrics store: the event log (each event once, by id), the contacts built
//! from it by `shared::metrics::apply`, and day summaries kept until a contact of that day
//! changes. A report reads one summary a day, so its cost does not grow with the history.

use serde::Deserialize;
use shared::insight::{self, ContactCounts, QuestionTopic, Unhelped};
use shared::metrics::{self, Contact, DaySummary, Event, EventKind, Report};
use worker::{SqlStorage, SqlStorageValue};

use super::http::internal;
use crate::api_error::ApiError;

/// The tables, created with the site object's other migrations.
pub const SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS metric_events (id TEXT PRIMARY KEY, conversation TEXT NOT NULL, at INTEGER NOT NULL, event TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS contacts (conversation TEXT NOT NULL, number INTEGER NOT NULL, day INTEGER NOT NULL, contact TEXT NOT NULL, PRIMARY KEY (conversation, number))",
    "CREATE INDEX IF NOT EXISTS contacts_day ON contacts (day)",
    "CREATE TABLE IF NOT EXISTS metric_days (day INTEGER PRIMARY KEY, summary TEXT NOT NULL)",
];

#[derive(Deserialize)]
struct ContactRow {
    contact: String,
}

#[derive(Deserialize)]
struct SummaryRow {
    day: i64,
    summary: String,
}

/// Adds events to the log and their effect to the contacts; an event already logged is skipped,
/// so a sender that retries counts once. Returns the events that were new.
pub fn record<'a>(sql: &SqlStorage, events: &'a [Event]) -> Result<Vec<&'a Event>, ApiError> {
    let mut new = Vec::new();
    for event in events {
        let text = serde_json::to_string(event).map_err(|e| internal("metric event", e))?;
        let written = sql
            .exec(
                "INSERT OR IGNORE INTO metric_events (id, conversation, at, event) VALUES (?, ?, ?, ?)",
                vec![
                    event.id.clone().into(),
                    event.conversation.clone().into(),
                    SqlStorageValue::from(event.at as i64),
                    text.into(),
                ],
            )
            .map_err(|e| internal("logging a metric event", e))?
            .rows_written();
        if written == 0 {
            continue;
        }
        new.push(event);
        let rows: Vec<ContactRow> = sql
            .exec(
                "SELECT contact FROM contacts WHERE conversation = ? ORDER BY number DESC LIMIT 2",
                vec![event.conversation.clone().into()],
            )
            .and_then(|c| c.to_array())
            .map_err(|e| internal("reading contacts", e))?;
        let mut latest = rows
            .iter()
            .map(|r| serde_json::from_str(&r.contact))
            .collect::<Result<Vec<Contact>, _>>()
            .map_err(|e| internal("stored contact", e))?;
        latest.reverse();
        for contact in metrics::apply(&latest, event) {
            let text = serde_json::to_string(&contact).map_err(|e| internal("contact", e))?;
            let day = SqlStorageValue::from(contact.day() as i64);
            sql.exec(
                "INSERT INTO contacts (conversation, number, day, contact) VALUES (?, ?, ?, ?)
                 ON CONFLICT (conversation, number) DO UPDATE SET contact = excluded.contact",
                vec![
                    contact.conversation.into(),
                    SqlStorageValue::from(i64::from(contact.number)),
                    day.clone(),
                    text.into(),
                ],
            )
            .map_err(|e| internal("storing a contact", e))?;
            sql.exec("DELETE FROM metric_days WHERE day = ?", vec![day])
                .map_err(|e| internal("forgetting a day summary", e))?;
        }
    }
    Ok(new)
}

/// The report for days `from..=to`: stored summaries, and the days without one summed from their
/// contacts (and stored).
pub fn report(sql: &SqlStorage, from: u64, to: u64) -> Result<Report, ApiError> {
    let range = vec![SqlStorageValue::from(from as i64), SqlStorageValue::from(to as i64)];
    let stored: Vec<SummaryRow> = sql
        .exec(
            "SELECT day, summary FROM metric_days WHERE day BETWEEN ? AND ?",
            range.clone(),
        )
        .and_then(|c| c.to_array())
        .map_err(|e| internal("reading day summaries", e))?;
    let mut summaries = stored
        .iter()
        .map(|row| serde_json::from_str::<DaySummary>(&row.summary))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal("stored day summary", e))?;
    let have: std::collections::HashSet<i64> = stored.iter().map(|r| r.day).collect();
    #[derive(Deserialize)]
    struct DayRow {
        day: i64,
    }
    let days: Vec<DayRow> = sql
        .exec("SELECT DISTINCT day FROM contacts WHERE day BETWEEN ? AND ?", range)
        .and_then(|c| c.to_array())
        .map_err(|e| internal("listing contact days", e))?;
    for DayRow { day } in days.into_iter().filter(|d| !have.contains(&d.day)) {
        let rows: Vec<ContactRow> = sql
            .exec(
                "SELECT contact FROM contacts WHERE day = ?",
                vec![SqlStorageValue::from(day)],
            )
            .and_then(|c| c.to_array())
            .map_err(|e| internal("reading a day's contacts", e))?;
        let contacts = rows
            .iter()
            .map(|r| serde_json::from_str(&r.contact))
            .collect::<Result<Vec<Contact>, _>>()
            .map_err(|e| internal("stored contact", e))?;
        let summary = DaySummary::of(day as u64, &contacts);
        let text = serde_json::to_string(&summary).map_err(|e| internal("day summary", e))?;
        sql.exec(
            "INSERT OR REPLACE INTO metric_days (day, summary) VALUES (?, ?)",
            vec![SqlStorageValue::from(day), text.into()],
        )
        .map_err(|e| internal("storing a day summary", e))?;
        summaries.push(summary);
    }
    Ok(Report::of(from, to, &summaries))
}

/// Most topics an unanswered-questions report lists.
const MAX_TOPICS: usize = 30;

/// The questions the bot did not answer, or answered and was told it did not help, on days
/// `from..=to` (the newest [`insight::MAX_QUESTIONS`]), grouped into topics.
pub fn unanswered(sql: &SqlStorage, from: u64, to: u64) -> Result<Vec<QuestionTopic>, ApiError> {
    #[derive(Deserialize)]
    struct EventRow {
        event: String,
    }
    let rows: Vec<EventRow> = sql
        .exec(
            "SELECT event FROM metric_events WHERE at >= ? AND at < ?
             AND json_extract(event, '$.kind') IN ('bot_no_answer', 'helpful')
             AND json_extract(event, '$.question') IS NOT NULL
             ORDER BY at DESC LIMIT ?",
            vec![
                SqlStorageValue::from((from * metrics::DAY_MS) as i64),
                SqlStorageValue::from(((to + 1) * metrics::DAY_MS) as i64),
                SqlStorageValue::from(insight::MAX_QUESTIONS as i64),
            ],
        )
        .and_then(|c| c.to_array())
        .map_err(|e| internal("reading unanswered questions", e))?;
    let mut questions: Vec<Unhelped> = rows
        .iter()
        .filter_map(|row| serde_json::from_str::<Event>(&row.event).ok())
        .filter_map(|event| match event.kind {
            EventKind::BotNoAnswer {
                question: Some(question),
                ..
            } => Some(Unhelped {
                question,
                why: "no_answer".into(),
            }),
            EventKind::Helpful {
                yes: false,
                question: Some(question),
                ..
            } => Some(Unhelped {
                question,
                why: "not_helpful".into(),
            }),
            _ => None,
        })
        .collect();
    questions.reverse();
    let mut topics = insight::topics(&questions);
    topics.truncate(MAX_TOPICS);
    Ok(topics)
}

/// Each customer's (conversation's) contacts in the recent week up to `today` and in the
/// baseline weeks before, for those with enough recent ones to matter.
pub fn churn_counts(sql: &SqlStorage, today: u64) -> Result<Vec<ContactCounts>, ApiError> {
    #[derive(Deserialize)]
    struct CountRow {
        conversation: String,
        recent: i64,
        before: i64,
    }
    let recent_start = (today + 1).saturating_sub(insight::CHURN_RECENT_DAYS) as i64;
    let base_start = recent_start - 7 * insight::CHURN_BASELINE_WEEKS as i64;
    let rows: Vec<CountRow> = sql
        .exec(
            "SELECT conversation, SUM(day >= ?) AS recent, SUM(day < ?) AS before FROM contacts
             WHERE day >= ? AND day <= ? GROUP BY conversation HAVING recent >= ?",
            vec![
                SqlStorageValue::from(recent_start),
                SqlStorageValue::from(recent_start),
                SqlStorageValue::from(base_start),
                SqlStorageValue::from(today as i64),
                SqlStorageValue::from(insight::CHURN_MIN_RECENT as i64),
            ],
        )
        .and_then(|c| c.to_array())
        .map_err(|e| internal("counting contacts", e))?;
    Ok(rows
        .into_iter()
        .map(|r| ContactCounts {
            conversation: r.conversation,
            recent: r.recent as u64,
            before: r.before as u64,
        })
        .collect())
}

/// What a conversation's contacts since `from_day` were about (article ids, `""` for unknown).
pub fn recent_topics(sql: &SqlStorage, conversation: &str, from_day: u64) -> Result<Vec<String>, ApiError> {
    let rows: Vec<ContactRow> = sql
        .exec(
            "SELECT contact FROM contacts WHERE conversation = ? AND day >= ? ORDER BY number",
            vec![conversation.into(), SqlStorageValue::from(from_day as i64)],
        )
        .and_then(|c| c.to_array())
        .map_err(|e| internal("reading contacts", e))?;
    rows.iter()
        .map(|r| serde_json::from_str::<Contact>(&r.contact).map(|c| c.topic.unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal("stored contact", e))
}
