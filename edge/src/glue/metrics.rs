//! The site object's metrics store: the event log (each event once, by id), the contacts built
//! from it by `shared::metrics::apply`, and day summaries kept until a contact of that day
//! changes. A report reads one summary a day, so its cost does not grow with the history.

use serde::Deserialize;
use shared::insight::{self, ContactCounts, QuestionTopic, Unhelped};
use shared::metrics::{self, Contact, DaySummary, Event, EventKind, Report};
use shared::widget_settings::Hours;
use worker::{SqlStorage, SqlStorageValue};

use super::http::{internal, rows};
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

/// The events that were new, and among them those that started a contact.
type Recorded<'a> = (Vec<&'a Event>, Vec<&'a Event>);

/// Adds events to the log and their effect to the contacts; an event already logged is skipped,
/// so a sender that retries counts once. Returns the events that were new, and those that
/// started a contact (only these change a customer's contact counts).
pub fn record<'a>(sql: &SqlStorage, events: &'a [Event]) -> Result<Recorded<'a>, ApiError> {
    let mut new = Vec::new();
    let mut started = Vec::new();
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
        let rows: Vec<ContactRow> = rows(
            sql,
            "SELECT contact FROM contacts WHERE conversation = ? ORDER BY number DESC LIMIT 2",
            vec![event.conversation.clone().into()],
            "reading contacts",
        )?;
        let mut latest = rows
            .iter()
            .map(|r| serde_json::from_str(&r.contact))
            .collect::<Result<Vec<Contact>, _>>()
            .map_err(|e| internal("stored contact", e))?;
        latest.reverse();
        let newest = latest.last().map(|c| c.number);
        for contact in metrics::apply(&latest, event) {
            if newest.is_none_or(|n| contact.number > n) {
                started.push(event);
            }
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
    Ok((new, started))
}

/// The report for days `from..=to`: stored summaries, and the days without one summed from their
/// contacts (and stored).
pub fn report(sql: &SqlStorage, from: u64, to: u64) -> Result<Report, ApiError> {
    let range = vec![SqlStorageValue::from(from as i64), SqlStorageValue::from(to as i64)];
    let stored: Vec<SummaryRow> = rows(
        sql,
        "SELECT day, summary FROM metric_days WHERE day BETWEEN ? AND ?",
        range.clone(),
        "reading day summaries",
    )?;
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
    let days: Vec<DayRow> = rows(
        sql,
        "SELECT DISTINCT day FROM contacts WHERE day BETWEEN ? AND ?",
        range,
        "listing contact days",
    )?;
    for DayRow { day } in days.into_iter().filter(|d| !have.contains(&d.day)) {
        let rows: Vec<ContactRow> = rows(
            sql,
            "SELECT contact FROM contacts WHERE day = ?",
            vec![SqlStorageValue::from(day)],
            "reading a day's contacts",
        )?;
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

/// The report for days `from..=to` with times counted within `hours` only. Summed from the
/// contacts each time (nothing is cached): an occasional view, not the dashboard's default.
pub fn report_in_hours(sql: &SqlStorage, from: u64, to: u64, hours: &Hours) -> Result<Report, ApiError> {
    let rows: Vec<ContactRow> = rows(
        sql,
        "SELECT contact FROM contacts WHERE day BETWEEN ? AND ?",
        vec![SqlStorageValue::from(from as i64), SqlStorageValue::from(to as i64)],
        "reading contacts",
    )?;
    let mut by_day: std::collections::BTreeMap<u64, Vec<Contact>> = Default::default();
    for row in &rows {
        let contact: Contact = serde_json::from_str(&row.contact).map_err(|e| internal("stored contact", e))?;
        by_day.entry(contact.day()).or_default().push(contact);
    }
    let zone = ZoneOffsets::new(&hours.time_zone)?;
    let offset = |at: u64| zone.offset_ms(at);
    let clock = hours.clock();
    let elapsed = metrics::open_time(&clock, &offset);
    let summaries: Vec<DaySummary> = by_day
        .iter()
        .map(|(day, contacts)| DaySummary::of_timed(*day, contacts, &elapsed))
        .collect();
    let mut report = Report::of(from, to, &summaries);
    report.business_hours = Some(hours.time_zone.clone());
    Ok(report)
}

/// A time zone's offset from UTC at any instant, read from the runtime's `Intl` and remembered
/// per hour (offsets change on the hour, or the half hour in a few zones).
struct ZoneOffsets {
    format: js_sys::Intl::DateTimeFormat,
    seen: std::cell::RefCell<std::collections::HashMap<u64, i64>>,
}

impl ZoneOffsets {
    fn new(zone: &str) -> Result<ZoneOffsets, ApiError> {
        let options = js_sys::Object::new();
        for (key, value) in [
            ("timeZone", zone),
            ("hourCycle", "h23"),
            ("year", "numeric"),
            ("month", "2-digit"),
            ("day", "2-digit"),
            ("hour", "2-digit"),
            ("minute", "2-digit"),
        ] {
            js_sys::Reflect::set(&options, &key.into(), &value.into()).map_err(|_| internal("zone options", zone))?;
        }
        let locales = js_sys::Array::of1(&"en-US".into());
        Ok(ZoneOffsets {
            format: js_sys::Intl::DateTimeFormat::new(&locales, &options),
            seen: Default::default(),
        })
    }

    /// Local time minus UTC at `at`, in milliseconds; 0 if the runtime cannot say.
    fn offset_ms(&self, at: u64) -> i64 {
        const HOUR_MS: u64 = 3_600_000;
        let slot = at / (HOUR_MS / 2);
        if let Some(offset) = self.seen.borrow().get(&slot) {
            return *offset;
        }
        let offset = self.read(at).unwrap_or(0);
        self.seen.borrow_mut().insert(slot, offset);
        offset
    }

    fn read(&self, at: u64) -> Option<i64> {
        let minute = at - at % 60_000;
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(minute as f64));
        let parts = self.format.format_to_parts(&date);
        let mut fields = std::collections::HashMap::new();
        for part in parts.iter() {
            let kind = js_sys::Reflect::get(&part, &"type".into()).ok()?.as_string()?;
            let value = js_sys::Reflect::get(&part, &"value".into()).ok()?.as_string()?;
            fields.insert(kind, value);
        }
        let number = |name: &str| fields.get(name)?.parse::<u64>().ok();
        let date = format!("{:04}-{:02}-{:02}", number("year")?, number("month")?, number("day")?);
        let local = shared::date::day_of_date(&date)? * metrics::DAY_MS
            + number("hour")? * 3_600_000
            + number("minute")? * 60_000;
        Some(local as i64 - minute as i64)
    }
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
    let rows: Vec<EventRow> = rows(
        sql,
        "SELECT event FROM metric_events WHERE at >= ? AND at < ?
             AND json_extract(event, '$.kind') IN ('bot_no_answer', 'helpful')
             AND json_extract(event, '$.question') IS NOT NULL
             ORDER BY at DESC LIMIT ?",
        vec![
            SqlStorageValue::from((from * metrics::DAY_MS) as i64),
            SqlStorageValue::from(((to + 1) * metrics::DAY_MS) as i64),
            SqlStorageValue::from(insight::MAX_QUESTIONS as i64),
        ],
        "reading unanswered questions",
    )?;
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
/// baseline weeks before, for those with enough recent ones to matter: every customer's, or
/// only `conversation`'s.
pub fn churn_counts(sql: &SqlStorage, today: u64, conversation: Option<&str>) -> Result<Vec<ContactCounts>, ApiError> {
    #[derive(Deserialize)]
    struct CountRow {
        conversation: String,
        recent: i64,
        before: i64,
    }
    let recent_start = (today + 1).saturating_sub(insight::CHURN_RECENT_DAYS) as i64;
    let base_start = recent_start - 7 * insight::CHURN_BASELINE_WEEKS as i64;
    let mut args = vec![
        SqlStorageValue::from(recent_start),
        SqlStorageValue::from(recent_start),
        SqlStorageValue::from(base_start),
        SqlStorageValue::from(today as i64),
    ];
    let only = match conversation {
        Some(conversation) => {
            args.push(conversation.into());
            "AND conversation = ?"
        }
        None => "",
    };
    args.push(SqlStorageValue::from(insight::CHURN_MIN_RECENT as i64));
    let query = format!(
        "SELECT conversation, SUM(day >= ?) AS recent, SUM(day < ?) AS before FROM contacts
         WHERE day >= ? AND day <= ? {only} GROUP BY conversation HAVING recent >= ?"
    );
    let rows: Vec<CountRow> = rows(sql, &query, args, "counting contacts")?;
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
    let rows: Vec<ContactRow> = rows(
        sql,
        "SELECT contact FROM contacts WHERE conversation = ? AND day >= ? ORDER BY number",
        vec![conversation.into(), SqlStorageValue::from(from_day as i64)],
        "reading contacts",
    )?;
    rows.iter()
        .map(|r| serde_json::from_str::<Contact>(&r.contact).map(|c| c.topic.unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal("stored contact", e))
}
