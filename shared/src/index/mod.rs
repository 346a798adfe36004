//! The knowledge index: finds the articles that best answer a visitor's question.
//!
//! A pipeline of one file per stage: `normalize` (case, accents, width) → `tokenize` (words and
//! character n-grams as hashed features) → `rank` (TF-IDF vectors, cosine similarity over an
//! article's passages). The answer-or-escalate decision on top of the ranking is in `answer`.

mod normalize;
mod rank;
mod tokenize;

pub use normalize::normalize;
pub use rank::{Index, Scored};
pub use tokenize::features;
