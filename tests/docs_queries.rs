//! Every `sql` block of docs/querying.md, run against the demo's mirror: each
//! must prepare, bind its parameters (`:user`, `:call_id`, `:last`) and return
//! at least one row, so the documented questions stay true to the schema.

use rusqlite::Connection;

/// The `sql` blocks of a Markdown text, with the heading above each.
fn sql_blocks(md: &str) -> Vec<(String, String)> {
    let (mut out, mut heading, mut block) = (Vec::new(), String::new(), None::<String>);
    for line in md.lines() {
        match (&mut block, line.trim_end()) {
            (None, "```sql") => block = Some(String::new()),
            (Some(b), "```") => {
                out.push((heading.clone(), std::mem::take(b)));
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, l) if l.starts_with('#') => {
                heading = l.trim_start_matches('#').trim().to_owned()
            }
            (None, _) => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_query_answers_on_the_demo_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let summary = auditmirror::demo::run(dir.path(), None).await.unwrap();
    let conn = Connection::open(&summary.db).unwrap();
    let one = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let user = one("SELECT user_email FROM gong_audit_log_entry WHERE ip_address IS NOT NULL AND timestamp >= strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now', '-6 days') LIMIT 1");
    let call = one("SELECT resource_id FROM gong_audit_log_entry WHERE log_type = 'ExternallySharedCallAccess' LIMIT 1");
    let md =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/querying.md")).unwrap();
    let blocks = sql_blocks(&md);
    assert!(blocks.len() >= 12, "{} sql blocks", blocks.len());
    for (heading, sql) in &blocks {
        let mut stmt = conn
            .prepare(sql)
            .unwrap_or_else(|e| panic!("{heading}: {e}\n{sql}"));
        for i in 1..=stmt.parameter_count() {
            let value = match stmt.parameter_name(i) {
                Some(":user") => user.clone(),
                Some(":call_id") => call.clone(),
                Some(":last") => String::new(),
                other => panic!("{heading}: unknown parameter {other:?}"),
            };
            stmt.raw_bind_parameter(i, value).unwrap();
        }
        let mut rows = stmt.raw_query();
        assert!(
            rows.next().unwrap().is_some(),
            "{heading}: no rows on the demo mirror\n{sql}"
        );
    }
}
