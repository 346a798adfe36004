use super::*;

const MIN: u64 = 60_000;
const T0: u64 = 1_764_000_000_000; // 2025-11-24T16:00:00Z

/// A conversation's events, written as a script.
struct Script {
    conversation: &'static str,
    events: Vec<Event>,
}

impl Script {
    fn new(conversation: &'static str) -> Script {
        Script {
            conversation,
            events: Vec::new(),
        }
    }

    fn at(mut self, at: u64, channel: Channel, kind: EventKind) -> Script {
        let id = format!("{}-{}", self.conversation, self.events.len());
        self.events.push(Event {
            id,
            at,
            conversation: self.conversation.into(),
            channel,
            kind,
        });
        self
    }

    fn says(self, at: u64) -> Script {
        self.at(at, Channel::Chat, EventKind::CustomerMessage)
    }

    fn answered(self, at: u64, article: &str) -> Script {
        self.at(
            at,
            Channel::Chat,
            EventKind::BotAnswer {
                article: article.into(),
            },
        )
    }

    fn helped(self, at: u64, article: &str, yes: bool) -> Script {
        self.at(
            at,
            Channel::Chat,
            EventKind::Helpful {
                article: article.into(),
                yes,
                question: None,
            },
        )
    }

    fn escalated(self, at: u64, reason: EscalationReason, topic: Option<&str>) -> Script {
        self.at(
            at,
            Channel::Chat,
            EventKind::Escalated {
                reasons: vec![reason],
                topic: topic.map(str::to_owned),
            },
        )
    }

    fn contacts(&self) -> Vec<Contact> {
        contacts_of(&self.events)
    }
}

/// A quantile is the middle of its bucket: within a sixteenth of the true value.
fn about(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|a| (a - expected).abs() <= expected / 16.0)
}

fn bot_resolved(conversation: &'static str, start: u64, article: &str) -> Script {
    Script::new(conversation)
        .says(start)
        .answered(start + 1_000, article)
        .helped(start + MIN, article, true)
}

#[test]
fn a_yes_with_no_person_is_a_deflection_timed_from_the_first_message() {
    let contacts = bot_resolved("c1", T0, "refunds").contacts();
    assert_eq!(contacts.len(), 1);
    let contact = &contacts[0];
    assert!(contact.deflected() && contact.first_contact_resolved());
    assert_eq!(contact.topic.as_deref(), Some("refunds"));
    let summary = DaySummary::of(contact.day(), &contacts);
    let chat = &summary.channels["chat"];
    assert_eq!((chat.contacts, chat.deflected, chat.escalated), (1, 1, 0));
    assert!(about(chat.bot_resolution.quantile_seconds(0.5), 60.0));
}

#[test]
fn coming_back_about_the_same_topic_within_72_hours_undoes_the_deflection() {
    let back = bot_resolved("c1", T0, "refunds")
        .says(T0 + 48 * 60 * MIN)
        .answered(T0 + 48 * 60 * MIN + 1_000, "refunds")
        .contacts();
    assert_eq!(back.len(), 2, "a second contact starts after the yes");
    assert_eq!(back[0].came_back_at, Some(T0 + 48 * 60 * MIN));
    assert!(!back[0].deflected() && !back[0].first_contact_resolved());

    let other_topic = bot_resolved("c1", T0, "refunds")
        .says(T0 + 48 * 60 * MIN)
        .answered(T0 + 48 * 60 * MIN + 1_000, "shipping")
        .contacts();
    assert!(other_topic[0].deflected(), "a different question is a new contact");

    let later = bot_resolved("c1", T0, "refunds")
        .says(T0 + 73 * 60 * MIN)
        .answered(T0 + 73 * 60 * MIN + 1_000, "refunds")
        .contacts();
    assert!(later[0].deflected(), "after 72 hours it counts as a new need");
}

#[test]
fn an_unanswerable_return_counts_against_the_deflection() {
    let contacts = bot_resolved("c1", T0, "refunds")
        .says(T0 + 60 * MIN)
        .at(
            T0 + 60 * MIN + 1_000,
            Channel::Chat,
            EventKind::BotNoAnswer {
                reason: EscalationReason::NoMatch,
                question: None,
            },
        )
        .contacts();
    assert!(!contacts[0].deflected(), "an unknown topic may be the same one");
}

#[test]
fn asking_for_a_person_after_a_yes_is_not_a_deflection() {
    let contacts = bot_resolved("c1", T0, "refunds")
        .says(T0 + 10 * MIN)
        .escalated(T0 + 10 * MIN + 500, EscalationReason::VisitorAsked, None)
        .contacts();
    assert_eq!(contacts.len(), 2);
    assert!(contacts[0].asked_for_person_after);
    assert!(!contacts[0].deflected());
    let summary = DaySummary::of(contacts[0].day(), &contacts);
    let chat = &summary.channels["chat"];
    assert_eq!(
        (chat.bot_resolved, chat.deflected, chat.asked_for_person, chat.escalated),
        (1, 0, 1, 1)
    );
    assert_eq!(Figures::of(chat).inappropriate_deflections, 1);
}

#[test]
fn human_times_start_at_the_escalation_so_bot_time_never_inflates_them() {
    let contacts = Script::new("c1")
        .says(T0)
        .answered(T0 + 1_000, "billing")
        .helped(T0 + 2 * MIN, "billing", false)
        .escalated(T0 + 5 * MIN, EscalationReason::VisitorAsked, Some("billing"))
        .at(T0 + 8 * MIN, Channel::Chat, EventKind::Assigned)
        .at(T0 + 15 * MIN, Channel::Chat, EventKind::AgentReply)
        .at(T0 + 20 * MIN, Channel::Chat, EventKind::AgentReply)
        .at(T0 + 65 * MIN, Channel::Chat, EventKind::Resolved)
        .at(T0 + 66 * MIN, Channel::Chat, EventKind::Rating { score: 5 })
        .contacts();
    assert_eq!(contacts.len(), 1);
    let summary = DaySummary::of(contacts[0].day(), &contacts);
    let figures = Figures::of(&summary.channels["chat"]);
    for (name, times, seconds) in [
        ("bot before escalation", figures.bot_time_before_escalation_s, 300.0),
        ("queue wait", figures.queue_wait_s, 180.0),
        ("first human response", figures.first_human_response_s, 600.0),
        ("human resolution", figures.human_resolution_s, 3600.0),
    ] {
        assert!(about(times.p50, seconds), "{name}: {times:?}");
    }
    assert_eq!(figures.deflection_rate, Some(0.0));
    assert_eq!(figures.first_contact_resolution_rate, Some(1.0));
    assert_eq!((figures.csat_mean, figures.helpful_rate), (Some(5.0), Some(0.0)));
    assert_eq!(summary.reasons.get("visitor_asked"), Some(&1));
}

#[test]
fn business_hours_times_skip_the_nights_and_the_weekend() {
    // Escalated on a Friday at 16:30 in Berlin (15:30 UTC), first reply on Monday at 09:30,
    // resolved at 11:00: 65 hours by the wall clock, 1 and 2.5 hours of a 09:00–17:00 week.
    let friday = T0 + 4 * 24 * 60 * MIN - 30 * MIN; // 2025-11-28T15:30Z
    let monday = friday + (2 * 24 + 17) * 60 * MIN; // 2025-12-01T08:30Z
    let contacts = Script::new("c1")
        .says(friday - 2 * MIN)
        .escalated(friday, EscalationReason::VisitorAsked, None)
        .at(monday, Channel::Chat, EventKind::AgentReply)
        .at(monday + 90 * MIN, Channel::Chat, EventKind::Resolved)
        .contacts();
    let hours = crate::widget_settings::Hours {
        time_zone: "Europe/Berlin".into(),
        weekly: vec![crate::widget_settings::Opening {
            days: crate::widget_settings::Day::ALL[..5].to_vec(),
            from: "09:00".into(),
            to: "17:00".into(),
        }],
    };
    let clock = hours.clock();
    let berlin = |_: u64| 60 * MIN as i64;
    let business =
        Figures::of(&DaySummary::of_timed(contacts[0].day(), &contacts, &open_time(&clock, &berlin)).channels["chat"]);
    let wall = Figures::of(&DaySummary::of(contacts[0].day(), &contacts).channels["chat"]);
    assert!(about(wall.first_human_response_s.p50, 65.0 * 3600.0), "{wall:?}");
    assert!(about(business.first_human_response_s.p50, 3600.0), "{business:?}");
    assert!(about(business.human_resolution_s.p50, 2.5 * 3600.0), "{business:?}");
    // The two minutes before the escalation were in opening hours either way.
    assert!(about(business.bot_time_before_escalation_s.p50, 120.0), "{business:?}");
    // Counted in UTC the same times land an hour earlier: Friday has 1.5 open hours left.
    let utc = |_: u64| 0;
    let in_utc =
        Figures::of(&DaySummary::of_timed(contacts[0].day(), &contacts, &open_time(&clock, &utc)).channels["chat"]);
    assert!(about(in_utc.first_human_response_s.p50, 1.5 * 3600.0), "{in_utc:?}");
}

#[test]
fn a_silent_day_ends_a_bot_contact_but_an_escalated_one_waits_for_staff() {
    let idle = Script::new("c1")
        .says(T0)
        .answered(T0 + 1_000, "refunds")
        .says(T0 + 25 * 60 * MIN)
        .contacts();
    assert_eq!(idle.len(), 2, "25 hours of silence end the first contact");
    let summary = DaySummary::of(idle[0].day(), &idle[..1]);
    assert_eq!(summary.channels["chat"].abandoned, 1);
    assert_eq!(summary.channels["chat"].deflected, 0, "no yes, no deflection");

    let waiting = Script::new("c2")
        .says(T0)
        .escalated(T0 + 1_000, EscalationReason::Urgent, None)
        .says(T0 + 3 * 24 * 60 * MIN)
        .contacts();
    assert_eq!(waiting.len(), 1, "the customer is still waiting for a person");
}

#[test]
fn a_contact_keeps_its_first_channel_and_counts_the_switch() {
    let contacts = Script::new("c1")
        .says(T0)
        .at(T0 + MIN, Channel::Email, EventKind::CustomerMessage)
        .escalated(T0 + 2 * MIN, EscalationReason::NoMatch, None)
        .at(T0 + 30 * MIN, Channel::Email, EventKind::Resolved)
        .at(T0 + 31 * MIN, Channel::Email, EventKind::Rating { score: 2 })
        .contacts();
    assert_eq!(contacts[0].channel, Channel::Chat);
    assert_eq!(contacts[0].channels, vec![Channel::Chat, Channel::Email]);
    let summary = DaySummary::of(contacts[0].day(), &contacts);
    let figures = Figures::of(&summary.channels["chat"]);
    assert_eq!(figures.switched_channels, 1);
    assert_eq!(figures.csat_satisfied_rate_switched, Some(0.0));
    assert_eq!(figures.csat_satisfied_rate_single_channel, None);
    assert!(!summary.channels.contains_key("email"));
}

#[test]
fn events_that_change_nothing_store_nothing() {
    let script = Script::new("c1")
        .says(T0)
        .escalated(T0 + 1_000, EscalationReason::NoMatch, None)
        .at(T0 + 2_000, Channel::Chat, EventKind::AgentReply);
    let contacts = script.contacts();
    let again = Event {
        id: "x".into(),
        at: T0 + 3_000,
        conversation: "c1".into(),
        channel: Channel::Chat,
        kind: EventKind::AgentReply,
    };
    assert!(apply(&contacts, &again).is_empty(), "only the first reply is timed");
    let orphan = Event {
        kind: EventKind::Rating { score: 4 },
        ..again
    };
    assert!(apply(&[], &orphan).is_empty(), "a rating with no contact");
}

#[test]
fn histograms_are_exact_below_16_seconds_and_within_a_sixteenth_above() {
    for seconds in [0u64, 1, 15, 16, 17, 31, 32, 100, 1_000, 86_400, 10_000_000] {
        let bucket = bucket_of(seconds);
        let (start, end) = (bucket_start(bucket), bucket_start(bucket + 1));
        assert!(start <= seconds && seconds < end, "{seconds}s in [{start}, {end})");
        assert!(
            (end - start) as f64 <= (start as f64 / 16.0).max(1.0),
            "{seconds}s: bucket too wide"
        );
    }
    let mut a = Histogram::default();
    let mut b = Histogram::default();
    let mut all = Histogram::default();
    for s in 1..=100u64 {
        let target = if s % 2 == 0 { &mut a } else { &mut b };
        target.add_ms(s * 1_000);
        all.add_ms(s * 1_000);
    }
    a.merge(&b);
    assert_eq!(a, all, "merging day histograms equals counting all at once");
    let p50 = all.quantile_seconds(0.5).unwrap();
    let p90 = all.quantile_seconds(0.9).unwrap();
    assert!((p50 - 50.0).abs() <= 50.0 / 16.0, "p50 {p50}");
    assert!((p90 - 90.0).abs() <= 90.0 / 16.0, "p90 {p90}");
    assert_eq!(Histogram::default().quantile_seconds(0.5), None);
}

#[test]
fn dates_round_trip_and_bad_ones_are_refused() {
    assert_eq!(date_of_day(0), "1970-01-01");
    assert_eq!(date_of_day(T0 / DAY_MS), "2025-11-24");
    for day in [0, 59, 60, 365, 10_957, 11_016, 20_000, 20_416, 40_000] {
        assert_eq!(day_of_date(&date_of_day(day)), Some(day));
    }
    for bad in [
        "2026-02-30",
        "2026-13-01",
        "1969-12-31",
        "26-01-01",
        "2026-1-01",
        "yesterday",
        "",
    ] {
        assert_eq!(day_of_date(bad), None, "{bad}");
    }
}

#[test]
fn report_ranges_default_to_30_days_and_refuse_bad_ones_by_name() {
    let today = day_of_date("2026-11-26").unwrap();
    assert_eq!(report_range(None, None, today), Ok((today - 29, today)));
    assert_eq!(
        report_range(Some("2026-11-01"), Some("2026-11-02"), today),
        Ok((today - 25, today - 24))
    );
    assert_eq!(
        report_range(None, Some("2026-01-31"), today).map(|(f, t)| t - f),
        Ok(29)
    );
    assert_eq!(report_range(Some("2026-11-31"), None, today).unwrap_err().0, "from");
    assert_eq!(report_range(None, Some("soon"), today).unwrap_err().0, "to");
    let (field, message) = report_range(Some("2026-11-20"), Some("2026-11-10"), today).unwrap_err();
    assert_eq!(field, "from");
    assert!(message.contains("after"), "{message}");
    assert!(
        report_range(Some("2025-01-01"), Some("2026-11-26"), today)
            .unwrap_err()
            .1
            .contains("366")
    );
    assert!(
        report_range(Some("2025-11-26"), Some("2026-11-26"), today).is_ok(),
        "366 days exactly"
    );
}

#[test]
fn a_report_splits_by_channel_ranks_topics_and_reasons_and_lists_every_day() {
    let day = T0 / DAY_MS;
    let mut events = bot_resolved("a", T0, "refunds").events;
    events.extend(bot_resolved("b", T0 + DAY_MS, "refunds").events);
    events.extend(
        Script::new("c")
            .at(T0 + 5 * MIN, Channel::Sms, EventKind::CustomerMessage)
            .at(
                T0 + 6 * MIN,
                Channel::Sms,
                EventKind::BotAnswer {
                    article: "shipping".into(),
                },
            )
            .escalated(T0 + 7 * MIN, EscalationReason::Upset, Some("shipping"))
            .events,
    );
    let contacts = contacts_of(&events);
    let summaries: Vec<DaySummary> = [day, day + 1]
        .iter()
        .map(|d| DaySummary::of(*d, contacts.iter().filter(|c| c.day() == *d)))
        .collect();
    let report = Report::of(day, day + 2, &summaries);
    assert_eq!(report.total.contacts, 3);
    assert_eq!(report.total.deflection_rate, Some(0.6667));
    assert_eq!(report.channels["sms"].escalation_rate, Some(1.0));
    assert_eq!(report.channels["chat"].deflected, 2);
    assert_eq!(report.topics[0].article, "refunds");
    assert_eq!(report.topics[0].contacts, 2);
    assert_eq!(report.escalation_reasons[0].reason, "upset");
    assert_eq!(report.days.len(), 3, "days without contacts are listed too");
    assert_eq!(report.days[2].total.contacts, 0);
    assert_eq!(report.days[2].total.deflection_rate, None);

    let narrow = Report::of(day + 1, day + 1, &summaries);
    assert_eq!(narrow.total.contacts, 1, "only the days asked for");

    let csv = report.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("day,channel,contacts,deflected,"));
    // Day 1: all, chat, sms; day 2: all, chat; day 3: all.
    assert_eq!(lines.len(), 1 + 3 + 2 + 1);
    assert!(lines[1].starts_with("2025-11-24,all,2,1,0.5,"), "{}", lines[1]);
    let columns = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));
}

#[test]
fn events_and_contacts_have_a_stable_json_form() {
    let event = Event {
        id: "m1:answer".into(),
        at: T0,
        conversation: "c1".into(),
        channel: Channel::Whatsapp,
        kind: EventKind::Helpful {
            article: "refunds".into(),
            yes: true,
            question: Some("can I get a refund".into()),
        },
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], "helpful");
    assert_eq!(json["channel"], "whatsapp");
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    let contact = &bot_resolved("c1", T0, "refunds").contacts()[0];
    let text = serde_json::to_string(contact).unwrap();
    assert_eq!(&serde_json::from_str::<Contact>(&text).unwrap(), contact);
}

#[test]
fn stored_messages_become_events_named_after_them() {
    let message = |id: &str, role: Role, bot: Option<BotDetail>| Message {
        seq: 1,
        id: id.into(),
        role,
        text: "text".into(),
        at: T0,
        reply_to: None,
        bot,
        channel: Channel::Sms,
        origin: None,
        helpful: None,
    };
    let visitor = event_of_message("c1", &message("m1", Role::Visitor, None), None).unwrap();
    assert_eq!(
        (visitor.id.as_str(), visitor.channel, &visitor.kind),
        ("message:m1", Channel::Sms, &EventKind::CustomerMessage)
    );
    let answer = BotDetail::Answer {
        article: crate::wire::ArticleLink {
            id: "refunds".into(),
            title: "Refunds".into(),
            url: None,
        },
        confidence: 0.9,
    };
    assert_eq!(
        event_of_message("c1", &message("bot:m1", Role::Bot, Some(answer)), Some("refund?"))
            .unwrap()
            .kind,
        EventKind::BotAnswer {
            article: "refunds".into()
        }
    );
    let no_answer = BotDetail::NoAnswer {
        reason: EscalationReason::Ambiguous,
        confidence: 0.3,
    };
    assert_eq!(
        event_of_message(
            "c1",
            &message("bot:m2", Role::Bot, Some(no_answer)),
            Some("ship to Oslo?")
        )
        .unwrap()
        .kind,
        EventKind::BotNoAnswer {
            reason: EscalationReason::Ambiguous,
            question: Some("ship to Oslo?".into()),
        }
    );
    let handoff = BotDetail::HandoffRequested {
        reason: EscalationReason::VisitorAsked,
    };
    assert_eq!(
        event_of_message("c1", &message("bot:m3", Role::Bot, Some(handoff)), None),
        None
    );
    assert_eq!(
        event_of_message("c1", &message("agent:r1", Role::Agent, None), None)
            .unwrap()
            .kind,
        EventKind::AgentReply
    );
}

#[test]
fn an_import_is_checked_line_by_line_and_put_in_time_order() {
    let now = T0 + DAY_MS;
    let line = |id: &str, at: u64, kind: &str| {
        format!(r#"{{"id":"{id}","at":{at},"conversation":"c1","channel":"email",{kind}}}"#)
    };
    let text = [
        line("b", T0 + 1_000, r#""kind":"bot_answer","article":"refunds""#),
        String::new(),
        line("a", T0, r#""kind":"customer_message""#),
    ]
    .join("\n");
    let events = parse_events(&text, now).unwrap();
    assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(events[0].channel, Channel::Email);

    for (text, wanted) in [
        (line("a", T0, r#""kind":"teleport""#), "line 1: unknown variant"),
        (line("", T0, r#""kind":"customer_message""#), "line 1: id must be"),
        (line("a", now + DAY_MS, r#""kind":"customer_message""#), "in the future"),
        (line("a", T0, r#""kind":"rating","score":9"#), "score is 1 to 5"),
        ("{not json".into(), "line 1:"),
        ("\n\n".into(), "no events"),
    ] {
        let error = parse_events(&text, now).unwrap_err();
        assert!(error.contains(wanted), "{text:?}: {error}");
    }
}
