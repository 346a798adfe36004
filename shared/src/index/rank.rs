//! Ranking. Every article is learned from its examples: its title, its title with its body, and
//! each example question. Each example becomes a TF-IDF vector over the features of `tokenize`,
//! and an article is scored two ways that are then averaged:
//!
//! - **centroid**: cosine similarity with the normalised sum of the article's examples, which
//!   works from the first article on (cold start: title and body alone);
//! - **model**: a linear classifier over the same features, trained on the examples with the
//!   averaged passive-aggressive algorithm (a margin-based perceptron, close to a linear SVM),
//!   which learns what tells one article's phrasings from its neighbours'. Every example question
//!   a site owner adds (or staff answers add later) makes it better.
//!
//! Both views are in `[0, 1]`-like units (cosine; a margin of 1 for a confident class), so one
//! threshold means the same on every site.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use rust_stemmers::Algorithm;

use crate::article::Article;

use super::language;
use super::normalize::normalize;
use super::postings::Postings;
use super::tokenize::{Feature, Kind, features};

/// Features more articles share than this are left out of the centroids and the model (they
/// still count towards a text's length): on a large knowledge base they are the common letter
/// sequences and words that tell nothing apart, and their long weight lists would cost most of a
/// question's time. Small knowledge bases keep every feature.
fn max_document_frequency(n_articles: usize) -> u32 {
    (n_articles / 20).max(100) as u32
}
/// The most postings (article, feature) a knowledge base keeps, so memory stays bounded: about
/// 16 MB. Each article keeps its strongest features within its share, and never fewer than
/// [`MIN_FEATURES_PER_ARTICLE`].
const ENTRY_BUDGET: usize = 1_800_000;
const MIN_FEATURES_PER_ARTICLE: usize = 160;
/// The most weight reads training may spend (about a second natively); a knowledge base of a few
/// hundred articles with a hundred phrasings each trains all [`EPOCHS`] within it.
const WORK_BUDGET: usize = 120_000_000;
/// Passes over the examples when training the model.
const EPOCHS: usize = 5;
/// Passive-aggressive step cap (PA-I's `C`): how far one example may move the weights.
const AGGRESSIVENESS: f32 = 0.5;

#[derive(Debug, Clone)]
pub struct Index {
    pub(super) n_articles: u32,
    /// The stemmer chosen for the site's language (see `language`).
    pub(super) stemmer: Option<Algorithm>,
    /// Feature hashes, sorted; a feature's position is its id.
    pub(super) hashes: Vec<u32>,
    /// Inverse document frequency per feature id, over articles.
    pub(super) idf: Vec<f32>,
    /// The idf a feature no article has: the rarest possible.
    pub(super) unseen_idf: f32,
    /// Feature → (article, weight in the article's unit centroid, the trained model's weight).
    pub(super) postings: Postings,
    /// Per article, how much the model's view counts against the centroid's (see [`trust`]).
    pub(super) trust: Vec<f32>,
}

/// An article position (in the slice the index was built from) and how well it matches, in
/// `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub article: usize,
    pub score: f32,
}

/// One training example: its article and its unit TF-IDF vector over feature ids.
struct Example {
    article: u32,
    vector: Vec<(u32, f32)>,
}

impl Index {
    pub fn build(articles: &[Article]) -> Index {
        let stemmer = language::detect(articles.iter().flat_map(|a| {
            [a.title.as_str(), a.body.as_str()]
                .into_iter()
                .chain(a.questions.iter().map(String::as_str))
        }));
        let texts: Vec<(u32, Vec<Feature>)> = articles
            .iter()
            .enumerate()
            .flat_map(|(i, article)| {
                let title = normalize(&article.title);
                let title_body = normalize(&format!("{}\n{}", article.title, article.body));
                std::iter::once(title)
                    .chain((!article.body.is_empty()).then_some(title_body))
                    .chain(article.questions.iter().map(|q| normalize(q)))
                    .map(move |text| (i as u32, features(&text, stemmer)))
            })
            .collect();

        // Feature ids (in hash order, for the binary search at question time), and how many
        // articles have each feature.
        let first_seen: HashSet<u32, BuildHasherDefault<FeatureHasher>> =
            texts.iter().flat_map(|(_, text)| text.iter().map(|f| f.hash)).collect();
        let mut hashes: Vec<u32> = first_seen.into_iter().collect();
        hashes.sort_unstable();
        let ids: FeatureMap<u32> = hashes.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect();
        let mut document_frequency = vec![0u32; hashes.len()];
        let mut last_article = vec![u32::MAX; hashes.len()];
        for (article, text) in &texts {
            for feature in text {
                let id = ids[&feature.hash] as usize;
                if last_article[id] != *article {
                    last_article[id] = *article;
                    document_frequency[id] += 1;
                }
            }
        }
        let n = articles.len() as f32;
        let unseen_idf = idf(n, 0.0);
        let mut idf: Vec<f32> = document_frequency.iter().map(|&df| idf(n, df as f32)).collect();

        let max_df = max_document_frequency(articles.len());
        let examples: Vec<Example> = texts
            .iter()
            .map(|(article, text)| Example {
                article: *article,
                vector: {
                    let mut v = unit_vector(text, |hash| ids.get(&hash).map(|&id| (id, idf[id as usize])));
                    v.retain(|&(id, _)| document_frequency[id as usize] <= max_df);
                    v
                },
            })
            .collect();
        drop(texts);

        let mut postings = centroids(&examples, articles.len(), hashes.len());
        train(&examples, articles.len(), &mut postings);
        // Forget the rare features no article kept (a question's rare word counts as unseen,
        // which is about what its idf was); keep the common ones' idf for questions' lengths.
        let keep: Vec<bool> = (0..hashes.len())
            .map(|id| !postings.range(id as u32).is_empty() || document_frequency[id] > max_df)
            .collect();
        postings.keep_features(&keep);
        let mut kept = keep.iter();
        hashes.retain(|_| *kept.next().unwrap_or(&false));
        let mut kept = keep.iter();
        idf.retain(|_| *kept.next().unwrap_or(&false));
        hashes.shrink_to_fit();
        idf.shrink_to_fit();
        let trust = articles.iter().map(|a| trust(a.questions.len())).collect();
        Index {
            trust,
            n_articles: articles.len() as u32,
            stemmer,
            hashes,
            idf,
            unseen_idf,
            postings,
        }
    }

    pub fn n_articles(&self) -> usize {
        self.n_articles as usize
    }

    /// Memory the index holds on the heap, in bytes.
    pub fn heap_bytes(&self) -> usize {
        (self.hashes.capacity() + self.idf.capacity() + self.trust.capacity()) * 4 + self.postings.heap_bytes()
    }

    fn id(&self, hash: u32) -> Option<u32> {
        self.hashes.binary_search(&hash).ok().map(|i| i as u32)
    }

    /// The `limit` best-matching articles, best first. Articles with no feature in common with
    /// the query are left out.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Scored> {
        let query = features(&normalize(query), self.stemmer);
        let vector = unit_vector_with_unseen(&query, self.unseen_idf, |hash| {
            self.id(hash).map(|id| (id, self.idf[id as usize]))
        });

        let n = self.n_articles as usize;
        let mut centroid = vec![0f32; n];
        let mut model = vec![0f32; n];
        let mut touched = Vec::new();
        for &(id, weight) in &vector {
            for (article, c, m) in self.postings.list(id) {
                let slot = &mut centroid[article as usize];
                if *slot == 0.0 {
                    touched.push(article);
                }
                *slot += weight * c;
                model[article as usize] += weight * m;
            }
        }
        let mut ranked: Vec<Scored> = touched
            .into_iter()
            .map(|article| {
                let a = article as usize;
                Scored {
                    article: a,
                    score: combine(centroid[a], model[a], self.trust[a]),
                }
            })
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.article.cmp(&b.article)));
        ranked.truncate(limit);
        ranked
    }
}

/// How far the model's view is trusted for an article with `n_questions` example phrasings: not
/// at all at cold start (a classifier trained on one title and body has learned nothing the
/// centroid does not know), then more with every phrasing: ½ at two, ⅘ at eight, ~1 at a hundred.
fn trust(n_questions: usize) -> f32 {
    let n = n_questions as f32;
    n / (n + 10.0)
}

/// One article's confidence: each view's raw score mapped to the probability that the article is
/// the right answer (logistic curves fitted once on the development sets, CLINC150 with its
/// out-of-scope questions and StackFAQ, and shipped unchanged), mixed by how far the model is
/// trusted for this article.
fn combine(centroid: f32, model: f32, trust: f32) -> f32 {
    let centroid = logistic(CENTROID_SLOPE * centroid + CENTROID_OFFSET);
    let model = logistic(MODEL_SLOPE * model + MODEL_OFFSET);
    ((1.0 - trust) * centroid + trust * model).clamp(0.0, 1.0)
}

const CENTROID_SLOPE: f32 = 5.83;
const CENTROID_OFFSET: f32 = -0.82;
const MODEL_SLOPE: f32 = 4.46;
const MODEL_OFFSET: f32 = -2.67;

fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A hash map keyed by feature hashes or ids. The keys are already well mixed, so one
/// multiplication spreads them over the table: several times faster than the default SipHash,
/// which defends against chosen keys that an index built from the site's own articles never sees.
type FeatureMap<V> = HashMap<u32, V, BuildHasherDefault<FeatureHasher>>;

#[derive(Default)]
struct FeatureHasher(u64);

impl Hasher for FeatureHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, value: u32) {
        self.0 = u64::from(value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Smoothed inverse document frequency: a feature every article has still counts a little.
fn idf(n_articles: f32, document_frequency: f32) -> f32 {
    ((1.0 + n_articles) / (1.0 + document_frequency)).ln() + 1.0
}

/// Sublinear TF × IDF × the feature kind's weight, scaled to unit length, sorted by id.
fn unit_vector(text: &[Feature], lookup: impl Fn(u32) -> Option<(u32, f32)>) -> Vec<(u32, f32)> {
    unit_vector_with_unseen(text, 0.0, lookup)
}

/// As [`unit_vector`], with features the index has never seen counted at `unseen_idf` towards the
/// length (so a question mostly about something else scores low) but left out of the vector.
fn unit_vector_with_unseen(
    text: &[Feature],
    unseen_idf: f32,
    lookup: impl Fn(u32) -> Option<(u32, f32)>,
) -> Vec<(u32, f32)> {
    let mut counts: FeatureMap<(u32, Kind)> = FeatureMap::default();
    for feature in text {
        counts.entry(feature.hash).or_insert((0, feature.kind)).0 += 1;
    }
    let mut norm = 0.0f32;
    let mut vector = Vec::with_capacity(counts.len());
    for (hash, (count, kind)) in counts {
        let tf = (1.0 + (count as f32).ln()) * kind.weight();
        match lookup(hash) {
            Some((id, idf)) => {
                let weight = tf * idf;
                norm += weight * weight;
                vector.push((id, weight));
            }
            None => norm += (tf * unseen_idf).powi(2),
        }
    }
    let norm = norm.sqrt();
    if norm > 0.0 {
        for (_, weight) in &mut vector {
            *weight /= norm;
        }
    }
    vector.sort_unstable_by_key(|&(id, _)| id);
    vector
}

/// Each article's unit centroid (the normalised sum of its examples), as postings whose model
/// weights are still zero. On a large knowledge base an article keeps only its strongest features
/// (see [`ENTRY_BUDGET`]).
fn centroids(examples: &[Example], n_articles: usize, n_features: usize) -> Postings {
    let mut sums: Vec<FeatureMap<f32>> = vec![FeatureMap::default(); n_articles];
    for example in examples {
        for &(id, weight) in &example.vector {
            *sums[example.article as usize].entry(id).or_default() += weight;
        }
    }
    let keep = (ENTRY_BUDGET / n_articles.max(1)).max(MIN_FEATURES_PER_ARTICLE);
    let mut entries = Vec::new();
    for (article, sum) in sums.into_iter().enumerate() {
        let norm = sum.values().map(|w| w * w).sum::<f32>().sqrt();
        let mut features: Vec<(u32, f32)> = sum.into_iter().collect();
        if features.len() > keep {
            features.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1));
            features.truncate(keep);
        }
        entries.extend(features.into_iter().map(|(id, w)| (id, article as u32, w / norm)));
    }
    Postings::from_entries(n_features, entries)
}

/// Trains the model weights: averaged multiclass passive-aggressive (PA-I) over the examples, in a
/// fixed pseudo-random order so a build is reproducible. An article's weights live on its own
/// centroid's features (so the model costs one number per posting); the update that pushes a
/// rival article down uses the rival's features the example shares. Training stops after
/// [`EPOCHS`] passes or [`WORK_BUDGET`] weight reads, whichever comes first, so a big knowledge
/// base still builds in seconds.
fn train(examples: &[Example], n_articles: usize, postings: &mut Postings) {
    let mut value = vec![0f32; postings.len()];
    let mut sum = vec![0f32; postings.len()];
    let mut scores = vec![0f32; n_articles];
    let mut touched: Vec<u32> = Vec::new();
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut step = 1.0f32;
    let mut work = 0usize;
    let update = |value: &mut [f32], sum: &mut [f32], vector: &[(u32, f32)], article: u32, tau: f32, step: f32| {
        for &(id, x) in vector {
            if let Some(slot) = postings.position(id, article) {
                value[slot] += tau * x;
                sum[slot] += step * tau * x;
            }
        }
    };
    'epochs: for _ in 0..EPOCHS {
        for i in (1..order.len()).rev() {
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            let j = (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for &e in &order {
            if work > WORK_BUDGET {
                break 'epochs;
            }
            let example = &examples[e];
            for &(id, x) in &example.vector {
                let range = postings.range(id);
                work += range.len();
                for slot in range {
                    let article = postings.articles[slot];
                    let score = &mut scores[article as usize];
                    if *score == 0.0 {
                        touched.push(article);
                    }
                    *score += x * value[slot];
                }
            }
            let own = scores[example.article as usize];
            let rival = touched
                .iter()
                .filter(|&&a| a != example.article)
                .map(|&a| (a, scores[a as usize]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|r| r.1 > 0.0);
            for &a in &touched {
                scores[a as usize] = 0.0;
            }
            touched.clear();
            let loss = 1.0 - (own - rival.map_or(0.0, |r| r.1));
            if loss > 0.0 {
                let pair = if rival.is_some() { 2.0 } else { 1.0 };
                let tau = (loss / pair).min(AGGRESSIVENESS);
                update(&mut value, &mut sum, &example.vector, example.article, tau, step);
                if let Some((r, _)) = rival {
                    update(&mut value, &mut sum, &example.vector, r, -tau, step);
                }
            }
            step += 1.0;
        }
    }
    postings.model = value.iter().zip(&sum).map(|(v, s)| v - s / step).collect();
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
        // Calibrated: an unrelated question is far from a coin flip.
        assert!(ranked.first().is_none_or(|s| s.score < 0.5), "{ranked:?}");
    }

    #[test]
    fn empty_index_and_empty_query() {
        assert!(Index::build(&[]).search("password", 3).is_empty());
        assert!(Index::build(&articles()).search("", 3).is_empty());
    }

    #[test]
    fn an_article_made_only_of_common_words_still_builds() {
        // Past 100 articles, "password" is in too many to be weighted, so the last article, which
        // has nothing else, keeps no features at all.
        let mut articles: Vec<Article> = (0..120)
            .map(|i| article(&format!("a{i}"), &format!("password topic{i}"), "", &[]))
            .collect();
        articles.push(article("last", "password", "", &["password"]));
        let index = Index::build(&articles);
        let ranked = index.search("topic7 password", 1);
        assert_eq!(ranked.first().map(|s| articles[s.article].id.as_str()), Some("a7"));
    }
}
