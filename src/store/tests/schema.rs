//! The schema the migrations create, upgrades of older mirrors, and opening.

use super::*;

/// Every table and view of the documented schema (`docs/mirror.md`) with exactly its columns.
#[test]
fn migration_creates_exactly_the_designed_schema() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let expected: &[(&str, &[&str])] = &[
        (
            "gong_audit_log_entry",
            &[
                "account",
                "id",
                "log_type",
                "timestamp",
                "event_time_raw",
                "user_id",
                "user_email",
                "user_full_name",
                "impersonator_user_id",
                "impersonator_email",
                "impersonator_full_name",
                "impersonator_company_id",
                "action",
                "resource_type",
                "resource_id",
                "ip_address",
                "details",
                "raw_json",
                "db_last_updated",
            ],
        ),
        (
            "genesys_audit_log_message",
            &[
                "account",
                "id",
                "level",
                "status",
                "user_home_org_id",
                "user_id",
                "user_name",
                "client_id",
                "remote_ip_addresses",
                "service_name",
                "event_date",
                "localizable_message_code",
                "message",
                "message_with_params",
                "action",
                "entity_id",
                "entity_name",
                "entity_type",
                "application",
                "initiating_action_transaction_id",
                "initiating_action_context",
                "transaction_initiator",
                "property_changes",
                "entity_changes",
                "context",
                "message_params",
                "raw_json",
                "db_last_updated",
            ],
        ),
        (
            "sync_state",
            &[
                "source",
                "account",
                "stream",
                "watermark",
                "last_success_at",
                "last_error",
                "last_error_at",
                "failing_since",
                "lease_owner",
                "lease_expires_at",
                "rows_total",
                "services",
                "unavailable",
            ],
        ),
        (
            "sync_runs",
            &[
                "id",
                "source",
                "account",
                "stream",
                "kind",
                "started_at",
                "finished_at",
                "outcome",
                "range_from",
                "range_to",
                "pages",
                "requests",
                "retries",
                "token_refreshes",
                "rows_inserted",
                "rows_updated",
                "rows_unchanged",
                "rows_rejected",
                "error",
            ],
        ),
        (
            "rejected_records",
            &[
                "id",
                "source",
                "account",
                "stream",
                "reason",
                "raw_payload",
                "first_seen",
                "last_seen",
            ],
        ),
        ("request_budget", &["source", "account", "day", "requests"]),
        (
            "gong_log",
            &[
                "account",
                "id_key",
                "log_type_code",
                "event_us",
                "stored_resource_id",
                "raw_json",
                "written_us",
                "timestamp",
                "user_email",
                "resource_id",
                "db_last_updated",
            ],
        ),
        (
            "genesys_log",
            &[
                "account",
                "id_key",
                "remote_ip_addresses",
                "event_us",
                "raw_json",
                "written_us",
                "event_date",
                "user_name",
                "service_name",
                "action",
                "status",
                "db_last_updated",
            ],
        ),
        (
            "audit_event",
            &[
                "source",
                "account",
                "id",
                "event_time",
                "user_id",
                "user_name_or_email",
                "action",
                "object_type",
                "object_id",
                "ip",
                "raw_json",
            ],
        ),
    ];
    let objects: Vec<(String, String)> = store
        .conn()
        .prepare("SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut names: Vec<&str> = objects.iter().map(|(_, n)| n.as_str()).collect();
    names.sort();
    let mut want: Vec<&str> = expected.iter().map(|(t, _)| *t).collect();
    want.sort();
    assert_eq!(names, want);
    for (table, columns) in expected {
        let got: Vec<String> = store
            .conn()
            .prepare(&format!("SELECT name FROM pragma_table_xinfo('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(&got, columns, "{table}");
    }
    assert_eq!(store.user_version().unwrap(), SCHEMA_VERSION);
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_version_3_mirror_upgrades_keeping_its_runs_and_can_record_stopped_ones() {
    let (_dir, path) = temp_db();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (_, sql) in &super::super::migrate::MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 3; INSERT INTO sync_runs (source, account, stream, kind, started_at, outcome, pages) \
             VALUES ('gong', 'acme', 'AccessLog', 'sync', '2026-11-01T00:00:00.000000Z', 'success', 7);",
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.user_version().unwrap(), SCHEMA_VERSION);
    let kept: (String, i64) = store
        .conn()
        .query_row(
            "SELECT outcome, pages FROM sync_runs WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kept, ("success".to_owned(), 7));
    let run = store
        .begin_run(&gong_key(), RunKind::Sync, None, crate::clock::now())
        .unwrap();
    store
        .finish_run(
            run,
            RunOutcome::Stopped,
            &RunCounts::default(),
            Some("stopped"),
            crate::clock::now(),
        )
        .unwrap();
    let outcome: String = store
        .conn()
        .query_row("SELECT outcome FROM sync_runs WHERE id = ?1", [run], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(outcome, "stopped");
}

#[test]
fn reopening_is_a_no_op() {
    let (_dir, path) = temp_db();
    let schema = |s: &Store| -> Vec<String> {
        s.conn()
            .prepare("SELECT sql FROM sqlite_schema ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .map(|r| r.unwrap().unwrap_or_default())
            .collect()
    };
    let mut first = Store::open(&path).unwrap();
    first
        .write_page(&gong_key(), &GONG, &[gong_row(1)], &[], None, None)
        .unwrap();
    let before = schema(&first);
    drop(first);
    let again = Store::open(&path).unwrap();
    assert_eq!(schema(&again), before);
    assert_eq!(again.user_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(dlu(&again, "gong_audit_log_entry").len(), 1);
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer release"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file changed");
    assert!(!path.with_extension("sqlite-wal").exists());
    assert!(matches!(
        Store::open_read_only(&path).unwrap_err(),
        StoreError::TooNew { .. }
    ));
}

#[test]
fn read_only_open_of_a_missing_file_creates_nothing() {
    let (_dir, path) = temp_db();
    assert!(Store::open_read_only(&path).unwrap().is_none());
    assert!(!path.exists());
}
