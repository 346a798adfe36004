//! Turns normalised text into hashed features: whole words (Unicode word boundaries, UAX #29)
//! and character trigrams of each word, which carry typos, plurals and other word forms. Scripts
//! written without spaces (Chinese, Japanese) come out of the word segmenter one ideograph at a
//! time; pairs of neighbouring ideographs add the context a dictionary would.

use unicode_segmentation::UnicodeSegmentation;

/// A feature: its hash and whether it is a whole word (weighted higher than n-grams).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Feature {
    pub hash: u64,
    pub is_word: bool,
}

/// The features of already-normalised text, with repeats.
pub fn features(normalized: &str) -> Vec<Feature> {
    let mut out = Vec::new();
    let mut previous_ideograph: Option<&str> = None;
    for word in normalized.unicode_words() {
        if is_ideographic(word) {
            if let Some(previous) = previous_ideograph {
                out.push(Feature {
                    hash: hash_pair(previous, word),
                    is_word: true,
                });
            }
            out.push(Feature {
                hash: hash_str(b'w', word),
                is_word: true,
            });
            previous_ideograph = Some(word);
            continue;
        }
        previous_ideograph = None;
        if is_stopword(word) {
            continue;
        }
        out.push(Feature {
            hash: hash_str(b'w', word),
            is_word: true,
        });
        let chars: Vec<char> = std::iter::once('^')
            .chain(word.chars())
            .chain(std::iter::once('$'))
            .collect();
        if chars.len() > 4 {
            for window in chars.windows(3) {
                let gram: String = window.iter().collect();
                out.push(Feature {
                    hash: hash_str(b'g', &gram),
                    is_word: false,
                });
            }
        }
    }
    out
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

/// English function words carry no topic; dropping them keeps "how do I" from matching every
/// how-to article. Other languages rely on inverse document frequency for the same effect.
fn is_stopword(word: &str) -> bool {
    const STOPWORDS: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it",
        "me", "my", "of", "on", "or", "the", "to", "what", "when", "where", "which", "with", "you", "your",
    ];
    STOPWORDS.contains(&word)
}

/// FNV-1a, with a tag byte so words and n-grams never share a feature.
fn hash_str(tag: u8, text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(tag).chain(text.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn hash_pair(first: &str, second: &str) -> u64 {
    hash_str(b'p', first) ^ hash_str(b'q', second).rotate_left(17)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> usize {
        features(text).iter().filter(|f| f.is_word).count()
    }

    #[test]
    fn words_and_grams() {
        // "how" and "do" are stopwords; "reset" gives one word and five trigrams of "^reset$".
        let f = features("how do reset");
        assert_eq!(f.iter().filter(|f| f.is_word).count(), 1);
        assert_eq!(f.iter().filter(|f| !f.is_word).count(), 5);
    }

    #[test]
    fn shared_grams_survive_typos() {
        let a: std::collections::HashSet<_> = features("password").into_iter().collect();
        let b: std::collections::HashSet<_> = features("pasword").into_iter().collect();
        assert!(a.intersection(&b).count() >= 3);
    }

    #[test]
    fn text_without_spaces_still_has_features() {
        // Two ideographs become two words plus one pair; kana runs stay whole words.
        assert_eq!(words("密码"), 3);
        assert!(words("パスワードを忘れました") >= 2);
    }
}
