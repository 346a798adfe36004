//! Which stemmer a site's knowledge base gets: the language its articles are written in, detected
//! once over their text (whatlang's trigram profiles), mapped to a Snowball stemmer where one
//! exists. Questions are stemmed with the same stemmer, so a visitor's word forms meet the
//! articles'. Text in a language without a stemmer (Japanese, Chinese, Korean, …) is matched by
//! words and character n-grams alone.

use rust_stemmers::Algorithm;
use whatlang::Lang;

use crate::article::Article;

/// Enough text to be sure of a language, little enough to be quick on a big knowledge base.
const SAMPLE_CHARS: usize = 20_000;

/// The Snowball stemmer for the language of `texts`, if one fits and detection is sure.
pub fn detect<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<Algorithm> {
    let mut sample = String::new();
    for text in texts {
        if sample.len() >= SAMPLE_CHARS {
            break;
        }
        sample.push_str(text);
        sample.push('\n');
    }
    let info = whatlang::detect(&sample)?;
    // whatlang's confidence is the lead over the next language; a stemmer for a close neighbour
    // only trims suffixes, so a small lead is enough.
    if info.confidence() < 0.1 {
        return None;
    }
    stemmer_for(info.lang())
}

/// Whether one article's text is, beyond doubt, in a language other than English: the meaning
/// view's vectors are English word pieces, and a German title cut into them means nothing (yet
/// lands close to some unrelated English questions). Short or unclear text counts as English, as
/// the site is.
pub fn surely_not_english(article: &Article) -> bool {
    let mut sample = article.title.clone();
    for text in article.questions.iter().chain(std::iter::once(&article.body)) {
        if sample.len() >= ARTICLE_SAMPLE_CHARS {
            break;
        }
        sample.push('\n');
        sample.push_str(text);
    }
    let mut end = sample.len().min(ARTICLE_SAMPLE_CHARS);
    while !sample.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &sample[..end];
    // Most articles on an English site say so in their common words; whatlang, which weighs
    // every language's trigrams (about 0.3 ms an article), only sees the rest.
    !has_common_english_words(sample)
        && whatlang::detect(sample).is_some_and(|info| info.is_reliable() && info.lang() != Lang::Eng)
}

/// Whether the text has two of English's commonest words that are not also words in the other
/// languages whatlang is asked about (unlike "in", "was", "die" or "do").
fn has_common_english_words(text: &str) -> bool {
    const COMMON: [&str; 14] = [
        "the", "you", "your", "and", "what", "how", "with", "this", "that", "does", "are", "can", "my", "have",
    ];
    let mut seen = 0u16;
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if let Some(i) = COMMON.iter().position(|w| w.eq_ignore_ascii_case(word)) {
            seen |= 1 << i;
            if seen.count_ones() >= 2 {
                return true;
            }
        }
    }
    false
}

/// Enough of one article's text to tell its language, little enough for 10,000 articles.
const ARTICLE_SAMPLE_CHARS: usize = 400;

fn stemmer_for(lang: Lang) -> Option<Algorithm> {
    Some(match lang {
        Lang::Ara => Algorithm::Arabic,
        Lang::Dan => Algorithm::Danish,
        Lang::Nld => Algorithm::Dutch,
        Lang::Eng => Algorithm::English,
        Lang::Fin => Algorithm::Finnish,
        Lang::Fra => Algorithm::French,
        Lang::Deu => Algorithm::German,
        Lang::Ell => Algorithm::Greek,
        Lang::Hun => Algorithm::Hungarian,
        Lang::Ita => Algorithm::Italian,
        Lang::Nob => Algorithm::Norwegian,
        Lang::Por => Algorithm::Portuguese,
        Lang::Ron => Algorithm::Romanian,
        Lang::Rus => Algorithm::Russian,
        Lang::Spa => Algorithm::Spanish,
        Lang::Swe => Algorithm::Swedish,
        Lang::Tam => Algorithm::Tamil,
        Lang::Tur => Algorithm::Turkish,
        _ => return None,
    })
}

/// A stable one-byte code for storing the choice in a compact index.
pub fn code(algorithm: Option<Algorithm>) -> u8 {
    ALGORITHMS
        .iter()
        .position(|&a| Some(a) == algorithm)
        .map_or(0, |i| i as u8 + 1)
}

/// The inverse of [`code`]: `Ok(None)` for 0, an error for a code no stemmer has.
pub fn from_code(code: u8) -> Result<Option<Algorithm>, u8> {
    match usize::from(code).checked_sub(1) {
        None => Ok(None),
        Some(i) => ALGORITHMS.get(i).copied().map(Some).ok_or(code),
    }
}

const ALGORITHMS: [Algorithm; 18] = [
    Algorithm::Arabic,
    Algorithm::Danish,
    Algorithm::Dutch,
    Algorithm::English,
    Algorithm::Finnish,
    Algorithm::French,
    Algorithm::German,
    Algorithm::Greek,
    Algorithm::Hungarian,
    Algorithm::Italian,
    Algorithm::Norwegian,
    Algorithm::Portuguese,
    Algorithm::Romanian,
    Algorithm::Russian,
    Algorithm::Spanish,
    Algorithm::Swedish,
    Algorithm::Tamil,
    Algorithm::Turkish,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_an_article_surely_in_another_language() {
        use crate::article::test_article as article;
        for (title, body, questions, other) in [
            ("Strikethrough with GitHub Markdown", "", &[][..], false),
            (
                "Refund policy",
                "Refunds reach the original card within 5 days.",
                &[],
                false,
            ),
            (
                "accept reservations",
                "",
                &[
                    "can i make a reservation for redrobin",
                    "does redrobin take reservations",
                ],
                false,
            ),
            (
                "Versandkosten und Lieferzeiten",
                "Wir liefern innerhalb von drei Werktagen.",
                &["Wie lange dauert die Lieferung?", "Was kostet der Versand?"],
                true,
            ),
            (
                "Réinitialiser votre mot de passe",
                "Ouvrez les paramètres, puis choisissez Sécurité et réinitialisez le mot de passe.",
                &[],
                true,
            ),
            (
                "パスワードの再設定",
                "ログイン画面の「パスワードをお忘れですか」から再設定できます。",
                &[],
                true,
            ),
        ] {
            assert_eq!(
                surely_not_english(&article("a", title, body, questions)),
                other,
                "{title}"
            );
        }
    }

    #[test]
    fn detects_the_language_of_a_knowledge_base() {
        assert_eq!(
            detect([
                "How do I reset my password?",
                "Open the settings page and choose a new password."
            ]),
            Some(Algorithm::English)
        );
        assert_eq!(
            detect([
                "Wie setze ich mein Passwort zurück?",
                "Öffnen Sie die Einstellungen und wählen Sie ein neues Passwort."
            ]),
            Some(Algorithm::German)
        );
        // Japanese has no Snowball stemmer: n-grams and words carry it.
        assert_eq!(detect(["パスワードを忘れました。設定からリセットできます。"]), None);
        assert_eq!(detect([""]), None);
    }

    #[test]
    fn codes_round_trip() {
        for algorithm in ALGORITHMS {
            assert_eq!(from_code(code(Some(algorithm))), Ok(Some(algorithm)));
        }
        assert_eq!(code(None), 0);
        assert_eq!(from_code(0), Ok(None));
        assert_eq!(from_code(200), Err(200));
    }
}
