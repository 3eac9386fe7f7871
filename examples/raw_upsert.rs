//! The ceiling the benchmark compares against: a plain rusqlite loop appending
//! the same Gong rows an auditmirror mirror holds (read into memory first, so
//! only writing is timed) to a table with no index at all, 100 rows per
//! transaction, with a cached statement, in the mirror's file settings. It
//! fetches nothing, maps nothing, checks nothing for duplicates.
//!
//!     cargo run --release --example raw_upsert -- MIRROR.sqlite OUT.sqlite

use rusqlite::{params, Connection};
use std::time::Instant;

type Row = (String, String, String, String, String);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (src, dst) = match args.as_slice() {
        [_, src, dst] => (src, dst),
        _ => return Err("usage: raw_upsert MIRROR.sqlite OUT.sqlite".into()),
    };
    let conn = Connection::open(src)?;
    let mut stmt = conn.prepare(
        "SELECT account, id, log_type, timestamp, raw_json FROM gong_audit_log_entry ORDER BY db_last_updated",
    )?;
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{dst}{suffix}"));
    }
    let mut out = Connection::open(dst)?;
    out.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE t (account TEXT NOT NULL, id TEXT NOT NULL, log_type TEXT, timestamp TEXT,
             raw_json TEXT, written TEXT);",
    )?;
    let started = Instant::now();
    for chunk in rows.chunks(100) {
        let tx = out.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ'))",
            )?;
            for r in chunk {
                insert.execute(params![r.0, r.1, r.2, r.3, r.4])?;
            }
        }
        tx.commit()?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"rows\": {}, \"seconds\": {secs:.3}, \"rows_per_second\": {:.0}}}",
        rows.len(),
        rows.len() as f64 / secs
    );
    Ok(())
}
