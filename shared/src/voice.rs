//! Phone calls through Twilio Voice: reading the parameters Twilio posts to a voice webhook
//! (<https://www.twilio.com/docs/voice/twiml#request-parameters>; signed like SMS, see
//! [`crate::sms::verify`]), writing the TwiML we answer with
//! (<https://www.twilio.com/docs/voice/twiml>), and turning a written answer into something
//! that sounds right read aloud (no addresses, no markdown, a few sentences).

use crate::identity::normalize_phone;
use crate::message::escape_markup as escape;

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
    /// 0, or a menu word such as "agent": a person (longer spoken requests for one go through
    /// the site's escalation rules, like any question).
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
    // What callers say to a phone menu to reach a person ("agent", "representative please");
    // longer requests ("I want to talk to someone") go through the site's escalation rules.
    const PERSON: [&str; 6] = ["agent", "representative", "operator", "person", "human", "someone"];
    const FILLER: [&str; 12] = [
        "a", "an", "the", "please", "live", "real", "customer", "service", "support", "speak", "talk", "to",
    ];
    if words.iter().any(|w| PERSON.contains(w)) && words.iter().all(|w| PERSON.contains(w) || FILLER.contains(w)) {
        return Intent::Person;
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

/// Whether `tag` looks like the BCP 47 tags Twilio's voices and speech recognition take
/// (`en-US`, `es-MX`, `cmn-Hans-CN`): a language and up to two subtags.
pub fn valid_language(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('-').collect();
    let language = parts[0];
    (2..=3).contains(&parts.len())
        && (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..]
            .iter()
            .all(|p| (2..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The webhooks of a call, after the first (`…/inbound/voice/twilio`): the path segment after
/// it names the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A call comes in (the number's "A call comes in" webhook).
    Incoming,
    /// What the caller said (or pressed) at a `<Gather>`; `turn` counts the questions, so a
    /// repeated request is stored once.
    Gather { turn: u32 },
    /// How a `<Dial>` to a person ended.
    Dial,
    /// A voicemail was recorded.
    Recorded,
    /// Twilio's transcription of a voicemail (asynchronous, possibly after the call ended).
    Transcription,
    /// The call's status changed (the number's "Call status changes" webhook).
    Status,
}

impl Step {
    /// The step named by the path segment after `twilio` (none for the first request), with the
    /// `turn` query parameter for a gather.
    pub fn parse(segment: Option<&str>, turn: Option<&str>) -> Option<Step> {
        Some(match segment {
            None => Step::Incoming,
            Some("gather") => Step::Gather {
                turn: turn
                    .and_then(|t| t.parse().ok())
                    .filter(|t| (1..=MAX_TURNS).contains(t))?,
            },
            Some("dial") => Step::Dial,
            Some("recorded") => Step::Recorded,
            Some("transcription") => Step::Transcription,
            Some("status") => Step::Status,
            Some(_) => return None,
        })
    }
}

/// Questions one call may ask the bot; then it offers a person.
pub const MAX_TURNS: u32 = 12;

/// Longest voicemail, in seconds.
pub const MAX_VOICEMAIL_SECS: u32 = 120;

/// Seconds a person's phone rings before the call goes to voicemail.
pub const DIAL_TIMEOUT_SECS: u32 = 25;

/// What a site's phone line says and does.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub site_name: String,
    /// The voice and speech-recognition language, a BCP 47 tag such as `en-US`.
    pub language: String,
    /// The call's webhooks' address (`https://…/v1/sites/{site}/inbound/voice/twilio`): the
    /// actions of the TwiML we answer are under it.
    pub base: String,
    /// Where a call is put through to a person; without one, callers may leave a voicemail.
    pub support_number: Option<String>,
    /// Record calls put through to a person, and take voicemail. Off: neither.
    pub record_calls: bool,
    /// The site can send SMS and the caller's number is known: the bot offers to text answers.
    pub can_text: bool,
}

impl Line {
    fn say(&self, text: impl Into<String>) -> Verb {
        Verb::Say {
            text: text.into(),
            language: self.language.clone(),
        }
    }

    fn gather(&self, turn: u32, prompt: impl Into<String>) -> Verb {
        Verb::Gather {
            action: format!("{}/gather?turn={turn}", self.base),
            language: self.language.clone(),
            prompt: prompt.into(),
            timeout_secs: 6,
        }
    }

    fn goodbye(&self) -> [Verb; 2] {
        [
            self.say(format!("Thank you for calling {}. Goodbye.", self.site_name)),
            Verb::Hangup,
        ]
    }

    /// Listens for question `turn` after `before` is read; asks once more if nothing is heard,
    /// then says goodbye.
    fn listen(&self, before: Vec<Verb>, turn: u32, prompt: &str) -> Vec<Verb> {
        let mut verbs = before;
        verbs.push(self.gather(turn, prompt));
        verbs.push(self.gather(turn, "Sorry, I did not hear anything. How can I help?"));
        verbs.extend(self.goodbye());
        verbs
    }

    /// The first answer to a call the bot takes.
    pub fn greeting(&self) -> Vec<Verb> {
        let prompt = format!(
            "Hello, you have reached {}. I am the automated assistant. In a few words, how can I help? To talk to a person, say agent, or press 0.",
            self.site_name
        );
        self.listen(Vec::new(), 1, &prompt)
    }

    /// The bot's answer read aloud, then the next question (`turn`) listened for.
    pub fn answered(&self, answer: &str, turn: u32) -> Vec<Verb> {
        if turn > MAX_TURNS {
            let mut verbs = vec![self.say(spoken(answer, MAX_SPOKEN_CHARS))];
            verbs.extend(self.transfer(Some("Let me put you through to a person.")));
            return verbs;
        }
        let prompt = if self.can_text {
            "To get this by text message, say text me, or press 1. You can also ask another question, or say agent to talk to a person."
        } else {
            "You can ask another question, or say agent to talk to a person."
        };
        self.listen(vec![self.say(spoken(answer, MAX_SPOKEN_CHARS))], turn, prompt)
    }

    /// After the last answer was texted (`sent`) or could not be.
    pub fn texted(&self, sent: bool, turn: u32) -> Vec<Verb> {
        let said = if sent {
            "I have sent it to your phone."
        } else {
            "Sorry, I cannot send a text message to this number."
        };
        self.listen(
            vec![self.say(said)],
            turn,
            "Is there anything else? Ask another question, or say agent to talk to a person.",
        )
    }

    /// Ends the call politely.
    pub fn end(&self) -> Vec<Verb> {
        self.goodbye().to_vec()
    }

    /// Puts the caller through to a person (after `said`, e.g. the bot's hand-over words), or,
    /// with no support number, to voicemail.
    pub fn transfer(&self, said: Option<&str>) -> Vec<Verb> {
        let Some(number) = &self.support_number else {
            let mut verbs: Vec<Verb> = said
                .map(|s| self.say(spoken(s, MAX_SPOKEN_CHARS)))
                .into_iter()
                .collect();
            verbs.extend(self.voicemail());
            return verbs;
        };
        vec![
            self.say(
                said.map(|s| spoken(s, MAX_SPOKEN_CHARS))
                    .unwrap_or_else(|| "Connecting you to a person now.".to_owned()),
            ),
            Verb::Dial {
                number: number.clone(),
                action: format!("{}/dial", self.base),
                caller_id: None,
                record: self.record_calls,
                timeout_secs: DIAL_TIMEOUT_SECS,
            },
        ]
    }

    /// After a `<Dial>` ended with `dial_status`: done when a person answered, else voicemail.
    pub fn after_dial(&self, dial_status: Option<&str>) -> Vec<Verb> {
        if person_answered(dial_status) {
            vec![Verb::Hangup]
        } else {
            self.voicemail()
        }
    }

    /// Nobody can take the call: a voicemail when the site records calls, else a promise to get
    /// back to the caller (the conversation already waits for a person).
    fn voicemail(&self) -> Vec<Verb> {
        if !self.record_calls {
            return vec![
                self.say(
                    "Nobody can take your call right now. We have your question, and we will get back to you. Goodbye.",
                ),
                Verb::Hangup,
            ];
        }
        vec![
            self.say(
                "Nobody can take your call right now. Please leave a message after the beep, then press the pound key.",
            ),
            Verb::Record {
                action: format!("{}/recorded", self.base),
                transcribe_callback: format!("{}/transcription", self.base),
                max_secs: MAX_VOICEMAIL_SECS,
            },
            self.say("We did not get a message. Goodbye."),
            Verb::Hangup,
        ]
    }

    /// After a voicemail was recorded.
    pub fn recorded(&self) -> Vec<Verb> {
        vec![
            self.say("Thank you. We have your message and will get back to you soon. Goodbye."),
            Verb::Hangup,
        ]
    }
}

/// Whether a `<Dial>` reached a person.
pub fn person_answered(dial_status: Option<&str>) -> bool {
    matches!(dial_status, Some("completed" | "answered"))
}

/// What is said to a call that reached a number no site here answers (not set up, or set up for
/// another number): a polite message, never Twilio's error tone.
pub fn not_in_service() -> String {
    twiml(&[
        Verb::Say {
            text:
                "Sorry, this number is not taking calls at the moment. Please contact us through our website. Goodbye."
                    .into(),
            language: "en-US".into(),
        },
        Verb::Hangup,
    ])
}

/// The call's statuses that end it.
pub fn ended(status: Option<&str>) -> bool {
    matches!(status, Some("completed" | "busy" | "no-answer" | "failed" | "canceled"))
}

/// A call's length for its timeline: "2 min 5 s", "40 s".
pub fn duration_words(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// What we keep about a call in progress, between its webhooks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallState {
    pub conversation: String,
    pub from: Option<String>,
    pub verified: bool,
    /// Milliseconds since the Unix epoch.
    pub started_at: u64,
    /// Questions the caller asked.
    pub turns: u32,
    /// Put through to a person.
    pub transferred: bool,
    /// The person's phone answered.
    pub answered: bool,
    pub voicemail: bool,
    pub ended: bool,
    /// The transferred call's recording at Twilio, when the site records calls.
    #[serde(default)]
    pub recording_url: Option<String>,
}

impl CallState {
    /// A call that just came in from `from` (verified or not), routed to `conversation`.
    pub fn new(conversation: String, from: Option<String>, verified: bool, started_at: u64) -> CallState {
        CallState {
            conversation,
            from,
            verified,
            started_at,
            turns: 0,
            transferred: false,
            answered: false,
            voicemail: false,
            ended: false,
            recording_url: None,
        }
    }

    /// How the call went, once it ended.
    pub fn outcome(&self) -> crate::wire::CallOutcome {
        use crate::wire::CallOutcome;
        if self.answered {
            CallOutcome::Answered
        } else if self.voicemail {
            CallOutcome::Voicemail
        } else if self.transferred {
            CallOutcome::Missed
        } else if self.turns > 0 {
            CallOutcome::Bot
        } else {
            CallOutcome::Abandoned
        }
    }
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
        assert_eq!(intent(Some("Agent."), None), Intent::Person);
        assert_eq!(intent(Some("a representative please"), None), Intent::Person);
        assert_eq!(
            intent(Some("is a person charged for each seat"), None),
            Intent::Question
        );
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
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"en-US\">Tom &amp; Jerry&#39;s &lt;plan&gt;  </Say>"), "{xml}");
        assert!(xml.contains("action=\"https://x.test/v?a=1&amp;b=2\""));
        assert!(xml.contains("<Dial action=\"https://x.test/dial\" method=\"POST\" timeout=\"20\" callerId=\"+14155550100\" record=\"record-from-answer-dual\"><Number>+14155550123</Number></Dial>"));
        assert!(xml.ends_with("<Hangup/></Response>"));
    }

    fn line(support: Option<&str>, record_calls: bool, can_text: bool) -> Line {
        Line {
            site_name: "Acme".into(),
            language: "en-GB".into(),
            base: "https://edge.test/v1/sites/acme/inbound/voice/twilio".into(),
            support_number: support.map(str::to_owned),
            record_calls,
            can_text,
        }
    }

    #[test]
    fn the_steps_of_a_call_are_read_from_its_path() {
        assert_eq!(Step::parse(None, None), Some(Step::Incoming));
        assert_eq!(Step::parse(Some("gather"), Some("3")), Some(Step::Gather { turn: 3 }));
        assert_eq!(Step::parse(Some("gather"), None), None);
        assert_eq!(Step::parse(Some("gather"), Some("0")), None);
        assert_eq!(Step::parse(Some("gather"), Some("999")), None);
        assert_eq!(Step::parse(Some("status"), None), Some(Step::Status));
        assert_eq!(Step::parse(Some("elsewhere"), None), None);
        assert!(valid_language("en-US") && valid_language("cmn-Hans-CN"));
        assert!(!valid_language("en") && !valid_language("EN-us") && !valid_language("en-US\"><x"));
    }

    #[test]
    fn the_bot_greets_listens_twice_and_says_goodbye_to_silence() {
        let xml = twiml(&line(None, true, false).greeting());
        assert_eq!(xml.matches("<Gather ").count(), 2, "{xml}");
        assert!(xml.contains("action=\"https://edge.test/v1/sites/acme/inbound/voice/twilio/gather?turn=1\""));
        assert!(xml.contains("language=\"en-GB\""));
        assert!(xml.contains("reached Acme"));
        assert!(xml.ends_with("Goodbye.</Say><Hangup/></Response>"));
    }

    #[test]
    fn an_answer_is_read_short_and_offered_by_text_only_when_it_can_be_sent() {
        let article = "Use [Forgot password](https://acme.test/reset) on the sign-in page. ".repeat(10);
        let xml = twiml(&line(None, true, true).answered(&article, 2));
        assert!(!xml.contains("https://acme.test"), "{xml}");
        assert!(xml.contains("turn=2"));
        assert!(xml.contains("say text me, or press 1"));
        let xml = twiml(&line(None, true, false).answered(&article, 2));
        assert!(!xml.contains("text me"));
        // A call that keeps asking is offered a person instead of another question.
        let xml = twiml(&line(Some("+14155550123"), true, true).answered("Yes.", MAX_TURNS + 1));
        assert!(
            xml.contains("<Number>+14155550123</Number>") && !xml.contains("<Gather"),
            "{xml}"
        );
    }

    #[test]
    fn a_transfer_dials_the_support_number_and_falls_back_to_voicemail() {
        let recorded = line(Some("+14155550123"), true, false);
        let xml = twiml(&recorded.transfer(Some("I'll pass you to a person.")));
        assert!(xml.contains("pass you to a person"));
        assert!(xml.contains("<Dial action=\"https://edge.test/v1/sites/acme/inbound/voice/twilio/dial\" method=\"POST\" timeout=\"25\" record=\"record-from-answer-dual\"><Number>+14155550123</Number></Dial>"), "{xml}");
        assert_eq!(recorded.after_dial(Some("completed")), vec![Verb::Hangup]);
        let xml = twiml(&recorded.after_dial(Some("no-answer")));
        assert!(
            xml.contains("<Record action=\"https://edge.test/v1/sites/acme/inbound/voice/twilio/recorded\"")
                && xml.contains(
                    "transcribeCallback=\"https://edge.test/v1/sites/acme/inbound/voice/twilio/transcription\""
                ),
            "{xml}"
        );
        // No support number: straight to voicemail.
        assert!(twiml(&line(None, true, false).transfer(None)).contains("<Record "));
        // Recording off: no recorded transfer, no voicemail.
        let private = line(Some("+14155550123"), false, false);
        let xml = twiml(&private.transfer(None)) + &twiml(&private.after_dial(Some("busy")));
        assert!(!xml.contains("record") && !xml.contains("<Record"), "{xml}");
        assert!(xml.contains("we will get back to you"));
    }

    #[test]
    fn a_call_s_outcome_follows_what_happened() {
        use crate::wire::CallOutcome;
        let mut state = CallState::new("c".into(), None, false, 0);
        assert_eq!(state.outcome(), CallOutcome::Abandoned);
        state.turns = 2;
        assert_eq!(state.outcome(), CallOutcome::Bot);
        state.transferred = true;
        assert_eq!(state.outcome(), CallOutcome::Missed);
        state.voicemail = true;
        assert_eq!(state.outcome(), CallOutcome::Voicemail);
        state.answered = true;
        assert_eq!(state.outcome(), CallOutcome::Answered);
        assert!(ended(Some("completed")) && ended(Some("no-answer")) && !ended(Some("in-progress")));
        assert!(not_in_service().contains("not taking calls"));
        assert_eq!(duration_words(40), "40 s");
        assert_eq!(duration_words(120), "2 min");
        assert_eq!(duration_words(125), "2 min 5 s");
    }
}
