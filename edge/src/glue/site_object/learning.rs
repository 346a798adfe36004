//! How a site's knowledge base learns: customers' "did that help?" votes on the questions they
//! asked (a phrasing joins its article's index while more said yes than no), and knowledge
//! proposals from staff resolutions (a phrasing for the article staff linked, or a new article
//! drafted from their reply) that wait for the site's approval. Every change rebuilds the index
//! a step at a time, as an upload does, so questions keep being answered meanwhile.

use std::cell::Cell;
use std::rc::Rc;

use serde::Deserialize;
use shared::article::Article;
use shared::index::{Index, IndexBuilder};
use shared::learning::{self, LearnedPhrasing, Proposal, Resolution, Teaching};
use shared::wire::ErrorCode;
use worker::SqlStorageValue;

use super::{ArticleRow, Knowledge, SiteObject, index_rows};
use crate::api_error::ApiError;
use crate::glue::http::{internal, now_ms, rows};

/// The tables, created with the site object's other migrations.
pub const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS learned (article TEXT NOT NULL, key TEXT NOT NULL, question TEXT NOT NULL, yes INTEGER NOT NULL DEFAULT 0, no INTEGER NOT NULL DEFAULT 0, approved INTEGER NOT NULL DEFAULT 0, applied INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL, PRIMARY KEY (article, key))",
    "CREATE TABLE IF NOT EXISTS proposals (id TEXT PRIMARY KEY, conversation TEXT NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL, proposal TEXT NOT NULL)",
];

/// Articles written to the staged table a turn.
const ARTICLES_PER_WRITE: usize = 200;

/// The staged articles and index become the live ones, and the old ones take the staged tables'
/// place (emptied a turn later): renaming is the same work whatever the tables hold.
const SWAP_STAGED: [&str; 6] = [
    "ALTER TABLE articles RENAME TO articles_old",
    "ALTER TABLE articles_next RENAME TO articles",
    "ALTER TABLE articles_old RENAME TO articles_next",
    "ALTER TABLE index_chunks RENAME TO index_chunks_old",
    "ALTER TABLE index_chunks_next RENAME TO index_chunks",
    "ALTER TABLE index_chunks_old RENAME TO index_chunks_next",
];

/// Counts an index build as under way for as long as it lives, however the build ends.
struct Building<'a>(&'a Cell<u32>);

impl<'a> Building<'a> {
    fn new(count: &'a Cell<u32>) -> Self {
        count.set(count.get() + 1);
        Building(count)
    }
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

fn superseded() -> ApiError {
    ApiError::new(
        ErrorCode::Superseded,
        "a newer change to this site's articles arrived while this one was being indexed; the newer one is kept",
    )
}

/// How long votes gather before the index is rebuilt with them (seconds; the
/// `LEARNING_DELAY_SECS` variable), so a busy site rebuilds once for many votes.
const DEFAULT_LEARNING_DELAY_SECS: u64 = 300;

/// What a rebuild does to the site's own articles.
pub enum ArticleChange {
    /// An upload: these articles replace the site's.
    Replace(Vec<Article>),
    /// An approved proposal: one more article.
    Add(Article),
    /// Only the learned phrasings changed.
    Keep,
}

#[derive(Deserialize)]
struct LearnedRow {
    article: String,
    key: String,
    question: String,
    yes: i64,
    no: i64,
    approved: i64,
    applied: i64,
}

impl LearnedRow {
    fn phrasing(&self) -> LearnedPhrasing {
        LearnedPhrasing {
            article: self.article.clone(),
            question: self.question.clone(),
            yes: self.yes as u32,
            no: self.no as u32,
            approved: self.approved != 0,
        }
    }
}

#[derive(Deserialize)]
struct ProposalRow {
    proposal: String,
}

impl SiteObject {
    pub(super) fn learning_delay_ms(&self) -> u64 {
        self.env
            .var("LEARNING_DELAY_SECS")
            .ok()
            .and_then(|v| v.to_string().parse::<u64>().ok())
            .unwrap_or(DEFAULT_LEARNING_DELAY_SECS)
            * 1000
    }

    fn learned_rows(&self) -> Result<Vec<LearnedRow>, ApiError> {
        rows(
            &self.sql(),
            "SELECT article, key, question, yes, no, approved, applied FROM learned ORDER BY updated_at, article, key",
            None,
            "reading learned phrasings",
        )
    }

    /// Every learned phrasing, with its votes and whether the index has it.
    pub(super) fn learned(&self) -> Result<Vec<serde_json::Value>, ApiError> {
        Ok(self
            .learned_rows()?
            .iter()
            .map(|row| {
                let phrasing = row.phrasing();
                serde_json::json!({
                    "article": phrasing.article,
                    "question": phrasing.question,
                    "yes": phrasing.yes,
                    "no": phrasing.no,
                    "approved": phrasing.approved,
                    "in_index": row.applied != 0,
                })
            })
            .collect())
    }

    /// When the index should next be rebuilt for learned phrasings: the oldest change it does
    /// not have yet, plus the delay.
    pub(super) fn learning_due(&self) -> Result<Option<u64>, ApiError> {
        #[derive(Deserialize)]
        struct Due {
            due: Option<i64>,
        }
        let rows: Vec<Due> = rows(
            &self.sql(),
            "SELECT MIN(updated_at) AS due FROM learned WHERE applied != (approved != 0 OR yes > no)",
            None,
            "reading learned phrasings",
        )?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.due)
            .map(|at| at as u64 + self.learning_delay_ms()))
    }

    /// A customer's "did that help?" on the answer to `question`.
    pub(super) fn vote(&self, article: &str, question: &str, yes: bool) -> Result<(), ApiError> {
        let key = learning::phrasing_key(question);
        if key.is_empty() || self.articles()?.iter().all(|a| a.id != article) {
            return Ok(());
        }
        let column = if yes { "yes" } else { "no" };
        self.sql()
            .exec(
                &format!(
                    "INSERT INTO learned (article, key, question, {column}, updated_at) VALUES (?, ?, ?, 1, ?)
                     ON CONFLICT (article, key) DO UPDATE SET {column} = {column} + 1, updated_at = excluded.updated_at"
                ),
                vec![
                    article.into(),
                    key.into(),
                    question.trim().into(),
                    SqlStorageValue::from(now_ms() as i64),
                ],
            )
            .map_err(|e| internal("counting a vote", e))?;
        Ok(())
    }

    /// The site's own articles, as stored.
    pub(super) fn stored_articles(&self) -> Result<Vec<Article>, ApiError> {
        let rows: Vec<ArticleRow> = self
            .sql()
            .exec("SELECT article FROM articles ORDER BY position", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading articles", e))?;
        rows.iter()
            .map(|row| serde_json::from_str(&row.article))
            .collect::<Result<Vec<Article>, _>>()
            .map_err(|e| internal("stored article", e))
    }

    /// Builds the index from the site's articles (changed as `change` says) with their learned
    /// phrasings, a step at a time, then stages articles and index beside the live ones and swaps
    /// them in with one atomic write. Returns the number of articles.
    pub(super) async fn rebuild(&self, change: ArticleChange) -> Result<usize, ApiError> {
        let articles = match change {
            ArticleChange::Replace(articles) => articles,
            ArticleChange::Add(article) => {
                let mut articles = self.stored_articles()?;
                articles.push(article);
                articles
            }
            ArticleChange::Keep => self.stored_articles()?,
        };
        let _building = Building::new(&self.rebuilds);
        let rows = self.learned_rows()?;
        let phrasings: Vec<LearnedPhrasing> = rows.iter().map(LearnedRow::phrasing).collect();
        let upload = self.uploads.get() + 1;
        self.uploads.set(upload);
        let merged = learning::with_learned(&articles, &phrasings);
        let mut builder = IndexBuilder::new(&merged);
        while !builder.step() {
            // Let waiting questions in: they are answered from the current index.
            worker::Delay::from(std::time::Duration::ZERO).await;
        }
        let index = builder.finish();
        self.stage(&articles, &index, upload).await?;
        // No await from here to the swap: the object commits these statements as one atomic
        // write, so storage never holds articles without their index, or half of either. The
        // staged tables become the live ones by renaming, whatever their size.
        if self.uploads.get() != upload {
            return Err(superseded());
        }
        let sql = self.sql();
        for statement in SWAP_STAGED {
            sql.exec(statement, None)
                .map_err(|e| internal("swapping in the new articles and index", e))?;
        }
        // What the index now has: votes that arrived while it was built wait for the next one.
        for (row, phrasing) in rows.iter().zip(&phrasings) {
            sql.exec(
                "UPDATE learned SET applied = ? WHERE article = ? AND key = ?",
                vec![
                    SqlStorageValue::from(i64::from(phrasing.wanted())),
                    row.article.clone().into(),
                    row.key.clone().into(),
                ],
            )
            .map_err(|e| internal("marking learned phrasings", e))?;
        }
        let n_articles = articles.len();
        self.knowledge.replace(Some(Rc::new(Knowledge {
            articles: Rc::new(articles),
            index,
        })));
        // The old articles and index, a turn later; a newer upload that has begun clears them
        // itself before it stages.
        worker::Delay::from(std::time::Duration::ZERO).await;
        if self.uploads.get() == upload
            && let Err(error) = self.clear_staged()
        {
            // The new articles are in; the next upload clears them before it stages.
            worker::console_error!("clearing the replaced articles: {error:?}");
        }
        Ok(n_articles)
    }

    /// Writes `articles` and their `index` into the staged tables beside the live ones, a batch
    /// a turn, yielding between batches so questions go on being answered (2,000 articles took
    /// 0.2 s in one write). Stops as soon as a newer upload has begun.
    async fn stage(&self, articles: &[Article], index: &Index, upload: u64) -> Result<(), ApiError> {
        let sql = self.sql();
        let overtaken = || self.uploads.get() != upload;
        if overtaken() {
            return Err(superseded());
        }
        // Whatever an interrupted upload left.
        self.clear_staged()?;
        for (batch, chunk) in articles.chunks(ARTICLES_PER_WRITE).enumerate() {
            for (i, article) in chunk.iter().enumerate() {
                let text = serde_json::to_string(article).map_err(|e| internal("article", e))?;
                let position = batch * ARTICLES_PER_WRITE + i;
                sql.exec(
                    "INSERT INTO articles_next (position, id, article) VALUES (?, ?, ?)",
                    vec![
                        SqlStorageValue::from(position as i64),
                        article.id.clone().into(),
                        text.into(),
                    ],
                )
                .map_err(|e| internal("storing an article", e))?;
            }
            worker::Delay::from(std::time::Duration::ZERO).await;
            if overtaken() {
                return Err(superseded());
            }
        }
        for (seq, chunk) in index_rows(&index.to_bytes()).enumerate() {
            self.insert_index_chunk("index_chunks_next", seq, chunk)?;
            worker::Delay::from(std::time::Duration::ZERO).await;
            if overtaken() {
                return Err(superseded());
            }
        }
        Ok(())
    }

    fn clear_staged(&self) -> Result<(), ApiError> {
        for table in ["articles_next", "index_chunks_next"] {
            self.sql()
                .exec(&format!("DELETE FROM {table}"), None)
                .map_err(|e| internal("clearing the staged articles", e))?;
        }
        Ok(())
    }

    /// Rebuilds the index if learned phrasings are due.
    pub(super) async fn learn_if_due(&self) -> Result<(), ApiError> {
        if self.learning_due()?.is_some_and(|due| due <= now_ms()) {
            self.rebuild(ArticleChange::Keep).await?;
        }
        Ok(())
    }

    fn proposal(&self, id: &str) -> Result<Option<Proposal>, ApiError> {
        let rows: Vec<ProposalRow> = rows(
            &self.sql(),
            "SELECT proposal FROM proposals WHERE id = ?",
            vec![id.into()],
            "reading a proposal",
        )?;
        rows.first()
            .map(|row| serde_json::from_str(&row.proposal))
            .transpose()
            .map_err(|e| internal("stored proposal", e))
    }

    fn write_proposal(&self, proposal: &Proposal) -> Result<(), ApiError> {
        let text = serde_json::to_string(proposal).map_err(|e| internal("proposal", e))?;
        self.sql()
            .exec(
                "INSERT OR REPLACE INTO proposals (id, conversation, state, created_at, proposal) VALUES (?, ?, ?, ?, ?)",
                vec![
                    proposal.id.clone().into(),
                    proposal.conversation.clone().into(),
                    proposal.state.clone().into(),
                    SqlStorageValue::from(proposal.created_at as i64),
                    text.into(),
                ],
            )
            .map_err(|e| internal("storing a proposal", e))?;
        Ok(())
    }

    /// Proposes what staff resolved as knowledge: the question as a phrasing of `article` (which
    /// must exist), or, without one, a new article drafted from the staff reply. A conversation
    /// has at most one pending proposal: resolving again replaces it.
    pub(super) fn propose(
        &self,
        conversation: &str,
        resolution: &Resolution,
        article: Option<&str>,
        at: u64,
    ) -> Result<Option<Proposal>, ApiError> {
        let articles = self.articles()?;
        let teaching = match (article, &resolution.reply) {
            (Some(id), _) => {
                if articles.iter().all(|a| a.id != id) {
                    return Err(ApiError::field("article", format!("this site has no article {id:?}")));
                }
                Teaching::Phrasing {
                    article: id.to_owned(),
                    question: resolution.question.clone(),
                }
            }
            (None, Some(reply)) => {
                let pending = self.proposals(Some("pending"))?;
                let taken = |id: &str| {
                    articles.iter().any(|a| a.id == id)
                        || pending
                            .iter()
                            .any(|p| matches!(&p.teaching, Teaching::Article { article } if article.id == id))
                };
                Teaching::Article {
                    article: learning::draft_article(&resolution.question, reply, taken),
                }
            }
            (None, None) => return Ok(None),
        };
        self.sql()
            .exec(
                "DELETE FROM proposals WHERE conversation = ? AND state = 'pending'",
                vec![conversation.into()],
            )
            .map_err(|e| internal("replacing a proposal", e))?;
        let proposal = Proposal {
            id: format!("kp-{at}-{}", conversation.chars().take(12).collect::<String>()),
            conversation: conversation.to_owned(),
            state: "pending".into(),
            created_at: at,
            decided_at: None,
            teaching,
        };
        self.write_proposal(&proposal)?;
        Ok(Some(proposal))
    }

    /// Proposals in `state` (all of them with `None`), oldest first.
    pub(super) fn proposals(&self, state: Option<&str>) -> Result<Vec<Proposal>, ApiError> {
        let rows: Vec<ProposalRow> = match state {
            Some(state) => self.sql().exec(
                "SELECT proposal FROM proposals WHERE state = ? ORDER BY created_at, id",
                vec![state.into()],
            ),
            None => self
                .sql()
                .exec("SELECT proposal FROM proposals ORDER BY created_at, id", None),
        }
        .and_then(|c| c.to_array())
        .map_err(|e| internal("reading proposals", e))?;
        rows.iter()
            .map(|row| serde_json::from_str(&row.proposal))
            .collect::<Result<Vec<Proposal>, _>>()
            .map_err(|e| internal("stored proposal", e))
    }

    /// Approves (the index learns it at once) or rejects a pending proposal.
    pub(super) async fn decide(&self, id: &str, approve: bool) -> Result<Proposal, ApiError> {
        let mut proposal = self
            .proposal(id)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no knowledge proposal {id:?}")))?;
        if proposal.state != "pending" {
            return Err(ApiError::new(
                ErrorCode::Superseded,
                format!("proposal {id:?} was already {}", proposal.state),
            ));
        }
        if approve {
            match &proposal.teaching {
                Teaching::Phrasing { article, question } => {
                    self.sql()
                        .exec(
                            "INSERT INTO learned (article, key, question, approved, updated_at) VALUES (?, ?, ?, 1, ?)
                             ON CONFLICT (article, key) DO UPDATE SET approved = 1, updated_at = excluded.updated_at",
                            vec![
                                article.clone().into(),
                                learning::phrasing_key(question).into(),
                                question.clone().into(),
                                SqlStorageValue::from(now_ms() as i64),
                            ],
                        )
                        .map_err(|e| internal("approving a phrasing", e))?;
                    self.rebuild(ArticleChange::Keep).await?;
                }
                Teaching::Article { article } => {
                    if self.stored_articles()?.iter().any(|a| a.id == article.id) {
                        return Err(ApiError::new(
                            ErrorCode::Superseded,
                            format!("the site has an article {:?} now; upload it instead", article.id),
                        ));
                    }
                    self.rebuild(ArticleChange::Add(article.clone())).await?;
                }
            }
        }
        proposal.state = if approve { "approved" } else { "rejected" }.into();
        proposal.decided_at = Some(now_ms());
        self.write_proposal(&proposal)?;
        Ok(proposal)
    }
}
