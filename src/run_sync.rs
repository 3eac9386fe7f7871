//! The `sync` and `backfill` commands: the engine over the selected streams,
//! a line per stream, the metrics textfile if asked, and the exit code (0, 1
//! when a stream failed, 3 when the mirror did).

use crate::cli::Selectors;
use crate::{db_failure, path_failure, shutdown_signal, Failure};
use crate::{EXIT_DATABASE, EXIT_STREAM_FAILED, EXIT_USAGE};
use auditmirror::config::Config;
use auditmirror::store::Store;
use auditmirror::streams::{self, BuildError};
use auditmirror::sync::{Options, Outcome, Range, Report};
use std::path::Path;

pub async fn sync_streams(config: &Config, sel: &Selectors, range: Range) -> Result<(), Failure> {
    config.check_database_dir().map_err(path_failure)?;
    let store = Store::open(&config.database_path).map_err(db_failure)?;
    let streams = streams::build(config, &sel.selector(), &store).map_err(|e| match e {
        BuildError::Store(e) => db_failure(e),
        other => Failure {
            code: EXIT_USAGE,
            error: other.into(),
        },
    })?;
    drop(store);
    let textfile = sel
        .metrics_textfile
        .as_deref()
        .map(textfile_dir)
        .transpose()?;
    let metrics = textfile.map(|_| std::sync::Arc::new(auditmirror::metrics::Metrics::new()));
    let opts = Options {
        wait: sel.wait,
        progress: auditmirror::progress::bars(),
        metrics: metrics.clone(),
        ..Options::new(config.database_path.clone())
    };
    // SIGTERM or Ctrl-C: write the pages in hand, then stop.
    let (cancel, stop) = (opts.cancel.clone(), shutdown_signal());
    tokio::spawn(async move {
        stop.await;
        tracing::info!("stopping: writing the pages already fetched");
        cancel.cancel();
    });
    let reports = auditmirror::sync::run_all(streams, range, opts).await;
    for r in &reports {
        println!("{r}");
    }
    if let Some(line) = all_skipped(&reports) {
        eprintln!("{line}");
    }
    let ended = outcome(&reports);
    let (Some(path), Some(m)) = (textfile, metrics) else {
        return ended;
    };
    // Written whatever the outcome: a failed run is what the alert is for.
    let store = Store::open_read_only(&config.database_path).ok().flatten();
    let written = m.write_textfile(path, store.as_ref(), config, auditmirror::clock::now());
    match (written, ended) {
        (Ok(()), ended) => ended,
        (Err(e), Ok(())) => Err(Failure {
            code: EXIT_STREAM_FAILED,
            error: e.into(),
        }),
        (Err(e), Err(failure)) => {
            tracing::error!("{e}");
            Err(failure)
        }
    }
}

/// `--metrics-textfile`'s path, once its directory is known to exist (checked
/// before the sync, so a typo is a usage error, not a lost run's metrics).
fn textfile_dir(path: &Path) -> Result<&Path, Failure> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if dir.is_some_and(|d| !d.is_dir()) {
        return Err(Failure {
            code: EXIT_USAGE,
            error: anyhow::anyhow!(
                "--metrics-textfile {}: its directory does not exist; create it, or point at node_exporter's --collector.textfile.directory",
                path.display()
            ),
        });
    }
    Ok(path)
}

/// When another runner held the lease of every selected stream, the line that
/// says nothing was synced here, and why. Not a failure (exit 0): the holder is
/// syncing those streams.
fn all_skipped(reports: &[Report]) -> Option<String> {
    let mut holders: Vec<&str> = reports
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Skipped { holder } => Some(holder.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    holders.sort_unstable();
    holders.dedup();
    let (who, hold, them) = match holders.len() {
        1 => ("another runner", "holds", "it"),
        _ => ("other runners", "hold", "them"),
    };
    let what = match reports.len() {
        0 => return None,
        1 => "the lease of the selected stream and is syncing it".to_owned(),
        n => format!("the leases of all {n} selected streams, syncing them"),
    };
    Some(format!(
        "nothing synced: {who} ({}) {hold} {what}; run again later, or with --wait 10m to wait for {them}",
        holders.join(", ")
    ))
}

/// Exit 0 when every stream succeeded or was skipped; 3 when any failed because
/// of the mirror (disk full, read-only, …), naming that failure; else 1.
pub fn outcome(reports: &[Report]) -> Result<(), Failure> {
    const STOPPED: &str = "stopped by a signal before the end; the next sync reads the rest";
    let failed: Vec<(&str, bool)> = reports
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed {
                message, database, ..
            } => Some((message.as_str(), *database)),
            Outcome::Stopped => Some((STOPPED, false)),
            _ => None,
        })
        .collect();
    let mut distinct: Vec<&str> = failed.iter().map(|f| f.0).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let (code, lead, which) = match (failed.iter().find(|f| f.1), distinct.first()) {
        (Some(db), _) => (EXIT_DATABASE, db.0, "the database error"),
        (None, Some(first)) => (EXIT_STREAM_FAILED, *first, "the first"),
        (None, None) => return Ok(()),
    };
    let (n, total) = (failed.len(), reports.len());
    let error = match distinct.len() {
        1 if n == 1 => anyhow::anyhow!("{lead}"),
        1 => anyhow::anyhow!("{lead} ({n} of {total} streams)"),
        _ => anyhow::anyhow!("{n} of {total} streams failed; {which}: {lead}"),
    };
    Err(Failure { code, error })
}
