//! The built index as compact bytes, so the worker stores it once when the articles change and a
//! cold start loads it in milliseconds instead of training again.
//!
//! Layout (little-endian; `v` is an unsigned LEB128 varint):
//! `"TLIX"`, version `u8`, stemmer code `u8`, articles `v`, unseen idf `f32`, per article its trust
//! `f32`; features `v`, their hashes as `v` gaps (sorted), the idf column; per feature its entry
//! count `v`; per entry its article as a `v` gap within the feature; the centroid and model
//! weight columns; then `1` and the meaning view: per article its phrasing count `v`, then three
//! tables, each a scale `f32` per row and then `DIMS` `i8` values per row (the model's dense
//! weights and the meaning centroids, a row an article; the phrasings' embeddings, a row a
//! phrasing), or `0` when there is none. Each number column (idf, centroid
//! and model weights) is its largest magnitude (`f32`) and one `i16` step of it per value, exactly
//! as the index holds it in memory (`postings::Column`): 1/32767 of the largest weight is far below
//! what changes a ranking. Version 5 (the phrasings' embeddings); older versions are rebuilt from
//! the articles.
//! Reading checks every count and range, so a damaged blob is an error, never a panic.

use super::embed::DIMS;
use super::language;
use super::postings::{Column, Postings};
use super::rank::{Dense, Index, Meaning};

const MAGIC: &[u8; 4] = b"TLIX";
const VERSION: u8 = 5;

/// How many of a stored index's first bytes [`Index::head_is_current`] reads.
pub const HEAD_BYTES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not a stored knowledge index")]
    NotAnIndex,
    #[error("stored knowledge index version {0}; this build reads version {VERSION}")]
    Version(u8),
    #[error("stored knowledge index is damaged: {0}")]
    Damaged(&'static str),
}

impl Index {
    /// The index as bytes for storage; [`Index::from_bytes`] reads them back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let p = &self.postings;
        let mut out = Vec::with_capacity(16 + self.hashes.len() * 5 + p.len() * 6);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(language::code(self.stemmer));
        varint(&mut out, self.n_articles);
        out.extend_from_slice(&self.unseen_idf.to_le_bytes());
        for trust in &self.trust {
            out.extend_from_slice(&trust.to_le_bytes());
        }
        varint(&mut out, self.hashes.len() as u32);
        let mut previous = 0;
        for &hash in &self.hashes {
            varint(&mut out, hash - previous);
            previous = hash;
        }
        column(&mut out, &self.idf);
        for id in 0..self.hashes.len() as u32 {
            varint(&mut out, p.range(id).len() as u32);
        }
        for id in 0..self.hashes.len() as u32 {
            let mut previous = 0;
            for (article, _, _) in p.list(id) {
                varint(&mut out, article - previous);
                previous = article;
            }
        }
        column(&mut out, &p.centroid);
        column(&mut out, &p.model);
        match &self.meaning {
            None => out.push(0),
            Some(meaning) => {
                out.push(1);
                for window in meaning.phrasing_offsets.windows(2) {
                    varint(&mut out, window[1] - window[0]);
                }
                for dense in [&meaning.model, &meaning.centroid, &meaning.phrasings] {
                    for scale in &dense.scales {
                        out.extend_from_slice(&scale.to_le_bytes());
                    }
                    out.extend(dense.values.iter().map(|&v| v as u8));
                }
            }
        }
        out
    }

    /// Whether a stored index that begins with `head` is in the format this build reads: known
    /// from its first [`HEAD_BYTES`] alone, so a cold start can tell without reading it all.
    pub fn head_is_current(head: &[u8]) -> bool {
        head.len() >= HEAD_BYTES && head[..4] == MAGIC[..] && head[4] == VERSION
    }

    /// Reads an index written by [`Index::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Index, StoreError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4).ok() != Some(MAGIC.as_slice()) {
            return Err(StoreError::NotAnIndex);
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(StoreError::Version(version));
        }
        let stemmer = language::from_code(r.u8()?).map_err(|_| StoreError::Damaged("unknown stemmer"))?;
        let n_articles = r.varint()?;
        let unseen_idf = r.f32()?;
        r.expect_at_least(n_articles as usize * 4)?;
        let mut trust = Vec::with_capacity(n_articles as usize);
        for _ in 0..n_articles {
            trust.push(r.f32()?);
        }
        let n_features = r.varint()? as usize;
        r.expect_at_least(n_features)?;
        let mut hashes = Vec::with_capacity(n_features);
        let mut previous = 0u32;
        for i in 0..n_features {
            let gap = r.varint()?;
            if i > 0 && gap == 0 {
                return Err(StoreError::Damaged("feature hashes out of order"));
            }
            previous = previous.checked_add(gap).ok_or(StoreError::Damaged("feature hash"))?;
            hashes.push(previous);
        }
        let idf = r.column(n_features)?;
        let offsets = r.offsets(n_features, "entry count")?;
        let n_entries = offsets[n_features] as usize;
        r.expect_at_least(n_entries * 5)?;
        let mut articles = Vec::with_capacity(n_entries);
        for window in offsets.windows(2) {
            let mut previous = 0u32;
            for i in window[0]..window[1] {
                let gap = r.varint()?;
                if i > window[0] && gap == 0 {
                    return Err(StoreError::Damaged("articles out of order"));
                }
                previous = previous.checked_add(gap).ok_or(StoreError::Damaged("article"))?;
                if previous >= n_articles {
                    return Err(StoreError::Damaged("article out of range"));
                }
                articles.push(previous);
            }
        }
        let centroid = r.column(n_entries)?;
        let model = r.column(n_entries)?;
        let dense = |r: &mut Reader, n: usize| -> Result<Dense, StoreError> {
            r.expect_at_least(n * (4 + DIMS))?;
            let scales = (0..n).map(|_| r.f32()).collect::<Result<Vec<f32>, _>>()?;
            let values = r.take(n * DIMS)?.iter().map(|&b| b as i8).collect();
            Ok(Dense { scales, values })
        };
        let meaning = match r.u8()? {
            0 => None,
            1 => {
                let phrasing_offsets = r.offsets(n_articles as usize, "phrasing count")?;
                let n_phrasings = phrasing_offsets[n_articles as usize] as usize;
                Some(Meaning {
                    model: dense(&mut r, n_articles as usize)?,
                    centroid: dense(&mut r, n_articles as usize)?,
                    phrasings: dense(&mut r, n_phrasings)?,
                    phrasing_offsets,
                })
            }
            _ => return Err(StoreError::Damaged("meaning view flag")),
        };
        if r.at != bytes.len() {
            return Err(StoreError::Damaged("trailing bytes"));
        }
        Ok(Index {
            n_articles,
            stemmer,
            hashes,
            idf,
            unseen_idf,
            postings: Postings {
                offsets,
                articles,
                centroid,
                model,
            },
            trust,
            meaning,
        })
    }
}

fn varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A column as its largest magnitude and its steps.
fn column(out: &mut Vec<u8>, column: &Column) {
    out.extend_from_slice(&column.scale().to_le_bytes());
    for &step in column.steps() {
        out.extend_from_slice(&step.to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(StoreError::Damaged("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// Refuses a count the remaining bytes cannot hold before anything is allocated for it.
    fn expect_at_least(&self, n: usize) -> Result<(), StoreError> {
        if self.bytes.len() - self.at < n {
            return Err(StoreError::Damaged("truncated"));
        }
        Ok(())
    }

    /// `n` row lengths (`v` each) as the `n + 1` offsets of the rows' starts and end.
    fn offsets(&mut self, n: usize, what: &'static str) -> Result<Vec<u32>, StoreError> {
        self.expect_at_least(n)?;
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for _ in 0..n {
            let count = self.varint()?;
            let end = offsets[offsets.len() - 1]
                .checked_add(count)
                .ok_or(StoreError::Damaged(what))?;
            offsets.push(end);
        }
        Ok(offsets)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn column(&mut self, n_values: usize) -> Result<Column, StoreError> {
        let scale = self.f32()?;
        let bytes = self.take(n_values.checked_mul(2).ok_or(StoreError::Damaged("column"))?)?;
        let steps = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        Ok(Column::from_parts(scale, steps))
    }

    fn f32(&mut self) -> Result<f32, StoreError> {
        let b = self.take(4)?;
        let value = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if value.is_finite() {
            Ok(value)
        } else {
            Err(StoreError::Damaged("not a number"))
        }
    }

    fn varint(&mut self) -> Result<u32, StoreError> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = self.u8()?;
            value |= u32::from(byte & 0x7f)
                .checked_shl(shift)
                .filter(|_| shift < 28 || byte & 0x7f < 0x10)
                .ok_or(StoreError::Damaged("varint"))?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(StoreError::Damaged("varint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Article, test_article as article};

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
                &["money back"],
            ),
            article(
                "export",
                "Export your data",
                "Download a CSV of every project from Settings.",
                &[],
            ),
        ]
    }

    #[test]
    fn the_head_tells_an_index_this_build_reads_from_others() {
        let bytes = Index::build(&articles()).to_bytes();
        assert!(Index::head_is_current(&bytes[..HEAD_BYTES]));
        let mut older = bytes[..HEAD_BYTES].to_vec();
        older[4] -= 1;
        assert!(!Index::head_is_current(&older));
        assert_eq!(
            Index::from_bytes(&[&older[..], &bytes[HEAD_BYTES..]].concat()).err(),
            Some(StoreError::Version(VERSION - 1))
        );
        assert!(!Index::head_is_current(b"TLXX\x04"));
        assert!(!Index::head_is_current(&bytes[..HEAD_BYTES - 1]));
    }

    #[test]
    fn a_stored_index_answers_as_the_built_one() {
        let built = Index::build(&articles());
        let bytes = built.to_bytes();
        let loaded = Index::from_bytes(&bytes).unwrap();
        assert_eq!(loaded.n_articles(), 3);
        for question in [
            "forgot my password",
            "I want my money back",
            "csv download",
            "pasword",
            "weather",
        ] {
            let a = built.search(question, 3);
            let b = loaded.search(question, 3);
            assert_eq!(
                a.iter().map(|s| s.article).collect::<Vec<_>>(),
                b.iter().map(|s| s.article).collect::<Vec<_>>(),
                "{question}"
            );
            // The built index holds its numbers as the stored one does: the same scores, exactly.
            assert_eq!(a, b, "{question}");
        }
        assert_eq!(loaded.postings, built.postings);
        assert_eq!(loaded.idf, built.idf);
        // Smaller than the index in memory.
        assert!(
            bytes.len() < built.heap_bytes(),
            "{} >= {}",
            bytes.len(),
            built.heap_bytes()
        );
        assert_eq!(
            Index::from_bytes(&Index::build(&[]).to_bytes()).unwrap().n_articles(),
            0
        );
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let bytes = Index::build(&articles()).to_bytes();
        assert_eq!(Index::from_bytes(b"nope").unwrap_err(), StoreError::NotAnIndex);
        let mut other_version = bytes.clone();
        other_version[4] = 9;
        assert_eq!(Index::from_bytes(&other_version).unwrap_err(), StoreError::Version(9));
        // Every truncation, and a flipped byte everywhere, fails cleanly or loads.
        for end in 0..bytes.len() {
            assert!(Index::from_bytes(&bytes[..end]).is_err(), "truncated at {end}");
        }
        for at in 5..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xA5;
            if let Ok(index) = Index::from_bytes(&damaged) {
                index.search("password refund", 3);
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Index::from_bytes(&longer).unwrap_err(),
            StoreError::Damaged("trailing bytes")
        );
    }
}
