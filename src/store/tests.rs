use super::*;
use crate::connectors::genesys::{GenesysRow, TABLE as GENESYS};
use crate::connectors::gong::{GongRow, LogType, TABLE as GONG};
use crate::record::{Rejected, Row, Source, StreamKey};
use crate::time::parse_instant;
use chrono::Utc;
use proptest::prelude::*;
use std::collections::HashMap;

mod convert;
mod schema;

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mirror.sqlite");
    (dir, path)
}

fn gong_key() -> StreamKey {
    StreamKey::new(Source::Gong, "acme", "AccessLog")
}

fn genesys_key() -> StreamKey {
    StreamKey::new(Source::Genesys, "emea", "audits")
}

fn gong_row(i: usize) -> Row {
    GongRow {
        id: format!("{i:064x}"),
        log_type: LogType::AccessLog,
        timestamp: parse_instant("2026-11-20T10:00:00-08:00").unwrap()
            + chrono::Duration::seconds(i as i64),
        resource_id: None,
        raw_json: format!(
            r#"{{"userId":"{i}","userEmailAddress":"u{i}@example.com","eventTime":"2026-11-20T10:00:00-08:00","logRecord":{{"method":"GET","n":{i}}}}}"#
        ),
    }
    .into()
}

fn genesys_row(i: usize, version: u32) -> Row {
    GenesysRow {
        id: format!("msg-{i}"),
        event_date: parse_instant("2026-11-20T10:00:00Z").unwrap()
            + chrono::Duration::seconds(i as i64),
        remote_ip_addresses: Some("1.2.3.4,5.6.7.8".into()),
        raw_json: format!(
            r#"{{"id":"msg-{i}","level":"USER","status":"SUCCESS","user":{{"id":"u{i}","name":"Ünïcode {i}"}},"serviceName":"Architect","action":"Update","entityType":"Flow","eventDate":"2026-11-20T10:00:00Z","version":{version}}}"#
        ),
    }
    .into()
}

fn dlu(store: &Store, table: &str) -> HashMap<String, String> {
    let mut stmt = store
        .conn()
        .prepare(&format!("SELECT id, db_last_updated FROM {table}"))
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

#[test]
fn upserting_the_same_batch_twice_changes_nothing() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let gong: Vec<_> = (0..50).map(gong_row).collect();
    let genesys: Vec<_> = (0..50).map(|i| genesys_row(i, 1)).collect();
    let c1 = store
        .write_page(&gong_key(), &GONG, &gong, &[], None, None)
        .unwrap();
    let c2 = store
        .write_page(&genesys_key(), &GENESYS, &genesys, &[], None, None)
        .unwrap();
    assert_eq!((c1.inserted, c2.inserted), (50, 50));
    let (g1, e1) = (
        dlu(&store, "gong_audit_log_entry"),
        dlu(&store, "genesys_audit_log_message"),
    );
    let again1 = store
        .write_page(&gong_key(), &GONG, &gong, &[], None, None)
        .unwrap();
    let again2 = store
        .write_page(&genesys_key(), &GENESYS, &genesys, &[], None, None)
        .unwrap();
    assert_eq!(
        again1,
        PageCounts {
            inserted: 0,
            updated: 0,
            unchanged: 50,
            rejected: 0
        }
    );
    assert_eq!(
        again2,
        PageCounts {
            inserted: 0,
            updated: 0,
            unchanged: 50,
            rejected: 0
        }
    );
    assert_eq!(dlu(&store, "gong_audit_log_entry"), g1);
    assert_eq!(dlu(&store, "genesys_audit_log_message"), e1);
}

#[test]
fn a_changed_genesys_message_updates_only_its_row_and_its_stamp_is_newest() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut rows: Vec<_> = (0..20).map(|i| genesys_row(i, 1)).collect();
    store
        .write_page(&genesys_key(), &GENESYS, &rows, &[], None, None)
        .unwrap();
    store
        .write_page(&gong_key(), &GONG, &[gong_row(7)], &[], None, None)
        .unwrap();
    let before = dlu(&store, "genesys_audit_log_message");
    let newest_before = before
        .values()
        .chain(dlu(&store, "gong_audit_log_entry").values())
        .max()
        .unwrap()
        .clone();
    rows[7] = genesys_row(7, 2);
    let c = store
        .write_page(&genesys_key(), &GENESYS, &rows, &[], None, None)
        .unwrap();
    assert_eq!(
        c,
        PageCounts {
            inserted: 0,
            updated: 1,
            unchanged: 19,
            rejected: 0
        }
    );
    let after = dlu(&store, "genesys_audit_log_message");
    for (id, stamp) in &after {
        if id == "msg-7" {
            assert!(*stamp > newest_before, "{stamp} <= {newest_before}");
        } else {
            assert_eq!(stamp, &before[id], "{id} was touched");
        }
    }
    let version: i64 = store
        .conn()
        .query_row("SELECT json_extract(raw_json, '$.version') FROM genesys_audit_log_message WHERE id = 'msg-7'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[test]
fn generated_columns_read_the_raw_json() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    store
        .write_page(
            &genesys_key(),
            &GENESYS,
            &[genesys_row(3, 1)],
            &[],
            None,
            None,
        )
        .unwrap();
    store
        .write_page(&gong_key(), &GONG, &[gong_row(3)], &[], None, None)
        .unwrap();
    let (user_name, service, level, client_id, ctx): (String, String, String, Option<String>, Option<String>) = store
        .conn()
        .query_row(
            "SELECT user_name, service_name, level, client_id, context FROM genesys_audit_log_message",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (user_name.as_str(), service.as_str(), level.as_str()),
        ("Ünïcode 3", "Architect", "USER")
    );
    assert_eq!((client_id, ctx), (None, None), "absent fields are NULL");
    let (email, details, time, ts): (String, String, String, String) = store
        .conn()
        .query_row(
            "SELECT user_email, details, event_time_raw, timestamp FROM gong_audit_log_entry",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(email, "u3@example.com");
    assert_eq!(details, r#"{"method":"GET","n":3}"#);
    assert_eq!(time, "2026-11-20T10:00:00-08:00");
    assert_eq!(ts, "2026-11-20T18:00:03.000000Z");
    let n: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM audit_event", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn watermark_moves_only_forward_and_rejects_are_kept_once() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let key = gong_key();
    assert_eq!(store.watermark(&key).unwrap(), None);
    let w1 = parse_instant("2026-11-20T00:00:00Z").unwrap();
    let w0 = parse_instant("2026-11-19T00:00:00Z").unwrap();
    let bad = Rejected {
        reason: "eventTime `yesterday` is not an RFC 3339 instant".into(),
        raw_payload: r#"{"eventTime":"yesterday"}"#.into(),
    };
    let c = store
        .write_page(&key, &GONG, &[], std::slice::from_ref(&bad), Some(w1), None)
        .unwrap();
    assert_eq!(c.rejected, 1);
    store
        .write_page(&key, &GONG, &[], std::slice::from_ref(&bad), Some(w0), None)
        .unwrap();
    assert_eq!(store.watermark(&key).unwrap(), Some(w1));
    let n: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM rejected_records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn leases_exclude_a_second_writer_until_released_or_expired() {
    let (_dir, path) = temp_db();
    let mut a = Store::open(&path).unwrap();
    let mut b = Store::open(&path).unwrap();
    let key = gong_key();
    let ttl = std::time::Duration::from_secs(60);
    let lease_a = a
        .try_lease(&key, "hostA:1:a", ttl)
        .unwrap()
        .expect("free stream");
    assert!(b.try_lease(&key, "hostB:2:b", ttl).unwrap().is_none());
    assert_eq!(b.lease_holder(&key).unwrap().as_deref(), Some("hostA:1:a"));
    a.write_page(&key, &GONG, &[gong_row(1)], &[], None, Some(&lease_a))
        .unwrap();
    a.release_lease(&lease_a).unwrap();
    let lease_b = b
        .try_lease(&key, "hostB:2:b", std::time::Duration::ZERO)
        .unwrap()
        .expect("released");
    // B's lease expired at once: A may take it over, and then B has lost it.
    let lease_a2 = a
        .try_lease(&key, "hostA:1:a2", ttl)
        .unwrap()
        .expect("expired");
    let err = b
        .write_page(&key, &GONG, &[gong_row(2)], &[], None, Some(&lease_b))
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    assert_eq!(
        dlu(&a, "gong_audit_log_entry").len(),
        1,
        "the losing writer wrote nothing"
    );
    a.renew_lease(&lease_a2).unwrap();
}

#[test]
fn a_batch_leaves_out_a_stream_whose_lease_was_lost_and_writes_the_others() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let ttl = std::time::Duration::from_secs(60);
    let (lost, kept) = (
        gong_key(),
        StreamKey::new(Source::Gong, "acme", "UserCallPlay"),
    );
    let stale = store
        .try_lease(&lost, "hostA:1:a", std::time::Duration::ZERO)
        .unwrap()
        .unwrap();
    store.try_lease(&lost, "hostB:2:b", ttl).unwrap().unwrap(); // took it over
    let mine = store.try_lease(&kept, "hostA:1:a", ttl).unwrap().unwrap();
    let rows: Vec<Row> = (1..=4).map(gong_row).collect();
    fn page<'a>(
        stream: &'a StreamKey,
        rows: &'a [Row],
        lease: &'a Lease,
        end: Option<chrono::DateTime<Utc>>,
    ) -> PageWrite<'a> {
        PageWrite {
            stream,
            table: &GONG,
            rows,
            rejected: &[],
            advance_watermark: end,
            lease: Some(lease),
        }
    }
    let end = parse_instant("2026-11-21T00:00:00Z").unwrap();
    let results = store
        .write_pages(&[
            page(&lost, &rows[0..1], &stale, None),
            page(&kept, &rows[1..2], &mine, None),
            page(&lost, &rows[2..3], &stale, Some(end)),
            page(&kept, &rows[3..4], &mine, Some(end)),
        ])
        .unwrap();
    assert!(matches!(results[0], Err(StoreError::LeaseLost { .. })));
    assert!(matches!(results[2], Err(StoreError::AfterFailure { .. })));
    assert_eq!(results[1].as_ref().unwrap().inserted, 1);
    assert_eq!(results[3].as_ref().unwrap().inserted, 1);
    assert_eq!(dlu(&store, "gong_audit_log_entry").len(), 2);
    assert_eq!(store.watermark(&lost).unwrap(), None);
    assert_eq!(store.watermark(&kept).unwrap(), Some(end));
}

#[test]
fn a_lease_of_a_dead_local_process_is_taken_over_at_once() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let key = gong_key();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let me = crate::lease::owner_id();
    let host = me.split(':').next().unwrap();
    let dead = format!("{host}:{pid}:dead");
    let ttl = std::time::Duration::from_secs(3600);
    store.try_lease(&key, &dead, ttl).unwrap().unwrap();
    assert!(
        store.try_lease(&key, &me, ttl).unwrap().is_some(),
        "dead holder's lease was not taken over"
    );
    // A live holder on this host keeps it.
    let live = format!("{host}:{}:live", std::process::id());
    let other = StreamKey::new(Source::Gong, "acme", "UserCallPlay");
    store.try_lease(&other, &live, ttl).unwrap().unwrap();
    assert!(store.try_lease(&other, &me, ttl).unwrap().is_none());
}

#[test]
fn runs_and_status_are_recorded() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let key = gong_key();
    let run = store
        .begin_run(&key, RunKind::Sync, None, crate::clock::now())
        .unwrap();
    let mut counts = RunCounts {
        requests: 3,
        retries: 1,
        ..Default::default()
    };
    counts.add_page(
        store
            .write_page(&key, &GONG, &[gong_row(1), gong_row(2)], &[], None, None)
            .unwrap(),
    );
    store
        .finish_run(run, RunOutcome::Success, &counts, None, crate::clock::now())
        .unwrap();
    store.record_success(&key, crate::clock::now()).unwrap();
    store
        .record_failure(
            &key,
            "HTTP 500",
            parse_instant("2026-11-20T00:00:00Z").unwrap(),
        )
        .unwrap();
    store
        .record_failure(
            &key,
            "HTTP 503",
            parse_instant("2026-11-21T00:00:00Z").unwrap(),
        )
        .unwrap();
    let status = store.stream_statuses().unwrap();
    assert_eq!(status.len(), 1);
    let s = &status[0];
    assert_eq!(s.rows_total, 2);
    assert_eq!(s.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        s.failing_since.as_deref(),
        Some("2026-11-20T00:00:00.000000Z")
    );
    let last = s.last_run.as_ref().unwrap();
    assert_eq!(
        (
            last.outcome.as_str(),
            last.counts.pages,
            last.counts.retries
        ),
        ("success", 1, 1)
    );
}

#[derive(Debug, Clone)]
enum Op {
    Gong {
        conn: bool,
        ids: Vec<u8>,
    },
    Genesys {
        conn: bool,
        ids: Vec<u8>,
        version: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), prop::collection::vec(0u8..30, 0..12))
            .prop_map(|(conn, ids)| Op::Gong { conn, ids }),
        (any::<bool>(), prop::collection::vec(0u8..30, 0..12), 0u8..3)
            .prop_map(|(conn, ids, version)| Op::Genesys { conn, ids, version }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the interleaving of batches from two connections, every stamp a
    /// write assigns is unique and greater than every stamp before it, and rows a
    /// write did not change keep theirs.
    #[test]
    fn db_last_updated_strictly_increases_across_connections(ops in prop::collection::vec(op(), 1..24)) {
        let (_dir, path) = temp_db();
        let mut conns = [Store::open(&path).unwrap(), Store::open(&path).unwrap()];
        let snapshot = |s: &Store| {
            let mut all = dlu(s, "gong_audit_log_entry");
            all.extend(dlu(s, "genesys_audit_log_message"));
            all
        };
        let mut seen = snapshot(&conns[0]);
        for op in ops {
            let counts = match &op {
                Op::Gong { conn, ids } => {
                    let rows: Vec<_> = ids.iter().map(|i| gong_row(*i as usize)).collect();
                    conns[*conn as usize].write_page(&gong_key(), &GONG, &rows, &[], None, None).unwrap()
                }
                Op::Genesys { conn, ids, version } => {
                    let rows: Vec<_> = ids.iter().map(|i| genesys_row(*i as usize, *version as u32)).collect();
                    conns[*conn as usize].write_page(&genesys_key(), &GENESYS, &rows, &[], None, None).unwrap()
                }
            };
            let max_before = seen.values().max().cloned().unwrap_or_default();
            let now = snapshot(&conns[0]);
            let mut changed: Vec<&String> = now.iter().filter(|(k, v)| seen.get(*k) != Some(*v)).map(|(_, v)| v).collect();
            prop_assert_eq!(changed.len() as i64, counts.inserted + counts.updated);
            for stamp in &changed {
                prop_assert!(**stamp > max_before, "{} not after {}", stamp, max_before);
            }
            let n = changed.len();
            changed.sort();
            changed.dedup();
            prop_assert_eq!(changed.len(), n, "two rows share a stamp");
            seen = now;
        }
    }
}
