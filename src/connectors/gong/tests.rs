use super::*;
use crate::connectors::json::compact_json;
use crate::time::fmt_utc;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::HashSet;

mod canonical_form;
pub(crate) mod fuzz;
mod golden;
mod not_utf8;

const ENTRY: &str = r#"{"userId":"234599484848423","userEmailAddress":"jon@acme.example","userFullName":"Jon Snow",
 "eventTime":"2018-02-17T02:30:00-08:00",
 "logRecord":{"call_id":"7782342274025937895","page_viewer_ip":"203.0.113.9","time_based_secure_sharing_id":"x"}}"#;

fn row(log_type: &str, raw: &str) -> GongRow {
    map_entry(LogType::parse(log_type).unwrap(), raw).unwrap()
}

/// The derived columns as the mirror's view shows the entry:
/// `(action, resource_type, resource_id, ip_address)`.
type Shown = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn shown(log_type: &str, raw: &str) -> Shown {
    use crate::record::{Source, StreamKey};
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::Store::open(dir.path().join("m.sqlite")).unwrap();
    let key = StreamKey::new(Source::Gong, "acme", log_type);
    let r = row(log_type, raw);
    let id = r.id.clone();
    store
        .write_page(&key, &TABLE, &[r.into()], &[], None, None)
        .unwrap();
    store
        .conn()
        .query_row(
            "SELECT action, resource_type, resource_id, ip_address FROM gong_audit_log_entry WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
}

fn some(v: &str) -> Option<String> {
    Some(v.to_owned())
}

#[test]
fn maps_an_entry_to_utc_with_derived_fields() {
    let r = row("ExternallySharedCallAccess", ENTRY);
    assert_eq!(fmt_utc(r.timestamp), "2018-02-17T10:30:00.000000Z");
    assert_eq!(
        shown("ExternallySharedCallAccess", ENTRY),
        (
            some("ExternallySharedCallAccess"),
            some("call"),
            some("7782342274025937895"),
            some("203.0.113.9")
        )
    );
    assert_eq!(r.id.len(), 64);
    assert!(!r.raw_json.contains('\n'), "{}", r.raw_json);
    assert!(
        r.raw_json.contains("\"Jon Snow\""),
        "spaces inside strings stay"
    );
}

#[test]
fn the_id_ignores_key_order_whitespace_and_offset_but_not_content() {
    let a = row(
        "UserCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":"1","logRecord":{"a":1,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    let b = row(
        "UserCallPlay",
        r#"{ "logRecord" : { "b" : { "d" : "x", "c" : [ 1, 2 ] }, "a" : 1 },
            "userId" : "1", "eventTime" : "2024-01-01T05:30:00+05:30" }"#,
    );
    assert_eq!(a.id, b.id);
    let other_type = row(
        "ExternallySharedCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":"1","logRecord":{"a":1,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    let other_user = row(
        "UserCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":"2","logRecord":{"a":1,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    let other_time = row(
        "UserCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00.001Z","userId":"1","logRecord":{"a":1,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    let other_record = row(
        "UserCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":"1","logRecord":{"a":2,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    let empty_vs_absent = row(
        "UserCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":"1","userEmailAddress":"","logRecord":{"a":1,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    let ids = [
        &a.id,
        &other_type.id,
        &other_user.id,
        &other_time.id,
        &other_record.id,
        &empty_vs_absent.id,
    ];
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    // The display name is not identity: a renamed user is the same event.
    let renamed = row(
        "UserCallPlay",
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":"1","userFullName":"New Name","logRecord":{"a":1,"b":{"c":[1,2],"d":"x"}}}"#,
    );
    assert_eq!(renamed.id, a.id);
}

#[test]
fn derived_fields_per_log_type() {
    let access = r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":{"method":"GET","request_headers":{"x-forwarded-for":" 198.51.100.4, 10.0.0.1"}}}"#;
    assert_eq!(
        shown("AccessLog", access),
        (some("GET"), None, None, some("198.51.100.4"))
    );
    let activity = r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":{"httpRequest":{"clientIp":"192.0.2.1","verb":"POST","endpointUri":"/ajax/x"},
            "tableChanges":[{"tableName":"calls","rowChanges":[{"primaryKeyColumns":[{"columnName":"id","columnValue":"42"},{"columnName":"ws","columnValue":7}]}]}]}}"#;
    assert_eq!(row("UserActivityLog", activity).resource_id, some("42,7"));
    assert_eq!(
        shown("UserActivityLog", activity),
        (
            some("POST /ajax/x"),
            some("calls"),
            some("42,7"),
            some("192.0.2.1")
        )
    );
    let named = r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":{"action":"EXPORT_CALLS"}}"#;
    assert_eq!(shown("UserActivityLog", named).0, some("EXPORT_CALLS"));
    let numbers = r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":{"call_id":7782342274025937895,"page_viewer_ip":""}}"#;
    assert_eq!(
        shown("UserCallPlay", numbers),
        (
            some("UserCallPlay"),
            some("call"),
            some("7782342274025937895"),
            None
        )
    );
    let bare = r#"{"eventTime":"2024-01-01T00:00:00Z"}"#;
    assert_eq!(shown("UserActivityLog", bare), (None, None, None, None));
}

#[test]
fn unmappable_entries_are_rejected_with_a_reason() {
    let cases = [
        (r#"{"userId":"1","logRecord":{}}"#, "no eventTime"),
        (
            r#"{"eventTime":"2026-13-45T99:99:99 PST","logRecord":{}}"#,
            "not an ISO-8601 instant",
        ),
        (
            r#"{"eventTime":42,"userEmailAddress":12345}"#,
            "logEntry shape",
        ),
        (
            r#"{"eventTime":"2024-01-01T00:00:00Z","userId":123}"#,
            "logEntry shape",
        ),
        (
            r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":[1,2]}"#,
            "not a JSON object",
        ),
        (r#"[1,2,3]"#, "logEntry shape"),
    ];
    for (raw, why) in cases {
        let r = map_entry(LogType::AccessLog, raw).unwrap_err();
        assert!(r.reason.contains(why), "{raw}: {}", r.reason);
        assert_eq!(r.raw_payload, compact_json(raw));
    }
}

#[test]
fn a_page_keeps_good_entries_beside_bad_ones() {
    let body = format!(
        r#"{{"requestId":"x","records":{{"totalRecords":3,"currentPageSize":3,"currentPageNumber":0,"cursor":"abc"}},
            "logEntries":[{ENTRY},{{"eventTime":"bad"}},{ENTRY}],"futureField":{{"x":1}}}}"#
    );
    let p = parse_page(body.as_bytes(), LogType::ExternallySharedCallAccess).unwrap();
    assert_eq!((p.total, p.cursor.as_deref()), (3, Some("abc")));
    assert_eq!((p.page.rows.len(), p.page.rejected.len()), (2, 1));
    let last = parse_page(br#"{"records":{"totalRecords":0,"currentPageSize":0,"currentPageNumber":2,"cursor":""},"logEntries":[]}"#, LogType::AccessLog).unwrap();
    assert_eq!(last.cursor, None, "an empty cursor ends paging");
    for body in [
        r#"{"requestId":"x","records":{"totalRecords":0,"cursor":null},"logEntries":null}"#,
        r#"{"requestId":"x","records":null}"#,
        r#"{"requestId":"x"}"#,
    ] {
        let p = parse_page(body.as_bytes(), LogType::AccessLog)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(
            (p.total, p.cursor, p.page.rows.len()),
            (0, None, 0),
            "{body}"
        );
    }
    let nulls = format!(r#"{{"records":{{"totalRecords":2}},"logEntries":[{ENTRY},null]}}"#);
    let p = parse_page(nulls.as_bytes(), LogType::AccessLog).unwrap();
    assert_eq!(
        (p.page.rows.len(), p.page.rejected.len()),
        (1, 1),
        "a null entry is rejected, not lost"
    );
    assert!(parse_page(&body.as_bytes()[..body.len() / 2], LogType::AccessLog).is_err());
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[ a-zA-Z0-9\\\\\"\\n\\t éü李]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z _-]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Pretty or compact, the compacted text is the same JSON, with no whitespace
    /// left outside strings.
    #[test]
    fn compacting_keeps_the_json(v in json_value()) {
        for text in [serde_json::to_string_pretty(&v).unwrap(), v.to_string()] {
            let c = compact_json(&text);
            prop_assert_eq!(serde_json::from_str::<Value>(&c).unwrap(), v.clone());
            prop_assert_eq!(c, v.to_string());
        }
    }

    /// The id does not depend on how the logRecord is written.
    #[test]
    fn the_id_is_canonical(record in json_value().prop_filter("object", Value::is_object)) {
        let compact = format!(r#"{{"eventTime":"2024-01-01T00:00:00Z","logRecord":{record}}}"#);
        let pretty = format!("{{\n  \"logRecord\": {},\n  \"eventTime\": \"2024-01-01T00:00:00Z\"\n}}", serde_json::to_string_pretty(&record).unwrap());
        prop_assert_eq!(map_entry(LogType::UserCallPlay, &compact).unwrap().id, map_entry(LogType::UserCallPlay, &pretty).unwrap().id);
    }
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status: StatusCode::from_u16(status).unwrap(),
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::from(body.to_owned()),
    }
}

#[test]
fn status_codes_are_judged_as_gong_means_them() {
    let judge_it = |status, body: &str, cursor| {
        judge(
            &reply(status, body),
            LogType::AccessLog,
            cursor,
            "acme",
            "w",
        )
    };
    let empty = r#"{"requestId":"x","errors":["No logs found for the specified period"]}"#;
    match judge_it(404, empty, false) {
        Verdict::Done(Fetched::Page(p)) => {
            assert_eq!((p.total, p.page.rows.len(), p.cursor), (0, 0, None))
        }
        other => panic!("{other:?}"),
    }
    // A 404 that is not Gong's "nothing found" points at the base URL.
    match judge_it(404, "<html>Not Found</html>", false) {
        Verdict::Fail(e) => assert!(e.to_string().contains("base_url"), "{e}"),
        other => panic!("{other:?}"),
    }
    for status in [401, 403] {
        match judge_it(status, r#"{"errors":["Access denied"]}"#, false) {
            Verdict::Fail(e) => {
                assert_eq!(e.class(), crate::http::ErrorClass::Auth);
                assert!(
                    e.to_string().contains("acme") && e.to_string().contains(SCOPE),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let expired = r#"{"errors":["cursor has expired"]}"#;
    assert!(matches!(
        judge_it(400, expired, true),
        Verdict::Done(Fetched::CursorRejected)
    ));
    assert!(
        matches!(judge_it(400, expired, false), Verdict::Fail(_)),
        "a cursor error without a cursor is a bad request"
    );
    assert!(
        matches!(judge_it(200, r#"{"records":{"#, false), Verdict::Retry(_)),
        "a truncated body is retried"
    );
}
