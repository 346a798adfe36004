//! Static word-piece embeddings: what a text means, beyond the words it shares with another.
//! "I lost my card" and "my card is missing" share one word; their vectors are close. Each word
//! piece of the all-MiniLM-L6-v2 sentence model has a fixed 128-dimensional vector in each of
//! two tables made from the model once (`scripts/distill-embeddings.py`) and compiled in
//! (`shared/assets/`, 2.3 MB each): distilled from the piece alone (Model2Vec's method), and
//! then learned from whole sentences (see [`Vectors`]); a text's vector is the normalised sum of
//! its pieces' vectors. No network model runs at question time: a question costs a few table
//! lookups.
//!
//! The model's vocabulary is English (lowercase, accents folded), so the index uses these vectors
//! only for knowledge bases written in English (see `rank`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Dimensions of a vector.
pub const DIMS: usize = 128;

const MAGIC: &[u8; 4] = b"TLSE";
const HEADER: usize = 12;
/// Words longer than this are not split into pieces (as the model's own tokenizer does).
const MAX_WORD_CHARS: usize = 100;

/// A byte's two signed 4-bit values, the low nibble first.
const NIBBLES: [[f32; 2]; 256] = {
    let mut table = [[0f32; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = [
            (((byte as u8) << 4) as i8 >> 4) as f32,
            ((byte as u8) as i8 >> 4) as f32,
        ];
        byte += 1;
    }
    table
};

/// The two tables. Both hold the same pieces in the same order, so a text's pieces are found
/// once and summed in either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vectors {
    /// Each piece's vector as the model gives it for the piece alone: the trained model's
    /// features (`minilm-static.bin`).
    Distilled,
    /// The same vectors after learning from whole sentences how much each piece weighs and what
    /// it means in context: for comparing two texts by meaning (`minilm-learned.bin`).
    Learned,
}

static DISTILLED: &[u8] = include_bytes!("../../assets/minilm-static.bin");
static LEARNED: &[u8] = include_bytes!("../../assets/minilm-learned.bin");

/// The table, read in place from the compiled-in bytes.
struct Table {
    n: usize,
    offsets: &'static [u8],
    blob: &'static [u8],
    scales: &'static [u8],
    values: &'static [u8],
}

fn table(vectors: Vectors) -> &'static Table {
    static TABLES: [OnceLock<Table>; 2] = [OnceLock::new(), OnceLock::new()];
    match vectors {
        Vectors::Distilled => TABLES[0].get_or_init(|| Table::read(DISTILLED)),
        Vectors::Learned => TABLES[1].get_or_init(|| {
            let learned = Table::read(LEARNED);
            let distilled = table(Vectors::Distilled);
            assert!(
                learned.offsets == distilled.offsets && learned.blob == distilled.blob,
                "the compiled-in embedding tables list different pieces"
            );
            learned
        }),
    }
}

impl Table {
    fn read(bytes: &'static [u8]) -> Table {
        assert!(
            bytes.len() > HEADER && &bytes[..4] == MAGIC && bytes[4] == 1 && bytes[5] == 4,
            "the compiled-in embedding table is not a version 1, 4-bit table"
        );
        assert_eq!(usize::from(u16::from_le_bytes([bytes[6], bytes[7]])), DIMS);
        let n = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let offsets = &bytes[HEADER..HEADER + (n + 1) * 4];
        let blob_len = u32_at(offsets, n) as usize;
        let blob_start = HEADER + offsets.len();
        let blob = &bytes[blob_start..blob_start + blob_len];
        let scales = &bytes[blob_start + blob_len..blob_start + blob_len + n * 4];
        let values = &bytes[blob_start + blob_len + n * 4..];
        assert_eq!(
            values.len(),
            n * DIMS / 2,
            "the compiled-in embedding table is truncated"
        );
        Table {
            n,
            offsets,
            blob,
            scales,
            values,
        }
    }
}

fn u32_at(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
}

impl Table {
    fn piece(&self, i: usize) -> &[u8] {
        &self.blob[u32_at(self.offsets, i) as usize..u32_at(self.offsets, i + 1) as usize]
    }

    /// The row of a word piece: `continuation` pieces are spelled with a leading "##".
    fn find(&self, piece: &str, continuation: bool) -> Option<usize> {
        let prefix: &[u8] = if continuation { b"##" } else { b"" };
        let (mut low, mut high) = (0, self.n);
        while low < high {
            let middle = (low + high) / 2;
            match self.piece(middle).iter().cmp(prefix.iter().chain(piece.as_bytes())) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some(middle),
            }
        }
        None
    }

    /// Adds the row's vector to `sum`.
    fn add(&self, row: usize, sum: &mut [f32; DIMS]) {
        let scale = f32::from_le_bytes(self.scales[row * 4..row * 4 + 4].try_into().expect("4 bytes"));
        let packed = &self.values[row * DIMS / 2..(row + 1) * DIMS / 2];
        for (pair, &byte) in sum.chunks_exact_mut(2).zip(packed) {
            let [low, high] = NIBBLES[usize::from(byte)];
            pair[0] += low * scale;
            pair[1] += high * scale;
        }
    }
}

/// The rows of the word pieces of already-normalised text, in order; words the vocabulary cannot
/// spell are left out. Words split at anything that is not a letter or digit, then greedily into
/// the longest pieces the vocabulary has (WordPiece).
pub fn pieces(normalized: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for word in words(normalized) {
        word_pieces(word, &mut out);
    }
    out
}

/// [`pieces`] with each distinct word split once: a knowledge base repeats its words, and a build
/// keeps the cache for all its texts.
pub fn pieces_cached(normalized: &str, cache: &mut HashMap<String, Vec<u32>>) -> Vec<u32> {
    let mut out = Vec::new();
    for word in words(normalized) {
        match cache.get(word) {
            Some(known) => out.extend_from_slice(known),
            None => {
                let mut split = Vec::new();
                word_pieces(word, &mut split);
                out.extend_from_slice(&split);
                cache.insert(word.to_owned(), split);
            }
        }
    }
    out
}

fn words(normalized: &str) -> impl Iterator<Item = &str> {
    normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Appends one word's pieces to `out`, or nothing when the vocabulary cannot spell it.
fn word_pieces(word: &str, out: &mut Vec<u32>) {
    if word.chars().count() > MAX_WORD_CHARS {
        return;
    }
    let table = table(Vectors::Distilled);
    let start_len = out.len();
    let mut start = 0;
    while start < word.len() {
        let found = word[start..]
            .char_indices()
            .map(|(i, c)| start + i + c.len_utf8())
            .rev()
            .find_map(|end| table.find(&word[start..end], start > 0).map(|row| (row, end)));
        let Some((row, end)) = found else {
            // One piece the vocabulary lacks: the whole word is unknown.
            out.truncate(start_len);
            return;
        };
        out.push(row as u32);
        start = end;
    }
}

/// The unit vector of the pieces' sum in one table, or `None` when there is nothing to sum.
pub fn embed(vectors: Vectors, pieces: &[u32]) -> Option<[f32; DIMS]> {
    let table = table(vectors);
    let mut sum = [0f32; DIMS];
    for &row in pieces {
        table.add(row as usize, &mut sum);
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm > 0.0).then(|| sum.map(|x| x / norm))
}

/// Appends `values` to `out` a signed byte each, scaled to their largest magnitude, and returns
/// the scale (a byte × the scale is the value; 0 for all zeros).
pub fn quantize(values: &[f32], out: &mut Vec<i8>) -> f32 {
    let scale = values.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
    out.extend(
        values
            .iter()
            .map(|v| if scale > 0.0 { (v / scale).round() as i8 } else { 0 }),
    );
    scale
}

/// The dot product, summed in eight lanes so it compiles to SIMD (Wasm's too, with `simd128`).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += a[i] * b[i];
        }
    }
    let tail: f32 = a
        .chunks_exact(8)
        .remainder()
        .iter()
        .zip(b.chunks_exact(8).remainder())
        .map(|(x, y)| x * y)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(vectors: Vectors, text: &str) -> [f32; DIMS] {
        embed(vectors, &pieces(text)).expect("a vector")
    }

    #[test]
    fn words_split_into_the_vocabularys_pieces() {
        let table = table(Vectors::Distilled);
        let spelled: Vec<String> = pieces("unbelievably, refunds! zzzqqqxxq")
            .into_iter()
            .map(|row| String::from_utf8_lossy(table.piece(row as usize)).into_owned())
            .collect();
        // Every piece is one the vocabulary has, and the known words come first, in order.
        assert!(spelled.len() >= 3, "{spelled:?}");
        assert!(spelled[0] == "unbelievably" || spelled[0] == "un", "{spelled:?}");
        assert!(
            spelled.iter().any(|p| p == "ref" || p == "refund" || p == "refunds"),
            "{spelled:?}"
        );
        assert!(spelled.iter().skip(1).any(|p| p.starts_with("##")), "{spelled:?}");
        assert!(pieces("").is_empty());
        assert!(embed(Vectors::Distilled, &[]).is_none());
        assert!(embed(Vectors::Learned, &[]).is_none());
    }

    #[test]
    fn paraphrases_are_closer_than_unrelated_questions() {
        for vectors in [Vectors::Distilled, Vectors::Learned] {
            let lost = vector(vectors, "i lost my credit card");
            let missing = vector(vectors, "my visa is missing, what should i do");
            let weather = vector(vectors, "will it rain in paris tomorrow");
            assert!(
                dot(&lost, &missing) > dot(&lost, &weather) + 0.1,
                "{vectors:?}: {} vs {}",
                dot(&lost, &missing),
                dot(&lost, &weather)
            );
            let norm: f32 = lost.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn learned_vectors_weigh_what_a_sentence_is_about() {
        // Alone, a function word's vector is as long as any; learning from sentences shrinks it,
        // so "how do I" stops pulling every question towards every other.
        let the = pieces("the");
        let refund = pieces("refund");
        let length = |vectors: Vectors, rows: &[u32]| {
            let mut sum = [0f32; DIMS];
            table(vectors).add(rows[0] as usize, &mut sum);
            dot(&sum, &sum).sqrt()
        };
        let distilled = length(Vectors::Distilled, &the) / length(Vectors::Distilled, &refund);
        let learned = length(Vectors::Learned, &the) / length(Vectors::Learned, &refund);
        assert!(
            learned < 0.6 * distilled,
            "the/refund: distilled {distilled}, learned {learned}"
        );
    }
}
