//! `SiteObject`: one Durable Object per site, holding its configuration and knowledge base in
//! SQLite, and the knowledge index built from them in memory (a cache: rebuilt after the object
//! is evicted or the articles change).

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use shared::answer::{self, AnswerConfig};
use shared::article::Article;
use shared::index::Index;
use shared::wire::ErrorCode;
use worker::{DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State, durable_object};

use super::http::{error_response, internal, json};
use crate::api_error::ApiError;
use crate::internal::{AnswerReply, SiteCommand, SiteRecord};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS site (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    admin_key_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article TEXT NOT NULL
);";

struct Knowledge {
    articles: Vec<Article>,
    index: Index,
}

impl Knowledge {
    fn new(articles: Vec<Article>) -> Knowledge {
        let index = Index::build(&articles);
        Knowledge { articles, index }
    }
}

#[durable_object]
#[allow(missing_debug_implementations)] // Holds platform handles that have no Debug.
pub struct SiteObject {
    state: State,
    knowledge: RefCell<Option<Rc<Knowledge>>>,
}

impl DurableObject for SiteObject {
    fn new(state: State, _env: Env) -> Self {
        if let Err(error) = state.storage().sql().exec(SCHEMA, None) {
            worker::console_error!("SiteObject schema: {error}");
        }
        SiteObject {
            state,
            knowledge: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let result = match req.json::<SiteCommand>().await {
            Ok(command) => self.handle(command),
            Err(error) => Err(internal("SiteObject command", error)),
        };
        Ok(result.unwrap_or_else(|error| error_response(&error)))
    }
}

#[derive(Deserialize)]
struct SiteRow {
    id: String,
    name: String,
    allowed_origins: String,
    admin_key_hash: String,
}

#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

#[derive(Deserialize)]
struct ArticleRow {
    article: String,
}

impl SiteObject {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn handle(&self, command: SiteCommand) -> std::result::Result<Response, ApiError> {
        match command {
            SiteCommand::Create {
                id,
                name,
                allowed_origins,
                admin_key_hash,
            } => {
                if self.record()?.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::SiteExists,
                        format!("a site named {id:?} already exists"),
                    ));
                }
                let origins = serde_json::to_string(&allowed_origins).map_err(|e| internal("origins", e))?;
                let now = super::http::now_ms() as i64;
                self.sql()
                    .exec(
                        "INSERT INTO site (id, name, allowed_origins, admin_key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                        vec![id.into(), name.into(), origins.into(), admin_key_hash.into(), SqlStorageValue::from(now)],
                    )
                    .map_err(|e| internal("creating a site", e))?;
                json(201, &self.existing()?)
            }
            SiteCommand::Get => json(200, &self.existing()?),
            SiteCommand::Update { name, allowed_origins } => {
                self.existing()?;
                if let Some(name) = name {
                    self.sql()
                        .exec("UPDATE site SET name = ?", vec![name.into()])
                        .map_err(|e| internal("updating a site", e))?;
                }
                if let Some(origins) = allowed_origins {
                    let origins = serde_json::to_string(&origins).map_err(|e| internal("origins", e))?;
                    self.sql()
                        .exec("UPDATE site SET allowed_origins = ?", vec![origins.into()])
                        .map_err(|e| internal("updating a site", e))?;
                }
                json(200, &self.existing()?)
            }
            SiteCommand::SetAdminKey { admin_key_hash } => {
                self.existing()?;
                self.sql()
                    .exec("UPDATE site SET admin_key_hash = ?", vec![admin_key_hash.into()])
                    .map_err(|e| internal("rotating an admin key", e))?;
                json(200, &self.existing()?)
            }
            SiteCommand::PutArticles { articles } => {
                self.existing()?;
                // No await between these statements: the object commits them as one atomic
                // write, so a failed upload never leaves half a knowledge base.
                let sql = self.sql();
                sql.exec("DELETE FROM articles", None)
                    .map_err(|e| internal("replacing articles", e))?;
                for (position, article) in articles.iter().enumerate() {
                    let text = serde_json::to_string(article).map_err(|e| internal("article", e))?;
                    sql.exec(
                        "INSERT INTO articles (position, id, article) VALUES (?, ?, ?)",
                        vec![
                            SqlStorageValue::from(position as i64),
                            article.id.clone().into(),
                            text.into(),
                        ],
                    )
                    .map_err(|e| internal("storing an article", e))?;
                }
                // Build the new index now, from the articles in hand, so no visitor's question
                // waits for it (after an eviction the first question rebuilds it from storage).
                let n_articles = articles.len();
                self.knowledge.replace(Some(Rc::new(Knowledge::new(articles))));
                json(200, &shared::wire::ArticlesResponse { n_articles })
            }
            SiteCommand::GetArticles => {
                self.existing()?;
                json(200, &self.knowledge()?.articles)
            }
            SiteCommand::Answer { question } => {
                let knowledge = self.knowledge()?;
                let config = AnswerConfig::default();
                let decision = answer::decide(&knowledge.index, &question, &config);
                let reply = answer::reply(&decision, &knowledge.articles, &config);
                json(
                    200,
                    &AnswerReply {
                        text: reply.text,
                        detail: reply.detail,
                    },
                )
            }
        }
    }

    fn record(&self) -> std::result::Result<Option<SiteRecord>, ApiError> {
        let rows: Vec<SiteRow> = self
            .sql()
            .exec(
                "SELECT id, name, allowed_origins, admin_key_hash FROM site LIMIT 1",
                None,
            )
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading a site", e))?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let count: CountRow = self
            .sql()
            .exec("SELECT COUNT(*) AS n FROM articles", None)
            .and_then(|cursor| cursor.one())
            .map_err(|e| internal("counting articles", e))?;
        Ok(Some(SiteRecord {
            id: row.id,
            name: row.name,
            allowed_origins: serde_json::from_str(&row.allowed_origins).map_err(|e| internal("stored origins", e))?,
            admin_key_hash: row.admin_key_hash,
            n_articles: count.n as usize,
        }))
    }

    fn existing(&self) -> std::result::Result<SiteRecord, ApiError> {
        self.record()?
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownSite, "no site with this id exists"))
    }

    fn knowledge(&self) -> std::result::Result<Rc<Knowledge>, ApiError> {
        if let Some(knowledge) = self.knowledge.borrow().as_ref() {
            return Ok(Rc::clone(knowledge));
        }
        let rows: Vec<ArticleRow> = self
            .sql()
            .exec("SELECT article FROM articles ORDER BY position", None)
            .and_then(|cursor| cursor.to_array())
            .map_err(|e| internal("reading articles", e))?;
        let articles = rows
            .iter()
            .map(|row| serde_json::from_str(&row.article))
            .collect::<std::result::Result<Vec<Article>, _>>()
            .map_err(|e| internal("stored article", e))?;
        let knowledge = Rc::new(Knowledge::new(articles));
        self.knowledge.replace(Some(Rc::clone(&knowledge)));
        Ok(knowledge)
    }
}
