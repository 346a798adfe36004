//! The product's documented limits, in one place so the edge, the widget and the API reference
//! agree. Each one is a promise to site owners: change it here and in `docs/api.md` together.

/// Longest visitor message, in Unicode scalar values (what a person would call characters).
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// Largest JSON request body the public API reads, in bytes. A maximal message (2,000
/// four-byte characters) plus its envelope fits.
pub const MAX_JSON_BODY_BYTES: usize = 16 * 1024;

/// Largest knowledge-base upload (`PUT /v1/sites/{site}/articles`), in bytes.
pub const MAX_ARTICLES_UPLOAD_BYTES: usize = 4 * 1024 * 1024;

/// Most articles one site may hold.
pub const MAX_ARTICLES: usize = 2_000;

/// Longest article title, in characters.
pub const MAX_ARTICLE_TITLE_CHARS: usize = 300;

/// Longest article body, in characters.
pub const MAX_ARTICLE_BODY_CHARS: usize = 20_000;

/// Most example questions per article.
pub const MAX_ARTICLE_QUESTIONS: usize = 500;

/// How long a visitor's session token is good for, in seconds (30 days). The widget renews its
/// token once it is past half this age, so a visitor who comes back within a month keeps their
/// conversation.
pub const SESSION_TTL_SECS: u64 = 30 * 24 * 60 * 60;

/// Visitor messages a conversation accepts in a burst before rate limiting starts.
pub const RATE_BURST_MESSAGES: u32 = 10;

/// Sustained visitor message rate per conversation once the burst is spent: one message per this
/// many milliseconds (20 a minute).
pub const RATE_REFILL_MS_PER_MESSAGE: u64 = 3_000;

/// Longest client-generated message id, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 64;

/// Most messages returned by one transcript request.
pub const MAX_TRANSCRIPT_MESSAGES: usize = 500;

/// Most allowed origins per site.
pub const MAX_ALLOWED_ORIGINS: usize = 20;
