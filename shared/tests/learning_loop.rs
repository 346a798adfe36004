//! The learning loop on public data: `stackfaq-dev` starts with no example phrasings (cold
//! start). Half of its queries come back as resolved conversations (the customer's question,
//! the article that answered it) and become phrasings; top-1 on the other half must rise.
//! Needs `../shared/data` beside the project, as CI has it.

use serde::Deserialize;
use shared::answer::{self, AnswerConfig, Decision};
use shared::article::{self, Article};
use shared::index::Index;
use shared::learning::{Learned, add_phrasing};

#[derive(Deserialize)]
struct Query {
    text: String,
    expect: Option<String>,
}

fn data(name: &str) -> String {
    let path = format!("{}/../../shared/data/stackfaq-dev/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (../shared/data must sit beside the project)"))
}

/// Top-1 and answered-right shares over `queries`.
fn measure(articles: &[Article], queries: &[&Query]) -> (f64, f64) {
    let index = Index::build(articles);
    let config = AnswerConfig::default();
    let (mut top1, mut right) = (0, 0);
    for query in queries {
        let expected = query.expect.as_deref();
        let (best, answered) = match answer::decide(&index, &query.text, &config) {
            Decision::Answer { best, .. } => (Some(best.article), true),
            Decision::Escalate { candidates, .. } => (candidates.first().map(|c| c.article), false),
        };
        let hit = best.map(|i| articles[i].id.as_str()) == expected;
        top1 += usize::from(hit);
        right += usize::from(hit && answered);
    }
    let n = queries.len() as f64;
    (top1 as f64 / n, right as f64 / n)
}

#[test]
fn resolved_questions_fed_back_as_phrasings_raise_top1_on_unseen_questions() {
    let mut articles = article::parse_jsonl(&data("articles.jsonl")).unwrap();
    assert!(articles.iter().all(|a| a.questions.is_empty()), "a cold start");
    let queries: Vec<Query> = data("queries.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every other query is fed back; the rest are only ever measured.
    let fed: Vec<&Query> = queries.iter().step_by(2).collect();
    let held: Vec<&Query> = queries.iter().skip(1).step_by(2).collect();

    let (top1_before, right_before) = measure(&articles, &held);
    let mut learned = std::collections::HashMap::<String, usize>::new();
    let mut added = 0;
    for query in &fed {
        let Some(expected) = &query.expect else { continue };
        let article = articles.iter_mut().find(|a| &a.id == expected).unwrap();
        let count = learned.entry(expected.clone()).or_default();
        if add_phrasing(article, &query.text, *count) == Learned::Added {
            *count += 1;
            added += 1;
        }
    }
    let (top1_after, right_after) = measure(&articles, &held);
    println!(
        "learning loop on stackfaq-dev: {added} phrasings learned from {} resolved questions; held-out {} questions: top-1 {:.1}% -> {:.1}%, answered right {:.1}% -> {:.1}%",
        fed.len(),
        held.len(),
        top1_before * 100.0,
        top1_after * 100.0,
        right_before * 100.0,
        right_after * 100.0
    );
    assert!(added > fed.len() * 9 / 10, "nearly every question is new: {added}");
    assert!(
        top1_after >= top1_before + 0.03,
        "top-1 {top1_before:.3} -> {top1_after:.3}"
    );
    assert!(
        right_after > right_before,
        "answered right {right_before:.3} -> {right_after:.3}"
    );
}
