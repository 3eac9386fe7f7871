//! `backfill` with plain dates through the real binary: a date is a whole UTC
//! day (`--to` included), and a gap the vendor no longer keeps ends no later
//! than `--to` and takes none of the run's time.

mod common;

use common::process::{run_bin, text};
use common::*;

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn midnight(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    t.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_dates_read_whole_utc_days() {
    let env = Env::start(sim_config(91, 4, 96), "log_types = [\"UserActivityLog\"]").await;
    let day = auditmirror::clock::now() - chrono::Duration::days(2);
    let (out, _) = run_bin(
        &env.config,
        &["backfill", "--from", &date(day), "--to", &date(day)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (from, to) = (midnight(day), midnight(day) + chrono::Duration::days(1));
    let truth = truth_rows(&env.sim, "UserActivityLog", from, to);
    assert!(truth.len() > 50, "{} rows in the day", truth.len());
    assert_rows_equal("one day", &mirror_rows(&env.db, "UserActivityLog"), &truth);

    let (out, _) = run_bin(
        &env.config,
        &[
            "backfill",
            "--from",
            &date(day),
            "--to",
            &date(day - chrono::Duration::days(1)),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--from (") && text(&out).contains("must be before --to ("),
        "{}",
        text(&out)
    );
}

type Instant = chrono::DateTime<chrono::Utc>;

/// `backfill` of the days from 25 to 20 days ago (AccessLog keeps 14); it
/// must succeed.
async fn backfill_25_to_20_days_ago(env: &Env) -> (std::process::Output, (Instant, Instant)) {
    let now = auditmirror::clock::now();
    let (from, to) = (
        now - chrono::Duration::days(25),
        now - chrono::Duration::days(20),
    );
    let (out, _) = run_bin(
        &env.config,
        &["backfill", "--from", &date(from), "--to", &date(to)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (out, (from, to))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_past_retention_ends_at_the_end_of_the_range() {
    // AccessLog is kept 14 days: a range ending 20 days ago is all gap.
    let env = Env::start(sim_config(92, 1, 10), "log_types = [\"AccessLog\"]").await;
    let (out, (from, to)) = backfill_25_to_20_days_ago(&env).await;
    let end = midnight(to) + chrono::Duration::days(1);
    let gap = format!(
        "gap: events from {} to {} are no longer kept by the vendor",
        auditmirror::time::fmt_utc(midnight(from)),
        auditmirror::time::fmt_utc(end)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&gap), "expected `{gap}` in\n{}", text(&out));
}

/// The seconds a stream's line of `sync`/`backfill` output reports.
fn seconds_of(stdout: &str, stream: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(stream))
        .unwrap_or_else(|| panic!("no line for {stream} in\n{stdout}"));
    let last = line.split(", ").last().unwrap_or_default();
    let secs = last.split('s').next().unwrap_or_default();
    secs.parse()
        .unwrap_or_else(|_| panic!("no seconds in `{line}`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_all_gap_reports_its_own_time_not_the_runs() {
    // AccessLog (kept 14 days) has nothing to read 25 to 20 days ago, while
    // UserActivityLog reads 6 days there through answers slowed to 100 ms.
    let env = Env::start(
        sim_config(93, 30, 100),
        "log_types = [\"AccessLog\", \"UserActivityLog\"]",
    )
    .await;
    env.slow_every_response(100);
    let (out, _) = backfill_25_to_20_days_ago(&env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let gap = seconds_of(&stdout, "gong/acme/AccessLog");
    let read = seconds_of(&stdout, "gong/acme/UserActivityLog");
    // Six pages or more at 100 ms each: the reading stream took 0.6 s at least.
    assert!(read >= 0.5, "{stdout}");
    assert!(
        gap < read,
        "the gap's stream reported the run's time\n{stdout}"
    );
}
