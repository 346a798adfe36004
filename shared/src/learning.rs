//! A knowledge base that learns from its customers: a question a customer asked becomes an
//! example phrasing of the article that answered it (when they said it helped, or when staff
//! resolved it with that article), so the next customer who asks it that way is answered.
//! Phrasings are deduplicated by their normalised text and bounded per article, so neither a
//! chatty customer nor a flood of "yes" clicks can grow the index without end.

use serde::{Deserialize, Serialize};

use crate::article::Article;
use crate::index::normalize;
use crate::limits::{MAX_ARTICLE_BODY_CHARS, MAX_ARTICLE_QUESTIONS, MAX_ARTICLE_TITLE_CHARS, MAX_MESSAGE_CHARS};
use crate::wire::{BotDetail, EscalationReason, Message, Role};

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

/// A phrasing the site has learned: from customers' "did that help?" votes, or approved by staff.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LearnedPhrasing {
    pub article: String,
    pub question: String,
    pub yes: u32,
    pub no: u32,
    /// Approved by staff: kept whatever the votes.
    pub approved: bool,
}

impl LearnedPhrasing {
    /// Whether it belongs in the index: approved, or more customers said it helped than not.
    pub fn wanted(&self) -> bool {
        self.approved || self.yes > self.no
    }
}

/// The articles the index is built from: the site's own, each with the phrasings learned for it
/// added (bounded and deduplicated by [`add_phrasing`]). Phrasings of articles that are gone are
/// skipped. Positions are unchanged, so answers point at the same articles.
pub fn with_learned(articles: &[Article], learned: &[LearnedPhrasing]) -> Vec<Article> {
    let mut merged = articles.to_vec();
    let mut counts = vec![0usize; merged.len()];
    for phrasing in learned.iter().filter(|p| p.wanted()) {
        if let Some(i) = merged.iter().position(|a| a.id == phrasing.article)
            && add_phrasing(&mut merged[i], &phrasing.question, counts[i]) == Learned::Added
        {
            counts[i] += 1;
        }
    }
    merged
}

/// What staff resolved: the customer's question and the staff reply that answered it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Resolution {
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// The question a resolved conversation was about and the last staff reply. The question is the
/// last customer message before staff replied that the bot tried to answer or handed over for
/// what it said (a request like "I want a person" is not the question), else the last customer
/// message before that reply.
pub fn resolution_of(messages: &[Message]) -> Option<Resolution> {
    let last_agent = messages.iter().rposition(|m| m.role == Role::Agent);
    let before = &messages[..last_agent.unwrap_or(messages.len())];
    // A question: the bot tried to answer it, or handed it over for what it said (urgent, upset,
    // a topic for people), not because the customer asked for a person.
    let tried = |question: &Message| {
        messages.iter().any(|m| {
            m.reply_to.as_deref() == Some(question.id.as_str())
                && match &m.bot {
                    Some(BotDetail::Answer { .. } | BotDetail::NoAnswer { .. }) => true,
                    Some(BotDetail::HandoffRequested { reason }) => *reason != EscalationReason::VisitorAsked,
                    Some(BotDetail::Call(_) | BotDetail::BugFixed { .. }) | None => false,
                }
        })
    };
    let visitor = |m: &&Message| m.role == Role::Visitor;
    let question = before
        .iter()
        .filter(visitor)
        .rfind(|m| tried(m))
        .or_else(|| before.iter().rfind(visitor))?;
    Some(Resolution {
        question: question.text.clone(),
        reply: last_agent.map(|i| messages[i].text.clone()),
    })
}

/// What a proposal would teach the knowledge base.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Teaching {
    /// The customer's question as a phrasing of the article staff linked.
    Phrasing { article: String, question: String },
    /// A new article drafted from the customer's question and the staff reply.
    Article { article: Article },
}

/// A knowledge proposal waiting for the site's approval.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Proposal {
    pub id: String,
    pub conversation: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<u64>,
    #[serde(flatten)]
    pub teaching: Teaching,
}

/// A new article drafted from what staff resolved: the question as its title (cut to fit), the
/// staff reply as its body, and an id from the title's words that `taken` does not have yet.
pub fn draft_article(question: &str, reply: &str, taken: impl Fn(&str) -> bool) -> Article {
    let title: String = question.trim().chars().take(MAX_ARTICLE_TITLE_CHARS).collect();
    let slug: String = phrasing_key(&title)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .collect::<Vec<_>>()
        .join("-");
    let base = if slug.is_empty() {
        "learned".to_owned()
    } else {
        format!("learned-{slug}")
    };
    let id = std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}-{n}")))
        .find(|id| !taken(id))
        .unwrap_or(base);
    Article {
        id,
        title,
        body: reply.trim().chars().take(MAX_ARTICLE_BODY_CHARS).collect(),
        questions: vec![question.trim().to_owned()],
        url: None,
    }
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

    fn message(id: &str, role: Role, text: &str, reply_to: Option<&str>, bot: Option<BotDetail>) -> Message {
        Message {
            seq: 0,
            id: id.into(),
            role,
            text: text.into(),
            at: 0,
            reply_to: reply_to.map(str::to_owned),
            bot,
            channel: crate::wire::Channel::Chat,
            origin: None,
            helpful: None,
        }
    }

    #[test]
    fn the_resolved_question_is_what_the_bot_tried_not_the_request_for_a_person() {
        let no_answer = BotDetail::NoAnswer {
            reason: EscalationReason::NoMatch,
            confidence: 0.1,
        };
        let handoff = BotDetail::HandoffRequested {
            reason: EscalationReason::VisitorAsked,
        };
        let messages = vec![
            message("q1", Role::Visitor, "do you ship to Norway?", None, None),
            message("bot:q1", Role::Bot, "I'm not sure.", Some("q1"), Some(no_answer)),
            message("q2", Role::Visitor, "I want a person", None, None),
            message("bot:q2", Role::Bot, "Someone will reply.", Some("q2"), Some(handoff)),
            message("agent:1", Role::Agent, "Checking…", None, None),
            message("agent:2", Role::Agent, "Yes, in 5 days.", None, None),
            message("q3", Role::Visitor, "thanks!", None, None),
        ];
        let resolution = resolution_of(&messages).unwrap();
        assert_eq!(resolution.question, "do you ship to Norway?");
        assert_eq!(resolution.reply.as_deref(), Some("Yes, in 5 days."));
        // Nothing the bot tried: the last customer words before the reply.
        let plain = &messages[2..6];
        assert_eq!(resolution_of(plain).unwrap().question, "I want a person");
        assert_eq!(resolution_of(&messages[4..6]), None, "no customer words at all");
        // Handed over at once for what it said (urgent): that is the question.
        let urgent = vec![
            message("u1", Role::Visitor, "I was charged twice, urgent", None, None),
            message(
                "bot:u1",
                Role::Bot,
                "A person will help.",
                Some("u1"),
                Some(BotDetail::HandoffRequested {
                    reason: EscalationReason::Urgent,
                }),
            ),
            message("u2", Role::Visitor, "I want to talk to a person", None, None),
        ];
        assert_eq!(resolution_of(&urgent).unwrap().question, "I was charged twice, urgent");
    }

    #[test]
    fn learned_phrasings_join_their_articles_when_wanted() {
        let learned = |question: &str, yes, no, approved| LearnedPhrasing {
            article: "refunds".into(),
            question: question.into(),
            yes,
            no,
            approved,
        };
        let merged = with_learned(
            &[article()],
            &[
                learned("money back please", 2, 1, false),
                learned("return my cash", 1, 1, false),
                learned("I was charged twice", 0, 3, true),
                LearnedPhrasing {
                    article: "gone".into(),
                    ..learned("anything", 5, 0, false)
                },
            ],
        );
        assert_eq!(
            merged[0].questions,
            vec!["can I get a refund", "money back please", "I was charged twice"]
        );
    }

    #[test]
    fn a_drafted_article_takes_a_free_id_from_its_question() {
        let taken = |id: &str| id == "learned-do-you-ship-to-norway";
        let article = draft_article("  Do you ship to Norway?  ", " Yes, in 5 days. ", taken);
        assert_eq!(article.id, "learned-do-you-ship-to-norway-2");
        assert_eq!(article.title, "Do you ship to Norway?");
        assert_eq!(article.body, "Yes, in 5 days.");
        assert_eq!(article.questions, vec!["Do you ship to Norway?"]);
        assert_eq!(draft_article("???", "ok", |_| false).id, "learned");
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
