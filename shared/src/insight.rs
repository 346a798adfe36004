//! What the knowledge base is missing: the questions the bot could not answer, or answered and
//! was told it did not help, grouped into topics of similar questions and ranked by volume; and
//! the churn watch: customers whose contact rate jumped, weighted by their value to the site.
//!
//! Similarity does not assume a language: questions are compared as TF-IDF vectors of the
//! character 3-grams of their normalised words (so word forms, typos and languages without spaces
//! still match), and grouped greedily: each question joins the topic whose centroid it is most
//! like, if that is at least [`SIMILAR`], else starts a topic.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::index::normalize;

/// Cosine similarity from which a question joins a topic.
pub const SIMILAR: f32 = 0.25;
/// Most questions grouped at once (the newest are kept).
pub const MAX_QUESTIONS: usize = 2_000;
/// Examples kept per topic.
const EXAMPLES: usize = 5;

/// A question the bot did not help with.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Unhelped {
    pub question: String,
    /// `no_answer` (the bot did not answer) or `not_helpful` (the customer said so).
    pub why: String,
}

/// A group of similar questions.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct QuestionTopic {
    /// The question most like the rest.
    pub label: String,
    pub count: u64,
    pub no_answer: u64,
    pub not_helpful: u64,
    /// Up to five distinct questions of the topic, most typical first.
    pub examples: Vec<String>,
}

fn grams(text: &str) -> Vec<String> {
    let normal = normalize(text);
    let mut out = Vec::new();
    for word in normal.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let chars: Vec<char> = format!(" {word} ").chars().collect();
        if chars.len() <= 3 {
            out.push(chars.iter().collect());
            continue;
        }
        out.extend(chars.windows(3).map(|w| w.iter().collect::<String>()));
    }
    out
}

type Vector = HashMap<u32, f32>;

fn cosine(a: &Vector, b: &Vector) -> f32 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let dot: f32 = small.iter().filter_map(|(k, v)| large.get(k).map(|w| v * w)).sum();
    let norm = |v: &Vector| v.values().map(|x| x * x).sum::<f32>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator == 0.0 { 0.0 } else { dot / denominator }
}

/// Groups `questions` into topics, most questions first (ties: the label, alphabetically).
pub fn topics(questions: &[Unhelped]) -> Vec<QuestionTopic> {
    let questions = &questions[questions.len().saturating_sub(MAX_QUESTIONS)..];
    // Gram ids and document frequencies.
    let mut ids: HashMap<String, u32> = HashMap::new();
    let docs: Vec<Vec<u32>> = questions
        .iter()
        .map(|q| {
            grams(&q.question)
                .into_iter()
                .map(|g| {
                    let next = ids.len() as u32;
                    *ids.entry(g).or_insert(next)
                })
                .collect()
        })
        .collect();
    let mut df = vec![0u32; ids.len()];
    for doc in &docs {
        let mut seen: Vec<u32> = doc.clone();
        seen.sort_unstable();
        seen.dedup();
        for id in seen {
            df[id as usize] += 1;
        }
    }
    let n = docs.len() as f32;
    let vectors: Vec<Vector> = docs
        .iter()
        .map(|doc| {
            let mut v = Vector::new();
            for id in doc {
                *v.entry(*id).or_default() += 1.0;
            }
            for (id, tf) in v.iter_mut() {
                *tf = (1.0 + tf.ln()) * (1.0 + (n / df[*id as usize] as f32).ln());
            }
            v
        })
        .collect();
    // Greedy grouping against running centroids.
    struct Group {
        centroid: Vector,
        members: Vec<usize>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (i, vector) in vectors.iter().enumerate() {
        if vector.is_empty() {
            continue;
        }
        let best = groups
            .iter()
            .enumerate()
            .map(|(g, group)| (g, cosine(vector, &group.centroid)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((g, similarity)) if similarity >= SIMILAR => {
                let group = &mut groups[g];
                for (id, w) in vector {
                    *group.centroid.entry(*id).or_default() += w;
                }
                group.members.push(i);
            }
            _ => groups.push(Group {
                centroid: vector.clone(),
                members: vec![i],
            }),
        }
    }
    let mut topics: Vec<QuestionTopic> = groups
        .into_iter()
        .map(|group| {
            let mut members: Vec<(usize, f32)> = group
                .members
                .iter()
                .map(|&i| (i, cosine(&vectors[i], &group.centroid)))
                .collect();
            members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut examples: Vec<String> = Vec::new();
            for (i, _) in &members {
                let text = questions[*i].question.trim().to_owned();
                if examples.len() < EXAMPLES && !examples.contains(&text) {
                    examples.push(text);
                }
            }
            let count_of = |why: &str| group.members.iter().filter(|&&i| questions[i].why == why).count() as u64;
            QuestionTopic {
                label: examples.first().cloned().unwrap_or_default(),
                count: group.members.len() as u64,
                no_answer: count_of("no_answer"),
                not_helpful: count_of("not_helpful"),
                examples,
            }
        })
        .collect();
    topics.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    topics
}

/// Churn watch: the last this many days are compared with the usual rate.
pub const CHURN_RECENT_DAYS: u64 = 7;
/// The usual rate is taken over this many weeks before them.
pub const CHURN_BASELINE_WEEKS: u64 = 12;
/// A customer is watched when their contacts in the recent week are at least this many times
/// their usual weekly rate...
pub const CHURN_JUMP: f64 = 3.0;
/// ...and at least this many (one bad day is not a pattern).
pub const CHURN_MIN_RECENT: u64 = 3;
/// A usual rate below this (per week) counts as this, so a first-time customer is not "infinitely" up.
const CHURN_RATE_FLOOR: f64 = 0.5;

/// One customer's contacts: in the recent week, and in the baseline weeks before it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ContactCounts {
    pub conversation: String,
    pub recent: u64,
    pub before: u64,
}

/// A customer who contacts support far more than usual, with the evidence.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ChurnSignal {
    pub conversation: String,
    /// Contacts in the last [`CHURN_RECENT_DAYS`] days.
    pub recent_contacts: u64,
    /// Their usual contacts a week over the [`CHURN_BASELINE_WEEKS`] before.
    pub usual_per_week: f64,
    /// Recent over usual.
    pub jump: f64,
    /// The site's value trait (the high-value rule's), when the customer has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// How much the value counts: 1, up to 10 for ten times the high-value threshold.
    pub weight: f64,
    /// `jump × weight`: the list's order.
    pub score: f64,
    /// What the recent contacts were about (article ids; `""`: nothing the bot could name).
    #[serde(default)]
    pub topics: Vec<String>,
}

/// Why a customer may be about to leave, as a notification (`customer.churn_risk`) says it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChurnRisk {
    /// Their subscription ended (Stripe).
    SubscriptionCanceled {
        #[serde(default)]
        plan: Option<String>,
    },
    /// They set their subscription to end with the period (Stripe's `cancel_at_period_end`).
    CancelScheduled {
        #[serde(default)]
        plan: Option<String>,
    },
    /// A payment failed (Stripe).
    PaymentFailed,
    /// They contact support far more than usual (the churn watch's rule).
    ContactsJumped { recent_contacts: u64, usual_per_week: f64 },
}

impl ChurnRisk {
    /// A short name, for keys and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ChurnRisk::SubscriptionCanceled { .. } => "subscription_canceled",
            ChurnRisk::CancelScheduled { .. } => "cancel_scheduled",
            ChurnRisk::PaymentFailed => "payment_failed",
            ChurnRisk::ContactsJumped { .. } => "contacts_jumped",
        }
    }

    /// What happened, as a person reads it after the customer's name.
    pub fn describe(&self) -> String {
        let plan = |plan: &Option<String>| plan.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
        match self {
            ChurnRisk::SubscriptionCanceled { plan: p } => format!("cancelled their subscription{}", plan(p)),
            ChurnRisk::CancelScheduled { plan: p } => {
                format!("set their subscription{} to end with this billing period", plan(p))
            }
            ChurnRisk::PaymentFailed => "had a payment fail".into(),
            ChurnRisk::ContactsJumped {
                recent_contacts,
                usual_per_week,
            } => format!(
                "contacted support {recent_contacts} times in the last {CHURN_RECENT_DAYS} days (usually {usual_per_week} a week)"
            ),
        }
    }
}

/// The customers whose contact rate jumped, unweighted (`weight` 1), biggest jump first.
pub fn churn_signals(counts: &[ContactCounts]) -> Vec<ChurnSignal> {
    let mut signals: Vec<ChurnSignal> = counts
        .iter()
        .filter_map(|c| {
            let usual = c.before as f64 / CHURN_BASELINE_WEEKS as f64;
            let jump = c.recent as f64 / usual.max(CHURN_RATE_FLOOR);
            (c.recent >= CHURN_MIN_RECENT && jump >= CHURN_JUMP).then(|| ChurnSignal {
                conversation: c.conversation.clone(),
                recent_contacts: c.recent,
                usual_per_week: (usual * 100.0).round() / 100.0,
                jump: (jump * 10.0).round() / 10.0,
                value: None,
                weight: 1.0,
                score: (jump * 10.0).round() / 10.0,
                topics: Vec::new(),
            })
        })
        .collect();
    rank(&mut signals);
    signals
}

/// Weighs a signal by the customer's value: `value` of the trait the site's high-value rule
/// names, against the rule's threshold.
pub fn weigh(signal: &mut ChurnSignal, value: Option<f64>, threshold: f64) {
    signal.value = value;
    signal.weight = match value {
        Some(v) if threshold > 0.0 && v > 0.0 => (1.0 + v / threshold).min(10.0),
        _ => 1.0,
    };
    signal.weight = (signal.weight * 100.0).round() / 100.0;
    signal.score = (signal.jump * signal.weight * 10.0).round() / 10.0;
}

/// Highest score first (ties: the conversation id).
pub fn rank(signals: &mut [ChurnSignal]) {
    signals.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.conversation.cmp(&b.conversation))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhelped(question: &str) -> Unhelped {
        Unhelped {
            question: question.into(),
            why: "no_answer".into(),
        }
    }

    #[test]
    fn similar_questions_group_and_the_biggest_topic_comes_first() {
        let questions: Vec<Unhelped> = [
            "Do you ship to Norway?",
            "can I pay with bitcoin",
            "do you deliver to norway",
            "Shipping to Norway possible?",
            "bitcoin payments accepted?",
            "do you ship to norway",
            "what is the meaning of life",
        ]
        .iter()
        .map(|q| unhelped(q))
        .collect();
        let topics = topics(&questions);
        assert_eq!(topics.len(), 3, "{topics:#?}");
        assert_eq!(topics[0].count, 4, "{topics:#?}");
        assert!(topics[0].label.to_lowercase().contains("norway"));
        assert_eq!(topics[0].examples.len(), 4, "distinct questions only once");
        assert_eq!(topics[1].count, 2);
        assert!(topics[1].examples.iter().all(|q| q.contains("bitcoin")));
        assert_eq!(topics[2].count, 1);
    }

    #[test]
    fn churn_risks_read_as_sentences() {
        let canceled = ChurnRisk::SubscriptionCanceled {
            plan: Some("Pro".into()),
        };
        assert_eq!(canceled.describe(), "cancelled their subscription (Pro)");
        assert_eq!(canceled.kind(), "subscription_canceled");
        let jumped = ChurnRisk::ContactsJumped {
            recent_contacts: 4,
            usual_per_week: 0.5,
        };
        assert_eq!(
            jumped.describe(),
            "contacted support 4 times in the last 7 days (usually 0.5 a week)"
        );
        let json = serde_json::to_value(&jumped).unwrap();
        assert_eq!(json["kind"], "contacts_jumped");
    }

    #[test]
    fn a_jump_to_three_times_the_usual_rate_is_watched_and_value_weighs_it() {
        let counts = |conversation: &str, recent, before| ContactCounts {
            conversation: conversation.into(),
            recent,
            before,
        };
        let signals = churn_signals(&[
            counts("steady", 3, 36),     // 3 a week, as always
            counts("jumped", 6, 12),     // 1 a week usually
            counts("new", 3, 0),         // first contacts: the floor of 0.5 a week
            counts("one-bad-day", 2, 0), // too few to be a pattern
        ]);
        let names: Vec<&str> = signals.iter().map(|s| s.conversation.as_str()).collect();
        assert_eq!(names, ["jumped", "new"]);
        assert_eq!((signals[0].usual_per_week, signals[0].jump), (1.0, 6.0));
        assert_eq!(signals[1].jump, 6.0);

        let mut weighed = signals.clone();
        weigh(&mut weighed[1], Some(5_000.0), 1_000.0);
        weigh(&mut weighed[0], None, 1_000.0);
        rank(&mut weighed);
        assert_eq!(weighed[0].conversation, "new", "a valuable customer first");
        assert_eq!((weighed[0].weight, weighed[0].score), (6.0, 36.0));
        assert_eq!(weighed[1].weight, 1.0);
        let mut huge = signals[0].clone();
        weigh(&mut huge, Some(1e9), 1_000.0);
        assert_eq!(huge.weight, 10.0, "capped");
    }

    #[test]
    fn languages_without_spaces_and_empty_text_do_not_break_it() {
        let mut questions: Vec<Unhelped> = ["配送料はいくらですか", "配送料はいくら？", "返品できますか", "", "!!!"]
            .iter()
            .map(|q| unhelped(q))
            .collect();
        questions[1].why = "not_helpful".into();
        let topics = topics(&questions);
        assert_eq!(topics[0].count, 2, "{topics:#?}");
        assert_eq!((topics[0].no_answer, topics[0].not_helpful), (1, 1));
        assert_eq!(
            topics.iter().map(|t| t.count).sum::<u64>(),
            3,
            "blank questions are skipped"
        );
    }
}
