//! HTML the edge serves to people: the whole transcript behind a signed link (for staff who
//! follow a Slack button or a webhook's `transcript_url`). Everything the customer or staff
//! wrote is escaped; the page loads nothing from anywhere (inline style only, served with a CSP
//! that allows nothing else).

use shared::wire::{Message, Role};

use crate::email::escape_html;

/// A standalone page showing `messages` of conversation `id`, oldest first.
pub fn transcript_page(id: &str, messages: &[Message]) -> String {
    let mut rows = String::new();
    for message in messages {
        let who = match message.role {
            Role::Visitor => "Customer",
            Role::Bot => "Bot",
            Role::Agent => "Staff",
        };
        rows.push_str(&format!(
            "<li class=\"{role}\"><p class=\"meta\">{who} · {channel} · <time>{at}</time></p><p class=\"text\">{text}</p></li>\n",
            role = who.to_lowercase(),
            channel = message.channel.as_str(),
            at = iso_time(message.at),
            text = escape_html(&message.text),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\">\
<title>Transcript {id}</title>\
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}\
ol{{list-style:none;padding:0}}li{{border-left:4px solid #6b7280;padding:.25rem .75rem;margin:.75rem 0}}\
li.customer{{border-color:#1d4ed8}}li.staff{{border-color:#047857}}\
.meta{{margin:0;font-size:.85rem;color:#4b5563}}.text{{margin:.25rem 0;white-space:pre-wrap}}</style>\
</head><body><h1>Conversation {id}</h1><p>{n} messages, times in UTC.</p><ol>\n{rows}</ol></body></html>\n",
        id = escape_html(id),
        n = messages.len(),
    )
}

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        shared::date::date_of_day(days),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::wire::Channel;

    #[test]
    fn the_page_escapes_what_people_wrote_and_dates_in_utc() {
        let message = Message {
            seq: 1,
            id: "q1".into(),
            role: Role::Visitor,
            text: "<script>alert(1)</script> & \"quotes\"".into(),
            at: 1_795_697_489_000,
            reply_to: None,
            bot: None,
            channel: Channel::Email,
            origin: None,
            helpful: None,
        };
        let page = transcript_page("c_<b>", &[message]);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
        assert!(page.contains("Conversation c_&lt;b&gt;"));
        assert!(page.contains("Customer · email · <time>2026-11-26 12:51:29</time>"));
        assert_eq!(iso_time(0), "1970-01-01 00:00:00");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
