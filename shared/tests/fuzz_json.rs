//! Fuzzing the widget's JSON reader (`shared::json`) against serde_json: any value serde_json
//! writes reads back as the same tree, and text assembled from JSON's own pieces is accepted or
//! refused exactly as serde_json accepts or refuses it, without panicking; so are a few dozen
//! named edge cases (escapes, surrogates, numbers at the ends of a double). Cases per property:
//! `FUZZ_CASES` (default 2,000; `scripts/fuzz` runs 100,000).

use proptest::prelude::*;
use serde_json::Value;
use shared::json::Json;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Any JSON value, nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        // Subnormal numbers (below about 2e-308) are read only roughly; no widget number is one.
        any::<f64>()
            .prop_filter("finite and normal", |f| f.is_normal() || *f == 0.0)
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[\"\\\\/\u{0}-\u{1f}\u{7f}\u{fffd}\u{1f600}a]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,6}", inner, 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Whether our tree holds what serde_json's does.
fn same(ours: &Json, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Json::Null, Value::Null) => true,
        (Json::Bool(a), Value::Bool(b)) => a == b,
        (Json::Number(_), Value::Number(n)) => match n.as_u64() {
            Some(n) => ours.as_u64() == Some(n),
            None => {
                let (a, b) = (ours.as_f64().unwrap(), n.as_f64().unwrap());
                a == b || (a - b).abs() <= b.abs() * 1e-12
            }
        },
        (Json::String(a), Value::String(b)) => a == b,
        (Json::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b)),
        (Json::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, value)| b.get(key).is_some_and(|w| same(value, w)))
        }
        _ => false,
    }
}

/// Pieces JSON text is made of, and a few that are not JSON.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\"a\"", "\"k\":", "\\", "\\\"", "\\n", "\\u00e9", "\\ud83d",
        "\\ude00", "\\u12", "\\x", "0", "1", "-", "-0", "12", ".", ".5", "e", "E+", "e-2", "+", "true", "false",
        "null", "nul", "tru", "é", "\u{1}", "\t", "01",
    ])
}

/// Both must accept the same documents, to the same values.
fn same_as_serde(text: &str) {
    let ours = Json::parse(text);
    let theirs = serde_json::from_str::<Value>(text).ok();
    assert_eq!(
        ours.is_some(),
        theirs.is_some(),
        "{text:?}: ours {ours:?}, serde {theirs:?}"
    );
    if let (Some(ours), Some(theirs)) = (&ours, &theirs) {
        assert!(same(ours, theirs), "{text:?}: ours {ours:?}, serde {theirs:?}");
    }
}

/// The cases worth naming: escapes, surrogates, number edges, and what both refuse.
#[test]
fn named_cases_agree_with_serde_json() {
    for text in [
        "null",
        " true ",
        "false",
        "0",
        "-0",
        "18446744073709551615",
        "0.875",
        "-12.5e-3",
        "1E+2",
        "6.02214076e23",
        "-6.172657865729492e-300",
        "123456789012345678901234567890.5e-10",
        "0.000000000000000000000000000001234",
        "1e308",
        "1e309",
        "-1e99999999999",
        "1e-99999999999",
        r#""""#,
        r#""plain ünïcode 日本語""#,
        r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00""#,
        "[]",
        "[1, [2, [3]], {}]",
        r#"{"a": 1, "b": [true, null], "c": {"d": "e"}}"#,
        // Refused by both:
        "",
        "nul",
        "[1,]",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "-",
        r#""\x""#,
        r#""\u12""#,
        r#""\ud800""#,
        r#""\ud800\u0041""#,
        "\"a\nb\"",
        "\"open",
        "[1] [2]",
        "{\"a\": tru}",
    ] {
        same_as_serde(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn what_serde_writes_reads_back_the_same(value in value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        let ours = Json::parse(&text);
        prop_assert!(ours.as_ref().is_some_and(|ours| same(ours, &value)), "{text}: {ours:?}");
    }

    #[test]
    fn accepts_and_refuses_what_serde_json_does(pieces in prop::collection::vec(piece(), 0..24)) {
        let text: String = pieces.concat();
        let ours = Json::parse(&text);
        let theirs = serde_json::from_str::<Value>(&text);
        match (&ours, &theirs) {
            (Some(ours), Ok(theirs)) => prop_assert!(same(ours, theirs), "{text:?}: {ours:?} vs {theirs:?}"),
            (None, Err(_)) => {}
            _ => prop_assert!(false, "{text:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }
}
