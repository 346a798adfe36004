//! Ranking: each article becomes several passages (its title, its title with its body, and each
//! example question), each passage a TF-IDF vector over words and character trigrams, and the
//! article itself a centroid (the normalised sum of its passages). A query scores passages and
//! centroids by cosine similarity through inverted indexes; an article's score is the mean of
//! two views: its best few passages (example phrasings act as nearest neighbours) and its
//! centroid (what all its phrasings share). An article with no phrasings still answers from its
//! title and body (cold start). Scores stay in `[0, 1]`, so one threshold means the same on
//! every site.

use std::collections::HashMap;

use crate::article::Article;

use super::normalize::normalize;
use super::tokenize::{Feature, features};

/// n-gram features count for less than whole words: they add recall for typos and word forms
/// without letting two unrelated words that share letters look alike.
const NGRAM_WEIGHT: f32 = 0.4;

/// How many of an article's best passages its passage view averages. One lucky phrasing should
/// not outvote an article whose several phrasings all fit.
const TOP_PASSAGES: usize = 3;

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
    /// Feature → (article, weight in that article's unit centroid).
    centroid_postings: HashMap<u64, Vec<(u32, f32)>>,
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
        let mut centroids: Vec<HashMap<u64, f32>> = vec![HashMap::new(); articles.len()];
        for (passage_id, (article, passage)) in passages.iter().enumerate() {
            passage_article.push(*article);
            for (hash, weight) in unit_vector(passage, |hash| idf.get(&hash).copied().unwrap_or(unseen_idf)) {
                postings.entry(hash).or_default().push((passage_id as u32, weight));
                *centroids[*article as usize].entry(hash).or_default() += weight;
            }
        }
        let mut centroid_postings: HashMap<u64, Vec<(u32, f32)>> = HashMap::new();
        for (article, centroid) in centroids.into_iter().enumerate() {
            let norm = centroid.values().map(|w| w * w).sum::<f32>().sqrt();
            for (hash, weight) in centroid {
                centroid_postings
                    .entry(hash)
                    .or_default()
                    .push((article as u32, weight / norm));
            }
        }
        for list in postings.values_mut().chain(centroid_postings.values_mut()) {
            list.shrink_to_fit();
        }
        Index {
            n_articles: articles.len(),
            idf,
            postings,
            passage_article,
            centroid_postings,
            unseen_idf,
        }
    }

    pub fn n_articles(&self) -> usize {
        self.n_articles
    }

    /// Memory the index holds on the heap, in bytes (from capacities, so an estimate that errs
    /// slightly high for the hash tables' control bytes).
    pub fn heap_bytes(&self) -> usize {
        let table = |len: usize, entry: usize| len * (entry + 1);
        table(self.idf.capacity(), 12)
            + table(self.postings.capacity(), 8 + 24)
            + self.postings.values().map(|p| p.capacity() * 8).sum::<usize>()
            + table(self.centroid_postings.capacity(), 8 + 24)
            + self.centroid_postings.values().map(|p| p.capacity() * 8).sum::<usize>()
            + self.passage_article.capacity() * 4
    }

    /// The `limit` best-matching articles, best first. Articles with no feature in common with
    /// the query are left out.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Scored> {
        let query = features(&normalize(query));
        let vector = unit_vector(&query, |hash| self.idf.get(&hash).copied().unwrap_or(self.unseen_idf));

        // Dense accumulators: one slot per passage and per article, touched lists to read back.
        let mut passage_scores = vec![0f32; self.passage_article.len()];
        let mut touched_passages = Vec::new();
        let mut centroid_scores = vec![0f32; self.n_articles];
        let mut touched_articles = Vec::new();
        for (hash, query_weight) in vector {
            for &(passage, weight) in self.postings.get(&hash).map(Vec::as_slice).unwrap_or_default() {
                let slot = &mut passage_scores[passage as usize];
                if *slot == 0.0 {
                    touched_passages.push(passage);
                }
                *slot += query_weight * weight;
            }
            for &(article, weight) in self.centroid_postings.get(&hash).map(Vec::as_slice).unwrap_or_default() {
                let slot = &mut centroid_scores[article as usize];
                if *slot == 0.0 {
                    touched_articles.push(article);
                }
                *slot += query_weight * weight;
            }
        }

        // Each article's best few passages.
        let mut best: HashMap<u32, [f32; TOP_PASSAGES]> = HashMap::with_capacity(touched_articles.len());
        for passage in touched_passages {
            let score = passage_scores[passage as usize];
            let top = best
                .entry(self.passage_article[passage as usize])
                .or_insert([0.0; TOP_PASSAGES]);
            if let Some(position) = top.iter().position(|&s| score > s) {
                top[position..].rotate_right(1);
                top[position] = score;
            }
        }
        let mut ranked: Vec<Scored> = touched_articles
            .into_iter()
            .map(|article| {
                let top = best.get(&article).copied().unwrap_or_default();
                let n = top.iter().filter(|&&s| s > 0.0).count().max(1);
                let passages = top.iter().sum::<f32>() / n as f32;
                let score = (passages + centroid_scores[article as usize]) / 2.0;
                Scored {
                    article: article as usize,
                    score: score.clamp(0.0, 1.0),
                }
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

    use crate::article::test_article as article;

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
