//! The new text of an email reply: what the customer wrote this time, without the quoted
//! history their mail client appended or their signature. Works on plain text (an HTML-only
//! message is converted to text first).
//!
//! Rules, in order, for each line:
//! - an original-message separator (Outlook's `-----Original Message-----`, a rule of
//!   underscores, a `From:`/`Sent:` header block, a forwarded-message marker) ends the new text:
//!   what follows is the old message, quoted or not;
//! - a reply header (`On … wrote:` and its German, French, Spanish, Dutch, Portuguese, Italian and
//!   Russian forms, or a date-first one, possibly wrapped over up to three lines, followed by a
//!   quote) and `>`-quoted lines are dropped, but text
//!   after a quoted block is kept (replies written between or below the quotes);
//! - a signature (a `-- ` delimiter line, `__`, a line starting `-Name` near the end, "Sent from
//!   my iPhone"-style device lines) ends what is kept of that stretch.

/// Lines in which a wrapped reply header may end with "wrote:".
const HEADER_WRAP_LINES: usize = 3;

/// Endings of reply headers ("On <date>, <who> wrote:") in the languages we see most.
const WROTE: [&str; 9] = [
    "wrote:",
    "schrieb:",
    "a écrit :",
    "a écrit:",
    "escribió:",
    "schreef:",
    "escreveu:",
    "ha scritto:",
    "написал:",
];

/// Starts of reply headers, for the same languages.
const ON: [&str; 9] = ["On ", "Am ", "Le ", "El ", "Op ", "Em ", "Il ", "Den ", "В "];

/// The new text of `body`, trimmed. Empty if the reply added nothing.
pub fn new_text(body: &str) -> String {
    let text = body.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if is_separator(&lines, i) {
            break;
        }
        if let Some(end) = reply_header_end(&lines, i) {
            i = end + 1;
            continue;
        }
        if trimmed.starts_with('>') {
            i += 1;
            continue;
        }
        kept.push(line);
        i += 1;
    }
    let kept = strip_signature(&kept);
    kept.join("\n").trim().to_owned()
}

/// Whether line `i` begins the original message (everything after it is old).
fn is_separator(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let bare = line.trim_matches('*').trim();
    if line.contains("Original Message") && line.starts_with("--") {
        return true;
    }
    if line.starts_with("---------- Forwarded message") || line.starts_with("Begin forwarded message") {
        return true;
    }
    if line.len() >= 20 && line.chars().all(|c| c == '_') {
        return true;
    }
    // A header block of the quoted message: "From: …" (or "*From:* …") with "Sent:"/"Date:"
    // within the next few lines.
    let is_from = bare.starts_with("From:") || line.starts_with("*From:*");
    if is_from {
        return lines.iter().skip(i + 1).take(4).any(|next| {
            let next = next.trim().trim_start_matches('*');
            next.starts_with("Sent:") || next.starts_with("Date:") || next.starts_with("Sent:*")
        });
    }
    // A dashed rule right above such a header block.
    if line.len() >= 10 && line.chars().all(|c| c == '-') {
        return lines.get(i + 1..).is_some_and(|rest| {
            rest.iter()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim().trim_start_matches('*').starts_with("From:"))
        });
    }
    false
}

/// If a reply header ("On … wrote:") starts at line `i`, the index of its last line.
fn reply_header_end(lines: &[&str], i: usize) -> Option<usize> {
    // A header starts "On …", or with the date ("02.04.2012 14:20 …", Android), or is one line.
    let first = lines[i].trim_start();
    let starts = ON.iter().any(|on| first.starts_with(on))
        || first.starts_with(|c: char| c.is_ascii_digit())
        || WROTE.iter().any(|w| first.trim_end().ends_with(w));
    if !starts {
        return None;
    }
    let mut joined = String::new();
    for (offset, line) in lines.iter().skip(i).take(HEADER_WRAP_LINES).enumerate() {
        if offset > 0 && line.trim().is_empty() {
            return None;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line.trim());
        if WROTE.iter().any(|w| joined.ends_with(w)) {
            // What follows must be quoted (or nothing): "On your remote host you can run:" is not
            // a header.
            let next = lines.iter().skip(i + offset + 1).find(|l| !l.trim().is_empty());
            return match next {
                None => Some(i + offset),
                Some(next) if next.trim_start().starts_with('>') => Some(i + offset),
                Some(_) => None,
            };
        }
    }
    None
}

/// `lines` up to where a signature starts.
fn strip_signature<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let content: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].trim().is_empty()).collect();
    let near_end = |i: usize| content.iter().rev().take(3).any(|&c| c == i);
    for (i, line) in lines.iter().enumerate() {
        let trimmed_end = line.trim_end();
        if trimmed_end == "--" || *line == "-- " || trimmed_end == "__" {
            return lines[..i].to_vec();
        }
        let trimmed = line.trim();
        let dash_name = trimmed.starts_with('-')
            && trimmed.chars().nth(1).is_some_and(char::is_alphabetic)
            && trimmed.split_whitespace().count() <= 3;
        if dash_name && near_end(i) {
            return lines[..i].to_vec();
        }
        if is_device_line(trimmed) && content.last() == Some(&i) {
            return lines[..i].to_vec();
        }
    }
    lines.to_vec()
}

/// "Sent from my iPhone", "Sent from my Samsung Galaxy smartphone", "Get Outlook for iOS", …
fn is_device_line(line: &str) -> bool {
    let lower = line.to_lowercase();
    let device = lower
        .strip_prefix("sent from my ")
        .or_else(|| lower.strip_prefix("sent from "))
        .or_else(|| lower.strip_prefix("get outlook for "));
    device.is_some_and(|rest| {
        let words = rest.split_whitespace().count();
        (1..=5).contains(&words)
            && rest
                .chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || c == '®' || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::new_text;

    /// Samples from github/email_reply_parser's test suite (MIT), in
    /// `tests/fixtures/email/replies-github/`, with the new text its tests expect.
    fn github(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/email/replies-github/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn top_posted_replies_keep_only_the_new_text() {
        assert_eq!(new_text(&github("email_2_1")), "Outlook with a reply");
        assert_eq!(
            new_text(&github("email_2_2")),
            "Outlook with a reply directly above line"
        );
        assert_eq!(
            new_text(&github("email_2_3")),
            "Outlook with a reply directly above line"
        );
        assert!(new_text(&github("email_1_3")).starts_with("Oh thanks.\n\nHaving"));
        assert!(new_text(&github("email_1_4")).starts_with("Awesome"));
        assert!(!new_text(&github("email_1_4")).contains("Loader"));
        let multiline_header = new_text(&github("email_1_6"));
        assert!(multiline_header.starts_with("I get"));
        assert!(!multiline_header.contains("Was this"), "{multiline_header}");
        let windows = new_text(&github("email_1_7"));
        assert!(windows.contains(":+1:") && !windows.contains("Steps 0-2"), "{windows}");
        let one = new_text(&github("email_one_is_not_on"));
        assert!(
            one.contains("One outstanding question") && !one.contains("Dave Tapley"),
            "{one}"
        );
    }

    #[test]
    fn signatures_and_device_lines_go() {
        assert_eq!(
            new_text(&github("email_1_1")),
            "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after \nrunning a test?\nI am currently using the Java HTTP API."
        );
        for name in [
            "email_iPhone",
            "email_BlackBerry",
            "email_multi_word_sent_from_my_mobile_device",
        ] {
            assert_eq!(new_text(&github(name)), "Here is another email", "{name}");
        }
        assert_eq!(
            new_text(&github("email_sent_from_my_not_signature")),
            "Here is another email\n\nSent from my desk, is much easier then my mobile phone."
        );
        assert!(new_text(&github("correct_sig")).ends_with("this is an email with a correct -- signature."));
        let mid = new_text(&github("email_sig_delimiter_in_middle_of_line"));
        assert!(mid.ends_with("kthxbai"), "a -- inside a line is not a signature: {mid}");
        assert!(new_text(&github("email_bullets")).ends_with("   - how about bullets\n   - and another"));
    }

    #[test]
    fn answers_below_or_between_quotes_are_kept() {
        let bottom = new_text(&github("email_1_2"));
        assert!(bottom.starts_with("Hi,"), "{bottom}");
        assert!(bottom.contains("You can list the keys"), "{bottom}");
        assert!(!bottom.contains("Java HTTP API"), "quoted lines go: {bottom}");
        let inline = new_text(&github("email_1_8"));
        assert!(
            inline.contains("I will reply") && inline.contains("and under this."),
            "{inline}"
        );
        assert!(!inline.contains("Hey there, this is my signature"));
        let greedy = new_text(&github("greedy_on"));
        assert!(
            greedy.starts_with("On your remote host"),
            "not every 'On' starts a header"
        );
        assert!(!greedy.contains("George Plymale"));
    }

    #[test]
    fn long_and_pathological_inputs_finish() {
        assert!(new_text(&github("pathological")).len() < github("pathological").len());
        let long_quote = format!("Thanks!\n\nOn Mon, Ada wrote:\n{}", "> quoted line\n".repeat(50_000));
        assert_eq!(new_text(&long_quote), "Thanks!");
        assert_eq!(new_text("Here’s a test."), "Here’s a test.");
        assert_eq!(new_text(""), "");
        assert_eq!(new_text("> only a quote"), "");
    }
}
