//! Support metrics from an event log: what happened in each conversation becomes *contacts*
//! (episodes), contacts are summed per day, and days are merged into a report.
//!
//! The definitions (documented for site owners in `www/docs/metrics.md`):
//!
//! - A **contact** starts with a customer message when none is open, on the channel of that
//!   message. It ends when staff resolve it, when the customer says a bot answer helped ("did that
//!   help? yes") while no person is involved, or, with no person involved, when the customer is
//!   silent for [`IDLE_CLOSE_MS`] (abandoned: neither resolved nor deflected). An escalated contact
//!   stays open until staff resolve it.
//! - A contact **came back** when the same customer starts another contact within
//!   [`COME_BACK_MS`] of its end, about the same article or about something the bot could not name
//!   (the cautious reading: an unknown topic might be the same one).
//! - **Deflected**: resolved by the bot with no person, not came back, and no person asked for
//!   within [`COME_BACK_MS`] after the "yes". Deflection rate = deflected / contacts.
//! - **First-contact resolution**: resolved (by the bot or staff) and not came back.
//! - **Times** are measured per contact and never mixed: bot resolution (start to "yes"), time
//!   with the bot before an escalation, first human response and queue wait (from the escalation,
//!   not from the first message, so bot time never inflates them), and human resolution (from the
//!   escalation to resolved).
//!
//! Everything here is pure: the edge stores events and contacts and calls these functions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::date::{date_of_day, day_of_date};
use crate::widget_settings::OpenClock;
use crate::wire::{BotDetail, Channel, EscalationReason, Message, Role};

const HOUR_MS: u64 = 3_600_000;
/// One day in milliseconds; days are UTC days since the Unix epoch.
pub const DAY_MS: u64 = 24 * HOUR_MS;
/// A customer back within this long after a contact ended was not really helped.
pub const COME_BACK_MS: u64 = 72 * HOUR_MS;
/// A contact no person is handling ends after this long without a customer message.
pub const IDLE_CLOSE_MS: u64 = 24 * HOUR_MS;
/// Most days one report covers.
pub const MAX_REPORT_DAYS: u64 = 366;

/// One thing that happened in a conversation.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Event {
    /// Unique per event (derived from the message or action), so an event recorded twice counts
    /// once.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    pub conversation: String,
    pub channel: Channel,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The customer wrote.
    CustomerMessage,
    /// The bot answered from an article.
    BotAnswer { article: String },
    /// The bot did not answer `question` (kept to show what the knowledge base is missing).
    BotNoAnswer {
        reason: EscalationReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
    },
    /// The customer's "did that help?" on an answer, with the question it answered (which a
    /// "yes" teaches the article).
    Helpful {
        article: String,
        yes: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        question: Option<String>,
    },
    /// The conversation went to the human queue.
    Escalated {
        reasons: Vec<EscalationReason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
    },
    /// A person took the conversation from the queue.
    Assigned,
    /// A person replied to the customer.
    AgentReply,
    /// Staff resolved the conversation.
    Resolved,
    /// The customer's satisfaction rating, 1 to 5.
    Rating { score: u8 },
}

/// Most events one import may hold.
pub const MAX_IMPORT_EVENTS: usize = 50_000;
/// Longest event and conversation id, in bytes.
pub const MAX_EVENT_ID_BYTES: usize = 200;

/// Parses an import of history (one [`Event`] a JSON line, from this or another support tool),
/// checked line by line, in the order they happened. `now` bounds `at`: nothing from the future.
/// An error names the line and what was wrong; nothing is kept from a refused import.
pub fn parse_events(text: &str, now: u64) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let event: Event = serde_json::from_str(line).map_err(|e| format!("line {n}: {e}"))?;
        for (name, value) in [("id", &event.id), ("conversation", &event.conversation)] {
            if value.trim().is_empty() || value.len() > MAX_EVENT_ID_BYTES {
                return Err(format!("line {n}: {name} must be 1 to {MAX_EVENT_ID_BYTES} bytes"));
            }
        }
        if event.at > now + 5 * 60_000 {
            return Err(format!("line {n}: at ({}) is in the future", event.at));
        }
        if let EventKind::Rating { score } = event.kind
            && !(1..=5).contains(&score)
        {
            return Err(format!("line {n}: a rating's score is 1 to 5, not {score}"));
        }
        if events.len() == MAX_IMPORT_EVENTS {
            return Err(format!("at most {MAX_IMPORT_EVENTS} events an import"));
        }
        events.push(event);
    }
    if events.is_empty() {
        return Err("no events: send one JSON event a line".into());
    }
    events.sort_by_key(|e| e.at);
    Ok(events)
}

/// The event a stored message is (`None` for a hand-over notice: its escalation is an event of
/// its own); `question` is what a bot reply answered. Its id comes from the message's, so
/// recording it twice counts once.
pub fn event_of_message(conversation: &str, message: &Message, question: Option<&str>) -> Option<Event> {
    let kind = match (&message.role, &message.bot) {
        (Role::Visitor, _) => EventKind::CustomerMessage,
        (Role::Agent, _) => EventKind::AgentReply,
        (Role::Bot, Some(BotDetail::Answer { article, .. })) => EventKind::BotAnswer {
            article: article.id.clone(),
        },
        (Role::Bot, Some(BotDetail::NoAnswer { reason, .. })) => EventKind::BotNoAnswer {
            reason: *reason,
            question: question.map(str::to_owned),
        },
        (Role::Bot, _) => return None,
    };
    Some(Event {
        id: format!("message:{}", message.id),
        at: message.at,
        conversation: conversation.to_owned(),
        channel: message.channel,
        kind,
    })
}

/// One contact: a customer's question from first message to its end.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Contact {
    pub conversation: String,
    /// 1 for the conversation's first contact, then counting up.
    pub number: u32,
    pub started_at: u64,
    /// The last customer message.
    pub last_customer_at: u64,
    /// Where it started.
    pub channel: Channel,
    /// Every channel the customer used in it, first first.
    pub channels: Vec<Channel>,
    /// The first article the bot answered with or the escalation named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether the bot has replied (or the contact escalated), which settles [`Self::topic`].
    #[serde(default)]
    pub topic_known: bool,
    #[serde(default)]
    pub bot_answers: u32,
    #[serde(default)]
    pub bot_no_answers: u32,
    /// "Did that help?" answers: article and yes/no.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helpful: Vec<(String, bool)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<EscalationReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_human_at: Option<u64>,
    /// The customer said a bot answer helped, with no person involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_resolved_at: Option<u64>,
    /// Staff resolved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The next contact, when it started within [`COME_BACK_MS`] of this one's end about the same
    /// (or an unknown) topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub came_back_at: Option<u64>,
    /// The customer asked for a person within [`COME_BACK_MS`] after saying the bot helped.
    #[serde(default)]
    pub asked_for_person_after: bool,
}

impl Contact {
    fn new(event: &Event, number: u32) -> Contact {
        Contact {
            conversation: event.conversation.clone(),
            number,
            started_at: event.at,
            last_customer_at: event.at,
            channel: event.channel,
            channels: vec![event.channel],
            topic: None,
            topic_known: false,
            bot_answers: 0,
            bot_no_answers: 0,
            helpful: Vec::new(),
            escalated_at: None,
            reasons: Vec::new(),
            assigned_at: None,
            first_human_at: None,
            bot_resolved_at: None,
            resolved_at: None,
            rating: None,
            came_back_at: None,
            asked_for_person_after: false,
        }
    }

    /// The UTC day (since the Unix epoch) the contact belongs to: the day it started.
    pub fn day(&self) -> u64 {
        self.started_at / DAY_MS
    }

    /// When it ended by resolution (staff's, or the customer's "yes" with no person involved).
    pub fn resolved_end(&self) -> Option<u64> {
        self.resolved_at
            .or(self.bot_resolved_at.filter(|_| self.escalated_at.is_none()))
    }

    /// Whether a customer message at `at` continues this contact.
    fn open_at(&self, at: u64) -> bool {
        if self.resolved_end().is_some() {
            return false;
        }
        self.escalated_at.is_some() || at.saturating_sub(self.last_customer_at) <= IDLE_CLOSE_MS
    }

    pub fn bot_resolved(&self) -> bool {
        self.bot_resolved_at.is_some() && self.escalated_at.is_none()
    }

    pub fn deflected(&self) -> bool {
        self.bot_resolved() && self.came_back_at.is_none() && !self.asked_for_person_after
    }

    pub fn first_contact_resolved(&self) -> bool {
        self.resolved_end().is_some() && self.came_back_at.is_none() && !self.asked_for_person_after
    }

    fn settle_topic(&mut self, topic: Option<&str>) -> bool {
        if self.topic_known {
            return false;
        }
        self.topic_known = true;
        self.topic = topic.map(str::to_owned);
        true
    }
}

/// Applies one event to a conversation's latest contacts (`latest`: the newest last, at most the
/// two newest) and returns the contacts it changed or started, to be stored. An event before any
/// customer message (a rating with no contact, say) changes nothing.
pub fn apply(latest: &[Contact], event: &Event) -> Vec<Contact> {
    let mut last = latest.last().cloned();
    let mut before = latest.len().checked_sub(2).and_then(|i| latest.get(i)).cloned();
    let mut started = false;
    if matches!(event.kind, EventKind::CustomerMessage) {
        match &mut last {
            Some(contact) if contact.open_at(event.at) => {
                contact.last_customer_at = event.at;
                if !contact.channels.contains(&event.channel) {
                    contact.channels.push(event.channel);
                }
            }
            _ => {
                let number = last.as_ref().map_or(1, |c| c.number + 1);
                before = last.take();
                last = Some(Contact::new(event, number));
                started = true;
            }
        }
    }
    let Some(mut contact) = last else {
        return Vec::new();
    };
    let mut before_changed = false;
    match &event.kind {
        EventKind::CustomerMessage => {}
        EventKind::BotAnswer { article } => {
            contact.bot_answers += 1;
            if contact.settle_topic(Some(article)) {
                before_changed |= mark_came_back(&contact, before.as_mut());
            }
        }
        EventKind::BotNoAnswer { .. } => {
            contact.bot_no_answers += 1;
            if contact.settle_topic(None) {
                before_changed |= mark_came_back(&contact, before.as_mut());
            }
        }
        EventKind::Helpful { article, yes, .. } => {
            match contact.helpful.iter_mut().find(|(a, _)| a == article) {
                Some(entry) => entry.1 = *yes,
                None => contact.helpful.push((article.clone(), *yes)),
            }
            if *yes && contact.escalated_at.is_none() && contact.bot_resolved_at.is_none() {
                contact.bot_resolved_at = Some(event.at);
            }
        }
        EventKind::Escalated { reasons, topic } => {
            if contact.escalated_at.is_none() {
                contact.escalated_at = Some(event.at);
                contact.reasons = reasons.clone();
                if contact.settle_topic(topic.as_deref()) {
                    before_changed |= mark_came_back(&contact, before.as_mut());
                }
                if let Some(previous) = before.as_mut() {
                    let after_yes = previous
                        .bot_resolved_at
                        .filter(|_| previous.bot_resolved())
                        .is_some_and(|yes| event.at.saturating_sub(yes) <= COME_BACK_MS);
                    if after_yes && !previous.asked_for_person_after {
                        previous.asked_for_person_after = true;
                        before_changed = true;
                    }
                }
            }
        }
        EventKind::Assigned => {
            if contact.escalated_at.is_some() && contact.assigned_at.is_none() {
                contact.assigned_at = Some(event.at);
            }
        }
        EventKind::AgentReply => {
            if contact.first_human_at.is_none() {
                contact.first_human_at = Some(event.at);
            }
        }
        EventKind::Resolved => {
            if contact.resolved_at.is_none() {
                contact.resolved_at = Some(event.at);
            }
        }
        EventKind::Rating { score } => contact.rating = Some(*score),
    }
    let unchanged = !started && latest.last() == Some(&contact);
    let mut changed = Vec::new();
    if before_changed {
        changed.extend(before);
    }
    if !unchanged {
        changed.push(contact);
    }
    changed
}

/// Every contact in a log of events (in the order they happened), as the edge stores them
/// event by event; in the order they started.
pub fn contacts_of(events: &[Event]) -> Vec<Contact> {
    let mut by_conversation: std::collections::HashMap<&str, Vec<Contact>> = std::collections::HashMap::new();
    for event in events {
        let list = by_conversation.entry(&event.conversation).or_default();
        let recent = list.len().saturating_sub(2);
        for changed in apply(&list[recent..], event) {
            match list.iter_mut().rev().find(|c| c.number == changed.number) {
                Some(slot) => *slot = changed,
                None => list.push(changed),
            }
        }
    }
    let mut all: Vec<Contact> = by_conversation.into_values().flatten().collect();
    all.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then_with(|| a.conversation.cmp(&b.conversation))
    });
    all
}

/// What a new contact turned out to be about decides whether the one before it came back.
fn mark_came_back(contact: &Contact, previous: Option<&mut Contact>) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    let Some(end) = previous.resolved_end() else {
        return false;
    };
    if previous.came_back_at.is_some() || contact.started_at.saturating_sub(end) > COME_BACK_MS {
        return false;
    }
    let same = match (&contact.topic, &previous.topic) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    if same {
        previous.came_back_at = Some(contact.started_at);
    }
    same
}

/// Durations in a mergeable histogram: whole seconds, exact below 16 s, then 16 buckets per
/// doubling (at most 6.25% off).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Histogram {
    #[serde(default)]
    pub count: u64,
    /// Bucket index to count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<u16, u64>,
}

const SUB: u64 = 16;

fn bucket_of(seconds: u64) -> u16 {
    if seconds < SUB {
        return seconds as u16;
    }
    let power = 63 - u64::from(seconds.leading_zeros());
    let shift = power - 4;
    let mantissa = (seconds >> shift) - SUB;
    u16::try_from((shift + 1) * SUB + mantissa).unwrap_or(u16::MAX)
}

fn bucket_start(bucket: u16) -> u64 {
    let bucket = u64::from(bucket);
    if bucket < SUB {
        return bucket;
    }
    let shift = bucket / SUB - 1;
    (SUB + bucket % SUB) << shift
}

impl Histogram {
    pub fn add_ms(&mut self, ms: u64) {
        self.count += 1;
        *self.buckets.entry(bucket_of(ms / 1000)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.count += other.count;
        for (bucket, n) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += n;
        }
    }

    /// The `q` quantile (0 to 1) in seconds: the middle of its bucket; `None` when empty.
    pub fn quantile_seconds(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let start = bucket_start(*bucket);
                let end = bucket_start(bucket.saturating_add(1)).max(start + 1);
                return Some(if end - start <= 1 {
                    start as f64
                } else {
                    (start + end) as f64 / 2.0
                });
            }
        }
        None
    }
}

/// Counts over a set of contacts; add them up across days and channels.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct Stats {
    pub contacts: u64,
    pub bot_resolved: u64,
    pub deflected: u64,
    /// Bot-resolved but the customer came back about it.
    pub came_back: u64,
    /// Bot-resolved but the customer asked for a person afterwards.
    pub asked_for_person: u64,
    pub escalated: u64,
    pub human_resolved: u64,
    pub first_contact_resolved: u64,
    /// Neither resolved nor escalated.
    pub abandoned: u64,
    /// Contacts that used more than one channel.
    pub switched_channels: u64,
    pub helpful_yes: u64,
    pub helpful_no: u64,
    pub ratings: u64,
    pub rating_sum: u64,
    /// Ratings of 4 or 5.
    pub satisfied: u64,
    pub switched_ratings: u64,
    pub switched_satisfied: u64,
    /// Start to the customer's "yes", for bot-resolved contacts.
    pub bot_resolution: Histogram,
    /// Start to the escalation.
    pub bot_before_escalation: Histogram,
    /// Escalation to the first reply from a person.
    pub first_human_response: Histogram,
    /// Escalation to assignment or the first reply, whichever came first.
    pub queue_wait: Histogram,
    /// Escalation to resolved.
    pub human_resolution: Histogram,
}

/// Wall-clock time from `start` to `end`, in milliseconds: what reports count by default.
pub fn wall_clock(start: u64, end: u64) -> u64 {
    end.saturating_sub(start)
}

/// Time within opening hours from `start` to `end` (Unix milliseconds), for reports that count
/// business hours only: `offset_ms(at)` is the team's time zone's offset from UTC at `at`
/// (daylight saving included), so each end is placed on the team's own clock.
pub fn open_time<'a>(clock: &'a OpenClock, offset_ms: &'a dyn Fn(u64) -> i64) -> impl Fn(u64, u64) -> u64 + 'a {
    move |start, end| {
        let local = |at: u64| at.saturating_add_signed(offset_ms(at));
        clock.open_ms_between(local(start), local(end))
    }
}

impl Stats {
    pub fn add_contact(&mut self, contact: &Contact) {
        self.add_contact_timed(contact, &wall_clock);
    }

    /// Adds a contact with its times measured by `elapsed(start, end)` (milliseconds), e.g. only
    /// the time within business hours.
    pub fn add_contact_timed(&mut self, contact: &Contact, elapsed: &dyn Fn(u64, u64) -> u64) {
        self.contacts += 1;
        if contact.bot_resolved() {
            self.bot_resolved += 1;
            if contact.came_back_at.is_some() {
                self.came_back += 1;
            }
            if contact.asked_for_person_after {
                self.asked_for_person += 1;
            }
            if let Some(yes) = contact.bot_resolved_at {
                self.bot_resolution.add_ms(elapsed(contact.started_at, yes));
            }
        }
        self.deflected += u64::from(contact.deflected());
        self.first_contact_resolved += u64::from(contact.first_contact_resolved());
        if let Some(escalated) = contact.escalated_at {
            self.escalated += 1;
            self.bot_before_escalation
                .add_ms(elapsed(contact.started_at, escalated));
            if let Some(first) = contact.first_human_at {
                self.first_human_response.add_ms(elapsed(escalated, first));
            }
            let picked = match (contact.assigned_at, contact.first_human_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(picked) = picked {
                self.queue_wait.add_ms(elapsed(escalated, picked));
            }
            if let Some(resolved) = contact.resolved_at {
                self.human_resolved += 1;
                self.human_resolution.add_ms(elapsed(escalated, resolved));
            }
        } else if contact.resolved_end().is_none() {
            self.abandoned += 1;
        }
        let switched = contact.channels.len() > 1;
        self.switched_channels += u64::from(switched);
        for (_, yes) in &contact.helpful {
            if *yes {
                self.helpful_yes += 1;
            } else {
                self.helpful_no += 1;
            }
        }
        if let Some(score) = contact.rating {
            let happy = u64::from(score >= 4);
            self.ratings += 1;
            self.rating_sum += u64::from(score);
            self.satisfied += happy;
            if switched {
                self.switched_ratings += 1;
                self.switched_satisfied += happy;
            }
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.contacts += other.contacts;
        self.bot_resolved += other.bot_resolved;
        self.deflected += other.deflected;
        self.came_back += other.came_back;
        self.asked_for_person += other.asked_for_person;
        self.escalated += other.escalated;
        self.human_resolved += other.human_resolved;
        self.first_contact_resolved += other.first_contact_resolved;
        self.abandoned += other.abandoned;
        self.switched_channels += other.switched_channels;
        self.helpful_yes += other.helpful_yes;
        self.helpful_no += other.helpful_no;
        self.ratings += other.ratings;
        self.rating_sum += other.rating_sum;
        self.satisfied += other.satisfied;
        self.switched_ratings += other.switched_ratings;
        self.switched_satisfied += other.switched_satisfied;
        self.bot_resolution.merge(&other.bot_resolution);
        self.bot_before_escalation.merge(&other.bot_before_escalation);
        self.first_human_response.merge(&other.first_human_response);
        self.queue_wait.merge(&other.queue_wait);
        self.human_resolution.merge(&other.human_resolution);
    }
}

/// One day's contacts summed by channel, by topic (article) and by escalation reason: the unit
/// stored, so a report over a range reads one summary a day, never every contact again.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct DaySummary {
    pub day: u64,
    pub channels: BTreeMap<String, Stats>,
    pub topics: BTreeMap<String, TopicStats>,
    pub reasons: BTreeMap<String, u64>,
}

/// Counts for one article.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct TopicStats {
    pub contacts: u64,
    pub deflected: u64,
    pub escalated: u64,
    pub helpful_yes: u64,
    pub helpful_no: u64,
    pub ratings: u64,
    pub rating_sum: u64,
}

/// The name an escalation reason has on the wire (`no_match`, …).
pub fn reason_name(reason: EscalationReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl DaySummary {
    /// Sums the contacts that started on `day`.
    pub fn of<'a>(day: u64, contacts: impl IntoIterator<Item = &'a Contact>) -> DaySummary {
        DaySummary::of_timed(day, contacts, &wall_clock)
    }

    /// [`DaySummary::of`] with times measured by `elapsed` (see [`Stats::add_contact_timed`]).
    pub fn of_timed<'a>(
        day: u64,
        contacts: impl IntoIterator<Item = &'a Contact>,
        elapsed: &dyn Fn(u64, u64) -> u64,
    ) -> DaySummary {
        let mut summary = DaySummary {
            day,
            ..DaySummary::default()
        };
        for contact in contacts {
            summary
                .channels
                .entry(contact.channel.as_str().to_owned())
                .or_default()
                .add_contact_timed(contact, elapsed);
            for reason in &contact.reasons {
                *summary.reasons.entry(reason_name(*reason)).or_default() += 1;
            }
            let topic = summary
                .topics
                .entry(contact.topic.clone().unwrap_or_default())
                .or_default();
            topic.contacts += 1;
            topic.deflected += u64::from(contact.deflected());
            topic.escalated += u64::from(contact.escalated_at.is_some());
            for (article, yes) in &contact.helpful {
                if Some(article.as_str()) == contact.topic.as_deref() {
                    topic.helpful_yes += u64::from(*yes);
                    topic.helpful_no += u64::from(!*yes);
                }
            }
            if let Some(score) = contact.rating {
                topic.ratings += 1;
                topic.rating_sum += u64::from(score);
            }
        }
        summary
    }
}

/// Rates and times for a set of contacts, as reports show them.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Figures {
    pub contacts: u64,
    pub deflected: u64,
    /// Deflected over contacts; `null` with no contacts.
    pub deflection_rate: Option<f64>,
    /// Bot-resolved contacts that did not count as deflected: came back, or asked for a person.
    pub inappropriate_deflections: u64,
    pub first_contact_resolution_rate: Option<f64>,
    pub escalated: u64,
    pub escalation_rate: Option<f64>,
    pub human_resolved: u64,
    pub abandoned: u64,
    /// Mean rating (1–5) and the share of 4s and 5s.
    pub csat_mean: Option<f64>,
    pub csat_satisfied_rate: Option<f64>,
    pub ratings: u64,
    /// "Did that help?": yes over all answers given.
    pub helpful_rate: Option<f64>,
    pub helpful_answers: u64,
    pub switched_channels: u64,
    pub csat_satisfied_rate_switched: Option<f64>,
    pub csat_satisfied_rate_single_channel: Option<f64>,
    /// Seconds, p50 and p90.
    pub bot_resolution_s: Percentiles,
    pub bot_time_before_escalation_s: Percentiles,
    pub first_human_response_s: Percentiles,
    pub queue_wait_s: Percentiles,
    pub human_resolution_s: Percentiles,
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub n: u64,
}

impl Percentiles {
    fn of(histogram: &Histogram) -> Percentiles {
        Percentiles {
            p50: histogram.quantile_seconds(0.5),
            p90: histogram.quantile_seconds(0.9),
            n: histogram.count,
        }
    }
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

impl Figures {
    pub fn of(stats: &Stats) -> Figures {
        Figures {
            contacts: stats.contacts,
            deflected: stats.deflected,
            deflection_rate: rate(stats.deflected, stats.contacts),
            inappropriate_deflections: stats.bot_resolved - stats.deflected,
            first_contact_resolution_rate: rate(stats.first_contact_resolved, stats.contacts),
            escalated: stats.escalated,
            escalation_rate: rate(stats.escalated, stats.contacts),
            human_resolved: stats.human_resolved,
            abandoned: stats.abandoned,
            csat_mean: (stats.ratings > 0)
                .then(|| (stats.rating_sum as f64 / stats.ratings as f64 * 100.0).round() / 100.0),
            csat_satisfied_rate: rate(stats.satisfied, stats.ratings),
            ratings: stats.ratings,
            helpful_rate: rate(stats.helpful_yes, stats.helpful_yes + stats.helpful_no),
            helpful_answers: stats.helpful_yes + stats.helpful_no,
            switched_channels: stats.switched_channels,
            csat_satisfied_rate_switched: rate(stats.switched_satisfied, stats.switched_ratings),
            csat_satisfied_rate_single_channel: rate(
                stats.satisfied - stats.switched_satisfied,
                stats.ratings - stats.switched_ratings,
            ),
            bot_resolution_s: Percentiles::of(&stats.bot_resolution),
            bot_time_before_escalation_s: Percentiles::of(&stats.bot_before_escalation),
            first_human_response_s: Percentiles::of(&stats.first_human_response),
            queue_wait_s: Percentiles::of(&stats.queue_wait),
            human_resolution_s: Percentiles::of(&stats.human_resolution),
        }
    }
}

/// A report over a range of days.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Report {
    /// First and last day, `YYYY-MM-DD` (UTC), both included.
    pub from: String,
    pub to: String,
    /// The team's time zone when times count only opening hours (`hours=business`); `null` when
    /// they are wall-clock times.
    #[serde(default)]
    pub business_hours: Option<String>,
    pub total: Figures,
    pub channels: BTreeMap<String, Figures>,
    /// Per article, most contacts first; `""` is contacts the bot found no article for.
    pub topics: Vec<TopicFigures>,
    /// Escalation reasons, most frequent first.
    pub escalation_reasons: Vec<ReasonCount>,
    /// One entry a day, for charts.
    pub days: Vec<DayFigures>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TopicFigures {
    pub article: String,
    pub contacts: u64,
    pub deflection_rate: Option<f64>,
    pub escalated: u64,
    pub helpful_rate: Option<f64>,
    pub csat_mean: Option<f64>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct DayFigures {
    pub day: String,
    pub total: Figures,
    pub channels: BTreeMap<String, Figures>,
}

impl Report {
    /// Merges day summaries (any order; days missing are days without contacts) into a report
    /// for `from..=to` (days since the epoch).
    pub fn of(from: u64, to: u64, days: &[DaySummary]) -> Report {
        let mut total = Stats::default();
        let mut channels: BTreeMap<String, Stats> = BTreeMap::new();
        let mut topics: BTreeMap<String, TopicStats> = BTreeMap::new();
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_day: BTreeMap<u64, &DaySummary> = BTreeMap::new();
        for summary in days.iter().filter(|d| (from..=to).contains(&d.day)) {
            by_day.insert(summary.day, summary);
            for (channel, stats) in &summary.channels {
                total.merge(stats);
                channels.entry(channel.clone()).or_default().merge(stats);
            }
            for (article, stats) in &summary.topics {
                let entry = topics.entry(article.clone()).or_default();
                entry.contacts += stats.contacts;
                entry.deflected += stats.deflected;
                entry.escalated += stats.escalated;
                entry.helpful_yes += stats.helpful_yes;
                entry.helpful_no += stats.helpful_no;
                entry.ratings += stats.ratings;
                entry.rating_sum += stats.rating_sum;
            }
            for (reason, n) in &summary.reasons {
                *reasons.entry(reason.clone()).or_default() += n;
            }
        }
        let mut topics: Vec<TopicFigures> = topics
            .into_iter()
            .map(|(article, t)| TopicFigures {
                article,
                contacts: t.contacts,
                deflection_rate: rate(t.deflected, t.contacts),
                escalated: t.escalated,
                helpful_rate: rate(t.helpful_yes, t.helpful_yes + t.helpful_no),
                csat_mean: (t.ratings > 0).then(|| (t.rating_sum as f64 / t.ratings as f64 * 100.0).round() / 100.0),
            })
            .collect();
        topics.sort_by(|a, b| b.contacts.cmp(&a.contacts).then_with(|| a.article.cmp(&b.article)));
        let mut escalation_reasons: Vec<ReasonCount> = reasons
            .into_iter()
            .map(|(reason, count)| ReasonCount { reason, count })
            .collect();
        escalation_reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        let days = (from..=to)
            .map(|day| {
                let summary = by_day.get(&day);
                let mut day_total = Stats::default();
                let mut day_channels = BTreeMap::new();
                for (channel, stats) in summary.map(|s| &s.channels).into_iter().flatten() {
                    day_total.merge(stats);
                    day_channels.insert(channel.clone(), Figures::of(stats));
                }
                DayFigures {
                    day: date_of_day(day),
                    total: Figures::of(&day_total),
                    channels: day_channels,
                }
            })
            .collect();
        Report {
            from: date_of_day(from),
            to: date_of_day(to),
            business_hours: None,
            total: Figures::of(&total),
            channels: channels.iter().map(|(c, s)| (c.clone(), Figures::of(s))).collect(),
            topics,
            escalation_reasons,
            days,
        }
    }

    /// The daily figures as CSV: one row a day and channel (and `all`), with a header.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "day,channel,contacts,deflected,deflection_rate,first_contact_resolution_rate,escalated,human_resolved,abandoned,csat_mean,csat_satisfied_rate,helpful_rate,bot_resolution_p50_s,first_human_response_p50_s,first_human_response_p90_s,human_resolution_p50_s,human_resolution_p90_s\n",
        );
        let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for day in &self.days {
            let rows = std::iter::once(("all", &day.total)).chain(day.channels.iter().map(|(c, f)| (c.as_str(), f)));
            for (channel, f) in rows {
                let line = [
                    day.day.clone(),
                    channel.to_owned(),
                    f.contacts.to_string(),
                    f.deflected.to_string(),
                    cell(f.deflection_rate),
                    cell(f.first_contact_resolution_rate),
                    f.escalated.to_string(),
                    f.human_resolved.to_string(),
                    f.abandoned.to_string(),
                    cell(f.csat_mean),
                    cell(f.csat_satisfied_rate),
                    cell(f.helpful_rate),
                    cell(f.bot_resolution_s.p50),
                    cell(f.first_human_response_s.p50),
                    cell(f.first_human_response_s.p90),
                    cell(f.human_resolution_s.p50),
                    cell(f.human_resolution_s.p90),
                ]
                .join(",");
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

/// The days a report covers (days since the epoch, both included), from a query's `from` and
/// `to` (`YYYY-MM-DD`, UTC; without them, the 30 days up to `today`). An error names the field and
/// says what was wrong.
pub fn report_range(from: Option<&str>, to: Option<&str>, today: u64) -> Result<(u64, u64), (&'static str, String)> {
    let parse = |field: &'static str, value: &str| {
        day_of_date(value).ok_or_else(|| {
            (
                field,
                format!("{field} must be a date as YYYY-MM-DD from 1970 on, not {value:?}"),
            )
        })
    };
    let to = to.map(|v| parse("to", v)).transpose()?.unwrap_or(today);
    let from = from
        .map(|v| parse("from", v))
        .transpose()?
        .unwrap_or(to.saturating_sub(29));
    if from > to {
        return Err((
            "from",
            format!("from ({}) is after to ({})", date_of_day(from), date_of_day(to)),
        ));
    }
    if to - from + 1 > MAX_REPORT_DAYS {
        return Err(("from", format!("a report covers at most {MAX_REPORT_DAYS} days")));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests;
