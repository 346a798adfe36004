//! How a site's widget looks and behaves, set by the site owner (`PATCH /v1/sites/{site}` with
//! `widget`) and served to the widget by `GET /v1/sites/{site}/widget`: language, colour,
//! position, launcher icon, greeting, pre-chat fields and the team's opening hours. Also the
//! pure parts of using them: colour contrast (WCAG 2) and whether the team is in at a given time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::FieldError;

/// Languages the widget speaks (BCP 47 primary tags).
/// Threadline's indigo, when the site sets no colour (`widget.css` has the same).
pub const DEFAULT_ACCENT: Rgb = Rgb(0x43, 0x38, 0xca);
pub const LOCALES: [&str; 6] = ["en", "es", "de", "fr", "ja", "ar"];
pub const MAX_GREETING_CHARS: usize = 300;
pub const MAX_PRE_CHAT_FIELDS: usize = 5;
pub const MAX_FIELD_LABEL_CHARS: usize = 60;
pub const MAX_OPENINGS: usize = 14;
/// The longest value a visitor may type into a pre-chat field.
pub const MAX_FIELD_VALUE_CHARS: usize = 200;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WidgetSettings {
    /// One of `LOCALES`; absent: the visitor's browser language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The accent colour, `#rrggbb`; absent: Threadline's indigo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default)]
    pub position: Position,
    #[serde(default)]
    pub launcher_icon: LauncherIcon,
    /// Shown in an empty conversation instead of the built-in greeting (in the site's words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// Asked before the first message; kept as (unverified) traits of the visitor's profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_chat: Vec<PreChatField>,
    /// When people on the team answer; absent: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Hours>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Position {
    #[default]
    Right,
    Left,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LauncherIcon {
    #[default]
    Chat,
    Help,
    Headset,
    Mail,
}

impl LauncherIcon {
    /// The icon's SVG path on a 24 × 24 grid (the loader and the widget draw the same).
    pub fn path(self) -> &'static str {
        match self {
            LauncherIcon::Chat => "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
            LauncherIcon::Help => {
                "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 16h-2v-2h2v2zm2.1-7.7-.9.9c-.7.7-1.2 1.3-1.2 2.8h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3A1.9 1.9 0 0 0 14 8a2 2 0 0 0-4 0H8a4 4 0 1 1 8 0c0 .9-.4 1.7-.9 2.3z"
            }
            LauncherIcon::Headset => {
                "M12 2a9 9 0 0 0-9 9v6a3 3 0 0 0 3 3h2v-8H5v-1a7 7 0 0 1 14 0v1h-3v8h3v1h-6v2h6a2 2 0 0 0 2-2V11a9 9 0 0 0-9-9z"
            }
            LauncherIcon::Mail => {
                "M20 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2zm0 4-8 5-8-5V6l8 5 8-5v2z"
            }
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PreChatField {
    /// The trait the answer is kept under: `[a-z][a-z0-9_]{0,31}`.
    pub name: String,
    /// What the visitor sees, in the site's words.
    pub label: String,
    #[serde(rename = "type", default)]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    #[default]
    Text,
    Email,
    Tel,
}

/// Opening hours in the team's time zone.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// An IANA time zone, e.g. `Europe/Berlin` (checked by the edge against the runtime's list).
    pub time_zone: String,
    pub weekly: Vec<Opening>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Opening {
    pub days: Vec<Day>,
    /// `HH:MM`, 24-hour.
    pub from: String,
    /// `HH:MM`, after `from`; `24:00` for midnight.
    pub to: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];

    /// From an English short weekday name as `Intl.DateTimeFormat` writes it (`Mon`…`Sun`).
    pub fn from_short(name: &str) -> Option<Day> {
        let lower = name.get(..3)?.to_ascii_lowercase();
        let i = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|n| *n == lower)?;
        Some(Day::ALL[i])
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Whether people on the team answer now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Open,
    /// Closed; they are back in this many minutes.
    Closed {
        back_in_minutes: u32,
    },
    /// The hours name no time at all.
    Never,
}

const MINUTES_PER_WEEK: u32 = 7 * 24 * 60;

impl Hours {
    /// The weekly openings as minute ranges from Monday 00:00 (already validated).
    fn ranges(&self) -> Vec<(u32, u32)> {
        let mut ranges = Vec::new();
        for opening in &self.weekly {
            let (Some(from), Some(to)) = (parse_clock(&opening.from), parse_clock(&opening.to)) else {
                continue;
            };
            for day in &opening.days {
                let start = day.index() as u32 * 24 * 60;
                ranges.push((start + from, start + to));
            }
        }
        ranges
    }

    /// Availability at `minute` (0..1440) of `day`, in the team's time zone.
    pub fn at(&self, day: Day, minute: u32) -> Availability {
        let now = day.index() as u32 * 24 * 60 + minute.min(24 * 60 - 1);
        let ranges = self.ranges();
        if ranges.iter().any(|&(from, to)| from <= now && now < to) {
            return Availability::Open;
        }
        ranges
            .iter()
            .map(|&(from, _)| (from + MINUTES_PER_WEEK - now) % MINUTES_PER_WEEK)
            .min()
            .map_or(Availability::Never, |back_in_minutes| Availability::Closed {
                back_in_minutes,
            })
    }
}

const WEEK_MS: u64 = MINUTES_PER_WEEK as u64 * 60_000;
/// 1970-01-01 was a Thursday: Unix milliseconds plus this count from a Monday 00:00.
const FROM_MONDAY_MS: u64 = 3 * 24 * 60 * 60_000;

impl Hours {
    /// The weekly openings as disjoint, sorted millisecond ranges from Monday 00:00.
    fn open_ranges_ms(&self) -> Vec<(u64, u64)> {
        let mut ranges = self.ranges();
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (from, to) in ranges.into_iter().filter(|(from, to)| from < to) {
            let (from, to) = (u64::from(from) * 60_000, u64::from(to) * 60_000);
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        merged
    }

    /// A clock that counts only open time, for "within business hours" reports.
    pub fn clock(&self) -> OpenClock {
        let ranges = self.open_ranges_ms();
        OpenClock {
            per_week: ranges.iter().map(|(from, to)| to - from).sum(),
            ranges,
        }
    }
}

/// Counts the open milliseconds between two instants of the team's local time.
#[derive(Clone, Debug)]
pub struct OpenClock {
    ranges: Vec<(u64, u64)>,
    per_week: u64,
}

impl OpenClock {
    /// Open milliseconds from the start of the first week up to local time `at` (Unix
    /// milliseconds shifted by the zone's offset).
    fn open_before(&self, at: u64) -> u64 {
        let since_monday = at + FROM_MONDAY_MS;
        let in_week = since_monday % WEEK_MS;
        let partial: u64 = self
            .ranges
            .iter()
            .map(|&(from, to)| to.min(in_week).saturating_sub(from))
            .sum();
        since_monday / WEEK_MS * self.per_week + partial
    }

    /// Open milliseconds in `[start, end)`, both local times; 0 when `end` is not after `start`.
    pub fn open_ms_between(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        self.open_before(end) - self.open_before(start)
    }
}

/// `HH:MM` (24-hour; `24:00` allowed) as minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= 24 * 60).then_some(total)
}

impl WidgetSettings {
    /// Reads and checks the `widget` object of a site update; every refusal names the field.
    pub fn from_json(value: &Value) -> Result<WidgetSettings, FieldError> {
        let settings: WidgetSettings = serde_json::from_value(value.clone()).map_err(|error| {
            FieldError::new("widget", format!("`widget` is not valid: {error} (see docs/widget.md)"))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), FieldError> {
        if let Some(locale) = &self.locale
            && !LOCALES.contains(&locale.as_str())
        {
            return Err(FieldError::new(
                "widget.locale",
                format!("`widget.locale` must be one of {}, got {locale:?}", LOCALES.join(", ")),
            ));
        }
        if let Some(color) = &self.color
            && Rgb::parse(color).is_none()
        {
            return Err(FieldError::new(
                "widget.color",
                format!("`widget.color` must be a hex colour like \"#4338ca\", got {color:?}"),
            ));
        }
        if let Some(greeting) = &self.greeting {
            let n = greeting.chars().count();
            if greeting.trim().is_empty() || n > MAX_GREETING_CHARS {
                return Err(FieldError::new(
                    "widget.greeting",
                    format!("`widget.greeting` must have 1 to {MAX_GREETING_CHARS} characters, has {n}"),
                ));
            }
        }
        if self.pre_chat.len() > MAX_PRE_CHAT_FIELDS {
            return Err(FieldError::new(
                "widget.pre_chat",
                format!("at most {MAX_PRE_CHAT_FIELDS} pre-chat fields"),
            ));
        }
        for (i, field) in self.pre_chat.iter().enumerate() {
            let valid_name = field.name.len() <= 32
                && field.name.starts_with(|c: char| c.is_ascii_lowercase())
                && field
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_name {
                return Err(FieldError::new(
                    format!("widget.pre_chat[{i}].name"),
                    "a pre-chat field's `name` is a trait name: a lowercase letter, then up to 31 lowercase letters, digits or _",
                ));
            }
            if self.pre_chat[..i].iter().any(|f| f.name == field.name) {
                return Err(FieldError::new(
                    format!("widget.pre_chat[{i}].name"),
                    format!("two pre-chat fields are named {:?}", field.name),
                ));
            }
            let n = field.label.chars().count();
            if field.label.trim().is_empty() || n > MAX_FIELD_LABEL_CHARS {
                return Err(FieldError::new(
                    format!("widget.pre_chat[{i}].label"),
                    format!("a pre-chat field's `label` has 1 to {MAX_FIELD_LABEL_CHARS} characters"),
                ));
            }
        }
        if let Some(hours) = &self.hours {
            let zone = &hours.time_zone;
            let plausible = !zone.is_empty()
                && zone.len() <= 64
                && zone.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
            if !plausible {
                return Err(FieldError::new(
                    "widget.hours.time_zone",
                    format!("`widget.hours.time_zone` must be an IANA time zone like \"Europe/Berlin\", got {zone:?}"),
                ));
            }
            if hours.weekly.is_empty() || hours.weekly.len() > MAX_OPENINGS {
                return Err(FieldError::new(
                    "widget.hours.weekly",
                    format!("`widget.hours.weekly` lists 1 to {MAX_OPENINGS} openings"),
                ));
            }
            for (i, opening) in hours.weekly.iter().enumerate() {
                let field = format!("widget.hours.weekly[{i}]");
                let (Some(from), Some(to)) = (parse_clock(&opening.from), parse_clock(&opening.to)) else {
                    return Err(FieldError::new(
                        field,
                        "`from` and `to` are times like \"09:00\" and \"17:30\"",
                    ));
                };
                if from >= to || opening.days.is_empty() {
                    return Err(FieldError::new(
                        field,
                        "an opening needs at least one day and `from` before `to` (use \"24:00\" for midnight)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A colour, for contrast checks and for deriving the widget's palette from the site's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// `#rrggbb` or `#rgb`.
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize, len: usize| u8::from_str_radix(&hex[i * len..i * len + len], 16).ok();
        match hex.len() {
            6 => Some(Rgb(channel(0, 2)?, channel(1, 2)?, channel(2, 2)?)),
            3 => {
                let (r, g, b) = (channel(0, 1)?, channel(1, 1)?, channel(2, 1)?);
                Some(Rgb(r * 17, g * 17, b * 17))
            }
            _ => None,
        }
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// WCAG 2 contrast ratio, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// `self` moved `amount` (0 to 1) of the way towards `other`.
    pub fn mix(self, other: Rgb, amount: f64) -> Rgb {
        let t = amount.clamp(0.0, 1.0);
        let channel = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Rgb(
            channel(self.0, other.0),
            channel(self.1, other.1),
            channel(self.2, other.2),
        )
    }

    /// White or black, whichever reads better on `self` (always at least 4.58:1).
    pub fn text_on(self) -> Rgb {
        if Rgb::WHITE.contrast(self) >= Rgb::BLACK.contrast(self) {
            Rgb::WHITE
        } else {
            Rgb::BLACK
        }
    }

    /// The colour nearest `self`, darkened or lightened towards `towards`, that reaches `ratio`
    /// against every colour in `backgrounds`.
    pub fn readable(self, towards: Rgb, backgrounds: &[Rgb], ratio: f64) -> Rgb {
        (0..=20)
            .map(|step| self.mix(towards, f64::from(step) / 20.0))
            .find(|c| backgrounds.iter().all(|bg| c.contrast(*bg) >= ratio))
            .unwrap_or(towards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_field_by_field() {
        let ok = WidgetSettings::from_json(&json!({
            "locale": "de", "color": "#0f766e", "position": "left", "launcher_icon": "help",
            "greeting": "Hallo!",
            "pre_chat": [{"name": "order_id", "label": "Order number", "required": true}],
            "hours": {"time_zone": "Europe/Berlin", "weekly": [{"days": ["mon", "fri"], "from": "09:00", "to": "17:30"}]}
        }))
        .unwrap();
        assert_eq!(ok.position, Position::Left);
        assert_eq!(ok.pre_chat[0].kind, FieldKind::Text);
        assert_eq!(
            WidgetSettings::from_json(&json!({})).unwrap(),
            WidgetSettings::default()
        );

        let refused = |value: Value| WidgetSettings::from_json(&value).unwrap_err().field;
        assert_eq!(refused(json!({"locale": "pt"})), "widget.locale");
        assert_eq!(refused(json!({"color": "red"})), "widget.color");
        assert_eq!(refused(json!({"color": "#12345g"})), "widget.color");
        assert_eq!(refused(json!({"greeting": " "})), "widget.greeting");
        assert_eq!(refused(json!({"colour": "#fff"})), "widget", "unknown keys are refused");
        assert_eq!(refused(json!({"position": "top"})), "widget");
        assert_eq!(
            refused(json!({"pre_chat": [{"name": "Order", "label": "x"}]})),
            "widget.pre_chat[0].name"
        );
        assert_eq!(
            refused(json!({"pre_chat": [{"name": "a", "label": "x"}, {"name": "a", "label": "y"}]})),
            "widget.pre_chat[1].name"
        );
        assert_eq!(
            refused(
                json!({"hours": {"time_zone": "Europe/Berlin", "weekly": [{"days": ["mon"], "from": "17:00", "to": "09:00"}]}})
            ),
            "widget.hours.weekly[0]"
        );
        assert_eq!(
            refused(
                json!({"hours": {"time_zone": "<script>", "weekly": [{"days": ["mon"], "from": "09:00", "to": "17:00"}]}})
            ),
            "widget.hours.time_zone"
        );
    }

    #[test]
    fn each_visitor_gets_the_sites_language_else_their_own() {
        use crate::i18n::{Locale, Text};
        use crate::wire::WidgetConfig;
        let config = |settings: WidgetSettings, languages: &str| {
            WidgetConfig::for_visitor("s".into(), "S".into(), settings, languages)
        };
        let plain = config(WidgetSettings::default(), "");
        assert_eq!((plain.locale.as_str(), plain.format_tag.as_str()), ("en", "en"));
        assert!(plain.strings.is_empty());
        assert_eq!(
            (plain.accent.as_str(), plain.on_accent.as_str()),
            ("#4338ca", "#ffffff")
        );
        // Threadline's own colours are in the widget's stylesheet already.
        assert_eq!(plain.theme_css, "");
        let arabic = config(WidgetSettings::default(), "pt-BR,ar-EG,en");
        assert_eq!((arabic.locale.as_str(), arabic.format_tag.as_str()), ("ar", "ar-EG"));
        assert_eq!(arabic.strings, Locale::Ar.table());
        let german_site = WidgetSettings {
            locale: Some("de".into()),
            color: Some("#f59e0b".into()),
            launcher_icon: LauncherIcon::Help,
            ..WidgetSettings::default()
        };
        let german = config(german_site.clone(), "fr-CA,de-AT");
        assert_eq!((german.locale.as_str(), german.format_tag.as_str()), ("de", "de-AT"));
        assert_eq!(german.strings[Text::Send as usize], "Senden");
        assert_eq!(config(german_site, "fr").format_tag, "de");
        assert_eq!(
            (german.accent.as_str(), german.on_accent.as_str()),
            ("#f59e0b", "#000000")
        );
        assert_eq!(german.launcher_path, LauncherIcon::Help.path());
        // The site's colour comes as the palette's stylesheet, worked out here, not in the browser.
        assert_eq!(german.theme_css, crate::widget_theme::css(Rgb(0xf5, 0x9e, 0x0b)));
        assert!(
            german
                .theme_css
                .starts_with(".tl-app{--tl-accent:#f59e0b;--tl-on-accent:#000000;")
        );
    }

    #[test]
    fn hours_say_when_the_team_is_back() {
        let hours = Hours {
            time_zone: "UTC".into(),
            weekly: vec![Opening {
                days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                from: "09:00".into(),
                to: "17:00".into(),
            }],
        };
        assert_eq!(hours.at(Day::Wed, 9 * 60), Availability::Open);
        assert_eq!(hours.at(Day::Wed, 16 * 60 + 59), Availability::Open);
        assert_eq!(
            hours.at(Day::Wed, 17 * 60),
            Availability::Closed {
                back_in_minutes: 16 * 60
            }
        );
        assert_eq!(hours.at(Day::Wed, 8 * 60), Availability::Closed { back_in_minutes: 60 });
        // Friday evening: back on Monday morning, across the week's end.
        assert_eq!(
            hours.at(Day::Fri, 18 * 60),
            Availability::Closed {
                back_in_minutes: (6 + 48 + 9) * 60
            }
        );
        assert_eq!(
            hours.at(Day::Sun, 23 * 60 + 59),
            Availability::Closed {
                back_in_minutes: 9 * 60 + 1
            }
        );
        let never = Hours {
            time_zone: "UTC".into(),
            weekly: vec![],
        };
        assert_eq!(never.at(Day::Mon, 0), Availability::Never);
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("24:01"), None);
        assert_eq!(parse_clock("9:00"), None);
        assert_eq!(Day::from_short("Sat"), Some(Day::Sat));
        assert_eq!(Day::from_short("xyz"), None);
    }

    #[test]
    fn an_open_clock_counts_only_opening_hours() {
        let hours = Hours {
            time_zone: "UTC".into(),
            weekly: vec![
                Opening {
                    days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                    from: "09:00".into(),
                    to: "17:00".into(),
                },
                // Overlaps Friday's opening: the hour from 16:00 is counted once.
                Opening {
                    days: vec![Day::Fri],
                    from: "16:00".into(),
                    to: "18:00".into(),
                },
            ],
        };
        let clock = hours.clock();
        let hour = 3_600_000;
        // 1970-01-05 was a Monday.
        let monday = 4 * 24 * hour;
        let at = |day: u64, h: u64| monday + day * 24 * hour + h * hour;
        assert_eq!(clock.open_ms_between(at(0, 10), at(0, 11)), hour);
        // Monday 16:00 to Tuesday 10:00: one hour on Monday, one on Tuesday.
        assert_eq!(clock.open_ms_between(at(0, 16), at(1, 10)), 2 * hour);
        // Friday 17:30 to Monday 09:30: half an hour on Friday evening, half on Monday.
        assert_eq!(clock.open_ms_between(at(4, 17) + hour / 2, at(7, 9) + hour / 2), hour);
        // A whole week holds 5 × 8 hours plus Friday's extra hour.
        assert_eq!(clock.open_ms_between(at(2, 3), at(9, 3)), 41 * hour);
        assert_eq!(clock.open_ms_between(at(2, 3), at(2 + 7 * 52, 3)), 52 * 41 * hour);
        // Saturday counts nothing; backwards counts nothing.
        assert_eq!(clock.open_ms_between(at(5, 0), at(6, 23)), 0);
        assert_eq!(clock.open_ms_between(at(1, 12), at(1, 11)), 0);
        // Before the first Monday of 1970 too.
        assert_eq!(clock.open_ms_between(9 * hour, 11 * hour), 2 * hour);
        let never = Hours {
            time_zone: "UTC".into(),
            weekly: vec![],
        };
        assert_eq!(never.clock().open_ms_between(0, 30 * 24 * hour), 0);
    }

    #[test]
    fn contrast_follows_wcag() {
        assert!((Rgb::WHITE.contrast(Rgb::BLACK) - 21.0).abs() < 1e-9);
        // #767676 on white is the well-known 4.54:1.
        assert!((Rgb::parse("#767676").unwrap().contrast(Rgb::WHITE) - 4.54).abs() < 0.01);
        assert_eq!(Rgb::parse("#abc"), Some(Rgb(0xaa, 0xbb, 0xcc)));
        assert_eq!(Rgb(0x43, 0x38, 0xca).hex(), "#4338ca");
        // Whatever the colour, white or black text on it reads at 4.5:1 or better.
        for value in (0..=255u8).step_by(5) {
            for colour in [
                Rgb(value, value, value),
                Rgb(value, 255 - value, 128),
                Rgb(255, value, 0),
            ] {
                assert!(colour.text_on().contrast(colour) >= 4.5, "{colour:?}");
            }
        }
        let amber = Rgb::parse("#f59e0b").unwrap();
        let link = amber.readable(Rgb::BLACK, &[Rgb::WHITE], 4.5);
        assert!(link.contrast(Rgb::WHITE) >= 4.5 && link != Rgb::BLACK, "{link:?}");
    }
}
