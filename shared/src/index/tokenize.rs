//! Turns normalised text into hashed features: word stems (Unicode word boundaries, UAX #29,
//! then the Snowball stemmer of the site's language when there is one), pairs of neighbouring
//! words (which carry intent: "cancel order" is not "order cancelled"), and character 3- to
//! 5-grams of each word, which carry typos and word forms no stemmer knows. Scripts written
//! without spaces (Chinese, Japanese) come out of the word segmenter one ideograph or kana run at
//! a time; the pairs add the context a dictionary would.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// What a feature is made of; each kind has its own weight in a text's vector.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Kind {
    /// A word's stem.
    Word,
    /// A word that says little about the topic on its own ("how", "the"); still a feature,
    /// because "how do I" and "what is" ask different things.
    Function,
    /// Two neighbouring words.
    Pair,
    /// A character n-gram inside a word.
    Gram,
}

impl Kind {
    /// Relative weight in a text's vector: n-grams add recall for typos and word forms without
    /// letting two unrelated words that share letters look alike.
    pub fn weight(self) -> f32 {
        match self {
            Kind::Word => 1.0,
            Kind::Function => 0.5,
            Kind::Pair => 0.6,
            Kind::Gram => 0.35,
        }
    }
}

/// A feature: its hash and kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Feature {
    pub hash: u32,
    pub kind: Kind,
}

/// The features of already-normalised text, with repeats. `stemmer` is the site's language's,
/// when Snowball has one.
pub fn features(normalized: &str, stemmer: Option<Algorithm>) -> Vec<Feature> {
    let stemmer = stemmer.map(Stemmer::create);
    let mut out = Vec::new();
    let mut previous: Option<u32> = None;
    for text in words(normalized) {
        let word = word(text, stemmer.as_ref());
        if let Some(previous) = previous {
            out.push(Feature {
                hash: pair(previous, word.hash),
                kind: Kind::Pair,
            });
        }
        out.push(Feature {
            hash: word.hash,
            kind: word.kind,
        });
        out.extend(word.grams.iter().map(|&hash| Feature { hash, kind: Kind::Gram }));
        previous = Some(word.hash);
    }
    out
}

/// The words of already-normalised text, in order (Unicode word boundaries).
pub fn words(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.unicode_words()
}

/// One word's own features: its stem's hash and kind, and its character n-grams' hashes (none
/// for function words and ideographs). A text's features are its words' and the pairs of
/// neighbouring words' stems ([`pair`]); a build keeps each distinct word's once.
pub struct Word {
    pub hash: u32,
    pub kind: Kind,
    pub grams: Vec<u32>,
}

pub fn word(word: &str, stemmer: Option<&Stemmer>) -> Word {
    if is_ideographic(word) {
        return Word {
            hash: hash_str(b'w', word),
            kind: Kind::Word,
            grams: Vec::new(),
        };
    }
    let stem = stemmer.map_or(std::borrow::Cow::Borrowed(word), |s| s.stem(word));
    let hash = hash_str(b'w', &stem);
    if is_function_word(word) {
        return Word {
            hash,
            kind: Kind::Function,
            grams: Vec::new(),
        };
    }
    let chars: Vec<char> = std::iter::once('^')
        .chain(word.chars())
        .chain(std::iter::once('$'))
        .collect();
    let mut grams = Vec::new();
    if chars.len() > 4 {
        for n in 3..=5 {
            grams.extend(chars.windows(n).map(|window| hash_chars(b'g', window)));
        }
    }
    Word {
        hash,
        kind: Kind::Word,
        grams,
    }
}

/// The feature of two neighbouring words, from their stems' hashes.
pub fn pair(first: u32, second: u32) -> u32 {
    (first.rotate_left(13) ^ second).wrapping_mul(0x9E37_79B1) ^ 0x5bd1_e995
}

fn is_ideographic(word: &str) -> bool {
    word.chars().all(|c| {
        matches!(c as u32,
            0x3040..=0x30FF   // Hiragana, Katakana
            | 0x3400..=0x4DBF // CJK extension A
            | 0x4E00..=0x9FFF // CJK unified ideographs
            | 0xF900..=0xFAFF // CJK compatibility ideographs
            | 0x20000..=0x2FFFF)
    })
}

/// English function words. Other languages rely on inverse document frequency for the same
/// effect.
fn is_function_word(word: &str) -> bool {
    const FUNCTION_WORDS: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it",
        "me", "my", "of", "on", "or", "the", "to", "what", "when", "where", "which", "with", "you", "your",
    ];
    FUNCTION_WORDS.contains(&word)
}

/// FNV-1a, with a tag byte so words and n-grams never share a feature.
fn hash_str(tag: u8, text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in std::iter::once(tag).chain(text.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// [`hash_str`] of the string `chars` would make, without making it.
fn hash_chars(tag: u8, chars: &[char]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut add = |byte: u8| {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    };
    add(tag);
    let mut buffer = [0u8; 4];
    for c in chars {
        c.encode_utf8(&mut buffer).bytes().for_each(&mut add);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(text: &str, kind: Kind) -> usize {
        features(text, Some(Algorithm::English))
            .iter()
            .filter(|f| f.kind == kind)
            .count()
    }

    #[test]
    fn words_pairs_and_grams() {
        // "how" and "do" are function words; "reset" gives one stem and 5 + 4 + 3 n-grams of
        // "^reset$"; three words give two pairs.
        assert_eq!(count("how do reset", Kind::Function), 2);
        assert_eq!(count("how do reset", Kind::Word), 1);
        assert_eq!(count("how do reset", Kind::Pair), 2);
        assert_eq!(count("how do reset", Kind::Gram), 12);
    }

    #[test]
    fn stems_join_word_forms() {
        let stems = |text: &str| -> Vec<u32> {
            features(text, Some(Algorithm::English))
                .into_iter()
                .filter(|f| f.kind == Kind::Word)
                .map(|f| f.hash)
                .collect()
        };
        assert_eq!(stems("refunds"), stems("refunding"));
        assert_ne!(stems("refund"), stems("account"));
    }

    #[test]
    fn shared_grams_survive_typos() {
        let grams = |text: &str| -> std::collections::HashSet<u32> {
            features(text, None).into_iter().map(|f| f.hash).collect()
        };
        assert!(grams("password").intersection(&grams("pasword")).count() >= 4);
    }

    #[test]
    fn text_without_spaces_still_has_features() {
        // Two ideographs become two words plus one pair; kana runs stay whole words.
        assert_eq!(count("密码", Kind::Word), 2);
        assert_eq!(count("密码", Kind::Pair), 1);
        assert!(count("パスワードを忘れました", Kind::Word) >= 2);
    }
}
