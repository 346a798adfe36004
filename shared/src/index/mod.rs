//! The knowledge index: finds the articles that best answer a visitor's question.
//!
//! A pipeline of one file per stage: `language` (which stemmer fits the site's articles) →
//! `normalize` (case, accents, width) → `tokenize` (word stems, word pairs and character n-grams
//! as hashed features; `embed` adds a static embedding of English text) → `rank` (TF-IDF centroids
//! and a trained linear model over those features, stored in `postings`), kept as compact bytes by
//! `store`. The answer-or-escalate decision on top of the ranking is in `answer`.

mod build;
mod embed;
mod language;
mod normalize;
mod postings;
mod rank;
mod store;
mod tokenize;

pub use build::IndexBuilder;
pub use normalize::normalize;
pub use rank::{Index, Scored};
pub use store::{HEAD_BYTES, StoreError};
