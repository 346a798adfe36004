//! Measures the knowledge index on an evaluation set in the neutral JSONL format of
//! `../shared/data/README.md`: builds the index exactly as the worker does (same parser, same
//! `Index::build`, stored and loaded back through the same bytes, same shipped `AnswerConfig`), answers every query, and prints one JSON object
//! of metrics as its last line.
//!
//! Usage: cargo run --release -p shared --bin kb-eval -- --articles A.jsonl --queries Q.jsonl

use std::time::Instant;

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
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| {
                fail(&format!(
                    "missing {name} <path>; usage: kb-eval --articles A.jsonl --queries Q.jsonl"
                ))
            })
            .clone()
    };
    let articles_path = flag("--articles");
    let queries_path = flag("--queries");
    let articles_text =
        std::fs::read_to_string(&articles_path).unwrap_or_else(|e| fail(&format!("{articles_path}: {e}")));
    let queries_text = std::fs::read_to_string(&queries_path).unwrap_or_else(|e| fail(&format!("{queries_path}: {e}")));
    let articles = article::parse_jsonl(&articles_text).unwrap_or_else(|e| fail(&format!("{articles_path}: {e}")));
    let queries: Vec<Query> = queries_text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| fail(&format!("{queries_path}: line {}: {e}", i + 1))))
        .collect();

    // As the worker does: build and store, then answer from the stored index as loaded.
    let started = Instant::now();
    let stored = Index::build(&articles).to_bytes();
    let index_build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let index = Index::from_bytes(&stored).unwrap_or_else(|e| fail(&e.to_string()));
    println!(
        "stored index: {} bytes, loaded in {:.1} ms",
        stored.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let config = AnswerConfig::default();

    let (mut n_in_scope, mut n_out_of_scope, mut top1, mut right, mut wrong, mut escalated_oos) = (0, 0, 0, 0, 0, 0);
    let mut latencies_us = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        let decision = answer::decide(&index, &query.text, &config);
        latencies_us.push(started.elapsed().as_secs_f64() * 1e6);
        let best = match &decision {
            Decision::Answer { best, .. } => Some(best.article),
            Decision::Escalate { candidates, .. } => candidates.first().map(|c| c.article),
        };
        let best_id = best.map(|i| articles[i].id.as_str());
        let answered = matches!(decision, Decision::Answer { .. }).then_some(best_id).flatten();
        match &query.expect {
            Some(expected) => {
                n_in_scope += 1;
                top1 += usize::from(best_id == Some(expected.as_str()));
                match answered {
                    Some(id) if id == expected => right += 1,
                    Some(_) => wrong += 1,
                    None => {}
                }
            }
            None => {
                n_out_of_scope += 1;
                match answered {
                    Some(_) => wrong += 1,
                    None => escalated_oos += 1,
                }
            }
        }
    }
    latencies_us.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        if latencies_us.is_empty() {
            0.0
        } else {
            latencies_us[((p * latencies_us.len() as f64).ceil() as usize).clamp(1, latencies_us.len()) - 1]
        }
    };
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            None
        } else {
            Some(round4(a as f64 / b as f64))
        }
    };
    let report = serde_json::json!({
        "n_queries": queries.len(),
        "n_in_scope": n_in_scope,
        "n_out_of_scope": n_out_of_scope,
        "top1": ratio(top1, n_in_scope),
        "in_scope_accuracy": ratio(right, n_in_scope),
        "escalation_recall": ratio(escalated_oos, n_out_of_scope),
        "wrong_answer_rate": ratio(wrong, queries.len()),
        "p50_us": round4(percentile(0.50)),
        "p99_us": round4(percentile(0.99)),
        "index_build_ms": round4(index_build_ms),
        "index_bytes": index.heap_bytes(),
    });
    println!("{report}");
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn fail(message: &str) -> ! {
    eprintln!("kb-eval: {message}");
    std::process::exit(2);
}
