//! Building an index, a step at a time: the worker answers questions from the old index between
//! steps while a new one is built (one thread serves both), and `Index::build` runs all steps at
//! once. Steps: read the articles' texts into features (a batch of articles a step), sort the
//! features' hashes (a radix pass a step), renumber and count the features (a batch of texts a
//! step), weigh the texts into examples (a batch a step), form the articles' centroids (a batch
//! of articles a step) and sort their entries into rows (a batch of entries a step), train the
//! model (a batch of examples a step), join the trained weights into the index and keep what
//! matters (a batch of entries a step), then quantise them and make the meaning view (a batch a
//! step). No step sorts or copies the whole knowledge base at once: the longest step is 50–70 ms natively at 10,000
//! articles, under 0.1 s at 50,000 (`cargo bench -p shared --bench index`).

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
/// How much one step does: a batch of articles read or summed into centroids, of texts weighed,
/// or of training examples (a few milliseconds natively each; reading costs the most, about
/// 40 ms a batch in Wasm).
const ARTICLES_READ_PER_STEP: usize = 25;
const ARTICLES_PER_STEP: usize = 200;
const TEXTS_PER_STEP: usize = 2_000;
const VISITS_PER_STEP: usize = 200;
/// Postings entries a step while they are sorted into rows, joined with the trained weights and
/// quantised (a few milliseconds natively; 50,000 articles have about 6.4 million). Small in unit
/// tests, so their small knowledge bases take these stages in many batches.
const ENTRIES_PER_STEP: usize = if cfg!(test) { 64 } else { 500_000 };
/// While training, the rival articles an example's embedding is compared with: the best by words.
const DENSE_RIVALS: usize = 8;
/// The most phrasing embeddings the index keeps for the nearest-phrasing check (see
/// `rank::NEAREST_WEIGHT`), 132 bytes each: every title and example question up to 50,000 in
/// all (CLINC150's 15,000 all fit), then an equal share an article (10,000 articles: their titles
/// and first four questions), so memory stays bounded.
const PHRASING_BUDGET: usize = 50_000;

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
struct Embeddings {
    scales: Vec<f32>,
    values: Vec<i8>,
    /// Per article, the sum of its examples' learned embeddings: its meaning centroid once
    /// normalised.
    centroids: Vec<f32>,
    /// The titles' and example questions' distilled embeddings the index keeps, in article order,
    /// and how many each article has (at most `phrasing_share`).
    phrasings: Dense,
    phrasing_counts: Vec<u32>,
    phrasing_share: u32,
    /// Each word's pieces, while the texts are read.
    pieces: HashMap<String, Vec<u32>>,
}

impl Embeddings {
    fn new(n_articles: usize) -> Embeddings {
        Embeddings {
            scales: Vec::new(),
            values: Vec::new(),
            centroids: vec![0.0; n_articles * DIMS],
            phrasings: Dense::with_capacity(0),
            phrasing_counts: vec![0; n_articles],
            phrasing_share: (PHRASING_BUDGET / n_articles.max(1)).max(1) as u32,
            pieces: HashMap::new(),
        }
    }

    /// The next example, of `article`; an empty text (a body, which is not embedded) gets zeros.
    /// `centroid`: whether it counts towards the article's meaning centroid (and is kept as one
    /// of its phrasings).
    fn push(&mut self, article: usize, normalized: &str, centroid: bool) {
        let pieces = embed::pieces_cached(normalized, &mut self.pieces);
        let distilled = embed::embed(Vectors::Distilled, &pieces);
        let vector = distilled.unwrap_or([0.0; DIMS]);
        self.scales.push(embed::quantize(&vector, &mut self.values));
        // The phrasings of an article in another language mean nothing here either.
        if centroid && distilled.is_some() && self.phrasing_counts[article] < self.phrasing_share {
            self.phrasing_counts[article] += 1;
            self.phrasings.push(&vector);
        }
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
    Sorting(Box<Sorting>),
    Weighing(Box<Weighing>),
    Training(Box<Training>),
    Finishing(Box<Finishing>),
    /// Only while one stage's data moves into the next.
    Moving,
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

/// The texts read, their features' hashes being sorted into the order of the binary search at
/// question time: a least-significant-digit radix sort of (hash, first-sight id) keys, 16 bits of
/// the hash a step.
struct Sorting {
    n_articles: usize,
    stemmer: Option<Algorithm>,
    texts: Vec<(u32, Vec<(u32, Kind)>)>,
    embeddings: Option<Embeddings>,
    keys: Vec<u64>,
    spare: Vec<u64>,
    /// Passes done.
    pass: u32,
}

/// The features' hashes sorted. A batch of texts a step, their features are
/// renumbered into hash order and counted; then each text becomes a weighted example; then a
/// batch of articles a step, the examples are summed into centroids; then the centroids' entries
/// are sorted into feature rows, a batch a step.
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
    /// The centroids' (feature id, article, weight) entries so far, in article order; how many
    /// each feature has (at `id + 1`, for the rows' offsets), and their largest weight.
    centroids: Vec<(u32, u32, f32)>,
    row_lengths: Vec<u32>,
    centroid_scale: f32,
    /// The centroids' entries sorted into feature rows, once every centroid is formed.
    rows: Option<Rows>,
}

/// Everything known once the texts are weighed: features, their weights, the examples, the
/// centroids, and the model being trained.
struct Training {
    n_articles: usize,
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

/// The centroids' entries being sorted into feature rows: a counting sort by feature, so each
/// row keeps the entries' article order.
struct Rows {
    offsets: Vec<u32>,
    /// Where each feature's next entry goes.
    cursor: Vec<u32>,
    articles: Vec<u32>,
    centroid: Vec<i16>,
    /// The centroid weights' largest magnitude.
    scale: f32,
    /// The first entry not placed yet.
    next: usize,
}

/// The trained weights being joined into the index. A batch of entries a step, each feature's
/// row is merged with the weights training added outside it (in article order), and a feature no
/// article kept is forgotten: a question's rare word counts as unseen, which is about what its
/// idf was, while the common ones keep their idf for questions' lengths. Then the model's
/// weights and the idf are quantised, and the meaning view is made, a batch a step.
struct Finishing {
    n_articles: usize,
    stemmer: Option<Algorithm>,
    unseen_idf: f32,
    max_df: u32,
    document_frequency: Vec<u32>,
    hashes: Vec<u32>,
    idf: Vec<f32>,
    embeddings: Option<Embeddings>,
    /// The training examples, freed a batch a step: 600,000 small vectors at 50,000 articles,
    /// whose freeing took 0.1 s in Wasm.
    examples: Vec<Example>,
    /// The postings training ran on, and its weights.
    trained: Postings,
    trainer: Trainer,
    /// The first feature not joined yet.
    next_feature: usize,
    /// The index's postings so far, and the kept features' hashes and idf.
    offsets: Vec<u32>,
    articles: Vec<u32>,
    centroid: Vec<i16>,
    model: Vec<f32>,
    model_scale: f32,
    kept_hashes: Vec<u32>,
    kept_idf: Vec<f32>,
    idf_scale: f32,
    /// The model's weights and the idf quantised so far, once every feature is joined.
    model_steps: Vec<i16>,
    idf_steps: Vec<i16>,
    /// The meaning view so far, when the knowledge base has one, and the first article not in it.
    meaning: Option<Meaning>,
    next_meaning: usize,
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
                embeddings: (stemmer == Some(Algorithm::English)).then(|| Embeddings::new(articles.len())),
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
                let end = (*next + ARTICLES_READ_PER_STEP).min(articles.len());
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
                    self.stage = Stage::Sorting(Box::new(Sorting {
                        n_articles: articles.len(),
                        stemmer: algorithm,
                        texts,
                        embeddings,
                        keys: seen
                            .iter()
                            .enumerate()
                            .map(|(id, &hash)| u64::from(hash) << 32 | id as u64)
                            .collect(),
                        spare: Vec::new(),
                        pass: 0,
                    }));
                }
                false
            }
            Stage::Sorting(sorting) => {
                if sorting.step() {
                    let Stage::Sorting(sorting) = std::mem::replace(&mut self.stage, Stage::Moving) else {
                        unreachable!("matched above")
                    };
                    self.stage = Stage::Weighing(Box::new(Weighing::new(*sorting)));
                }
                false
            }
            Stage::Weighing(weighing) => {
                if weighing.step() {
                    let Stage::Weighing(weighing) = std::mem::replace(&mut self.stage, Stage::Moving) else {
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
                    let Stage::Training(training) = std::mem::replace(&mut self.stage, Stage::Moving) else {
                        unreachable!("matched above")
                    };
                    self.stage = Stage::Finishing(Box::new(training.into_finishing()));
                }
                false
            }
            Stage::Finishing(finishing) => {
                if finishing.step() {
                    let Stage::Finishing(finishing) = std::mem::replace(&mut self.stage, Stage::Moving) else {
                        unreachable!("matched above")
                    };
                    self.stage = Stage::Done(Box::new(finishing.into_index(articles)));
                    return true;
                }
                false
            }
            Stage::Moving | Stage::Done(_) => true,
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

impl Sorting {
    /// Does the next pass; true once the keys are in hash order (hashes are distinct: each was
    /// interned once).
    fn step(&mut self) -> bool {
        radix_pass(&self.keys, &mut self.spare, 32 + 16 * self.pass);
        std::mem::swap(&mut self.keys, &mut self.spare);
        self.pass += 1;
        self.pass == 2
    }
}

/// One pass of a least-significant-digit radix sort: `keys` into `out` by their 16 bits from
/// `shift`, keeping the order of keys with the same 16 bits.
fn radix_pass(keys: &[u64], out: &mut Vec<u64>, shift: u32) {
    let digit = |key: u64| (key >> shift) as usize & 0xFFFF;
    let mut next = vec![0usize; 1 << 16];
    for &key in keys {
        next[digit(key)] += 1;
    }
    let mut start = 0;
    for n in &mut next {
        (*n, start) = (start, start + *n);
    }
    out.clear();
    out.resize(keys.len(), 0);
    for &key in keys {
        let slot = &mut next[digit(key)];
        out[*slot] = key;
        *slot += 1;
    }
}

impl Weighing {
    fn new(sorting: Sorting) -> Weighing {
        let Sorting {
            n_articles,
            stemmer,
            texts,
            embeddings,
            keys,
            ..
        } = sorting;
        let hashes: Vec<u32> = keys.iter().map(|&key| (key >> 32) as u32).collect();
        let mut renumber = vec![0u32; keys.len()];
        for (new, &key) in keys.iter().enumerate() {
            renumber[key as u32 as usize] = new as u32;
        }
        drop(keys);
        Weighing {
            n_articles,
            stemmer,
            renumber,
            last_article: vec![u32::MAX; hashes.len()],
            counted: 0,
            idf: Vec::new(),
            unseen_idf: idf(n_articles as f32, 0.0),
            document_frequency: vec![0; hashes.len()],
            max_df: max_document_frequency(n_articles),
            examples: Vec::with_capacity(texts.len()),
            texts,
            embeddings,
            next: 0,
            next_centroid: 0,
            next_example: 0,
            centroids: Vec::new(),
            row_lengths: vec![0; hashes.len() + 1],
            centroid_scale: 0.0,
            rows: None,
            hashes,
        }
    }

    /// Does the next batch: of texts counted, of texts weighed, of centroids formed, or of their
    /// entries sorted into rows; true once all are.
    fn step(&mut self) -> bool {
        if self.counted < self.texts.len() {
            self.count();
            false
        } else if self.next < self.texts.len() {
            self.weigh_texts();
            false
        } else if self.next_centroid < self.n_articles {
            self.form_centroids();
            false
        } else {
            let (centroids, lengths, scale) = (&self.centroids, &mut self.row_lengths, self.centroid_scale);
            let rows = self
                .rows
                .get_or_insert_with(|| Rows::new(std::mem::take(lengths), scale, centroids.len()));
            rows.gather(centroids)
        }
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
    /// order).
    fn form_centroids(&mut self) {
        let end = (self.next_centroid + ARTICLES_PER_STEP).min(self.n_articles);
        let keep = (ENTRY_BUDGET / self.n_articles.max(1)).max(MIN_FEATURES_PER_ARTICLE);
        let formed = self.centroids.len();
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
        for &(id, _, weight) in &self.centroids[formed..] {
            self.row_lengths[id as usize + 1] += 1;
            self.centroid_scale = self.centroid_scale.max(Column::magnitude(weight));
        }
        self.next_centroid = end;
    }

    fn into_training(self) -> Training {
        let postings = self
            .rows
            .expect("the centroids are gathered before training")
            .into_postings();
        let trainer = Trainer::new(
            self.examples.len(),
            self.n_articles,
            postings.len(),
            self.embeddings.is_some(),
        );
        Training {
            n_articles: self.n_articles,
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

impl Rows {
    /// From how many entries each feature has (at `id + 1`) and their largest weight.
    fn new(mut offsets: Vec<u32>, scale: f32, n_entries: usize) -> Rows {
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Rows {
            cursor: offsets[..offsets.len() - 1].to_vec(),
            offsets,
            articles: vec![0; n_entries],
            centroid: vec![0; n_entries],
            scale,
            next: 0,
        }
    }

    /// Places the next batch of entries in their rows; true once all are.
    fn gather(&mut self, entries: &[(u32, u32, f32)]) -> bool {
        let end = (self.next + ENTRIES_PER_STEP).min(entries.len());
        for &(id, article, weight) in &entries[self.next..end] {
            let slot = &mut self.cursor[id as usize];
            self.articles[*slot as usize] = article;
            self.centroid[*slot as usize] = Column::steps_of(weight, self.scale);
            *slot += 1;
        }
        self.next = end;
        end == entries.len()
    }

    /// The rows as postings, whose model weights are still zero.
    fn into_postings(self) -> Postings {
        let n = self.articles.len();
        Postings {
            offsets: self.offsets,
            articles: self.articles,
            centroid: Column::from_parts(self.scale, self.centroid),
            model: Column::from_parts(0.0, vec![0; n]),
        }
    }
}

impl Training {
    fn into_finishing(self) -> Finishing {
        let Training {
            n_articles,
            stemmer,
            hashes,
            idf,
            unseen_idf,
            document_frequency,
            max_df,
            mut embeddings,
            postings,
            trainer,
            examples,
        } = self;
        // Every entry is kept: the rows', and the ones training added.
        let n_entries = postings.len() + trainer.extra_slot.len();
        let meaning = embeddings
            .as_mut()
            .filter(|_| !trainer.dense_value.is_empty())
            .map(|embeddings| {
                let mut offsets = Vec::with_capacity(n_articles + 1);
                offsets.push(0u32);
                for &count in &embeddings.phrasing_counts {
                    offsets.push(offsets[offsets.len() - 1] + count);
                }
                let mut phrasings = std::mem::replace(&mut embeddings.phrasings, Dense::with_capacity(0));
                phrasings.scales.shrink_to_fit();
                phrasings.values.shrink_to_fit();
                Meaning {
                    model: Dense::with_capacity(n_articles),
                    centroid: Dense::with_capacity(n_articles),
                    phrasing_offsets: offsets,
                    phrasings,
                }
            });
        Finishing {
            n_articles,
            stemmer,
            unseen_idf,
            max_df,
            document_frequency,
            hashes,
            idf,
            embeddings,
            examples,
            trained: postings,
            trainer,
            next_feature: 0,
            offsets: vec![0],
            articles: Vec::with_capacity(n_entries),
            centroid: Vec::with_capacity(n_entries),
            model: Vec::with_capacity(n_entries),
            model_scale: 0.0,
            kept_hashes: Vec::new(),
            kept_idf: Vec::new(),
            idf_scale: 0.0,
            model_steps: Vec::new(),
            idf_steps: Vec::new(),
            meaning,
            next_meaning: 0,
        }
    }
}

impl Finishing {
    /// Does the next batch: of examples freed, of features joined, of model weights or idf
    /// quantised, or of articles' meaning; true once all are.
    fn step(&mut self) -> bool {
        if !self.examples.is_empty() {
            self.examples
                .truncate(self.examples.len().saturating_sub(TEXTS_PER_STEP * 10));
        } else if self.next_feature < self.hashes.len() {
            self.join();
        } else if self.model_steps.len() < self.model.len() {
            quantize_batch(&self.model, self.model_scale, &mut self.model_steps);
        } else if self.idf_steps.len() < self.kept_idf.len() {
            quantize_batch(&self.kept_idf, self.idf_scale, &mut self.idf_steps);
        } else if let Some(meaning) = self.meaning.as_mut().filter(|_| self.next_meaning < self.n_articles) {
            let end = (self.next_meaning + ENTRIES_PER_STEP.div_ceil(DIMS)).min(self.n_articles);
            let step = self.trainer.step;
            let centroids = self
                .embeddings
                .as_mut()
                .map(|e| e.centroids.as_mut_slice())
                .unwrap_or_default();
            for article in self.next_meaning..end {
                let dims = article * DIMS..(article + 1) * DIMS;
                let values = &self.trainer.dense_value[dims.clone()];
                let model: Vec<f32> = (values.iter().zip(&self.trainer.dense_sum[dims.clone()]))
                    .map(|(&value, &sum)| value - sum / step)
                    .collect();
                meaning.model.push(&model);
                meaning.centroid.push(unit(&mut centroids[dims]));
            }
            self.next_meaning = end;
        } else {
            return true;
        }
        false
    }

    /// Joins the next batch of features' rows with the weights training added outside them.
    fn join(&mut self) {
        let step = self.trainer.step;
        let average = |value: f32, sum: f32| value - sum / step;
        let mut work = 0;
        while self.next_feature < self.hashes.len() && work < ENTRIES_PER_STEP {
            let id = self.next_feature;
            self.next_feature += 1;
            let row = self.trained.range(id as u32);
            // Taken out, so the lists are freed a batch a step too.
            let mut extras = self.trainer.extras.remove(&(id as u32)).unwrap_or_default();
            extras.sort_unstable_by_key(|&(article, _, _)| article);
            work += 1 + row.len() + extras.len();
            if row.is_empty() && extras.is_empty() && self.document_frequency[id] <= self.max_df {
                continue;
            }
            let (mut r, mut e) = (row.start, 0);
            while r < row.end || e < extras.len() {
                let (article, centroid, model) =
                    if e == extras.len() || (r < row.end && self.trained.articles[r] < extras[e].0) {
                        r += 1;
                        let (value, sum) = (self.trainer.value[r - 1], self.trainer.sum[r - 1]);
                        (
                            self.trained.articles[r - 1],
                            self.trained.centroid.steps()[r - 1],
                            average(value, sum),
                        )
                    } else {
                        e += 1;
                        let (article, value, sum) = extras[e - 1];
                        (article, 0, average(value, sum))
                    };
                self.articles.push(article);
                self.centroid.push(centroid);
                self.model.push(model);
                self.model_scale = self.model_scale.max(Column::magnitude(model));
            }
            self.offsets.push(self.articles.len() as u32);
            self.kept_hashes.push(self.hashes[id]);
            self.kept_idf.push(self.idf[id]);
            self.idf_scale = self.idf_scale.max(Column::magnitude(self.idf[id]));
        }
    }

    fn into_index(self, articles: &[Article]) -> Index {
        let Finishing {
            n_articles,
            stemmer,
            unseen_idf,
            trained,
            mut offsets,
            articles: posting_articles,
            centroid,
            model_scale,
            mut kept_hashes,
            idf_scale,
            model_steps,
            idf_steps,
            meaning,
            ..
        } = self;
        offsets.shrink_to_fit();
        kept_hashes.shrink_to_fit();
        Index {
            trust: articles.iter().map(|a| trust(a.questions.len())).collect(),
            n_articles: n_articles as u32,
            stemmer,
            hashes: kept_hashes,
            idf: Column::from_parts(idf_scale, idf_steps),
            unseen_idf,
            postings: Postings {
                offsets,
                articles: posting_articles,
                centroid: Column::from_parts(trained.centroid.scale(), centroid),
                model: Column::from_parts(model_scale, model_steps),
            },
            meaning,
        }
    }
}

/// Quantises the next batch of a column's `numbers` into its `steps`, given its `scale` (its
/// largest magnitude).
fn quantize_batch(numbers: &[f32], scale: f32, steps: &mut Vec<i16>) {
    if steps.is_empty() {
        steps.reserve_exact(numbers.len());
    }
    let start = steps.len();
    let end = (start + ENTRIES_PER_STEP).min(numbers.len());
    steps.extend(numbers[start..end].iter().map(|&w| Column::steps_of(w, scale)));
}

/// An article's meaning centroid from its sum: unit length (zeros for an article with no
/// embedded text).
fn unit(sum: &mut [f32]) -> &[f32] {
    let norm = embed::dot(sum, sum).sqrt();
    if norm > 0.0 {
        sum.iter_mut().for_each(|x| *x /= norm);
    }
    sum
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
fn centroid(examples: &[Example], article: u32, keep: usize, entries: &mut Vec<(u32, u32, f32)>) {
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
    entries.extend(features.into_iter().map(|(id, w)| (id, article, w / norm)));
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
            // Each step makes progress: a stage that stopped moving fails here, not hangs.
            assert!(steps < 100_000, "the build stopped making progress");
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

    #[test]
    fn two_radix_passes_sort_keys_by_their_high_half_keeping_ties_in_order() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let keys: Vec<u64> = (0..5_000u64)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Few distinct high halves, so many ties; the low half is the input position.
                (state % 300) << 32 | i
            })
            .collect();
        let (mut once, mut twice) = (Vec::new(), Vec::new());
        radix_pass(&keys, &mut once, 32);
        radix_pass(&once, &mut twice, 48);
        let mut expected = keys.clone();
        expected.sort_by_key(|&key| key >> 32); // stable
        assert_eq!(twice, expected);
        // Keys above 16 bits of hash need the second pass.
        let high = [3u64 << 48 | 1, 1u64 << 48 | 2, 2u64 << 32 | 3];
        radix_pass(&high, &mut once, 32);
        radix_pass(&once, &mut twice, 48);
        assert_eq!(twice, [2u64 << 32 | 3, 1u64 << 48 | 2, 3u64 << 48 | 1]);
    }

    #[test]
    fn the_index_keeps_its_rows_in_article_order_across_batches() {
        // Articles sharing words, so training adds weights outside the centroids' rows (a rival
        // learns that a word speaks against it), and more entries than many batches hold.
        let colours = ["red", "green", "blue", "amber", "violet"];
        let articles: Vec<Article> = (0..60)
            .map(|i| {
                let (a, b) = (colours[i % 5], colours[(i / 5) % 5]);
                article(
                    &format!("a{i}"),
                    &format!("{a} {b} widget {i}"),
                    &format!("how to paint the {a} widget {b}"),
                    &[&format!("my {a} widget turned {b}"), &format!("paint it {b} not {a}")],
                )
            })
            .collect();
        let index = Index::build(&articles);
        let postings = &index.postings;
        assert!(postings.len() > 20 * ENTRIES_PER_STEP, "{} entries", postings.len());
        assert!(index.hashes.windows(2).all(|w| w[0] < w[1]), "hashes in order");
        assert_eq!(postings.offsets.len(), index.hashes.len() + 1);
        assert_eq!(index.idf.steps().len(), index.hashes.len());
        let mut joined = 0;
        for id in 0..index.hashes.len() as u32 {
            let range = postings.range(id);
            let row = &postings.articles[range.clone()];
            assert!(row.windows(2).all(|w| w[0] < w[1]), "feature {id}'s row {row:?}");
            for (i, &article) in row.iter().enumerate() {
                assert_eq!(postings.position(id, article), Some(range.start + i));
            }
            // An entry training added outside the centroids: no centroid weight, a model one.
            joined += range
                .filter(|&i| postings.centroid.steps()[i] == 0 && postings.model.steps()[i] != 0)
                .count();
        }
        assert!(joined > 0, "training added no weight outside the centroids");
    }
}
