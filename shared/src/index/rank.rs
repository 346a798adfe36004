//! Ranking. Every article is learned from its examples: its title, its title with its body, and
//! each example question. Each example becomes a TF-IDF vector over the features of `tokenize`,
//! and an article is scored two ways, mixed by how many example questions it has:
//!
//! - **centroid**: cosine similarity with the normalised sum of the article's examples, which
//!   works from the first article on (cold start: title and body alone);
//! - **model**: a linear classifier over the same features, trained on the examples with the
//!   averaged passive-aggressive algorithm (a margin-based perceptron, close to a linear SVM),
//!   which learns what tells one article's phrasings from its neighbours'. Every example question
//!   a site owner adds (or staff answers add later) makes it better. On an English knowledge base
//!   it also weighs each text's static embedding (`embed`, see [`Dense`]), which carries meaning
//!   between texts that share no word.
//!
//! Each view's raw score is mapped to a calibrated probability of being the right article (see
//! [`combine`]), so one threshold means the same on every site, cold start or trained. Building
//! (and training) is in `build`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rust_stemmers::Algorithm;

use crate::article::Article;

use super::build::IndexBuilder;
use super::embed::{self, DIMS, Vectors};
use super::normalize::normalize;
use super::postings::{Column, Postings};
use super::tokenize::{Feature, Kind, features};

#[derive(Debug, Clone)]
pub struct Index {
    pub(super) n_articles: u32,
    /// The stemmer chosen for the site's language (see `language`).
    pub(super) stemmer: Option<Algorithm>,
    /// Feature hashes, sorted; a feature's position is its id.
    pub(super) hashes: Vec<u32>,
    /// Inverse document frequency per feature id, over articles.
    pub(super) idf: Column,
    /// The idf a feature no article has: the rarest possible.
    pub(super) unseen_idf: f32,
    /// Feature → (article, weight in the article's unit centroid, the trained model's weight).
    pub(super) postings: Postings,
    /// Per article, how much the model's view counts against the centroid's (see [`trust`]).
    pub(super) trust: Vec<f32>,
    /// The meaning view, for knowledge bases in English (see [`Meaning`]).
    pub(super) meaning: Option<Meaning>,
}

/// The meaning view: what each article's texts mean, beyond their words, as two tables of
/// `DIMS` numbers an article over the texts' static embeddings (see `embed`).
#[derive(Debug, Clone)]
pub(super) struct Meaning {
    /// The model's dense weights, trained alongside its sparse ones, so "my card is missing"
    /// finds the article whose phrasings say "I lost my card".
    pub(super) model: Dense,
    /// The article's meaning centroid: the normalised sum of its title's and example questions'
    /// learned embeddings, which works from the first article on (cold start: the title). A long
    /// body's averaged embedding says little, so the body is left out.
    pub(super) centroid: Dense,
    /// Each article's title and example questions, one distilled embedding each (within
    /// `build::PHRASING_BUDGET`): article `a`'s are rows `phrasing_offsets[a]..phrasing_offsets[a + 1]`.
    pub(super) phrasing_offsets: Vec<u32>,
    pub(super) phrasings: Dense,
}

impl Meaning {
    /// The cosine between `embedding` and the nearest of the article's phrasings (0 if it has none).
    fn nearest(&self, article: usize, embedding: &[f32; DIMS]) -> f32 {
        (self.phrasing_offsets[article]..self.phrasing_offsets[article + 1])
            .map(|row| self.phrasings.score(row as usize, embedding))
            .fold(0.0, f32::max)
    }
}

/// `DIMS` numbers an article, kept a byte each, scaled to each article's largest (1.3 MB at
/// 10,000 articles).
#[derive(Debug, Clone)]
pub(super) struct Dense {
    pub(super) scales: Vec<f32>,
    pub(super) values: Vec<i8>,
}

impl Dense {
    pub(super) fn with_capacity(n_articles: usize) -> Dense {
        Dense {
            scales: Vec::with_capacity(n_articles),
            values: Vec::with_capacity(n_articles * DIMS),
        }
    }

    /// Quantises the next article's `DIMS` numbers.
    pub(super) fn push(&mut self, numbers: &[f32]) {
        self.scales.push(embed::quantize(numbers, &mut self.values));
    }

    /// Row `row`'s numbers (an article's, or a phrasing's) · the text's embedding.
    pub(super) fn score(&self, row: usize, embedding: &[f32; DIMS]) -> f32 {
        let values = &self.values[row * DIMS..(row + 1) * DIMS];
        let mut lanes = [0f32; 8];
        for (v, e) in values.chunks_exact(8).zip(embedding.chunks_exact(8)) {
            for i in 0..8 {
                lanes[i] += f32::from(v[i]) * e[i];
            }
        }
        lanes.iter().sum::<f32>() * self.scales[row]
    }
}

/// How much a text's embedding counts against its sparse vector (both unit length) in the model.
pub(super) const DENSE_WEIGHT: f32 = 0.75;
/// How much the meaning centroid's cosine counts in the centroid view, against the words'.
const MEANING_CENTROID_WEIGHT: f32 = 0.4;
/// A meaning cosine up to this says nothing: two unrelated sentences of the learned table's corpus
/// reach 0.07 on average and 0.24 one time in ten (2,000 random pairs). Above it the cosine is
/// rescaled to `[0, 1]`, like the words' cosine, which is 0 for texts that share nothing. At 0.1,
/// a small shop's "do you sell garden furniture?" still came out as its shipping article ("do you
/// ship abroad"); at 0.2 it escalates, and the development sets score the same.
const MEANING_FLOOR: f32 = 0.2;
/// On a large knowledge base only the best articles by words alone are compared by meaning too,
/// so a question's cost stays bounded (the right article is almost always among them).
const DENSE_CANDIDATES: usize = 64;
/// How much the cosine with an article's nearest phrasing adds to its model score: the trained
/// weights generalise over all of an article's phrasings, and the nearest one tells a question
/// that says what one phrasing says (`clinc150-dev` top-1 94.2% → 94.6%).
const NEAREST_WEIGHT: f32 = 1.5;
/// The best articles by model score that are compared with their phrasings one by one; the rest
/// count the lowest of those cosines, so they are neither favoured nor shut out.
const NEAREST_CANDIDATES: usize = 8;
/// The softmax's sharpness over the model scores (see [`Index::search`]).
const SHARPNESS: f32 = 5.0;
/// The "none of them" score in the softmax: about what a right article's model score is on a
/// question its phrasings half say (a right answer on `clinc150-dev` scores 2.6 at the median). At
/// 0, a leader that was not a good match still took nearly all the probability on a small site;
/// at 2 the development sets score about the same (in-scope 91.3% → 91.2%, with 2.81% wrong
/// answers instead of 2.97%), at 2.5 they lose 0.7 points.
const NONE_SCORE: f32 = 2.0;

/// An article position (in the slice the index was built from), how well it matches, and how
/// much of the question it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub article: usize,
    /// The confidence that this is the right article, in `[0, 1]`.
    pub score: f32,
    /// The share of the question's weight (its unit TF-IDF vector's squared length) on features
    /// the article's own texts have, in `[0, 1]`: a question mostly about something the article
    /// never mentions covers little of it, however it ranks against the other articles.
    pub coverage: f32,
    /// How far `score` comes from the trained model rather than the centroid (see [`trust`]): 0
    /// at cold start, ½ at ten example phrasings, ~1 at a hundred.
    pub trust: f32,
}

impl Index {
    /// Builds the index of `articles` in one go; [`IndexBuilder`] does the same a step at a time.
    pub fn build(articles: &[Article]) -> Index {
        IndexBuilder::new(articles).finish()
    }

    pub fn n_articles(&self) -> usize {
        self.n_articles as usize
    }

    /// Memory the index holds on the heap, in bytes.
    pub fn heap_bytes(&self) -> usize {
        let dense = self.meaning.as_ref().map_or(0, |m| {
            m.phrasing_offsets.capacity() * 4
                + [&m.model, &m.centroid, &m.phrasings]
                    .iter()
                    .map(|d| d.scales.capacity() * 4 + d.values.capacity())
                    .sum::<usize>()
        });
        (self.hashes.capacity() + self.trust.capacity()) * 4
            + self.idf.heap_bytes()
            + dense
            + self.postings.heap_bytes()
    }

    fn id(&self, hash: u32) -> Option<u32> {
        self.hashes.binary_search(&hash).ok().map(|i| i as u32)
    }

    /// The `limit` best-matching articles, best first. Articles with no feature in common with
    /// the query are left out.
    ///
    /// Each article is scored by the centroid view and the model view (plus, in English, the
    /// meaning view's parts of both, and its nearest phrasing's cosine). The model's scores are
    /// turned into probabilities by a softmax over the candidates and a "none of them" score (see
    /// [`NONE_SCORE`]), so an article stands out only by beating its rivals and matching well, and
    /// a question that matches nothing leaves most of the probability to "none". The centroid's
    /// score keeps its logistic curve (cold start, where the model has learned nothing). The two
    /// are mixed by how far the model is trusted for the article (see [`trust`]).
    pub fn search(&self, query: &str, limit: usize) -> Vec<Scored> {
        let normalized = normalize(query);
        let query = features(&normalized, self.stemmer);
        let vector = unit_vector(&query, self.unseen_idf, |hash| {
            self.id(hash).map(|id| (id, self.idf.get(id as usize)))
        });

        let n = self.n_articles as usize;
        let mut centroid = vec![0f32; n];
        let mut model = vec![0f32; n];
        let mut coverage = vec![0f32; n];
        // Each article once, however its sums come out (a model-only posting adds 0 to its
        // centroid sum).
        let mut seen = vec![false; n];
        let mut touched = Vec::new();
        for &(id, weight) in &vector {
            for (article, c, m) in self.postings.list(id) {
                let a = article as usize;
                if !seen[a] {
                    seen[a] = true;
                    touched.push(a);
                }
                centroid[a] += weight * c;
                model[a] += weight * m;
                // A model-only posting is a rival's feature, not the article's own.
                if c > 0.0 {
                    coverage[a] += weight * weight;
                }
            }
        }
        if touched.is_empty() {
            return Vec::new();
        }
        if let Some(meaning) = &self.meaning
            && let pieces = embed::pieces(&normalized)
            && let Some(embedding) = embed::embed(Vectors::Distilled, &pieces)
            && let Some(learned) = embed::embed(Vectors::Learned, &pieces)
        {
            if touched.len() > DENSE_CANDIDATES {
                let by_words = |&a: &usize| combine(centroid[a], model[a], self.trust[a]);
                touched.select_nth_unstable_by(DENSE_CANDIDATES, |a, b| by_words(b).total_cmp(&by_words(a)));
                touched.truncate(DENSE_CANDIDATES);
            }
            for &a in &touched {
                model[a] += DENSE_WEIGHT * meaning.model.score(a, &embedding);
                // An article without a meaning centroid (another language) keeps its words'.
                if meaning.centroid.scales[a] > 0.0 {
                    let similarity = (meaning.centroid.score(a, &learned) - MEANING_FLOOR) / (1.0 - MEANING_FLOOR);
                    centroid[a] =
                        (1.0 - MEANING_CENTROID_WEIGHT) * centroid[a] + MEANING_CENTROID_WEIGHT * similarity.max(0.0);
                }
            }
            let k = NEAREST_CANDIDATES.min(touched.len());
            touched.select_nth_unstable_by(k - 1, |&a, &b| model[b].total_cmp(&model[a]));
            let mut lowest = f32::INFINITY;
            for &a in &touched[..k] {
                let nearest = meaning.nearest(a, &embedding);
                lowest = lowest.min(nearest);
                model[a] += NEAREST_WEIGHT * nearest;
            }
            for &a in &touched[k..] {
                model[a] += NEAREST_WEIGHT * lowest;
            }
        }
        // The softmax, shifted by its largest exponent so none overflows.
        let top = touched.iter().fold(NONE_SCORE, |top, &a| top.max(model[a])) * SHARPNESS;
        let none = (NONE_SCORE * SHARPNESS - top).exp();
        let sum = none + touched.iter().map(|&a| (model[a] * SHARPNESS - top).exp()).sum::<f32>();
        let mut ranked: Vec<Scored> = touched
            .iter()
            .map(|&a| {
                let probability = (model[a] * SHARPNESS - top).exp() / sum;
                let trust = self.trust[a];
                let centroid = logistic(CENTROID_SLOPE * centroid[a] + CENTROID_OFFSET);
                Scored {
                    article: a,
                    score: ((1.0 - trust) * centroid + trust * probability).clamp(0.0, 1.0),
                    coverage: coverage[a].min(1.0),
                    trust,
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
pub(super) fn trust(n_questions: usize) -> f32 {
    let n = n_questions as f32;
    n / (n + 10.0)
}

/// An article's standing by words alone, which picks the candidates the meaning view compares on
/// a large knowledge base: each view's raw score mapped to the probability that the article is the
/// right answer (logistic curves fitted once on the development sets, CLINC150 with its
/// out-of-scope questions and StackFAQ), mixed by how far the model is trusted for this article.
/// The centroid's curve also gives its part of the final confidence.
fn combine(centroid: f32, model: f32, trust: f32) -> f32 {
    let centroid = logistic(CENTROID_SLOPE * centroid + CENTROID_OFFSET);
    let model = logistic(MODEL_SLOPE * model + MODEL_OFFSET);
    ((1.0 - trust) * centroid + trust * model).clamp(0.0, 1.0)
}

const CENTROID_SLOPE: f32 = 5.83;
const CENTROID_OFFSET: f32 = -0.82;
const MODEL_SLOPE: f32 = 7.88;
const MODEL_OFFSET: f32 = -8.69;

fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A hash map keyed by feature hashes or ids (or a feature id and an article in one `u64`). The keys are already well mixed, so one
/// multiplication spreads them over the table: several times faster than the default SipHash,
/// which defends against chosen keys that an index built from the site's own articles never sees.
pub(super) type FeatureMap<V> = HashMap<u32, V, BuildHasherDefault<FeatureHasher>>;

#[derive(Default)]
pub(super) struct FeatureHasher(u64);

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
    fn write_u64(&mut self, value: u64) {
        self.0 = (value ^ value >> 29).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Smoothed inverse document frequency: a feature every article has still counts a little.
pub(super) fn idf(n_articles: f32, document_frequency: f32) -> f32 {
    ((1.0 + n_articles) / (1.0 + document_frequency)).ln() + 1.0
}

/// Sublinear TF × IDF × the feature kind's weight, scaled to unit length, sorted by id; features
/// the index has never seen count at `unseen_idf` towards the length (so a question mostly about something else scores low) but left out of the vector.
fn unit_vector(text: &[Feature], unseen_idf: f32, lookup: impl Fn(u32) -> Option<(u32, f32)>) -> Vec<(u32, f32)> {
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
    fn an_english_knowledge_base_gets_the_meaning_view_and_keeps_it_when_stored() {
        // What the meaning view is worth shows at scale (kb-eval: CLINC150 top-1 91.7% → 94.1%);
        // here: who gets it, that it survives storage, and that a paraphrase still finds its article.
        let articles = vec![
            article(
                "lost",
                "Lost or stolen card",
                "Freeze the card in the app, then order a new one.",
                &["I lost my card", "my card was stolen", "I can't find my card anywhere"],
            ),
            article(
                "address",
                "Change your address",
                "Update where we send letters in Settings.",
                &["I moved house", "update my address", "new home address"],
            ),
            article(
                "fees",
                "Fees",
                "What each plan costs every month.",
                &["how much does it cost", "what are the charges", "monthly price"],
            ),
        ];
        let index = Index::build(&articles);
        assert!(
            index.meaning.is_some(),
            "an English knowledge base has the meaning view"
        );
        let ranked = index.search("my visa has gone missing", 3);
        assert_eq!(
            ranked.first().map(|s| articles[s.article].id.as_str()),
            Some("lost"),
            "{ranked:?}"
        );
        // Stored and loaded, it answers the same.
        let loaded = Index::from_bytes(&index.to_bytes()).expect("loads");
        assert_eq!(
            loaded.search("my visa has gone missing", 1)[0].article,
            ranked[0].article
        );
        // Other languages keep the words-only view.
        let german = vec![article(
            "de",
            "Passwort zurücksetzen",
            "Öffnen Sie die Einstellungen und wählen Sie Sicherheit.",
            &[],
        )];
        assert!(Index::build(&german).meaning.is_none());
    }

    #[test]
    fn coverage_says_how_much_of_the_question_the_article_speaks_of() {
        let articles = articles();
        let index = Index::build(&articles);
        let reset = |query: &str| {
            let ranked = index.search(query, 3);
            assert_eq!(articles[ranked[0].article].id, "reset", "{query:?}: {ranked:?}");
            ranked[0]
        };
        let asked = reset("I forgot my password");
        let foreign = reset("my password for the submarine rental in Antarctica expired");
        assert!(asked.coverage > 0.8, "{asked:?}");
        assert!(foreign.coverage < 0.4, "{foreign:?}");
        assert!(asked.trust > 0.0 && asked.trust < 1.0);
    }

    #[test]
    fn each_title_and_question_keeps_its_embedding_for_the_nearest_phrasing() {
        let articles = articles();
        let index = Index::build(&articles);
        let meaning = index.meaning.as_ref().expect("an English knowledge base");
        // Title and questions: 1 + 2, 1 + 1, 1 + 0.
        assert_eq!(meaning.phrasing_offsets, [0, 3, 5, 6]);
        assert_eq!(meaning.phrasings.scales.len(), 6);
        let embedding = embed::embed(Vectors::Distilled, &embed::pieces(&normalize("I forgot my password")))
            .expect("English words");
        // The question is one of the article's phrasings: the nearest is itself (quantised).
        assert!(meaning.nearest(0, &embedding) > 0.99);
        assert!(meaning.nearest(1, &embedding) < 0.9);
        let loaded = Index::from_bytes(&index.to_bytes()).expect("loads");
        let stored = loaded.meaning.as_ref().expect("kept");
        assert_eq!(stored.phrasing_offsets, meaning.phrasing_offsets);
        assert_eq!(stored.phrasings.values, meaning.phrasings.values);
    }

    #[test]
    fn meaning_centroids_find_a_paraphrase_at_cold_start() {
        // No example questions: the title and body are all there is, and the question shares no
        // word with the right article (by words alone it went to "replace").
        let articles = vec![
            article(
                "play",
                "Play all YouTube videos uploaded by one user",
                "Open their channel and choose Play all.",
                &[],
            ),
            article(
                "contact",
                "Any way to contact a user on GitHub?",
                "Look for an email address on their profile.",
                &[],
            ),
            article(
                "replace",
                "How to replace a video on YouTube",
                "Upload the new one and delete the old one.",
                &[],
            ),
            article(
                "strike",
                "Strikethrough with GitHub Markdown",
                "Wrap the text in two tildes.",
                &[],
            ),
            article(
                "refund",
                "Refund policy",
                "Refunds reach the original card within 5 days.",
                &[],
            ),
            article(
                "lost",
                "Lost or stolen card",
                "Freeze the card in the app, then order a new one.",
                &[],
            ),
        ];
        let index = Index::build(&articles);
        let ranked = index.search("my visa has gone missing", 3);
        assert_eq!(articles[ranked[0].article].id, "lost", "{ranked:?}");
    }

    #[test]
    fn an_article_in_another_language_keeps_no_meaning_centroid() {
        // Its text cut into English word pieces means nothing, yet lands close to some unrelated
        // English questions ("what's the weather like in Lisbon tomorrow?" to German delivery times).
        let mut articles = articles();
        articles.push(article(
            "de",
            "Versandkosten und Lieferzeiten",
            "Wir liefern innerhalb von drei Werktagen.",
            &["Wie lange dauert die Lieferung?", "Was kostet der Versand?"],
        ));
        let index = Index::build(&articles);
        let meaning = index.meaning.as_ref().expect("an English knowledge base");
        assert_eq!(meaning.centroid.scales[3], 0.0);
        assert!(meaning.centroid.scales[..3].iter().all(|&s| s > 0.0));
    }

    #[test]
    fn each_article_is_ranked_once() {
        // Training puts weights on features outside an article's centroid (a rival's words speak
        // against it); those postings add nothing to its centroid sum, which once listed the
        // article again, so it stood as its own runner-up.
        let articles = articles();
        let index = Index::build(&articles);
        for query in [
            "forgot my password",
            "money back card",
            "download csv settings",
            "log in refund export",
        ] {
            let ranked = index.search(query, 10);
            let mut seen: Vec<usize> = ranked.iter().map(|s| s.article).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), ranked.len(), "{query:?}: {ranked:?}");
        }
    }

    #[test]
    fn empty_index_and_empty_query() {
        assert!(Index::build(&[]).search("password", 3).is_empty());
        assert!(Index::build(&articles()).search("", 3).is_empty());
    }

    #[test]
    fn an_article_made_only_of_common_words_still_builds() {
        // In more than 150 articles, "password" is in too many to be weighted, so the last
        // article, which has nothing else, keeps no features at all.
        let mut articles: Vec<Article> = (0..200)
            .map(|i| article(&format!("a{i}"), &format!("password topic{i}"), "", &[]))
            .collect();
        articles.push(article("last", "password", "", &["password"]));
        let index = Index::build(&articles);
        let ranked = index.search("topic7 password", 1);
        assert_eq!(ranked.first().map(|s| articles[s.article].id.as_str()), Some("a7"));
    }
}
