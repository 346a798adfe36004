//! A knowledge base that learns from its customers: a question a customer asked becomes an
//! example phrasing of the article that answered it (when they said it helped, or when staff
//! resolved it with that article), so the next customer who asks it that way is answered.
//! Phrasings are deduplicated by their normalised text and bounded per article, so neither a
//! chatty customer nor a flood of "yes" clicks can grow the index without end.

use crate::article::Article;
use crate::index::normalize;
use crate::limits::{MAX_ARTICLE_QUESTIONS, MAX_MESSAGE_CHARS};

/// Most phrasings learned for one article; the site owner's own count towards
/// [`MAX_ARTICLE_QUESTIONS`] too.
pub const MAX_LEARNED_PHRASINGS: usize = 200;

/// What became of a question offered as a phrasing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Learned {
    Added,
    /// The article already has it (compared after normalising case, accents and spacing).
    Duplicate,
    /// The article has as many phrasings as it may.
    Full,
    /// Blank, or longer than a message may be.
    Unusable,
}

/// The form two phrasings are compared in: normalised, words separated by one space, without
/// punctuation at either end.
pub fn phrasing_key(text: &str) -> String {
    let normal = normalize(text);
    let words: Vec<&str> = normal.split_whitespace().collect();
    words
        .join(" ")
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_owned()
}

/// Adds `question` to `article`'s phrasings, unless it has it or is full. `learned` is how many
/// phrasings were learned for it before (the caller keeps count; the owner's are not counted).
pub fn add_phrasing(article: &mut Article, question: &str, learned: usize) -> Learned {
    let question = question.trim();
    let key = phrasing_key(question);
    if key.is_empty() || question.chars().count() > MAX_MESSAGE_CHARS {
        return Learned::Unusable;
    }
    if article.questions.iter().any(|q| phrasing_key(q) == key) || phrasing_key(&article.title) == key {
        return Learned::Duplicate;
    }
    if learned >= MAX_LEARNED_PHRASINGS || article.questions.len() >= MAX_ARTICLE_QUESTIONS {
        return Learned::Full;
    }
    article.questions.push(question.to_owned());
    Learned::Added
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article() -> Article {
        Article {
            id: "refunds".into(),
            title: "Refund policy".into(),
            body: "Refunds take 5 to 10 days.".into(),
            questions: vec!["can I get a refund".into()],
            url: None,
        }
    }

    #[test]
    fn a_new_phrasing_is_added_once_whatever_its_case_accents_or_spacing() {
        let mut a = article();
        assert_eq!(add_phrasing(&mut a, "Where is my money back?", 0), Learned::Added);
        assert_eq!(
            add_phrasing(&mut a, "  where is  my MONEY back ", 1),
            Learned::Duplicate
        );
        assert_eq!(add_phrasing(&mut a, "Can I get a réfund?!", 1), Learned::Duplicate);
        assert_eq!(
            add_phrasing(&mut a, "refund policy", 1),
            Learned::Duplicate,
            "the title itself"
        );
        assert_eq!(a.questions, vec!["can I get a refund", "Where is my money back?"]);
    }

    #[test]
    fn phrasings_are_bounded_and_junk_is_refused() {
        let mut a = article();
        assert_eq!(add_phrasing(&mut a, "   ", 0), Learned::Unusable);
        assert_eq!(add_phrasing(&mut a, "?!", 0), Learned::Unusable);
        assert_eq!(
            add_phrasing(&mut a, &"x".repeat(MAX_MESSAGE_CHARS + 1), 0),
            Learned::Unusable
        );
        assert_eq!(
            add_phrasing(&mut a, "refund please", MAX_LEARNED_PHRASINGS),
            Learned::Full
        );
        a.questions = (0..MAX_ARTICLE_QUESTIONS).map(|i| format!("q{i}")).collect();
        assert_eq!(add_phrasing(&mut a, "refund please", 0), Learned::Full);
        assert_eq!(a.questions.len(), MAX_ARTICLE_QUESTIONS);
    }
}
