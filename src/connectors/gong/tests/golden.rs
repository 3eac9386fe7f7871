//! Golden content ids: fixed entries and the ids the released binary computes
//! for them. An existing mirror keeps its ids only while these hold.

use super::*;

/// `(log type, entry, id)`. Each id was computed by the code before the id had
/// its own canonical serializer (serde_json `Value::to_string`, no
/// `preserve_order`, no `float_roundtrip`), from exactly these entries.
const GOLDEN: &[(&str, &str, &str)] = &[
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"userId\":\"1\",\"logRecord\":{\"b\":1,\"a\":2}}",
        "113faf8d5126c6b738e6efe479beeb8dcb28b8f1f2bc32df56c8be21dfe2452b",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"userId\":\"1\",\"logRecord\":{\"a\":2,\"b\":1}}",
        "113faf8d5126c6b738e6efe479beeb8dcb28b8f1f2bc32df56c8be21dfe2452b",
    ),
    (
        "UserCallPlay",
        "{\"logRecord\" : { \"a\" : 2 , \"b\" : 1 } ,  \"userId\":\"1\", \"eventTime\":\"2023-12-31T16:00:00-08:00\"}",
        "113faf8d5126c6b738e6efe479beeb8dcb28b8f1f2bc32df56c8be21dfe2452b",
    ),
    (
        "UserActivityLog",
        "{\"eventTime\":\"2024-03-05T06:07:08.123456+05:30\",\"userId\":\"\u{1f600}\",\"userEmailAddress\":\"z\u{f6}e@acme.example\",\"userFullName\":\"ignored\",\"logRecord\":{\"\u{1f600}\":\"\u{1f600}\",\"\\ud83d\\ude01\":\"\\ud83d\\ude01 x\",\"\u{ff61}\":\"halfwidth\",\"\u{e9}\":\"\u{e9}\",\"z\":\"z\",\"Z\":1}}",
        "9045ba7ff6266124b2674be62e20e046662edcd69a148676d0c6ce4922a38cdd",
    ),
    (
        "UserActivityLog",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"one_float\":1.0,\"one\":1,\"big\":9007199254740993,\"u64_max\":18446744073709551615,\"i64_min\":-9223372036854775808,\"i64_max\":9223372036854775807,\"minus_one\":-1,\"zero\":0,\"past_u64\":18446744073709551616,\"below_i64\":-9223372036854775809,\"neg_zero\":-0,\"neg_zero_f\":-0.0,\"exp\":1e21,\"exp16\":1E16,\"fixed15\":1e15,\"small\":1.5e-7,\"tiny\":1e-5,\"frac\":0.1,\"trailing\":1.50,\"scaled\":123.456e5,\"neg_exp\":-2.5E-3,\"max\":1.7976931348623157e308,\"min_sub\":5e-324,\"min_norm\":2.2250738585072014e-308,\"long_frac\":0.30000000000000004,\"under\":1e-400}}",
        "84fd1d28e6d1629aefd3711f1ef09a97bfc4d15eb8a3241317eb73c3fbf23a26",
    ),
    (
        "AccessLog",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"s\":\"a\\nb\\u0000c\\\"d\\\\e\\u2028f\\u001f\\u007f\\t\\r\\b\\f\\/ \u{2028} \u{2029} \u{7f}\",\"\\n\":\"newline key\",\"\":\"empty key\",\"\\u00e9\":\"escaped key\"}}",
        "a7f50fe995c667edfdc8198777bd1804f71f741c62bae5447257fa0632f9e97d",
    ),
    (
        "UserActivityLog",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"a\":{\"c\":[{\"z\":1,\"y\":[]},{}],\"b\":{}},\"e\":[[[]]],\"n\":null,\"t\":true,\"f\":false,\"arr\":[3,\"x\",null,{\"k\":[1.25]}]}}",
        "ca3d7a6b742aa5cea095b3cc15cc70ca9c4d282e2ab928c54ebd90851dc3bc5a",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{}}",
        "9df7327783410fcaef461942c7dc64809e3d03e18e1ed7ddfe55bb99ef2c1ea5",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":null}",
        "b29bc5d8dcbbf593f9438dc519b24382ef373da0797c47503854e6cabf5542c2",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\"}",
        "b29bc5d8dcbbf593f9438dc519b24382ef373da0797c47503854e6cabf5542c2",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"userId\":\"1\",\"userEmailAddress\":\"\",\"impersonatorUserId\":\"9\",\"impersonatorEmailAddress\":\"imp@acme.example\",\"logRecord\":{\"k\":\"v\"}}",
        "fab19eebad5ca3684c41392c145256ac1b54802ca3f808e302581a5d828f6a92",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"a\":1,\"a\":2}}",
        "476fb0fe09f9d39555cd1b30db7113e3fdebb4976121dc6ef7b93e9762407282",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"a\":2}}",
        "476fb0fe09f9d39555cd1b30db7113e3fdebb4976121dc6ef7b93e9762407282",
    ),
    (
        "UserCallPlay",
        "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"x\":100000000000000000000000000001}}",
        "9e4e57830a05a94733040f1bfdc9fa6e7f078e39277e0d15550b1e94d8a7f0f0",
    ),
];

/// `(logRecord text, canonical text)`: what the released binary hashes for it.
const CANONICAL: &[(&str, &str)] = &[
    (
        "[94803021537777.625,-1687605470403652.25,0.3,1e23,5e-324,2.5e-5,123e-7]",
        "[94803021537777.62,-1687605470403652.2,0.3,1e+23,5e-324,0.000025,0.0000123]",
    ),
    (
        "{\"b\":[1e15,1e16,0.00001,0.000001,-0,-0.0]}",
        "{\"b\":[1000000000000000.0,1e+16,0.00001,1e-6,-0.0,-0.0]}",
    ),
    (
        "{\"b\":1,\"a\":2}",
        "{\"a\":2,\"b\":1}",
    ),
    (
        "{\"a\":2,\"b\":1}",
        "{\"a\":2,\"b\":1}",
    ),
    (
        "{\"\u{1f600}\":\"\u{1f600}\",\"\\ud83d\\ude01\":\"\\ud83d\\ude01 x\",\"\u{ff61}\":\"halfwidth\",\"\u{e9}\":\"\u{e9}\",\"z\":\"z\",\"Z\":1}",
        "{\"Z\":1,\"z\":\"z\",\"\u{e9}\":\"\u{e9}\",\"\u{ff61}\":\"halfwidth\",\"\u{1f600}\":\"\u{1f600}\",\"\u{1f601}\":\"\u{1f601} x\"}",
    ),
    (
        "{\"one_float\":1.0,\"one\":1,\"big\":9007199254740993,\"u64_max\":18446744073709551615,\"i64_min\":-9223372036854775808,\"i64_max\":9223372036854775807,\"minus_one\":-1,\"zero\":0,\"past_u64\":18446744073709551616,\"below_i64\":-9223372036854775809,\"neg_zero\":-0,\"neg_zero_f\":-0.0,\"exp\":1e21,\"exp16\":1E16,\"fixed15\":1e15,\"small\":1.5e-7,\"tiny\":1e-5,\"frac\":0.1,\"trailing\":1.50,\"scaled\":123.456e5,\"neg_exp\":-2.5E-3,\"max\":1.7976931348623157e308,\"min_sub\":5e-324,\"min_norm\":2.2250738585072014e-308,\"long_frac\":0.30000000000000004,\"under\":1e-400}",
        "{\"below_i64\":-9.223372036854776e+18,\"big\":9007199254740993,\"exp\":1e+21,\"exp16\":1e+16,\"fixed15\":1000000000000000.0,\"frac\":0.1,\"i64_max\":9223372036854775807,\"i64_min\":-9223372036854775808,\"long_frac\":0.30000000000000004,\"max\":1.7976931348623157e+308,\"min_norm\":2.2250738585072014e-308,\"min_sub\":5e-324,\"minus_one\":-1,\"neg_exp\":-0.0025,\"neg_zero\":-0.0,\"neg_zero_f\":-0.0,\"one\":1,\"one_float\":1.0,\"past_u64\":1.8446744073709552e+19,\"scaled\":12345600.0,\"small\":1.5e-7,\"tiny\":0.00001,\"trailing\":1.5,\"u64_max\":18446744073709551615,\"under\":0.0,\"zero\":0}",
    ),
    (
        "{\"s\":\"a\\nb\\u0000c\\\"d\\\\e\\u2028f\\u001f\\u007f\\t\\r\\b\\f\\/ \u{2028} \u{2029} \u{7f}\",\"\\n\":\"newline key\",\"\":\"empty key\",\"\\u00e9\":\"escaped key\"}",
        "{\"\":\"empty key\",\"\\n\":\"newline key\",\"s\":\"a\\nb\\u0000c\\\"d\\\\e\u{2028}f\\u001f\u{7f}\\t\\r\\b\\f/ \u{2028} \u{2029} \u{7f}\",\"\u{e9}\":\"escaped key\"}",
    ),
    (
        "{\"a\":{\"c\":[{\"z\":1,\"y\":[]},{}],\"b\":{}},\"e\":[[[]]],\"n\":null,\"t\":true,\"f\":false,\"arr\":[3,\"x\",null,{\"k\":[1.25]}]}",
        "{\"a\":{\"b\":{},\"c\":[{\"y\":[],\"z\":1},{}]},\"arr\":[3,\"x\",null,{\"k\":[1.25]}],\"e\":[[[]]],\"f\":false,\"n\":null,\"t\":true}",
    ),
    (
        "{}",
        "{}",
    ),
    (
        "null",
        "null",
    ),
    (
        "{\"k\":\"v\"}",
        "{\"k\":\"v\"}",
    ),
    (
        "{\"a\":1,\"a\":2}",
        "{\"a\":2}",
    ),
    (
        "{\"a\":2}",
        "{\"a\":2}",
    ),
    (
        "{\"x\":123456789012345680000.0}",
        "{\"x\":1.2345678901234567e+20}",
    ),
    (
        "{\"x\":100000000000000000000000000001}",
        "{\"x\":1e+29}",
    ),
];

/// An id the released binary and a `float_roundtrip` build of the old code
/// disagreed on (`…567e+20` against `…568e+20`): the released one is kept.
const ROUNDING: (&str, &str) = (
    "{\"eventTime\":\"2024-01-01T00:00:00Z\",\"logRecord\":{\"x\":123456789012345680000.0}}",
    "aadcac220f1c932b43d880078b41ffc74dad4c2456fa971c444bf294b36eaac3",
);

#[test]
fn golden_canonical_texts() {
    for (record, expected) in CANONICAL {
        assert_eq!(canonical(record).as_deref(), Ok(*expected), "{record}");
    }
}

#[test]
fn numbers_keep_the_released_binarys_rounding() {
    let (raw, id) = ROUNDING;
    assert_eq!(map_entry(LogType::UserCallPlay, raw).unwrap().id, id);
    assert_eq!(
        canonical("123456789012345680000.0").as_deref(),
        Ok("1.2345678901234567e+20")
    );
}

#[test]
fn golden_entries_keep_their_ids() {
    for (log_type, raw, id) in GOLDEN {
        let row = map_entry(LogType::parse(log_type).unwrap(), raw)
            .unwrap_or_else(|r| panic!("{raw}: {}", r.reason));
        assert_eq!(row.id, *id, "{log_type} {raw}");
    }
}

#[test]
fn the_id_does_not_depend_on_key_order() {
    let id = |record: &str| {
        let raw =
            format!(r#"{{"eventTime":"2024-01-01T00:00:00Z","userId":"1","logRecord":{record}}}"#);
        map_entry(LogType::UserCallPlay, &raw).unwrap().id
    };
    let golden = "113faf8d5126c6b738e6efe479beeb8dcb28b8f1f2bc32df56c8be21dfe2452b";
    assert_eq!(id(r#"{"b":1,"a":2}"#), golden);
    assert_eq!(id(r#"{"a":2,"b":1}"#), golden);
    assert_eq!(
        id(r#"{"x":{"b":1,"a":[{"d":1,"c":2}]}}"#),
        id(r#"{"x":{"a":[{"c":2,"d":1}],"b":1}}"#)
    );
    assert_ne!(
        id(r#"{"a":1,"b":2}"#),
        golden,
        "values stay with their keys"
    );
}
