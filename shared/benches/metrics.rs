//! Cost growth of the support metrics: synthetic event logs of a site taking about 11,000 events a
//! day (chat, email, SMS and WhatsApp contacts; bot answers, feedback, escalations, staff replies,
//! resolutions, ratings), so a bigger log is a longer history. Reports the time to turn events
//! into contacts (what the edge does as each event arrives), to sum every day, to sum one day, and
//! to build a 30-day report from stored day summaries, with the stored sizes and the process's
//! peak memory. Prints numbers; asserts nothing.
//! Run: cargo bench -p shared --bench metrics [-- 100000 1000000]

use std::time::Instant;

use shared::metrics::{Contact, DAY_MS, DaySummary, Event, EventKind, Report, contacts_of};
use shared::wire::{Channel, EscalationReason};

mod common;
use common::Rng;

const EVENTS_PER_DAY: usize = 11_000;
const START: u64 = 1_767_225_600_000; // 2026-01-01
const MIN: u64 = 60_000;

fn channel(rng: &mut Rng) -> Channel {
    match rng.below(10) {
        0..=5 => Channel::Chat,
        6 | 7 => Channel::Email,
        8 => Channel::Sms,
        _ => Channel::Whatsapp,
    }
}

/// One conversation's events: one to three contacts, each a question the bot answers or not,
/// perhaps a "did that help?", perhaps a person.
fn conversation(id: usize, days: u64, rng: &mut Rng, out: &mut Vec<Event>) {
    let name = format!("c{id}");
    let mut at = START + rng.next() % (days * DAY_MS);
    let mut push = |at: u64, channel: Channel, kind: EventKind| {
        out.push(Event {
            id: format!("{name}-{at}-{}", out.len()),
            at,
            conversation: name.clone(),
            channel,
            kind,
        });
    };
    for _ in 0..1 + rng.below(3) {
        let channel = channel(rng);
        let article = format!("a{}", rng.below(200));
        for _ in 0..1 + rng.below(2) {
            push(at, channel, EventKind::CustomerMessage);
            at += 2_000;
            if rng.below(4) == 0 {
                push(
                    at,
                    channel,
                    EventKind::BotNoAnswer {
                        reason: EscalationReason::NoMatch,
                        question: None,
                    },
                );
            } else {
                push(
                    at,
                    channel,
                    EventKind::BotAnswer {
                        article: article.clone(),
                    },
                );
                if rng.below(2) == 0 {
                    let yes = rng.below(10) < 7;
                    push(
                        at + MIN,
                        channel,
                        EventKind::Helpful {
                            article: article.clone(),
                            yes,
                            question: None,
                        },
                    );
                }
            }
            at += 3 * MIN;
        }
        if rng.below(4) == 0 {
            let reasons = vec![EscalationReason::VisitorAsked];
            push(
                at,
                channel,
                EventKind::Escalated {
                    reasons,
                    topic: Some(article),
                },
            );
            at += (1 + rng.below(30) as u64) * MIN;
            push(at, channel, EventKind::Assigned);
            at += (1 + rng.below(20) as u64) * MIN;
            push(at, channel, EventKind::AgentReply);
            at += (10 + rng.below(2 * 24 * 60) as u64) * MIN;
            push(at, channel, EventKind::Resolved);
        }
        if rng.below(10) < 3 {
            push(
                at + MIN,
                channel,
                EventKind::Rating {
                    score: 1 + rng.below(5) as u8,
                },
            );
        }
        at += (1 + rng.below(5 * 24) as u64) * 60 * MIN;
    }
}

fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    println!(
        "{:>9} {:>5} {:>9} {:>13} {:>12} {:>11} {:>13} {:>10} {:>10} {:>9}",
        "events",
        "days",
        "contacts",
        "apply ms",
        "all days ms",
        "one day ms",
        "30-day rep ms",
        "contact B",
        "day sum B",
        "peak MB"
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for n in sizes {
        let days = (n / EVENTS_PER_DAY).max(1) as u64;
        let mut events = Vec::with_capacity(n + 16);
        let mut id = 0;
        while events.len() < n {
            conversation(id, days, &mut rng, &mut events);
            id += 1;
        }
        // The edge records events as they happen.
        events.sort_by_key(|e| e.at);

        let started = Instant::now();
        let contacts: Vec<Contact> = contacts_of(&events);
        let apply_ms = started.elapsed().as_secs_f64() * 1e3;

        let started = Instant::now();
        let first_day = START / DAY_MS;
        let last_day = contacts.iter().map(Contact::day).max().unwrap_or(first_day);
        let mut by_day: Vec<Vec<&Contact>> = vec![Vec::new(); (last_day - first_day + 1) as usize];
        for contact in &contacts {
            by_day[(contact.day() - first_day) as usize].push(contact);
        }
        let summaries: Vec<DaySummary> = by_day
            .iter()
            .enumerate()
            .map(|(i, list)| DaySummary::of(first_day + i as u64, list.iter().copied()))
            .collect();
        let all_days_ms = started.elapsed().as_secs_f64() * 1e3;

        // What a report on a day that changed costs: that day's contacts summed again.
        let middle = by_day.len() / 2;
        let started = Instant::now();
        let one = DaySummary::of(first_day + middle as u64, by_day[middle].iter().copied());
        let one_day_ms = started.elapsed().as_secs_f64() * 1e3;

        // A 30-day report reads 30 stored summaries, however long the history.
        let stored: Vec<String> = summaries.iter().map(|s| serde_json::to_string(s).unwrap()).collect();
        let to = first_day + days - 1;
        let from = to.saturating_sub(29).max(first_day);
        let started = Instant::now();
        let window: Vec<DaySummary> = stored[(from - first_day) as usize..=(to - first_day) as usize]
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect();
        let report = Report::of(from, to, &window);
        let report_ms = started.elapsed().as_secs_f64() * 1e3;
        assert!(report.total.contacts > 0 && one.day == first_day + middle as u64);

        let contact_bytes = contacts
            .iter()
            .take(10_000)
            .map(|c| serde_json::to_string(c).unwrap().len())
            .sum::<usize>()
            / contacts.len().min(10_000);
        let summary_bytes = stored.iter().map(String::len).sum::<usize>() / stored.len();
        println!(
            "{:>9} {:>5} {:>9} {:>13.0} {:>12.1} {:>11.2} {:>13.2} {:>10} {:>10} {:>9.0}",
            events.len(),
            days,
            contacts.len(),
            apply_ms,
            all_days_ms,
            one_day_ms,
            report_ms,
            contact_bytes,
            summary_bytes,
            peak_memory_mb().unwrap_or(f64::NAN)
        );
    }
}
