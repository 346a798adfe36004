//! When a conversation goes to a person, why, how urgently, and to which team: pure decisions
//! over the customer's message, what the bot managed so far, and the customer's profile, tuned
//! per site by `EscalationRules`.
//!
//! Reasons, each with its code: the knowledge engine is not confident (`no_match`, `ambiguous`),
//! the customer asks for a person in any wording (`visitor_asked`), the bot already failed
//! `max_bot_failures` times in this conversation (`repeated_failure`), urgency or strong negative
//! emotion (`urgent`, `upset`), a topic the site keeps for humans (`human_only_topic`), and a
//! high-value customer by the site's rule (`high_value_customer`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::index::normalize;
use crate::profile::TraitValue;
use crate::wire::EscalationReason;

/// A site's escalation settings.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct EscalationRules {
    /// Bot answers that did not help (no answer, or "that didn't help") before a person takes
    /// over.
    pub max_bot_failures: u32,
    /// Articles whose questions always go to a person (billing disputes, refunds, legal).
    pub human_only_articles: Vec<String>,
    /// Words or phrases that always go to a person (`chargeback`, `lawyer`).
    pub human_only_phrases: Vec<String>,
    /// More words that mark a message urgent, on top of the built-in ones.
    pub urgent_phrases: Vec<String>,
    /// Customers whose trait reaches this value go to a person at once, at high priority.
    pub high_value: Option<HighValueRule>,
    /// Which team takes which topics; the first rule that matches wins.
    pub teams: Vec<TeamRule>,
    pub default_team: String,
}

impl Default for EscalationRules {
    fn default() -> EscalationRules {
        EscalationRules {
            max_bot_failures: 2,
            human_only_articles: Vec::new(),
            human_only_phrases: Vec::new(),
            urgent_phrases: Vec::new(),
            high_value: None,
            teams: Vec::new(),
            default_team: "support".into(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HighValueRule {
    /// A numeric trait, e.g. `lifetime_value`.
    #[serde(rename = "trait")]
    pub trait_name: String,
    pub at_least: f64,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TeamRule {
    pub team: String,
    #[serde(default)]
    pub articles: Vec<String>,
    #[serde(default)]
    pub phrases: Vec<String>,
}

/// How soon a person should look.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    High,
    Urgent,
}

/// Ways of asking for a person, normalised (lowercase, no accents), in the languages the widget
/// speaks. Matched as whole phrases inside the message.
const ASKS_FOR_PERSON: &[&str] = &[
    // English
    "talk to a human",
    "speak to a human",
    "talk to a person",
    "speak to a person",
    "real person",
    "human please",
    "agent please",
    "live agent",
    "talk to someone",
    "speak to someone",
    "speak with someone",
    "talk with someone",
    "a representative",
    "real human",
    "talk to support",
    "speak to support",
    "connect me to someone",
    "connect me with someone",
    "connect me to a person",
    "connect me to an agent",
    "transfer me",
    "talk to an agent",
    "speak to an agent",
    "speak with an agent",
    "human being",
    "not a bot",
    "stop the bot",
    "talk to a real",
    "need a person",
    "need a human",
    "want a person",
    "want a human",
    "need an agent",
    // Spanish
    "hablar con una persona",
    "hablar con un humano",
    "hablar con un agente",
    "persona real",
    // German
    "mit einem menschen",
    "mit einem mitarbeiter",
    "echten menschen",
    "mit jemandem sprechen",
    // French
    "parler a quelqu'un",
    "parler a un humain",
    "parler a une personne",
    "parler a un conseiller",
    "un vrai humain",
    // Japanese
    "担当者",
    "オペレーター",
    "人間と話",
    // Arabic
    "موظف",
    "شخص حقيقي",
];

/// Words of urgency (normalised).
const URGENT: &[&str] = &[
    "urgent",
    "urgently",
    "asap",
    "emergency",
    "immediately",
    "right now",
    "outage",
    "is down",
    "are down",
    "went down",
    "site down",
    "not working at all",
    "completely broken",
    "production",
    "data loss",
    "lost all",
    "security breach",
    "hacked",
    "fraud",
    "charged twice",
    "double charged",
    "dringend",
    "urgente",
    "緊急",
];

/// Words of strong negative emotion or of leaving (normalised).
const UPSET: &[&str] = &[
    "unacceptable",
    "ridiculous",
    "disgusting",
    "furious",
    "angry",
    "terrible service",
    "worst",
    "cancel my account",
    "cancel my subscription",
    "close my account",
    "i want a refund",
    "lawsuit",
    "sue you",
    "scam",
    "never again",
    "fed up",
    "waste of time",
    "useless",
    "inaceptable",
    "inakzeptabel",
    "inadmissible",
];

fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    let phrase = normalize(phrase);
    if phrase.is_empty() {
        return false;
    }
    // Scripts without spaces match as substrings; others on word boundaries.
    let spaced = phrase.chars().any(|c| c.is_ascii_alphabetic());
    if !spaced {
        return haystack.contains(&phrase);
    }
    haystack.match_indices(&phrase).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Whether the customer asks for a person.
pub fn asks_for_person(text: &str) -> bool {
    let text = normalize(text);
    ASKS_FOR_PERSON.iter().any(|p| contains_phrase(&text, p))
}

/// The strongest signal in a message: urgency, or strong negative emotion.
pub fn mood(text: &str, rules: &EscalationRules) -> Option<EscalationReason> {
    let normalized = normalize(text);
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let shouting = letters.len() >= 12 && letters.iter().all(|c| !c.is_lowercase()) && text.contains('!');
    if URGENT
        .iter()
        .copied()
        .chain(rules.urgent_phrases.iter().map(String::as_str))
        .any(|p| contains_phrase(&normalized, p))
    {
        return Some(EscalationReason::Urgent);
    }
    if shouting || UPSET.iter().any(|p| contains_phrase(&normalized, p)) {
        return Some(EscalationReason::Upset);
    }
    None
}

/// What is known when a customer message arrives.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub text: &'a str,
    /// The engine's escalation, if it would not answer (`no_match`, `ambiguous`, ...).
    pub engine: Option<EscalationReason>,
    /// The article the engine would answer with (or its best candidate).
    pub article: Option<&'a str>,
    /// Bot answers in this conversation that did not help, before this message.
    pub bot_failures: u32,
    pub traits: &'a BTreeMap<String, TraitValue>,
    /// Which teams resolved earlier conversations on `article`, and how many.
    pub history: &'a [(String, u32)],
}

/// A decision to hand the conversation to a person.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Escalation {
    /// Why, most important first.
    pub reasons: Vec<EscalationReason>,
    pub priority: Priority,
    pub team: String,
    /// The article the question was about (the engine's answer or best candidate), if any: the
    /// topic teams are learned by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Where the suggested team came from.
    #[serde(default)]
    pub team_source: TeamSource,
}

/// How the suggested team was chosen.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TeamSource {
    /// One of the site's team rules matched.
    Rule,
    /// Staff of this team resolved most earlier conversations on the same topic.
    History,
    /// Nothing matched: the site's default team.
    #[default]
    Default,
}

/// Resolutions on a topic a team needs before it is suggested from history.
pub const MIN_RESOLUTIONS_TO_LEARN: u32 = 2;

/// The team that resolved most earlier conversations on a topic, given `(team, resolutions)`:
/// only with at least `MIN_RESOLUTIONS_TO_LEARN` of them and more than half of all.
pub fn team_from_history(history: &[(String, u32)]) -> Option<String> {
    let total: u32 = history.iter().map(|(_, n)| n).sum();
    let (team, count) = history
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))?;
    (*count >= MIN_RESOLUTIONS_TO_LEARN && count * 2 > total).then(|| team.clone())
}

/// Decides whether `situation` goes to a person. The engine's own doubt alone does not: the bot
/// offers a person and the customer decides, unless the bot has already failed
/// `max_bot_failures` times.
pub fn decide(situation: &Situation<'_>, rules: &EscalationRules) -> Option<Escalation> {
    let normalized = normalize(situation.text);
    let mut reasons = Vec::new();
    if asks_for_person(situation.text) {
        reasons.push(EscalationReason::VisitorAsked);
    }
    let mood = mood(situation.text, rules);
    reasons.extend(mood);
    let human_only = situation
        .article
        .is_some_and(|a| rules.human_only_articles.iter().any(|h| h == a))
        || rules.human_only_phrases.iter().any(|p| contains_phrase(&normalized, p));
    if human_only {
        reasons.push(EscalationReason::HumanOnlyTopic);
    }
    let high_value = rules.high_value.as_ref().is_some_and(|rule| {
        situation
            .traits
            .get(&rule.trait_name)
            .and_then(|t| t.value.as_f64())
            .is_some_and(|v| v >= rule.at_least)
    });
    if high_value && (!reasons.is_empty() || situation.engine.is_some()) {
        reasons.push(EscalationReason::HighValueCustomer);
    }
    if let Some(engine) = situation.engine {
        // "Already failed twice": this would be the third miss.
        if situation.bot_failures >= rules.max_bot_failures.max(1) {
            reasons.push(EscalationReason::RepeatedFailure);
        }
        if !reasons.is_empty() {
            reasons.push(engine);
        }
    }
    if reasons.is_empty() {
        return None;
    }
    let priority = if mood == Some(EscalationReason::Urgent) {
        Priority::Urgent
    } else if high_value || mood.is_some() {
        Priority::High
    } else {
        Priority::Normal
    };
    let (team, team_source) = team(&normalized, situation.article, situation.history, rules);
    Some(Escalation {
        reasons,
        priority,
        team,
        topic: situation.article.map(str::to_owned),
        team_source,
    })
}

/// The team a conversation about `text` (and the article `article`) should go to: the first
/// rule whose articles or phrases match, else the team that resolved most earlier conversations
/// on the topic (`history`), else the default team.
pub fn suggest_team(
    text: &str,
    article: Option<&str>,
    history: &[(String, u32)],
    rules: &EscalationRules,
) -> (String, TeamSource) {
    team(&normalize(text), article, history, rules)
}

fn team(
    normalized: &str,
    article: Option<&str>,
    history: &[(String, u32)],
    rules: &EscalationRules,
) -> (String, TeamSource) {
    let rule = rules.teams.iter().find(|rule| {
        article.is_some_and(|a| rule.articles.iter().any(|r| r == a))
            || rule.phrases.iter().any(|p| contains_phrase(normalized, p))
    });
    if let Some(rule) = rule {
        return (rule.team.clone(), TeamSource::Rule);
    }
    match team_from_history(history) {
        Some(team) => (team, TeamSource::History),
        None => (rules.default_team.clone(), TeamSource::Default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn situation<'a>(text: &'a str, traits: &'a BTreeMap<String, TraitValue>) -> Situation<'a> {
        Situation {
            text,
            engine: None,
            article: None,
            bot_failures: 0,
            traits,
            history: &[],
        }
    }

    #[test]
    fn asking_for_a_person_in_many_wordings() {
        for text in [
            "talk to a human",
            "Agent please!!",
            "can I speak to someone?",
            "I want a REAL person",
            "This is unacceptable, I need a person",
            "¿Puedo hablar con una persona?",
            "Kann ich mit einem Menschen sprechen?",
            "je veux parler à quelqu'un",
            "担当者と話したい",
        ] {
            assert!(asks_for_person(text), "{text}");
        }
        for text in [
            "how do I add a person to my team?",
            "what does the agentic mode do",
            "reset my password",
            "is there a human resources template?",
            "what are your customer service hours",
        ] {
            assert!(!asks_for_person(text), "{text}");
        }
    }

    #[test]
    fn urgency_and_anger() {
        let rules = EscalationRules::default();
        assert_eq!(mood("Our site is down, urgent", &rules), Some(EscalationReason::Urgent));
        assert_eq!(mood("I was charged twice", &rules), Some(EscalationReason::Urgent));
        assert_eq!(mood("This is unacceptable", &rules), Some(EscalationReason::Upset));
        assert_eq!(mood("I WANT MY MONEY BACK NOW!", &rules), Some(EscalationReason::Upset));
        assert_eq!(mood("cancel my account", &rules), Some(EscalationReason::Upset));
        assert_eq!(mood("How do I export invoices?", &rules), None);
        assert_eq!(mood("the downloads page", &rules), None);
        let custom = EscalationRules {
            urgent_phrases: vec!["payroll".into()],
            ..EscalationRules::default()
        };
        assert_eq!(mood("payroll run failed", &custom), Some(EscalationReason::Urgent));
    }

    #[test]
    fn the_engines_doubt_alone_offers_a_person_until_the_bot_failed_enough() {
        let traits = BTreeMap::new();
        let rules = EscalationRules::default();
        let doubtful = Situation {
            engine: Some(EscalationReason::NoMatch),
            ..situation("do you sell garden furniture", &traits)
        };
        assert_eq!(decide(&doubtful, &rules), None);
        let once_more = Situation {
            bot_failures: 1,
            ..doubtful.clone()
        };
        assert_eq!(decide(&once_more, &rules), None);
        let again = Situation {
            bot_failures: 2,
            ..doubtful.clone()
        };
        let escalation = decide(&again, &rules).unwrap();
        assert_eq!(
            escalation.reasons,
            vec![EscalationReason::RepeatedFailure, EscalationReason::NoMatch]
        );
        assert_eq!(escalation.priority, Priority::Normal);
        assert_eq!(escalation.team, "support");
    }

    #[test]
    fn site_rules_for_topics_teams_and_valuable_customers() {
        let rules: EscalationRules = serde_json::from_value(json!({
            "human_only_articles": ["refund-policy"],
            "human_only_phrases": ["chargeback"],
            "high_value": {"trait": "lifetime_value", "at_least": 10000},
            "teams": [
                {"team": "billing", "articles": ["refund-policy"], "phrases": ["invoice", "charged"]},
                {"team": "tech", "phrases": ["api", "outage"]}
            ]
        }))
        .unwrap();
        let none = BTreeMap::new();
        let refund = Situation {
            article: Some("refund-policy"),
            ..situation("can I get my money back", &none)
        };
        let escalation = decide(&refund, &rules).unwrap();
        assert_eq!(escalation.reasons, vec![EscalationReason::HumanOnlyTopic]);
        assert_eq!(escalation.team, "billing");
        let outage = decide(&situation("API outage since 9am", &none), &rules).unwrap();
        assert_eq!(outage.priority, Priority::Urgent);
        assert_eq!(outage.team, "tech");
        assert_eq!(
            decide(&situation("a chargeback arrived", &none), &rules)
                .unwrap()
                .reasons,
            vec![EscalationReason::HumanOnlyTopic]
        );

        // A valuable customer the bot cannot answer goes to a person at once, at high priority;
        // one it can answer is answered.
        let vip: BTreeMap<String, TraitValue> = [(
            "lifetime_value".to_string(),
            TraitValue {
                value: json!(25000),
                at: 1,
                verified: true,
            },
        )]
        .into();
        let unsure = Situation {
            engine: Some(EscalationReason::Ambiguous),
            ..situation("which plan has the audit log", &vip)
        };
        let escalation = decide(&unsure, &rules).unwrap();
        assert_eq!(
            escalation.reasons,
            vec![EscalationReason::HighValueCustomer, EscalationReason::Ambiguous]
        );
        assert_eq!(escalation.priority, Priority::High);
        assert_eq!(decide(&situation("how do I reset my password", &vip), &rules), None);
    }

    #[test]
    fn asking_for_a_person_while_upset_is_high_priority() {
        let none = BTreeMap::new();
        let escalation = decide(
            &situation("This is ridiculous, let me talk to a human", &none),
            &EscalationRules::default(),
        )
        .unwrap();
        assert_eq!(
            escalation.reasons,
            vec![EscalationReason::VisitorAsked, EscalationReason::Upset]
        );
        assert_eq!(escalation.priority, Priority::High);
    }

    #[test]
    fn teams_are_learned_from_who_resolved_the_topic_before() {
        let history = |pairs: &[(&str, u32)]| pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect::<Vec<_>>();
        assert_eq!(
            team_from_history(&history(&[("billing", 3), ("support", 1)])).as_deref(),
            Some("billing")
        );
        // One resolution is an anecdote; a split vote is no majority.
        assert_eq!(team_from_history(&history(&[("billing", 1)])), None);
        assert_eq!(team_from_history(&history(&[("billing", 2), ("tech", 2)])), None);
        assert_eq!(team_from_history(&[]), None);

        let rules: EscalationRules = serde_json::from_value(json!({
            "teams": [{"team": "tech", "phrases": ["api"]}]
        }))
        .unwrap();
        let learned = history(&[("billing", 4)]);
        assert_eq!(
            suggest_team("I was charged twice", Some("refunds"), &learned, &rules),
            ("billing".to_owned(), TeamSource::History)
        );
        // A site rule wins over history; no rule and no history: the default team.
        assert_eq!(
            suggest_team("the api is down", Some("refunds"), &learned, &rules),
            ("tech".to_owned(), TeamSource::Rule)
        );
        assert_eq!(
            suggest_team("hello", None, &[], &rules),
            ("support".to_owned(), TeamSource::Default)
        );
        let traits = BTreeMap::new();
        let mut asked = situation("talk to a human about my refund", &traits);
        asked.article = Some("refunds");
        asked.history = &learned;
        let escalation = decide(&asked, &rules).unwrap();
        assert_eq!(escalation.team, "billing");
        assert_eq!(escalation.team_source, TeamSource::History);
        assert_eq!(escalation.topic.as_deref(), Some("refunds"));
    }
}
