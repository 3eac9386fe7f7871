//! The floor the benchmark compares against: a plain rusqlite upsert loop, 100
//! rows per transaction with a cached statement, over the same Gong rows an
//! auditmirror mirror holds (read into memory first, so only writing is timed).
//!
//!     cargo run --release --example raw_upsert -- MIRROR.sqlite OUT.sqlite

use rusqlite::{params, Connection};
use std::time::Instant;

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (src, dst) = match args.as_slice() {
        [_, src, dst] => (src, dst),
        _ => return Err("usage: raw_upsert MIRROR.sqlite OUT.sqlite".into()),
    };
    let conn = Connection::open(src)?;
    let mut stmt = conn.prepare(
        "SELECT account, id, log_type, timestamp, action, resource_type, resource_id, ip_address, raw_json \
         FROM gong_audit_log_entry ORDER BY rowid",
    )?;
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let _ = std::fs::remove_file(dst);
    let mut out = Connection::open(dst)?;
    out.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE t (account TEXT NOT NULL, id TEXT NOT NULL, log_type TEXT, timestamp TEXT, action TEXT,
             resource_type TEXT, resource_id TEXT, ip_address TEXT, raw_json TEXT, db_last_updated TEXT,
             PRIMARY KEY (account, id));",
    )?;
    let started = Instant::now();
    for chunk in rows.chunks(100) {
        let tx = out.transaction()?;
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, strftime('%Y-%m-%dT%H:%M:%fZ')) \
                 ON CONFLICT (account, id) DO UPDATE SET raw_json = excluded.raw_json WHERE raw_json IS NOT excluded.raw_json",
            )?;
            for r in chunk {
                up.execute(params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8])?;
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
