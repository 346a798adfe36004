//! What the worker and its Durable Objects say to each other. Not public API: both ends ship in
//! the same build, so these can change freely.

use serde::{Deserialize, Serialize};
use shared::article::Article;
use shared::wire::{BotDetail, SiteView};

/// A site as stored in its `SiteObject`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct SiteRecord {
    pub id: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub admin_key_hash: String,
    pub n_articles: usize,
}

impl SiteRecord {
    pub fn view(&self) -> SiteView {
        SiteView {
            id: self.id.clone(),
            name: self.name.clone(),
            allowed_origins: self.allowed_origins.clone(),
            n_articles: self.n_articles,
        }
    }
}

/// `SiteObject` commands.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SiteCommand {
    Create {
        id: String,
        name: String,
        allowed_origins: Vec<String>,
        admin_key_hash: String,
    },
    Get,
    Update {
        name: Option<String>,
        allowed_origins: Option<Vec<String>>,
    },
    SetAdminKey {
        admin_key_hash: String,
    },
    PutArticles {
        articles: Vec<Article>,
    },
    GetArticles,
    Answer {
        question: String,
    },
}

/// `SiteObject`'s reply to `Answer`: what the bot should say.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct AnswerReply {
    pub text: String,
    pub detail: BotDetail,
}

/// `ConversationObject` `/messages`: a visitor message the worker has already validated.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct SendCommand {
    pub id: String,
    pub text: String,
}

/// `ConversationObject` `/handoff`: the visitor asks for a person.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct HandoffCommand {
    pub id: String,
}

/// Who a conversation belongs to; the worker vouches for it after checking the session token.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct ConversationKey {
    pub site: String,
    pub visitor: String,
}

impl ConversationKey {
    /// The Durable Object name: one conversation object per visitor per site.
    pub fn object_name(&self) -> String {
        format!("{}/{}", self.site, self.visitor)
    }
}
