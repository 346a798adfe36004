//! Phone calls through Twilio Voice: reading the parameters Twilio posts to a voice webhook
//! (<https://www.twilio.com/docs/voice/twiml#request-parameters>; signed like SMS, see
//! [`crate::sms::verify`]), writing the TwiML we answer with
//! (<https://www.twilio.com/docs/voice/twiml>), and turning a written answer into something
//! that sounds right read aloud (no addresses, no markdown, a few sentences).

use crate::identity::normalize_phone;

/// Longest answer read aloud, in characters (about 20 seconds of speech).
pub const MAX_SPOKEN_CHARS: usize = 320;

/// What Twilio posted about a call. Which fields are present depends on the callback: the first
/// request of a call, a `<Gather>` result, a `<Dial>` outcome, a recording's transcription, or
/// the call's final status.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CallRequest {
    /// `CA` and 32 hex digits: the same for every request about one call.
    pub call_sid: String,
    /// The caller, E.164; `None` when the number is withheld or not a phone number.
    pub from: Option<String>,
    /// The number called (the site's), E.164.
    pub to: String,
    /// `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, `failed`, `canceled`.
    pub status: Option<String>,
    /// What the caller said, as Twilio's speech recognition heard it.
    pub speech: Option<String>,
    /// Twilio's confidence in `speech`, 0 to 1.
    pub confidence: Option<f32>,
    /// Keys pressed.
    pub digits: Option<String>,
    /// Length of the whole call in seconds (final status).
    pub duration_secs: Option<u64>,
    /// How a `<Dial>` to a person ended: `completed`, `answered`, `busy`, `no-answer`, `failed`,
    /// `canceled`.
    pub dial_status: Option<String>,
    /// A recording (a voicemail or the transferred call), referenced, never copied.
    pub recording_url: Option<String>,
    /// A voicemail's transcription.
    pub transcription: Option<String>,
}

/// Reads Twilio's parameters; the error names the one missing or wrong.
pub fn parse(params: &[(String, String)]) -> Result<CallRequest, (&'static str, String)> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let call_sid = get("CallSid").ok_or(("CallSid", "Twilio's call id is missing".to_owned()))?;
    if !(call_sid.len() == 34 && call_sid.starts_with("CA") && call_sid[2..].bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(("CallSid", "`CallSid` is CA followed by 32 hex digits".to_owned()));
    }
    let to = get("To").ok_or(("To", "the number called is missing".to_owned()))?;
    let to = normalize_phone(&to).map_err(|why| ("To", why))?;
    Ok(CallRequest {
        call_sid,
        // Withheld numbers arrive as `anonymous`, `restricted` or a carrier placeholder.
        from: get("From").and_then(|from| normalize_phone(&from).ok()),
        to,
        status: get("CallStatus"),
        speech: get("SpeechResult"),
        confidence: get("Confidence").and_then(|c| c.parse().ok()),
        digits: get("Digits"),
        duration_secs: get("CallDuration").and_then(|d| d.parse().ok()),
        dial_status: get("DialCallStatus"),
        recording_url: get("RecordingUrl").filter(|url| url.starts_with("https://")),
        transcription: get("TranscriptionText"),
    })
}

/// What the caller asked for besides a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// "Text me that", or 1: send the last answer's article by SMS.
    TextMe,
    /// "No, that's all", "bye", or 9: end the call.
    Done,
    /// 0: a person (spoken requests for a person go through the site's escalation rules).
    Person,
    /// Anything else: a question.
    Question,
}

/// Reads what the caller said (or pressed) after an answer.
pub fn intent(speech: Option<&str>, digits: Option<&str>) -> Intent {
    match digits.map(str::trim) {
        Some("1") => return Intent::TextMe,
        Some("9") => return Intent::Done,
        Some("0") => return Intent::Person,
        _ => {}
    }
    let Some(speech) = speech else {
        return Intent::Done;
    };
    let words: String = speech
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
        .collect();
    let words: Vec<&str> = words.split_whitespace().collect();
    let has = |phrase: &[&str]| words.windows(phrase.len()).any(|w| w == phrase);
    if has(&["text", "me"]) || has(&["send", "it"]) || has(&["send", "me"]) || has(&["by", "text"]) || has(&["sms"]) {
        return Intent::TextMe;
    }
    // A closing: nothing but words like these ("no, that's all, thanks", "bye").
    const CLOSING: [&str; 20] = [
        "no", "nope", "thanks", "thank", "you", "that's", "that", "is", "all", "bye", "goodbye", "nothing", "else",
        "i'm", "im", "good", "fine", "ok", "okay", "great",
    ];
    if !words.is_empty() && words.iter().all(|w| CLOSING.contains(w)) {
        return Intent::Done;
    }
    Intent::Question
}

/// `text` as it should be read aloud: links keep their words and lose their addresses, bare
/// URLs and markdown marks go, whitespace collapses, and it ends at a sentence boundary within
/// `max_chars` (a single long sentence is cut at a word, with no ellipsis read out).
pub fn spoken(text: &str, max_chars: usize) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    // Markdown links: `[words](address)` becomes `words`.
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        plain.push_str(&rest[..open]);
        plain.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    // A bare address is not read out letter by letter: it becomes "our website" (the caller can
    // have the article texted to them).
    let words: Vec<String> = plain
        .split_whitespace()
        .map(|w| {
            let bare = w.trim_end_matches(['.', ',', ';', ':', ')']);
            if bare.starts_with("http://") || bare.starts_with("https://") || bare.starts_with("www.") {
                format!("our website{}", &w[bare.len()..])
            } else {
                w.trim_matches(|c| matches!(c, '*' | '_' | '`' | '#' | '>')).to_owned()
            }
        })
        .filter(|w| !w.is_empty() && !w.chars().all(|c| matches!(c, '-' | '|' | '=')))
        .collect();
    let plain = words.join(" ");
    if plain.chars().count() <= max_chars {
        return plain;
    }
    let prefix: String = plain.chars().take(max_chars).collect();
    let sentence_end = prefix
        .char_indices()
        .filter(|&(i, c)| matches!(c, '.' | '!' | '?') && prefix[i + c.len_utf8()..].starts_with(' '))
        .map(|(i, c)| i + c.len_utf8())
        .next_back();
    match sentence_end {
        Some(end) if end > max_chars / 3 => prefix[..end].to_owned(),
        _ => match prefix.rfind(' ') {
            Some(end) => format!("{}.", prefix[..end].trim_end_matches([',', ';', ':'])),
            None => prefix,
        },
    }
}

/// One TwiML verb.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// Text read aloud in `language` (a BCP 47 tag such as `en-US`).
    Say {
        text: String,
        language: String,
    },
    /// Listens for speech (and keys), reading `prompt` meanwhile, and posts what it heard to
    /// `action`. With nothing heard, TwiML goes on to the next verb.
    Gather {
        action: String,
        language: String,
        prompt: String,
        /// Seconds of silence before it gives up.
        timeout_secs: u32,
    },
    /// Connects the caller to `number`; posts the outcome to `action`.
    Dial {
        number: String,
        action: String,
        caller_id: Option<String>,
        record: bool,
        timeout_secs: u32,
    },
    /// Records a message (`max_secs` at most, ends on `#`), posts it to `action` and, when
    /// transcribed, to `transcribe_callback`.
    Record {
        action: String,
        transcribe_callback: String,
        max_secs: u32,
    },
    Hangup,
}

/// A TwiML `<Response>` of `verbs`, every attribute and text escaped.
pub fn twiml(verbs: &[Verb]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    for verb in verbs {
        match verb {
            Verb::Say { text, language } => {
                xml.push_str(&format!(
                    "<Say language=\"{}\">{}</Say>",
                    escape(language),
                    escape(text)
                ));
            }
            Verb::Gather {
                action,
                language,
                prompt,
                timeout_secs,
            } => {
                xml.push_str(&format!(
                    "<Gather input=\"speech dtmf\" action=\"{}\" method=\"POST\" language=\"{}\" speechTimeout=\"auto\" timeout=\"{timeout_secs}\" numDigits=\"1\"><Say language=\"{}\">{}</Say></Gather>",
                    escape(action),
                    escape(language),
                    escape(language),
                    escape(prompt)
                ));
            }
            Verb::Dial {
                number,
                action,
                caller_id,
                record,
                timeout_secs,
            } => {
                let caller_id = caller_id
                    .as_ref()
                    .map(|id| format!(" callerId=\"{}\"", escape(id)))
                    .unwrap_or_default();
                let record = if *record {
                    " record=\"record-from-answer-dual\""
                } else {
                    ""
                };
                xml.push_str(&format!(
                    "<Dial action=\"{}\" method=\"POST\" timeout=\"{timeout_secs}\"{caller_id}{record}><Number>{}</Number></Dial>",
                    escape(action),
                    escape(number)
                ));
            }
            Verb::Record {
                action,
                transcribe_callback,
                max_secs,
            } => {
                xml.push_str(&format!(
                    "<Record action=\"{}\" method=\"POST\" maxLength=\"{max_secs}\" finishOnKey=\"#\" playBeep=\"true\" transcribe=\"true\" transcribeCallback=\"{}\"/>",
                    escape(action),
                    escape(transcribe_callback)
                ));
            }
            Verb::Hangup => xml.push_str("<Hangup/>"),
        }
    }
    xml.push_str("</Response>");
    xml
}

/// XML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const SID: &str = "CA0123456789abcdef0123456789abcdef";

    #[test]
    fn a_call_request_is_read_and_its_numbers_normalised() {
        let call = parse(&params(&[
            ("CallSid", SID),
            ("From", "+1 (415) 555-0100"),
            ("To", "+14155550199"),
            ("CallStatus", "in-progress"),
            ("SpeechResult", " How do I reset my password? "),
            ("Confidence", "0.91"),
        ]))
        .unwrap();
        assert_eq!(call.from.as_deref(), Some("+14155550100"));
        assert_eq!(call.to, "+14155550199");
        assert_eq!(call.speech.as_deref(), Some("How do I reset my password?"));
        assert_eq!(call.confidence, Some(0.91));
        assert_eq!(call.duration_secs, None);
    }

    #[test]
    fn a_withheld_caller_has_no_number_and_a_bad_request_names_its_field() {
        let call = parse(&params(&[
            ("CallSid", SID),
            ("From", "anonymous"),
            ("To", "+14155550199"),
        ]))
        .unwrap();
        assert_eq!(call.from, None);
        assert_eq!(parse(&params(&[("To", "+14155550199")])).unwrap_err().0, "CallSid");
        assert_eq!(
            parse(&params(&[("CallSid", "CA123"), ("To", "+14155550199")]))
                .unwrap_err()
                .0,
            "CallSid"
        );
        assert_eq!(parse(&params(&[("CallSid", SID)])).unwrap_err().0, "To");
        // A recording is referenced only at Twilio's own https address.
        let call = parse(&params(&[
            ("CallSid", SID),
            ("To", "+14155550199"),
            ("RecordingUrl", "http://evil.example/r"),
        ]))
        .unwrap();
        assert_eq!(call.recording_url, None);
    }

    #[test]
    fn what_the_caller_wants_after_an_answer() {
        assert_eq!(intent(Some("Can you text me that?"), None), Intent::TextMe);
        assert_eq!(intent(None, Some("1")), Intent::TextMe);
        assert_eq!(intent(Some("No, that's all."), None), Intent::Done);
        assert_eq!(intent(Some("Bye!"), None), Intent::Done);
        assert_eq!(intent(Some("I'm good, thank you"), None), Intent::Done);
        assert_eq!(intent(None, None), Intent::Done);
        assert_eq!(intent(None, Some("0")), Intent::Person);
        assert_eq!(intent(Some("no my card was charged twice"), None), Intent::Question);
        assert_eq!(intent(Some("how do refunds work"), None), Intent::Question);
    }

    #[test]
    fn an_answer_read_aloud_has_no_links_or_markup_and_ends_on_a_sentence() {
        let text = "**Choose** [Forgot password](https://example.com/reset) on the sign-in page. The link works for 60 minutes: see https://example.com/help for more. Then sign in again.";
        assert_eq!(
            spoken(text, 500),
            "Choose Forgot password on the sign-in page. The link works for 60 minutes: see our website for more. Then sign in again."
        );
        assert_eq!(spoken(text, 80), "Choose Forgot password on the sign-in page.");
        let long = "word ".repeat(100);
        let cut = spoken(&long, 40);
        assert!(cut.len() <= 41 && cut.ends_with('.'), "{cut:?}");
        assert_eq!(spoken("# Refunds\n\n- within 30 days", 100), "Refunds within 30 days");
    }

    #[test]
    fn twiml_escapes_what_it_reads_and_where_it_posts() {
        let xml = twiml(&[
            Verb::Say {
                text: "Tom & Jerry's <plan> \u{7}".into(),
                language: "en-US".into(),
            },
            Verb::Gather {
                action: "https://x.test/v?a=1&b=2".into(),
                language: "en-US".into(),
                prompt: "Anything else?".into(),
                timeout_secs: 5,
            },
            Verb::Dial {
                number: "+14155550123".into(),
                action: "https://x.test/dial".into(),
                caller_id: Some("+14155550100".into()),
                record: true,
                timeout_secs: 20,
            },
            Verb::Hangup,
        ]);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"en-US\">Tom &amp; Jerry&apos;s &lt;plan&gt;  </Say>"), "{xml}");
        assert!(xml.contains("action=\"https://x.test/v?a=1&amp;b=2\""));
        assert!(xml.contains("<Dial action=\"https://x.test/dial\" method=\"POST\" timeout=\"20\" callerId=\"+14155550100\" record=\"record-from-answer-dual\"><Number>+14155550123</Number></Dial>"));
        assert!(xml.ends_with("<Hangup/></Response>"));
    }
}
