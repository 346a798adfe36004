//! Ranking: each article becomes several passages (its title, its title with its body, and each
//! example question), each passage a TF-IDF vector over words and character trigrams. A query
//! scores each passage by cosine similarity through an inverted index, and an article scores its
//! best passage: example phrasings act as nearest neighbours, and an article with none still
//! answers from its title and body (cold start).

use std::collections::HashMap;

use crate::article::Article;

use super::normalize::normalize;
use super::tokenize::{Feature, features};

/// n-gram features count for less than whole words: they add recall for typos and word forms
/// without letting two unrelated words that share letters look alike.
const NGRAM_WEIGHT: f32 = 0.4;

#[derive(Debug, Clone)]
pub struct Index {
    n_articles: usize,
    /// Inverse document frequency per feature, over articles (not passages, so an article with a
    /// hundred example questions does not drown out the rarity of its own words).
    idf: HashMap<u64, f32>,
    /// Feature → (passage, weight in that passage's unit vector).
    postings: HashMap<u64, Vec<(u32, f32)>>,
    /// Passage → article position.
    passage_article: Vec<u32>,
    /// The idf a feature no article has: the rarest possible.
    unseen_idf: f32,
}

/// An article position (in the slice the index was built from) and how well it matches, in
/// `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub article: usize,
    pub score: f32,
}

impl Index {
    pub fn build(articles: &[Article]) -> Index {
        let passages: Vec<(u32, Vec<Feature>)> = articles
            .iter()
            .enumerate()
            .flat_map(|(i, article)| {
                let title = normalize(&article.title);
                let title_body = normalize(&format!("{}\n{}", article.title, article.body));
                std::iter::once(title)
                    .chain((!article.body.is_empty()).then_some(title_body))
                    .chain(article.questions.iter().map(|q| normalize(q)))
                    .map(move |text| (i as u32, features(&text)))
            })
            .collect();

        let mut document_frequency: HashMap<u64, u32> = HashMap::new();
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for (article, passage) in &passages {
            for feature in passage {
                // Count each feature once per article.
                if seen.insert(feature.hash, *article) != Some(*article) {
                    *document_frequency.entry(feature.hash).or_default() += 1;
                }
            }
        }
        let n = articles.len().max(1) as f32;
        let idf: HashMap<u64, f32> = document_frequency
            .into_iter()
            .map(|(hash, df)| (hash, (1.0 + n / df as f32).ln()))
            .collect();
        let unseen_idf = (1.0 + n).ln();

        let mut postings: HashMap<u64, Vec<(u32, f32)>> = HashMap::new();
        let mut passage_article = Vec::with_capacity(passages.len());
        for (passage_id, (article, passage)) in passages.iter().enumerate() {
            passage_article.push(*article);
            for (hash, weight) in unit_vector(passage, |hash| idf.get(&hash).copied().unwrap_or(unseen_idf)) {
                postings.entry(hash).or_default().push((passage_id as u32, weight));
            }
        }
        Index {
            n_articles: articles.len(),
            idf,
            postings,
            passage_article,
            unseen_idf,
        }
    }

    pub fn n_articles(&self) -> usize {
        self.n_articles
    }

    /// The `limit` best-matching articles, best first. Articles with no feature in common with
    /// the query are left out.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Scored> {
        let query = features(&normalize(query));
        let vector = unit_vector(&query, |hash| self.idf.get(&hash).copied().unwrap_or(self.unseen_idf));
        let mut passage_scores: HashMap<u32, f32> = HashMap::new();
        for (hash, query_weight) in vector {
            if let Some(postings) = self.postings.get(&hash) {
                for &(passage, weight) in postings {
                    *passage_scores.entry(passage).or_default() += query_weight * weight;
                }
            }
        }
        let mut best: HashMap<u32, f32> = HashMap::new();
        for (passage, score) in passage_scores {
            let article = self.passage_article[passage as usize];
            let entry = best.entry(article).or_default();
            *entry = entry.max(score);
        }
        let mut ranked: Vec<Scored> = best
            .into_iter()
            .map(|(article, score)| Scored {
                article: article as usize,
                score: score.min(1.0),
            })
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.article.cmp(&b.article)));
        ranked.truncate(limit);
        ranked
    }
}

/// Sublinear TF × IDF, n-grams down-weighted, scaled to unit length.
fn unit_vector(passage: &[Feature], idf: impl Fn(u64) -> f32) -> Vec<(u64, f32)> {
    let mut counts: HashMap<u64, (u32, bool)> = HashMap::new();
    for feature in passage {
        let entry = counts.entry(feature.hash).or_insert((0, feature.is_word));
        entry.0 += 1;
    }
    let mut vector: Vec<(u64, f32)> = counts
        .into_iter()
        .map(|(hash, (count, is_word))| {
            let kind = if is_word { 1.0 } else { NGRAM_WEIGHT };
            (hash, (1.0 + (count as f32).ln()) * idf(hash) * kind)
        })
        .collect();
    let norm = vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, weight) in &mut vector {
            *weight /= norm;
        }
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, title: &str, body: &str, questions: &[&str]) -> Article {
        Article {
            id: id.into(),
            title: title.into(),
            body: body.into(),
            questions: questions.iter().map(|q| q.to_string()).collect(),
            url: None,
        }
    }

    fn articles() -> Vec<Article> {
        vec![
            article(
                "reset",
                "Reset your password",
                "Open Settings, choose Security, then Reset password.",
                &["I forgot my password", "can't log in"],
            ),
            article(
                "refund",
                "Refunds",
                "Refunds go back to the original card within 5 days.",
                &["how do I get my money back"],
            ),
            article(
                "export",
                "Export your data",
                "Download a CSV of every project from Settings > Export.",
                &[],
            ),
        ]
    }

    #[track_caller]
    fn check_top(query: &str, expected: &str) {
        let articles = articles();
        let index = Index::build(&articles);
        let ranked = index.search(query, 3);
        assert!(!ranked.is_empty(), "no result for {query:?}");
        assert_eq!(articles[ranked[0].article].id, expected, "{query:?}: {ranked:?}");
    }

    #[test]
    fn finds_by_example_question_title_and_body() {
        check_top("forgot my password", "reset");
        check_top("I want my money back", "refund");
        check_top("how can I download a csv", "export");
        // Typo and word form.
        check_top("pasword reseting", "reset");
    }

    #[test]
    fn unrelated_question_scores_low() {
        let index = Index::build(&articles());
        let ranked = index.search("what is the weather in paris", 3);
        assert!(ranked.first().is_none_or(|s| s.score < 0.2), "{ranked:?}");
    }

    #[test]
    fn empty_index_and_empty_query() {
        assert!(Index::build(&[]).search("password", 3).is_empty());
        assert!(Index::build(&articles()).search("", 3).is_empty());
    }
}
