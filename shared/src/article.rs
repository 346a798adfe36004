//! Knowledge-base articles and their JSON Lines upload format
//! (`{"id", "title", "body", "questions": [...], "url"?}` a line; see `../shared/data/README.md`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::limits::{MAX_ARTICLE_BODY_CHARS, MAX_ARTICLE_QUESTIONS, MAX_ARTICLE_TITLE_CHARS, MAX_ARTICLES};

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Article {
    pub id: String,
    pub title: String,
    /// The answer, as plain text; paragraphs are separated by blank lines. May be empty when the
    /// title is the whole answer.
    #[serde(default)]
    pub body: String,
    /// Example phrasings of the question this article answers.
    #[serde(default)]
    pub questions: Vec<String>,
    /// Where the full article lives on the site's help centre (absolute http(s) URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A line of an upload that could not be accepted. The whole upload is refused, so a site never
/// ends up with half a knowledge base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleError {
    /// 1-based line number in the upload.
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ArticleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses and validates a JSON Lines upload. Blank lines are skipped.
pub fn parse_jsonl(text: &str) -> Result<Vec<Article>, ArticleError> {
    let mut articles = Vec::new();
    let mut ids = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let error = |field: Option<&str>, message: String| ArticleError {
            line: line_no,
            field: field.map(str::to_owned),
            message,
        };
        let value: Value = serde_json::from_str(line).map_err(|e| error(None, format!("not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(error(None, "each line must be a JSON object".into()));
        };
        let article = article_from_json(&object).map_err(|(field, message)| error(Some(field), message))?;
        if !ids.insert(article.id.clone()) {
            return Err(error(Some("id"), format!("duplicate article id {:?}", article.id)));
        }
        articles.push(article);
        if articles.len() > MAX_ARTICLES {
            return Err(error(
                None,
                format!("too many articles: the limit is {MAX_ARTICLES} per site"),
            ));
        }
    }
    Ok(articles)
}

fn article_from_json(object: &Map<String, Value>) -> Result<Article, (&'static str, String)> {
    let string = |field: &'static str, required: bool| -> Result<Option<String>, (&'static str, String)> {
        match object.get(field) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err((field, format!("`{field}` is required"))),
            Some(_) => Err((field, format!("`{field}` must be a string"))),
        }
    };
    let id = string("id", true)?.unwrap_or_default();
    let id_ok =
        !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !id_ok {
        return Err((
            "id",
            format!("article id {id:?} must be 1 to 100 of ASCII letters, digits, '-', '_', '.', ':'"),
        ));
    }
    let title = string("title", true)?.unwrap_or_default().trim().to_owned();
    let n_title = title.chars().count();
    if n_title == 0 || n_title > MAX_ARTICLE_TITLE_CHARS {
        return Err((
            "title",
            format!("`title` must be 1 to {MAX_ARTICLE_TITLE_CHARS} characters, got {n_title}"),
        ));
    }
    let body = string("body", false)?.unwrap_or_default().trim().to_owned();
    let n_body = body.chars().count();
    if n_body > MAX_ARTICLE_BODY_CHARS {
        return Err((
            "body",
            format!("`body` is {n_body} characters; the limit is {MAX_ARTICLE_BODY_CHARS}"),
        ));
    }
    let questions = match object.get("questions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_ARTICLE_QUESTIONS {
                return Err((
                    "questions",
                    format!(
                        "at most {MAX_ARTICLE_QUESTIONS} questions per article, got {}",
                        items.len()
                    ),
                ));
            }
            let mut questions = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(q) if !q.trim().is_empty() => questions.push(q.trim().to_owned()),
                    Value::String(_) => {}
                    _ => return Err(("questions", "`questions` must be an array of strings".into())),
                }
            }
            questions
        }
        Some(_) => return Err(("questions", "`questions` must be an array of strings".into())),
    };
    let url = string("url", false)?;
    if let Some(url) = &url {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) || url.chars().any(char::is_whitespace) {
            return Err(("url", format!("`url` {url:?} must be an absolute http(s) URL")));
        }
    }
    Ok(Article {
        id,
        title,
        body,
        questions,
        url,
    })
}

/// The part of an article the bot says in the chat: its first paragraphs, up to about
/// `max_chars`, cut at a sentence or word boundary. The link carries the rest.
pub fn answer_excerpt(article: &Article, max_chars: usize) -> String {
    if article.body.is_empty() {
        return article.title.clone();
    }
    let mut excerpt = String::new();
    for paragraph in article.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let separator = if excerpt.is_empty() { 0 } else { 2 };
        if excerpt.chars().count() + separator + paragraph.chars().count() <= max_chars {
            if separator > 0 {
                excerpt.push_str("\n\n");
            }
            excerpt.push_str(paragraph);
        } else {
            if excerpt.is_empty() {
                excerpt = cut(paragraph, max_chars);
            }
            break;
        }
    }
    excerpt
}

fn cut(paragraph: &str, max_chars: usize) -> String {
    let prefix: String = paragraph.chars().take(max_chars).collect();
    if let Some(end) = prefix.rfind(". ") {
        return prefix[..=end].to_owned();
    }
    match prefix.rfind(' ') {
        Some(end) => format!("{}…", &prefix[..end]),
        None => format!("{prefix}…"),
    }
}

/// A quick article for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn test_article(id: &str, title: &str, body: &str, questions: &[&str]) -> Article {
    Article {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        questions: questions.iter().map(|q| q.to_string()).collect(),
        url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_evaluation_format() {
        let text = concat!(
            r#"{"id": "faq-0", "title": "Strikethrough", "body": "Use ~~tildes~~.", "questions": []}"#,
            "\n",
            "\n",
            r#"{"id": "reset", "title": "Reset your password", "body": "", "questions": ["forgot password", "  "], "url": "https://help.example.com/reset"}"#,
            "\n",
        );
        let articles = parse_jsonl(text).unwrap();
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[1].questions, vec!["forgot password"]);
        assert_eq!(articles[1].url.as_deref(), Some("https://help.example.com/reset"));
    }

    #[track_caller]
    fn check_error(text: &str, line: usize, field: Option<&str>, message_start: &str) {
        let error = parse_jsonl(text).unwrap_err();
        assert_eq!((error.line, error.field.as_deref()), (line, field), "{error}");
        assert!(error.message.starts_with(message_start), "{error}");
    }

    #[test]
    fn errors_name_line_and_field() {
        let ok = r#"{"id":"a","title":"A"}"#;
        check_error(&format!("{ok}\n{{\"id\":"), 2, None, "not valid JSON");
        check_error(&format!("{ok}\n[1]"), 2, None, "each line must be a JSON object");
        check_error(&format!("{ok}\n{{\"title\":\"B\"}}"), 2, Some("id"), "`id` is required");
        check_error(&format!("{ok}\n{ok}"), 2, Some("id"), "duplicate article id");
        check_error(r#"{"id":"a","title":""}"#, 1, Some("title"), "`title` must be 1 to");
        check_error(
            r#"{"id":"a","title":"A","questions":"q"}"#,
            1,
            Some("questions"),
            "`questions` must be an array",
        );
        check_error(
            r#"{"id":"a","title":"A","url":"javascript:alert(1)"}"#,
            1,
            Some("url"),
            "`url`",
        );
        check_error(r#"{"id":"a b","title":"A"}"#, 1, Some("id"), "article id");
    }

    #[test]
    fn excerpts() {
        let article = |body: &str| Article {
            id: "a".into(),
            title: "Title".into(),
            body: body.into(),
            questions: vec![],
            url: None,
        };
        assert_eq!(answer_excerpt(&article(""), 50), "Title");
        assert_eq!(
            answer_excerpt(&article("One.\n\nTwo.\n\nThree is long enough to be cut."), 12),
            "One.\n\nTwo."
        );
        assert_eq!(
            answer_excerpt(&article("First sentence here. Second sentence is longer."), 30),
            "First sentence here."
        );
        assert_eq!(
            answer_excerpt(&article("averyveryverylongword and more"), 10),
            "averyveryv…"
        );
    }
}
