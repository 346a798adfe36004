//! Cost growth of the knowledge index: synthetic knowledge bases of 1k, 10k and 50k articles
//! (each with a title, a body and 10 example questions over a Zipf-like vocabulary of made-up
//! words among English's common ones), reporting
//! build time and its longest step, index bytes in memory and stored, load time, and query
//! latency p50/p99 over paraphrased and unrelated questions. Prints numbers; asserts nothing.
//! Run: cargo bench -p shared --bench index [-- 1000 10000]; `scripts/bench` also runs it as Wasm.

use std::time::Instant;

use shared::answer::{self, AnswerConfig};
use shared::article::Article;
use shared::index::{Index, IndexBuilder};

mod common;
use common::Rng;

fn vocabulary(n: usize, rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ter", "vin", "sol", "par", "ex", "on", "ra", "del", "qui", "bro", "fen", "tas", "ul", "gor",
        "ne",
    ];
    (0..n)
        .map(|_| {
            (0..2 + rng.below(3))
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect()
        })
        .collect()
}

/// English's common words between the made-up ones, so the knowledge base reads as English and
/// the index builds its meaning view (static embeddings), as it does for real English sites.
const ENGLISH: &[&str] = &[
    "how", "do", "i", "the", "my", "to", "with", "is", "can", "of", "and", "a", "for", "why", "it", "not",
];

fn sentence(words: &[String], topic: &[usize], length: usize, rng: &mut Rng) -> String {
    (0..length)
        .map(|_| match rng.below(4) {
            0 => words[rng.zipf(words.len())].as_str(),
            1 => ENGLISH[rng.below(ENGLISH.len())],
            _ => words[topic[rng.below(topic.len())]].as_str(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let words = vocabulary(30_000, &mut rng);
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "articles", "build ms", "step ms", "index MB", "stored MB", "load ms", "p50 µs", "p99 µs"
    );
    // Sizes from the command line (`cargo bench -p shared --bench index -- 1000 10000`), or all three.
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 50_000]
    } else {
        sizes
    };
    for n_articles in sizes {
        let articles: Vec<Article> = (0..n_articles)
            .map(|i| {
                let topic: Vec<usize> = (0..8).map(|_| rng.below(words.len())).collect();
                Article {
                    id: format!("a{i}"),
                    title: sentence(&words, &topic, 5, &mut rng),
                    body: sentence(&words, &topic, 60, &mut rng),
                    questions: (0..10).map(|_| sentence(&words, &topic, 7, &mut rng)).collect(),
                    url: None,
                }
            })
            .collect();
        // Step by step, as the worker builds, timing the longest step: the longest a question
        // waits while an upload is being indexed.
        let started = Instant::now();
        let mut builder = IndexBuilder::new(&articles);
        let mut longest_step_ms = started.elapsed().as_secs_f64() * 1000.0;
        loop {
            let step = Instant::now();
            let done = builder.step();
            longest_step_ms = longest_step_ms.max(step.elapsed().as_secs_f64() * 1000.0);
            if done {
                break;
            }
        }
        let index = builder.finish();
        let build_ms = started.elapsed().as_secs_f64() * 1000.0;
        let stored = index.to_bytes();
        let started = Instant::now();
        let index = Index::from_bytes(&stored).expect("the index just stored loads");
        let load_ms = started.elapsed().as_secs_f64() * 1000.0;

        let config = AnswerConfig::default();
        let mut latencies = Vec::new();
        for q in 0..2_000 {
            let question = if q % 4 == 3 {
                sentence(&words, &[rng.below(words.len())], 6, &mut rng)
            } else {
                let article = &articles[rng.below(articles.len())];
                let mut words: Vec<&str> = article.questions[rng.below(10)].split(' ').collect();
                words.remove(rng.below(words.len()));
                words.join(" ")
            };
            let started = Instant::now();
            std::hint::black_box(answer::decide(&index, &question, &config));
            latencies.push(started.elapsed().as_secs_f64() * 1e6);
        }
        latencies.sort_by(f64::total_cmp);
        let at = |p: f64| latencies[((p * latencies.len() as f64) as usize).min(latencies.len() - 1)];
        println!(
            "{n_articles:>8} {build_ms:>10.0} {longest_step_ms:>10.0} {:>12.1} {:>10.1} {load_ms:>10.1} {:>10.0} {:>10.0}",
            index.heap_bytes() as f64 / 1e6,
            stored.len() as f64 / 1e6,
            at(0.50),
            at(0.99)
        );
    }
}
