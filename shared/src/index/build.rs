//! Building an index, a step at a time: the worker answers questions from the old index between
//! steps while a new one is built (one thread serves both), and `Index::build` runs all steps at
//! once. Steps: read the articles' texts into features (a batch of articles a step; the last
//! also sorts the features), renumber and count the features (a batch of texts a step), weigh
//! the texts into examples (a batch a step), form the articles' centroids (a batch of articles a
//! step), train the model (a batch of examples a step), and keep what matters. The longest step
//! grows with the whole knowledge base only in its sorts: 0.16 s natively at 10,000 articles,
//! 0.3–0.4 s at 50,000 (`cargo bench -p shared --bench index`).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rust_stemmers::{Algorithm, Stemmer};

use crate::article::Article;

use super::embed::{self, DIMS, Vectors};
use super::language;
use super::normalize::normalize;
use super::postings::{Column, Postings};
use super::rank::{DENSE_WEIGHT, Dense, FeatureHasher, FeatureMap, Index, Meaning, idf, trust};
use super::tokenize::{self, Kind};

/// Features more articles share than this are left out of the centroids and the model (they
/// still count towards a text's length): on a large knowledge base they are the common letter
/// sequences and words that tell nothing apart, and their long weight lists would cost most of a
/// question's time. Small knowledge bases keep every feature.
fn max_document_frequency(n_articles: usize) -> u32 {
    (n_articles / 100).max(150) as u32
}
/// The most centroid postings (article, feature) a knowledge base keeps, so memory stays bounded.
/// Each article keeps its strongest features within its share, and never fewer than
/// [`MIN_FEATURES_PER_ARTICLE`].
const ENTRY_BUDGET: usize = 1_300_000;
const MIN_FEATURES_PER_ARTICLE: usize = 128;
/// The most postings the index keeps in all (about 24 MB with everything else at 10,000
/// articles): what the centroids leave of it, up to as many again as they have, training may add
/// outside them (a rival article learns that a feature it does not have speaks against it:
/// "balance" is not about transfers).
const TOTAL_BUDGET: usize = 1_700_000;
/// The most examples training visits (about a second and a half natively, whatever the knowledge
/// base's size, since a visit costs about the same): 150 articles with a hundred phrasings each
/// train all [`EPOCHS`]; 10,000 articles with ten each get through two thirds of one.
const VISIT_BUDGET: usize = 80_000;
/// Passes over the examples when training the model.
const EPOCHS: usize = 5;
/// Passive-aggressive step cap (PA-I's `C`): how far one example may move the weights.
const AGGRESSIVENESS: f32 = 0.5;
/// How much one step does: a batch of articles read, of texts weighed, or of training examples
/// (a few milliseconds natively each).
const ARTICLES_PER_STEP: usize = 200;
const TEXTS_PER_STEP: usize = 2_000;
const VISITS_PER_STEP: usize = 200;
/// While training, the rival articles an example's embedding is compared with: the best by words.
const DENSE_RIVALS: usize = 8;

/// One training example: its article and its unit TF-IDF vector over feature ids.
struct Example {
    article: u32,
    vector: Vec<(u32, f32)>,
}

/// A word read before: its stem's hash (for pairs), its stem's id and kind, its n-grams' ids.
struct KnownWord {
    hash: u32,
    id: u32,
    kind: Kind,
    grams: Vec<u32>,
}

/// The id of a feature hash, numbered in order of first sight.
fn intern(ids: &mut FeatureMap<u32>, seen: &mut Vec<u32>, hash: u32) -> u32 {
    *ids.entry(hash).or_insert_with(|| {
        seen.push(hash);
        seen.len() as u32 - 1
    })
}

/// The examples' embeddings (in example order, distilled vectors: the model's features), a byte
/// per dimension scaled to each vector's largest value: a build of 10,000 articles holds about
/// 120,000. Empty when the knowledge base has no meaning view.
#[derive(Default)]
struct Embeddings {
    scales: Vec<f32>,
    values: Vec<i8>,
    /// Per article, the sum of its examples' learned embeddings: its meaning centroid once
    /// normalised.
    centroids: Vec<f32>,
    /// Each word's pieces, while the texts are read.
    pieces: HashMap<String, Vec<u32>>,
}

impl Embeddings {
    /// The next example, of `article`; an empty text (a body, which is not embedded) gets zeros.
    /// `centroid`: whether it counts towards the article's meaning centroid.
    fn push(&mut self, article: usize, normalized: &str, centroid: bool) {
        let pieces = embed::pieces_cached(normalized, &mut self.pieces);
        let vector = embed::embed(Vectors::Distilled, &pieces).unwrap_or([0.0; DIMS]);
        self.scales.push(embed::quantize(&vector, &mut self.values));
        if centroid && let Some(learned) = embed::embed(Vectors::Learned, &pieces) {
            let centroid = &mut self.centroids[article * DIMS..(article + 1) * DIMS];
            centroid.iter_mut().zip(learned).for_each(|(sum, x)| *sum += x);
        }
    }

    fn get(&self, i: usize) -> Option<[f32; DIMS]> {
        let scale = *self.scales.get(i).filter(|&&s| s > 0.0)?;
        let values = &self.values[i * DIMS..(i + 1) * DIMS];
        Some(std::array::from_fn(|d| f32::from(values[d]) * scale))
    }
}

/// An index being built from `articles`.
#[allow(missing_debug_implementations)] // Holds the whole build's working data.
pub struct IndexBuilder<'a> {
    articles: &'a [Article],
    stage: Stage,
}

enum Stage {
    Reading(Box<Reading>),
    Weighing(Box<Weighing>),
    Training(Box<Training>),
    /// Only while the trained weights move into the index.
    Finishing,
    Done(Box<Index>),
}

/// The articles being read into features, a batch a step.
struct Reading {
    stemmer: Option<Algorithm>,
    /// The texts' embeddings, when the knowledge base is in English.
    embeddings: Option<Embeddings>,
    /// Each example's article and features, as ids in order of first sight.
    texts: Vec<(u32, Vec<(u32, Kind)>)>,
    /// Hash → id in order of first sight, and the hashes by that id.
    ids: FeatureMap<u32>,
    seen: Vec<u32>,
    /// Each distinct word's features, so a word is stemmed and cut into n-grams once.
    known: HashMap<String, KnownWord, BuildHasherDefault<FeatureHasher>>,
    /// The first article not read yet.
    next: usize,
}

/// The texts read and the features' hashes sorted. A batch of texts a step, their features are
/// renumbered into hash order and counted; then each text becomes a weighted example; then a
/// batch of articles a step, the examples are summed into centroids.
struct Weighing {
    n_articles: usize,
    stemmer: Option<Algorithm>,
    hashes: Vec<u32>,
    /// Old feature id (order of first sight) → new (hash order), while counting.
    renumber: Vec<u32>,
    /// Per feature, the last article counted as having it, while counting.
    last_article: Vec<u32>,
    /// The first text not counted yet.
    counted: usize,
    /// Empty until every text is counted.
    idf: Vec<f32>,
    unseen_idf: f32,
    document_frequency: Vec<u32>,
    max_df: u32,
    texts: Vec<(u32, Vec<(u32, Kind)>)>,
    embeddings: Option<Embeddings>,
    /// The first text not weighed yet.
    next: usize,
    examples: Vec<Example>,
    /// The first article without its centroid yet, and where its examples start.
    next_centroid: usize,
    next_example: usize,
    /// The centroids' (feature id, article, weight, 0) entries so far.
    centroids: Vec<(u32, u32, f32, f32)>,
}

/// Everything known once the texts are weighed: features, their weights, the examples, the
/// centroids, and the model being trained.
struct Training {
    stemmer: Option<Algorithm>,
    hashes: Vec<u32>,
    idf: Vec<f32>,
    unseen_idf: f32,
    document_frequency: Vec<u32>,
    max_df: u32,
    examples: Vec<Example>,
    embeddings: Option<Embeddings>,
    postings: Postings,
    trainer: Trainer,
}

impl<'a> IndexBuilder<'a> {
    pub fn new(articles: &'a [Article]) -> IndexBuilder<'a> {
        let stemmer = language::detect(articles.iter().flat_map(|a| {
            [a.title.as_str(), a.body.as_str()]
                .into_iter()
                .chain(a.questions.iter().map(String::as_str))
        }));
        IndexBuilder {
            articles,
            stage: Stage::Reading(Box::new(Reading {
                stemmer,
                embeddings: (stemmer == Some(Algorithm::English)).then(|| Embeddings {
                    centroids: vec![0.0; articles.len() * DIMS],
                    ..Embeddings::default()
                }),
                texts: Vec::new(),
                ids: FeatureMap::default(),
                seen: Vec::new(),
                known: HashMap::default(),
                next: 0,
            })),
        }
    }

    /// Does one step; true once the index is built.
    pub fn step(&mut self) -> bool {
        let articles = self.articles;
        match &mut self.stage {
            Stage::Reading(reading) => {
                let Reading {
                    stemmer,
                    embeddings,
                    texts,
                    ids,
                    seen,
                    known,
                    next,
                } = &mut **reading;
                let algorithm = *stemmer;
                let stemmer = algorithm.map(Stemmer::create);
                let end = (*next + ARTICLES_PER_STEP).min(articles.len());
                for (i, article) in articles.iter().enumerate().take(end).skip(*next) {
                    let title = normalize(&article.title);
                    let title_body = normalize(&format!("{}\n{}", article.title, article.body));
                    // An article in another language keeps no meaning centroid.
                    let english = embeddings.is_some() && !language::surely_not_english(article);
                    // Each text, and whether it gets an embedding: not the body, whose averaged
                    // meaning says little (and costs the most to sum).
                    let examples = std::iter::once((title, true))
                        .chain((!article.body.is_empty()).then_some((title_body, false)))
                        .chain(article.questions.iter().map(|q| (normalize(q), true)));
                    for (text, embedded) in examples {
                        if let Some(embeddings) = embeddings {
                            embeddings.push(i, if embedded { &text } else { "" }, english);
                        }
                        let mut features = Vec::new();
                        let mut previous: Option<u32> = None;
                        for text in tokenize::words(&text) {
                            let word = match known.get(text) {
                                Some(word) => word,
                                None => {
                                    let word = tokenize::word(text, stemmer.as_ref());
                                    let known_word = KnownWord {
                                        hash: word.hash,
                                        id: intern(ids, seen, word.hash),
                                        kind: word.kind,
                                        grams: word.grams.iter().map(|&hash| intern(ids, seen, hash)).collect(),
                                    };
                                    known.entry(text.to_owned()).or_insert(known_word)
                                }
                            };
                            if let Some(previous) = previous {
                                features.push((intern(ids, seen, tokenize::pair(previous, word.hash)), Kind::Pair));
                            }
                            features.push((word.id, word.kind));
                            features.extend(word.grams.iter().map(|&id| (id, Kind::Gram)));
                            previous = Some(word.hash);
                        }
                        texts.push((i as u32, features));
                    }
                }
                *next = end;
                if end == articles.len() {
                    let texts = std::mem::take(texts);
                    let seen = std::mem::take(seen);
                    let embeddings = embeddings.take().map(|e| Embeddings {
                        pieces: HashMap::new(),
                        ..e
                    });
                    self.stage = Stage::Weighing(Box::new(Weighing::new(
                        articles.len(),
                        algorithm,
                        texts,
                        embeddings,
                        seen,
                    )));
                }
                false
            }
            Stage::Weighing(weighing) => {
                if weighing.step() {
                    let Stage::Weighing(weighing) = std::mem::replace(&mut self.stage, Stage::Finishing) else {
                        unreachable!("matched above")
                    };
                    self.stage = Stage::Training(Box::new(weighing.into_training()));
                }
                false
            }
            Stage::Training(training) => {
                if training.trainer.run(
                    &training.examples,
                    training.embeddings.as_ref(),
                    &training.postings,
                    VISITS_PER_STEP,
                ) {
                    let Stage::Training(training) = std::mem::replace(&mut self.stage, Stage::Finishing) else {
                        unreachable!("matched above")
                    };
                    self.stage = Stage::Done(Box::new(training.finish(articles)));
                    return true;
                }
                false
            }
            Stage::Finishing | Stage::Done(_) => true,
        }
    }

    /// Runs the remaining steps and returns the index.
    pub fn finish(mut self) -> Index {
        while !self.step() {}
        match self.stage {
            Stage::Done(index) => *index,
            _ => unreachable!("step returned true"),
        }
    }
}

impl Weighing {
    fn new(
        n_articles: usize,
        stemmer: Option<Algorithm>,
        texts: Vec<(u32, Vec<(u32, Kind)>)>,
        embeddings: Option<Embeddings>,
        seen: Vec<u32>,
    ) -> Weighing {
        // Renumber features in hash order, for the binary search at question time.
        let mut order: Vec<u32> = (0..seen.len() as u32).collect();
        order.sort_unstable_by_key(|&id| seen[id as usize]);
        let hashes: Vec<u32> = order.iter().map(|&id| seen[id as usize]).collect();
        let mut renumber = vec![0u32; seen.len()];
        for (new, &old) in order.iter().enumerate() {
            renumber[old as usize] = new as u32;
        }
        drop((order, seen));
        Weighing {
            n_articles,
            stemmer,
            renumber,
            last_article: vec![u32::MAX; hashes.len()],
            counted: 0,
            idf: Vec::new(),
            unseen_idf: idf(n_articles as f32, 0.0),
            document_frequency: vec![0; hashes.len()],
            hashes,
            max_df: max_document_frequency(n_articles),
            examples: Vec::with_capacity(texts.len()),
            texts,
            embeddings,
            next: 0,
            next_centroid: 0,
            next_example: 0,
            centroids: Vec::new(),
        }
    }

    /// Does the next batch: of texts counted, of texts weighed, or of centroids formed; true once
    /// all centroids are.
    fn step(&mut self) -> bool {
        if self.counted < self.texts.len() {
            self.count();
            return false;
        }
        if self.next < self.texts.len() {
            self.weigh_texts();
            return false;
        }
        self.form_centroids()
    }

    /// Renumbers the next batch of texts' features into hash order and counts how many articles
    /// have each; once all are, computes the features' idf.
    fn count(&mut self) {
        let end = (self.counted + TEXTS_PER_STEP).min(self.texts.len());
        for (article, text) in &mut self.texts[self.counted..end] {
            for (id, _) in text.iter_mut() {
                *id = self.renumber[*id as usize];
                let i = *id as usize;
                if self.last_article[i] != *article {
                    self.last_article[i] = *article;
                    self.document_frequency[i] += 1;
                }
            }
        }
        self.counted = end;
        if end == self.texts.len() {
            self.renumber = Vec::new();
            self.last_article = Vec::new();
            let n = self.n_articles as f32;
            self.idf = self.document_frequency.iter().map(|&df| idf(n, df as f32)).collect();
        }
    }

    /// Weighs the next batch of texts into examples.
    fn weigh_texts(&mut self) {
        let end = (self.next + TEXTS_PER_STEP).min(self.texts.len());
        for (article, text) in &mut self.texts[self.next..end] {
            let mut vector = weigh(text, &self.idf);
            vector.retain(|&(id, _)| self.document_frequency[id as usize] <= self.max_df);
            self.examples.push(Example {
                article: *article,
                vector,
            });
            *text = Vec::new();
        }
        self.next = end;
    }

    /// Forms the next batch of articles' centroids (their examples are consecutive, in article
    /// order); true once every article has its own.
    fn form_centroids(&mut self) -> bool {
        let end = (self.next_centroid + ARTICLES_PER_STEP).min(self.n_articles);
        let keep = (ENTRY_BUDGET / self.n_articles.max(1)).max(MIN_FEATURES_PER_ARTICLE);
        for article in self.next_centroid..end {
            let first = self.next_example;
            while self
                .examples
                .get(self.next_example)
                .is_some_and(|e| e.article as usize == article)
            {
                self.next_example += 1;
            }
            centroid(
                &self.examples[first..self.next_example],
                article as u32,
                keep,
                &mut self.centroids,
            );
        }
        self.next_centroid = end;
        end == self.n_articles
    }

    fn into_training(self) -> Training {
        let postings = Postings::from_entries(self.hashes.len(), self.centroids);
        let trainer = Trainer::new(
            self.examples.len(),
            self.n_articles,
            postings.len(),
            self.embeddings.is_some(),
        );
        Training {
            stemmer: self.stemmer,
            hashes: self.hashes,
            idf: self.idf,
            unseen_idf: self.unseen_idf,
            document_frequency: self.document_frequency,
            max_df: self.max_df,
            examples: self.examples,
            embeddings: self.embeddings,
            postings,
            trainer,
        }
    }
}

impl Training {
    fn finish(self, articles: &[Article]) -> Index {
        let Training {
            stemmer,
            mut hashes,
            mut idf,
            unseen_idf,
            document_frequency,
            max_df,
            postings,
            trainer,
            embeddings,
            ..
        } = self;
        let (mut postings, dense_model) = trainer.into_postings(postings);
        let meaning = dense_model.zip(embeddings).map(|(model, embeddings)| Meaning {
            model: Dense::new(&model),
            centroid: Dense::new(&unit_centroids(embeddings.centroids)),
        });
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
        Index {
            trust: articles.iter().map(|a| trust(a.questions.len())).collect(),
            n_articles: articles.len() as u32,
            stemmer,
            hashes,
            idf: Column::quantize(idf.into_iter()),
            unseen_idf,
            postings,
            meaning,
        }
    }
}

/// The articles' meaning centroids from their sums: unit length, `DIMS` numbers an article (zeros
/// for an article with no embedded text).
fn unit_centroids(mut sums: Vec<f32>) -> Vec<f32> {
    for sum in sums.chunks_exact_mut(DIMS) {
        let norm = embed::dot(sum, sum).sqrt();
        if norm > 0.0 {
            sum.iter_mut().for_each(|x| *x /= norm);
        }
    }
    sums
}

/// A text's unit TF-IDF vector, sorted by id: sublinear term frequency × idf × the feature
/// kind's weight, as `rank::unit_vector` weighs a question (a text here has no unseen features).
fn weigh(text: &mut [(u32, Kind)], idf: &[f32]) -> Vec<(u32, f32)> {
    text.sort_unstable_by_key(|&(id, _)| id);
    let mut vector: Vec<(u32, f32)> = Vec::with_capacity(text.len());
    for run in text.chunk_by(|a, b| a.0 == b.0) {
        let (id, kind) = run[0];
        let tf = (1.0 + (run.len() as f32).ln()) * kind.weight();
        vector.push((id, tf * idf[id as usize]));
    }
    let norm = vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, weight) in &mut vector {
            *weight /= norm;
        }
    }
    vector
}

/// An article's unit centroid (the normalised sum of its examples), as posting entries whose model
/// weights are still zero. On a large knowledge base an article keeps only its `keep` strongest
/// features (see [`ENTRY_BUDGET`]).
fn centroid(examples: &[Example], article: u32, keep: usize, entries: &mut Vec<(u32, u32, f32, f32)>) {
    let mut sum: FeatureMap<f32> = FeatureMap::default();
    for example in examples {
        for &(id, weight) in &example.vector {
            *sum.entry(id).or_default() += weight;
        }
    }
    let norm = sum.values().map(|w| w * w).sum::<f32>().sqrt();
    let mut features: Vec<(u32, f32)> = sum.into_iter().collect();
    if features.len() > keep {
        features.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1));
        features.truncate(keep);
    }
    entries.extend(features.into_iter().map(|(id, w)| (id, article, w / norm, 0.0)));
}

/// Trains the model weights: averaged multiclass passive-aggressive (PA-I) over the examples, in a
/// fixed pseudo-random order so a build is reproducible. An article's weights live on its own
/// centroid's features (one more number per posting) and, within [`TOTAL_BUDGET`], on features
/// the update that pushes a rival article down adds to it. Training stops after
/// [`EPOCHS`] passes or [`VISIT_BUDGET`] example visits, whichever comes first, so a big knowledge
/// base still builds in seconds.
struct Trainer {
    value: Vec<f32>,
    /// The sums the averaging trick needs.
    sum: Vec<f32>,
    scores: Vec<f32>,
    /// The articles with a score for the example at hand, and which those are.
    touched: Vec<u32>,
    marked: Vec<bool>,
    order: Vec<usize>,
    rng: u64,
    epoch: usize,
    /// Next position in `order`.
    next: usize,
    step: f32,
    /// Examples visited so far.
    visits: usize,
    /// Weights outside the centroids' features: feature id → (article, value, sum) of each, side
    /// by side, so scoring an example reads one run of memory per feature (scattered over one
    /// big array, their cache misses were a large part of a 10,000-article build's training).
    extras: FeatureMap<Vec<(u32, f32, f32)>>,
    /// (feature id, article) → position in the feature's `extras`.
    extra_slot: HashMap<u64, u32, BuildHasherDefault<FeatureHasher>>,
    max_extras: usize,
    /// Each article's dense weights and their sums for averaging, `DIMS` each (empty without
    /// the meaning view).
    dense_value: Vec<f32>,
    dense_sum: Vec<f32>,
}

impl Trainer {
    fn new(n_examples: usize, n_articles: usize, n_postings: usize, dense: bool) -> Trainer {
        let n_dense = if dense { n_articles * DIMS } else { 0 };
        Trainer {
            value: vec![0.0; n_postings],
            sum: vec![0.0; n_postings],
            scores: vec![0.0; n_articles],
            touched: Vec::new(),
            marked: vec![false; n_articles],
            order: (0..n_examples).collect(),
            rng: 0x9E37_79B9_7F4A_7C15,
            epoch: 0,
            next: n_examples,
            step: 1.0,
            visits: 0,
            extras: FeatureMap::default(),
            extra_slot: HashMap::default(),
            max_extras: TOTAL_BUDGET.saturating_sub(n_postings).min(n_postings / 2),
            dense_value: vec![0.0; n_dense],
            dense_sum: vec![0.0; n_dense],
        }
    }

    fn done(&self) -> bool {
        self.epoch >= EPOCHS || self.visits >= VISIT_BUDGET || self.order.is_empty()
    }

    /// Trains on up to `slice` more examples; true once training is over.
    fn run(
        &mut self,
        examples: &[Example],
        embeddings: Option<&Embeddings>,
        postings: &Postings,
        slice: usize,
    ) -> bool {
        let stop = self.visits + slice;
        while !self.done() && self.visits < stop {
            if self.next >= self.order.len() {
                if self.step > 1.0 {
                    self.epoch += 1;
                    if self.done() {
                        break;
                    }
                }
                self.shuffle();
                self.next = 0;
            }
            let i = self.order[self.next];
            self.next += 1;
            self.visits += 1;
            self.learn(&examples[i], embeddings.and_then(|e| e.get(i)), postings);
        }
        self.done()
    }

    fn shuffle(&mut self) {
        for i in (1..self.order.len()).rev() {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let j = (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % (i as u64 + 1)) as usize;
            self.order.swap(i, j);
        }
    }

    fn learn(&mut self, example: &Example, embedding: Option<[f32; DIMS]>, postings: &Postings) {
        for &(id, x) in &example.vector {
            let range = postings.range(id);
            for (&article, &value) in postings.articles[range.clone()].iter().zip(&self.value[range]) {
                touch(&mut self.marked, &mut self.touched, article);
                self.scores[article as usize] += x * value;
            }
            for &(article, value, _) in self.extras.get(&id).map(Vec::as_slice).unwrap_or_default() {
                touch(&mut self.marked, &mut self.touched, article);
                self.scores[article as usize] += x * value;
            }
        }
        if let Some(x) = &embedding {
            self.add_dense_scores(example.article, x);
        }
        let own = self.scores[example.article as usize];
        let rival = self
            .touched
            .iter()
            .filter(|&&a| a != example.article)
            .map(|&a| (a, self.scores[a as usize]))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|r| r.1 > 0.0);
        for &a in &self.touched {
            self.scores[a as usize] = 0.0;
            self.marked[a as usize] = false;
        }
        self.touched.clear();
        let loss = 1.0 - (own - rival.map_or(0.0, |r| r.1));
        if loss > 0.0 {
            let pair = if rival.is_some() { 2.0 } else { 1.0 };
            // The example's squared length: the sparse vector's 1, and the embedding's share.
            let length = if embedding.is_some() {
                1.0 + DENSE_WEIGHT * DENSE_WEIGHT
            } else {
                1.0
            };
            let tau = (loss / (pair * length)).min(AGGRESSIVENESS);
            self.update(postings, &example.vector, example.article, tau);
            if let Some(x) = &embedding {
                self.update_dense(example.article, x, tau);
            }
            if let Some((r, _)) = rival {
                self.update(postings, &example.vector, r, -tau);
                if let Some(x) = &embedding {
                    self.update_dense(r, x, -tau);
                }
            }
        }
        self.step += 1.0;
    }

    /// Adds the embedding's part of the score for the example's own article and its strongest
    /// rivals by words (see [`DENSE_RIVALS`]).
    fn add_dense_scores(&mut self, own: u32, x: &[f32; DIMS]) {
        // The best few by words, in one pass (most articles fall below the last kept at once).
        let mut best = [(f32::NEG_INFINITY, u32::MAX); DENSE_RIVALS];
        for &a in &self.touched {
            let score = self.scores[a as usize];
            if score > best[DENSE_RIVALS - 1].0 {
                let mut i = DENSE_RIVALS - 1;
                while i > 0 && best[i - 1].0 < score {
                    best[i] = best[i - 1];
                    i -= 1;
                }
                best[i] = (score, a);
            }
        }
        let mut own_seen = false;
        for &(_, a) in best.iter().filter(|(_, a)| *a != u32::MAX) {
            own_seen |= a == own;
            let a = a as usize;
            self.scores[a] += DENSE_WEIGHT * embed::dot(&self.dense_value[a * DIMS..(a + 1) * DIMS], x);
        }
        if !own_seen {
            touch(&mut self.marked, &mut self.touched, own);
            let a = own as usize;
            self.scores[a] += DENSE_WEIGHT * embed::dot(&self.dense_value[a * DIMS..(a + 1) * DIMS], x);
        }
    }

    fn update_dense(&mut self, article: u32, x: &[f32; DIMS], tau: f32) {
        let a = article as usize;
        let step = self.step;
        let value = &mut self.dense_value[a * DIMS..(a + 1) * DIMS];
        let sum = &mut self.dense_sum[a * DIMS..(a + 1) * DIMS];
        for ((v, s), &x) in value.iter_mut().zip(sum.iter_mut()).zip(x) {
            *v += tau * DENSE_WEIGHT * x;
            *s += step * tau * DENSE_WEIGHT * x;
        }
    }

    fn update(&mut self, postings: &Postings, vector: &[(u32, f32)], article: u32, tau: f32) {
        for &(id, x) in vector {
            if let Some(slot) = postings.position(id, article) {
                self.value[slot] += tau * x;
                self.sum[slot] += self.step * tau * x;
                continue;
            }
            let key = u64::from(id) << 32 | u64::from(article);
            let entry = match self.extra_slot.get(&key) {
                Some(&slot) => &mut self.extras.get_mut(&id).expect("a slot's feature has a list")[slot as usize],
                None if self.extra_slot.len() < self.max_extras => {
                    let list = self.extras.entry(id).or_default();
                    self.extra_slot.insert(key, list.len() as u32);
                    list.push((article, 0.0, 0.0));
                    list.last_mut().expect("just pushed")
                }
                None => continue,
            };
            entry.1 += tau * x;
            entry.2 += self.step * tau * x;
        }
    }

    /// The postings with the averaged weights, the extra weights joined in, and the averaged dense
    /// weights (when there is a meaning view).
    fn into_postings(self, postings: Postings) -> (Postings, Option<Vec<f32>>) {
        let n_features = postings.offsets.len() - 1;
        let step = self.step;
        let average = |value: f32, sum: f32| value - sum / step;
        let mut entries: Vec<(u32, u32, f32, f32)> = Vec::with_capacity(postings.len() + self.extra_slot.len());
        for id in 0..n_features as u32 {
            for slot in postings.range(id) {
                let model = average(self.value[slot], self.sum[slot]);
                entries.push((id, postings.articles[slot], postings.centroid.get(slot), model));
            }
        }
        for (id, list) in self.extras {
            entries.extend(
                list.into_iter()
                    .map(|(article, value, sum)| (id, article, 0.0, average(value, sum))),
            );
        }
        let dense = (!self.dense_value.is_empty()).then(|| {
            self.dense_value
                .iter()
                .zip(&self.dense_sum)
                .map(|(&value, &sum)| average(value, sum))
                .collect()
        });
        (Postings::from_entries(n_features, entries), dense)
    }
}

/// Counts `article` among an example's scored articles, once.
fn touch(marked: &mut [bool], touched: &mut Vec<u32>, article: u32) {
    if !marked[article as usize] {
        marked[article as usize] = true;
        touched.push(article);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::test_article as article;

    #[test]
    fn step_by_step_builds_the_same_index_as_one_go() {
        let articles: Vec<Article> = (0..450)
            .map(|i| {
                article(
                    &format!("a{i}"),
                    &format!("topic{i} title"),
                    &format!("body about topic{i} and item{}", i % 7),
                    &[&format!("question on topic{i}")],
                )
            })
            .collect();
        let mut builder = IndexBuilder::new(&articles);
        let mut steps = 1;
        while !builder.step() {
            steps += 1;
        }
        // 450 articles read in three steps, then at least one of training.
        assert!(steps >= 4, "{steps} steps");
        let stepped = builder.finish();
        let whole = Index::build(&articles);
        assert_eq!(stepped.to_bytes(), whole.to_bytes());
        // Every article's examples went into its own centroid, across the steps' batches.
        for (i, article) in articles.iter().enumerate() {
            let best = whole.search(&format!("topic{i} question"), 1);
            assert_eq!(
                best.first().map(|s| articles[s.article].id.as_str()),
                Some(article.id.as_str())
            );
        }
    }
}
