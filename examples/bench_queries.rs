//! Times the everyday questions of the performance targets on a mirror, as a
//! reader would ask them of the public tables and view (best of three runs
//! each, after one warm-up), and `status`'s own query. Parameters (a user, a
//! call, the last week) are picked from the data itself.
//!
//!     cargo run --release --example bench_queries -- MIRROR.sqlite

use rusqlite::{Connection, OpenFlags};
use std::time::Instant;

fn one(c: &Connection, sql: &str) -> rusqlite::Result<Option<String>> {
    c.query_row(sql, [], |r| r.get(0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bench_queries MIRROR.sqlite")?;
    let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let newest = one(&c, "SELECT max(timestamp) FROM gong_audit_log_entry")?.unwrap_or_default();
    let week_ago = one(
        &c,
        &format!("SELECT strftime('%Y-%m-%dT%H:%M:%S.000000Z', '{newest}', '-7 days')"),
    )?
    .unwrap_or_default();
    let user = one(&c, "SELECT user_email FROM gong_audit_log_entry WHERE user_email IS NOT NULL LIMIT 1 OFFSET 500")?.unwrap_or_default();
    let call = one(&c, "SELECT resource_id FROM gong_audit_log_entry WHERE log_type = 'ExternallySharedCallAccess' LIMIT 1 OFFSET 777")?.unwrap_or_default();
    let g_newest =
        one(&c, "SELECT max(event_date) FROM genesys_audit_log_message")?.unwrap_or_default();
    let g_week = one(
        &c,
        &format!("SELECT strftime('%Y-%m-%dT%H:%M:%S.000000Z', '{g_newest}', '-7 days')"),
    )?
    .unwrap_or_default();
    let bookmark = one(&c, "SELECT db_last_updated FROM gong_audit_log_entry ORDER BY db_last_updated DESC LIMIT 1 OFFSET 1000")?.unwrap_or_default();
    let questions = [
        ("top users, last 7 days", format!("SELECT user_email, count(*) AS n FROM gong_audit_log_entry WHERE timestamp >= '{week_ago}' GROUP BY user_email ORDER BY n DESC LIMIT 10")),
        ("one user's actions, last 7 days", format!("SELECT timestamp, log_type, action, resource_id FROM gong_audit_log_entry WHERE user_email = '{user}' AND timestamp >= '{week_ago}' ORDER BY timestamp")),
        ("external shares of one call", format!("SELECT timestamp, log_type, user_email, ip_address FROM gong_audit_log_entry WHERE log_type IN ('ExternallySharedCallAccess', 'ExternallySharedCallPlay') AND resource_id = '{call}' ORDER BY timestamp")),
        ("Genesys failures by service, last 7 days", format!("SELECT service_name, count(*) AS failures FROM genesys_audit_log_message WHERE status = 'FAILURE' AND event_date >= '{g_week}' GROUP BY service_name ORDER BY failures DESC")),
        ("audit_event of one user, last 7 days", format!("SELECT * FROM audit_event WHERE user_name_or_email = '{user}' AND event_time >= '{week_ago}' ORDER BY event_time")),
        ("incremental export (1,000 rows after a bookmark)", format!("SELECT * FROM gong_audit_log_entry WHERE db_last_updated > '{bookmark}' ORDER BY db_last_updated LIMIT 1000")),
    ];
    for (name, sql) in &questions {
        let mut best = f64::MAX;
        let mut rows = 0;
        for _ in 0..4 {
            let started = Instant::now();
            let mut stmt = c.prepare(sql)?;
            let n = stmt.column_count();
            let mut it = stmt.query([])?;
            rows = 0;
            while let Some(r) = it.next()? {
                for i in 0..n {
                    let _ = r.get_ref(i)?;
                }
                rows += 1;
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!("{:48} {:8.1} ms {rows:6} rows", name, best * 1000.0);
    }
    Ok(())
}
