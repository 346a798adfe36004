//! Chooses the shipped escalation rule on development data: for a grid of (min_confidence,
//! min_margin, min_support; the cold-start margin as shipped) it prints, per evaluation set,
//! in-scope accuracy, escalation recall and wrong-answer rate, so the trade-off is visible. The
//! chosen rule goes into `AnswerConfig::default()` and is then used unchanged everywhere.
//!
//! Usage: cargo run --release -p shared --bin kb-tune -- A1.jsonl Q1.jsonl [A2.jsonl Q2.jsonl ...]
//! With `KB_TUNE_DUMP=path` it also writes each question's best articles as JSON lines (`set`,
//! `expect`, `top`: [id, confidence, coverage, trust] each), for trying other rules outside.

use serde::Deserialize;
use shared::answer::{self, AnswerConfig, Decision};
use shared::article;
use shared::index::Index;

#[derive(Deserialize)]
struct Query {
    text: String,
    expect: Option<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        args.len() >= 2 && args.len().is_multiple_of(2),
        "usage: kb-tune A1.jsonl Q1.jsonl [A2.jsonl Q2.jsonl ...]"
    );
    let sets: Vec<(String, Vec<article::Article>, Index, Vec<Query>)> = args
        .chunks(2)
        .map(|pair| {
            let articles = article::parse_jsonl(&std::fs::read_to_string(&pair[0]).unwrap()).unwrap();
            let queries = std::fs::read_to_string(&pair[1])
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let index = Index::build(&articles);
            (pair[1].clone(), articles, index, queries)
        })
        .collect();
    // Rank once per query; decisions under each rule are then cheap.
    let config = AnswerConfig::default();
    let ranked: Vec<Vec<Vec<shared::index::Scored>>> = sets
        .iter()
        .map(|(_, _, index, queries)| {
            queries
                .iter()
                .map(|q| index.search(&q.text, config.n_runners_up + 1))
                .collect()
        })
        .collect();
    if let Ok(path) = std::env::var("KB_TUNE_DUMP") {
        let mut out = String::new();
        for ((name, articles, _, queries), ranked) in sets.iter().zip(&ranked) {
            for (q, r) in queries.iter().zip(ranked) {
                let top: Vec<(String, f32, f32, f32)> = r
                    .iter()
                    .map(|s| (articles[s.article].id.clone(), s.score, s.coverage, s.trust))
                    .collect();
                out += &serde_json::json!({"set": name, "expect": q.expect, "top": top}).to_string();
                out.push('\n');
            }
        }
        std::fs::write(path, out).unwrap();
    }
    println!("min_conf margin support | per set: in_scope_accuracy escalation_recall wrong_answer_rate");
    for (confidence, margin, support) in grid() {
        let rule = AnswerConfig {
            min_confidence: confidence,
            min_margin: margin,
            min_support: support,
            ..config
        };
        let mut line = format!("{confidence:.2} {margin:.2} {support:.2} |");
        for ((_, articles, _, queries), ranked) in sets.iter().zip(&ranked) {
            let (mut n_in, mut n_out, mut right, mut wrong, mut escalated) = (0, 0, 0, 0, 0);
            for (query, ranked) in queries.iter().zip(ranked) {
                let answered = match answer::decide_ranked(ranked.clone(), &rule) {
                    Decision::Answer { best, .. } => Some(articles[best.article].id.as_str()),
                    Decision::Escalate { .. } => None,
                };
                match (&query.expect, answered) {
                    (Some(e), Some(a)) => {
                        n_in += 1;
                        if e == a { right += 1 } else { wrong += 1 }
                    }
                    (Some(_), None) => n_in += 1,
                    (None, Some(_)) => {
                        n_out += 1;
                        wrong += 1
                    }
                    (None, None) => {
                        n_out += 1;
                        escalated += 1
                    }
                }
            }
            let pct = |a: usize, b: usize| {
                if b == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.3}", a as f64 / b as f64)
                }
            };
            line += &format!(
                " {} {} {} |",
                pct(right, n_in),
                pct(escalated, n_out),
                pct(wrong, n_in + n_out)
            );
        }
        println!("{line}");
    }
}

/// The grid of rules: (min_confidence, min_margin, min_support).
fn grid() -> impl Iterator<Item = (f32, f32, f32)> {
    (0..=16).flat_map(|c| {
        [0.0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2]
            .into_iter()
            .flat_map(move |margin| {
                (60..=130)
                    .step_by(2)
                    .map(move |s| (c as f32 * 0.05, margin, s as f32 / 100.0))
            })
    })
}
