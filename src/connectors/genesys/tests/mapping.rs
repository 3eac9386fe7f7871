//! Mapping one `AuditLogMessage` to a row, and the query interval's text.

use super::query::interval;
use super::*;

/// The real example from the Genesys Community (research §1.3), plus a user
/// name, a message and an initiating action.
pub(super) const MESSAGE: &str = r#"{
  "id": "583cae9f-87d6-4bce-a5eb-6b133184405b",
  "userHomeOrgId": "f7110c89-35e5-4c11-b669-0ac7552cc6d0",
  "user": {"id": "11f27f54-e941-42dc-9319-107175e2190e", "name": "Zoë Ångström",
           "selfUri": "/api/v2/users/11f27f54-e941-42dc-9319-107175e2190e"},
  "client": {"id": ""}, "remoteIp": ["12.34.56.78", "2001:db8::1"],
  "serviceName": "AnalyticsReporting", "level": "USER", "eventDate": "2025-04-01T14:34:56.789+02:00",
  "message": {"localizableMessageCode": "EXPORT_CREATE", "message": "Create Exports 'x'",
              "messageWithParams": "{action} Exports", "messageParams": {"action": "Create"}},
  "action": "Create", "entity": {"id": "e1", "name": "Nightly export"},
  "entityType": "Exports", "status": "SUCCESS", "application": "",
  "initiatingAction": {"transactionId": "t-1", "actionContext": "Create"},
  "transactionInitiator": false,
  "propertyChanges": [{"property": "name", "oldValues": ["a"], "newValues": ["b"]}],
  "context": {"ExportType": "CSV", "HasEmail": "true"},
  "entityChanges": [{"entityId": "u1", "entityName": "N", "entityType": "User", "oldValues": [], "newValues": ["Group"]}],
  "someFieldAddedLater": {"x": [1, 2]}
}"#;

/// The seed columns and where the mirror finds them (research §4).
const COLUMNS: &[(&str, &str)] = &[
    ("level", "USER"),
    ("status", "SUCCESS"),
    ("user_home_org_id", "f7110c89-35e5-4c11-b669-0ac7552cc6d0"),
    ("user_id", "11f27f54-e941-42dc-9319-107175e2190e"),
    ("user_name", "Zoë Ångström"),
    ("client_id", ""),
    ("remote_ip_addresses", "12.34.56.78,2001:db8::1"),
    ("service_name", "AnalyticsReporting"),
    ("event_date", "2025-04-01T12:34:56.789000Z"),
    ("localizable_message_code", "EXPORT_CREATE"),
    ("message", "Create Exports 'x'"),
    ("message_with_params", "{action} Exports"),
    ("action", "Create"),
    ("entity_id", "e1"),
    ("entity_name", "Nightly export"),
    ("entity_type", "Exports"),
    ("application", ""),
    ("initiating_action_transaction_id", "t-1"),
    ("initiating_action_context", "Create"),
    ("transaction_initiator", "0"),
    ("context", r#"{"ExportType":"CSV","HasEmail":"true"}"#),
    ("message_params", r#"{"action":"Create"}"#),
    (
        "property_changes",
        r#"[{"property":"name","oldValues":["a"],"newValues":["b"]}]"#,
    ),
];

/// The row as the mirror's table sees it: every column as text (NULL = None).
fn columns(row: &GenesysRow) -> Vec<(String, Option<String>)> {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(include_str!("../../../../migrations/0001_init.sql"))
        .unwrap();
    db.execute(
        "INSERT INTO genesys_audit_log_message (account, id, remote_ip_addresses, event_date, raw_json, db_last_updated) VALUES ('a', ?1, ?2, ?3, ?4, 'x')",
        (&row.id, &row.remote_ip_addresses, fmt_utc(row.event_date), &row.raw_json),
    )
    .unwrap();
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let sql = format!(
        "SELECT {} FROM genesys_audit_log_message",
        names
            .iter()
            .map(|n| format!("CAST({n} AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    db.query_row(&sql, [], |r| {
        (0..names.len())
            .map(|i| Ok((names[i].to_owned(), r.get::<_, Option<String>>(i)?)))
            .collect()
    })
    .unwrap()
}

#[test]
fn every_seed_column_is_carried_or_derivable() {
    let row = map_message(MESSAGE).unwrap();
    assert_eq!(row.id, "583cae9f-87d6-4bce-a5eb-6b133184405b");
    assert_eq!(fmt_utc(row.event_date), "2025-04-01T12:34:56.789000Z");
    assert_eq!(row.raw_json, compact_json(MESSAGE));
    assert!(
        row.raw_json.contains("\"Nightly export\""),
        "spaces in strings stay"
    );
    let got = columns(&row);
    for ((name, want), (col, value)) in COLUMNS.iter().zip(&got) {
        assert_eq!(name, col);
        assert_eq!(value.as_deref(), Some(*want), "{name}");
    }
}

#[test]
fn missing_optional_fields_stay_absent() {
    let row = map_message(r#"{"id":"m1","eventDate":"2026-01-02T03:04:05Z"}"#).unwrap();
    assert_eq!(row.remote_ip_addresses, None);
    for (name, value) in columns(&row) {
        if name != "event_date" {
            assert_eq!(value, None, "{name} must be NULL, not empty");
        }
    }
    let nulls = r#"{"id":"m2","eventDate":"2026-01-02T03:04:05Z","user":null,"remoteIp":null,
        "message":{"messageParams":null},"context":{"k":null},"propertyChanges":[null],"level":null}"#;
    let row = map_message(nulls).unwrap();
    assert_eq!(row.remote_ip_addresses, None);
}

#[test]
fn offsets_become_utc() {
    for (wire, utc) in [
        ("2025-04-01T12:34:56Z", "2025-04-01T12:34:56.000000Z"),
        ("2025-04-01T04:34:56-08:00", "2025-04-01T12:34:56.000000Z"),
        ("2025-04-01T18:04:56.5+05:30", "2025-04-01T12:34:56.500000Z"),
    ] {
        let raw = format!(r#"{{"id":"x","eventDate":"{wire}"}}"#);
        assert_eq!(fmt_utc(map_message(&raw).unwrap().event_date), utc);
    }
}

#[test]
fn remote_ips_are_joined_and_empty_is_none() {
    let ips = |v: &str| {
        let raw = format!(r#"{{"id":"x","eventDate":"2026-01-01T00:00:00Z","remoteIp":{v}}}"#);
        map_message(&raw).unwrap().remote_ip_addresses
    };
    assert_eq!(ips(r#"["10.0.0.1"]"#).as_deref(), Some("10.0.0.1"));
    assert_eq!(
        ips(r#"["10.0.0.1","::1"]"#).as_deref(),
        Some("10.0.0.1,::1")
    );
    assert_eq!(ips("[]"), None);
    assert_eq!(ips(r#"[""]"#), None);
}

#[test]
fn wrong_types_are_rejected_with_the_field_and_reason() {
    let base = r#""id":"x","eventDate":"2026-01-01T00:00:00Z""#;
    for (extra, field) in [
        (r#""remoteIp":"10.1.2.3, 2001:db8::1""#, "remoteIp"),
        (r#""level":3"#, "level"),
        (r#""user":{"id":5}"#, "user"),
        (r#""user":"u1""#, "user"),
        (r#""client":{"id":true}"#, "client"),
        (r#""message":{"messageParams":{"a":1}}"#, "message"),
        (r#""initiatingAction":[]"#, "initiatingAction"),
        (r#""transactionInitiator":"false""#, "transactionInitiator"),
        (r#""propertyChanges":{"property":"x"}"#, "propertyChanges"),
        (r#""entityChanges":[{"oldValues":[1]}]"#, "entityChanges"),
        (r#""context":{"a":["b"]}"#, "context"),
        (r#""serviceName":{}"#, "serviceName"),
    ] {
        let raw = format!("{{ {base}, {extra} }}");
        let r = map_message(&raw).unwrap_err();
        assert!(
            r.reason.starts_with(&format!("field `{field}`: ")),
            "{extra}: {}",
            r.reason
        );
        assert!(r.reason.contains("expected"), "{}", r.reason);
        assert!(!r.reason.contains(" at line "), "{}", r.reason);
        assert_eq!(r.raw_payload, compact_json(&raw));
    }
    for (raw, reason) in [
        (
            r#"{"eventDate":"2026-01-01T00:00:00Z"}"#,
            "field `id`: missing",
        ),
        (
            r#"{"id":"","eventDate":"2026-01-01T00:00:00Z"}"#,
            "field `id`: missing or empty",
        ),
        (
            r#"{"id":42,"eventDate":"2026-01-01T00:00:00Z"}"#,
            "field `id`: invalid type",
        ),
        (r#"{"id":"x"}"#, "field `eventDate`: missing"),
        (
            r#"{"id":"x","eventDate":"yesterday"}"#,
            "field `eventDate`: `yesterday` is not",
        ),
        (
            r#"{"id":"x","eventDate":"2026-13-45T99:00:00Z"}"#,
            "field `eventDate`: `2026-13-45",
        ),
        (r#"[1,2]"#, "the message is not a JSON object"),
    ] {
        let r = map_message(raw).unwrap_err();
        assert!(r.reason.starts_with(reason), "{raw}: {}", r.reason);
    }
}

#[test]
fn intervals_are_utc_milliseconds_covering_the_window() {
    let t = |s: &str| parse_instant(s).unwrap();
    let w = Window::new(t("2026-01-01T00:00:00Z"), t("2026-01-02T00:00:00Z"));
    assert_eq!(
        interval(w),
        "2026-01-01T00:00:00.000Z/2026-01-02T00:00:00.000Z"
    );
    let w = Window::new(
        t("2026-01-01T00:00:00.1234567Z"),
        t("2026-01-01T01:00:00.0001+01:00"),
    );
    assert_eq!(
        interval(w),
        "2026-01-01T00:00:00.123Z/2026-01-01T00:00:00.001Z"
    );
}

// ------------------------------------------------------------- simulator
