//! The canonical form against serde_json's `Value::to_string` (this crate builds
//! serde_json without `preserve_order`, so that is the sorted form): the same
//! text for every JSON text both read to the same value.

use super::*;
use crate::connectors::gong::canonical::number::push_f64;

/// A float as plain decimal text with at most 15 significant digits, which every
/// serde_json float parser reads exactly (with or without `float_roundtrip`), so
/// the comparison below does not depend on how this test build reads floats.
fn exact_float() -> impl Strategy<Value = String> {
    (0u64..1_000_000_000_000_000, 0usize..=15, any::<bool>()).prop_map(|(digits, point, neg)| {
        let s = format!("{digits:015}");
        let (int, frac) = s.split_at(15 - point);
        let int = int.trim_start_matches('0');
        let sign = if neg { "-" } else { "" };
        let int = if int.is_empty() { "0" } else { int };
        match frac {
            "" => format!("{sign}{int}.0"),
            f => format!("{sign}{int}.{f}"),
        }
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        exact_float().prop_map(|t| serde_json::from_str(&t).unwrap_or(Value::Null)),
        any::<String>().prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{2029}😀é]{0,8}".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,2}".boxed(),
        "[\\x00-\\x1f\"\\\\Zz~\u{7f}é\u{ff61}\u{ffff}😀\u{10ffff}]{0,3}".boxed(),
        any::<String>().boxed(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One character of a JSON string, written one of the ways JSON allows.
fn spelled(c: char, how: u8) -> String {
    let mut units = [0u16; 2];
    let utf16 = c.encode_utf16(&mut units);
    match (c, how % 3) {
        ('"', _) => "\\\"".into(),
        ('\\', _) => "\\\\".into(),
        ('/', 1) => "\\/".into(),
        ('\u{8}', 1) => "\\b".into(),
        ('\u{c}', 1) => "\\f".into(),
        ('\n', 1) => "\\n".into(),
        ('\r', 1) => "\\r".into(),
        ('\t', 1) => "\\t".into(),
        (c, 0) if c >= ' ' => c.to_string(),
        (_, 2) => utf16.iter().map(|u| format!("\\u{u:04X}")).collect(),
        _ => utf16.iter().map(|u| format!("\\u{u:04x}")).collect(),
    }
}

/// A JSON string literal for `s` with each character spelled at random.
fn spelled_string() -> impl Strategy<Value = String> {
    prop::collection::vec((any::<char>(), any::<u8>()), 0..12).prop_map(|cs| {
        format!(
            "\"{}\"",
            cs.iter().map(|(c, h)| spelled(*c, *h)).collect::<String>()
        )
    })
}

/// Number texts in every JSON spelling, inside the range every serde_json
/// float parser reads exactly (at most 15 digits, small exponents).
fn number_text() -> impl Strategy<Value = String> {
    let int = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-9223372036854775809".to_string()),
    ];
    let float = (
        1u64..1_000_000_000_000_000,
        -7i32..=7,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(m, e, upper, plus)| {
            let e_char = if upper { 'E' } else { 'e' };
            match (e, plus) {
                (e, true) if e >= 0 => format!("{m}{e_char}+{e}"),
                (e, _) => format!("{m}{e_char}{e}"),
            }
        });
    prop_oneof![
        int,
        float,
        exact_float(),
        (exact_float(), -3i32..=3).prop_map(|(f, e)| format!("{f}e{e}"))
    ]
}

/// `v` as JSON text with every object's members in reverse order, each key
/// first given a stale value (`[stale]`) that the later, real one overrides.
fn scrambled(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(scrambled).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(members) => {
            let mut parts = Vec::new();
            for (k, _) in members.iter() {
                parts.push(format!("{}:[\"stale\"]", Value::from(k.as_str())));
            }
            for (k, v) in members.iter().rev() {
                parts.push(format!("{}:{}", Value::from(k.as_str()), scrambled(v)));
            }
            format!("{{{}}}", parts.join(","))
        }
        leaf => leaf.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Members out of order and repeated keys: sorted, and the last value wins.
    #[test]
    fn members_are_sorted_and_the_last_repeat_wins(v in value()) {
        let text = scrambled(&v);
        prop_assert_eq!(canonical(&text), Ok(v.to_string()), "{}", text);
    }

    /// Any JSON value, compact or pretty: the canonical text is `to_string`'s.
    #[test]
    fn canonical_equals_value_to_string(v in value()) {
        let expected = v.to_string();
        prop_assert_eq!(canonical(&expected), Ok(expected.clone()));
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        prop_assert_eq!(canonical(&pretty), Ok(expected));
    }

    /// Strings with any escapes, as keys and values.
    #[test]
    fn escapes_are_read_as_serde_json_reads_them(k in spelled_string(), s in spelled_string()) {
        let text = format!("{{{k}:[{s},{k}],\"z\":{s}}}");
        let v: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(canonical(&text), Ok(v.to_string()), "{}", text);
    }

    /// Numbers in every spelling read to the same text.
    #[test]
    fn numbers_are_read_as_serde_json_reads_them(n in number_text()) {
        let v: Value = serde_json::from_str(&n).unwrap();
        prop_assert_eq!(canonical(&n), Ok(v.to_string()), "{}", n);
    }

    /// Any finite f64 prints as serde_json prints it.
    #[test]
    fn floats_print_as_serde_json_prints_them(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        let mut out = String::new();
        push_f64(&mut out, f);
        prop_assert_eq!(out, Value::from(f).to_string());
    }

    /// What serde_json refuses has no canonical form either (and nothing panics).
    #[test]
    fn text_serde_json_refuses_is_refused(text in "[\\[\\]{}\",:0-9eE.+\\-\\\\u a-fnrtl]{0,24}") {
        if serde_json::from_str::<Value>(&text).is_err() {
            prop_assert!(canonical(&text).is_err(), "{}", text);
        }
    }
}

#[test]
fn refused_like_serde_json() {
    for bad in [
        "",
        "01",
        "1.",
        ".5",
        "1e",
        "1e+",
        "-",
        "--1",
        "+1",
        "1e400",
        "-1e400",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{1:2}",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\x\"",
        "\"a",
        "\"\u{1}\"",
        "nul",
        "tru",
        "[",
        "{",
        "1 2",
        "[1]]",
    ] {
        assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
        assert!(canonical(bad).is_err(), "{bad:?}");
    }
    let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
    for (depth, ok) in [(127, true), (128, false), (100_000, false)] {
        let text = nested(depth);
        assert_eq!(serde_json::from_str::<Value>(&text).is_ok(), ok, "{depth}");
        assert_eq!(canonical(&text).is_ok(), ok, "{depth}");
    }
}

/// The comparisons above take `Value::to_string` as the reference, which sorts
/// keys only while serde_json's `preserve_order` is off in this build; if a
/// dependency ever turns it on, this says why they fail (the ids do not move).
#[test]
fn the_reference_is_sorted_in_this_build() {
    let v: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
    assert_eq!(
        v.to_string(),
        r#"{"a":2,"b":1}"#,
        "serde_json preserve_order is on"
    );
    assert_eq!(
        canonical(r#"{"b":1,"a":2}"#).as_deref(),
        Ok(r#"{"a":2,"b":1}"#)
    );
}
