//! Converting a populated mirror of an older schema in place: the same rows,
//! ids and `db_last_updated` values after, every column of the public tables
//! and view read the same, and the writer finds the converted rows again.

use super::*;
use crate::connectors::gong::map_entry;

const ENTRIES: &[(LogType, &str, [Option<&str>; 4])] = &[
    (
        LogType::AccessLog,
        r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":{"method":"GET","request_headers":{"x-forwarded-for":" 198.51.100.4, 10.0.0.1"}},"userEmailAddress":"a@x.example"}"#,
        [Some("GET"), None, None, Some("198.51.100.4")],
    ),
    (
        LogType::UserActivityLog,
        r#"{"eventTime":"2024-01-01T00:00:01.5-08:00","logRecord":{"httpRequest":{"clientIp":"192.0.2.1","verb":"POST","endpointUri":"/ajax/x"},"tableChanges":[{"tableName":"calls","rowChanges":[{"primaryKeyColumns":[{"columnName":"id","columnValue":"42"},{"columnName":"ws","columnValue":7}]}]}]},"userFullName":"Zoë"}"#,
        [
            Some("POST /ajax/x"),
            Some("calls"),
            Some("42,7"),
            Some("192.0.2.1"),
        ],
    ),
    (
        LogType::UserCallPlay,
        r#"{"eventTime":"2024-01-01T00:00:02+05:30","logRecord":{"call_id":"778"},"impersonatorUserId":"9"}"#,
        [Some("UserCallPlay"), Some("call"), Some("778"), None],
    ),
    (
        LogType::ExternallySharedCallAccess,
        r#"{"eventTime":"2024-01-01T00:00:03Z","logRecord":{"call_id":779,"page_viewer_ip":"203.0.113.9"}}"#,
        [
            Some("ExternallySharedCallAccess"),
            Some("call"),
            Some("779"),
            Some("203.0.113.9"),
        ],
    ),
];

/// Every column of `table`, row by row, in id order, as text.
fn everything(conn: &rusqlite::Connection, table: &str) -> Vec<Vec<Option<String>>> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY id"))
        .unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => None,
                    v => Some(format!("{v:?}")),
                })
            })
            .collect()
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

#[test]
fn a_populated_version_4_mirror_converts_in_place() {
    let (_dir, path) = temp_db();
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (_, sql) in &super::super::migrate::MIGRATIONS[..4] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch("PRAGMA user_version = 4").unwrap();
    for (i, (lt, raw, derived)) in ENTRIES.iter().enumerate() {
        let row = map_entry(*lt, raw).unwrap();
        conn.execute(
            "INSERT INTO gong_audit_log_entry (account, id, log_type, timestamp, action, resource_type, resource_id, ip_address, raw_json, db_last_updated) \
             VALUES ('acme', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![row.id, lt.as_str(), crate::time::fmt_utc(row.timestamp), derived[0], derived[1], derived[2], derived[3], row.raw_json, format!("2026-11-20T10:00:0{i}.000001Z")],
        )
        .unwrap();
    }
    for (i, raw) in [
        r#"{"id":"m1","eventDate":"2024-01-01T00:00:00.123Z","status":"FAILURE","user":{"name":"U"},"serviceName":"Architect","action":"Update","transactionInitiator":true}"#,
        r#"{"id":"m2","eventDate":"2024-01-02T00:00:00Z","remoteIp":["1.2.3.4"]}"#,
    ]
    .iter()
    .enumerate()
    {
        let m = crate::connectors::genesys::map_message(raw).unwrap();
        conn.execute(
            "INSERT INTO genesys_audit_log_message (account, id, event_date, remote_ip_addresses, raw_json, db_last_updated) \
             VALUES ('emea', ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![m.id, crate::time::fmt_utc(m.event_date), m.remote_ip_addresses, m.raw_json, format!("2026-11-21T10:00:0{i}.000001Z")],
        )
        .unwrap();
    }
    let tables = [
        "gong_audit_log_entry",
        "genesys_audit_log_message",
        "audit_event",
    ];
    let before: Vec<_> = tables.iter().map(|t| everything(&conn, t)).collect();
    drop(conn);

    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.user_version().unwrap(), SCHEMA_VERSION);
    let after: Vec<_> = tables.iter().map(|t| everything(store.conn(), t)).collect();
    for ((t, b), a) in tables.iter().zip(&before).zip(&after) {
        assert_eq!(a, b, "{t} reads differently after the conversion");
    }
    let page: u32 = store
        .conn()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page, 16384, "compacted to 16 KB pages");

    // The writer finds the converted rows again (nothing new, nothing changed)
    // and stamps a new one after every converted stamp.
    let rows: Vec<Row> = ENTRIES
        .iter()
        .map(|(lt, raw, _)| map_entry(*lt, raw).unwrap().into())
        .collect();
    let again = store
        .write_page(&gong_key(), &GONG, &rows, &[], None, None)
        .unwrap();
    assert_eq!((again.inserted, again.unchanged), (0, ENTRIES.len() as i64));
    store
        .write_page(&gong_key(), &GONG, &[gong_row(99)], &[], None, None)
        .unwrap();
    let newest: String = store
        .conn()
        .query_row(
            "SELECT max(db_last_updated) FROM gong_audit_log_entry",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(newest.as_str() > "2026-11-21T10:00:01.000001Z", "{newest}");
}
