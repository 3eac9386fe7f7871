//! The fetching side of a run: one task per stream reads its windows in time
//! order through the stream's connector and sends their pages to the writer,
//! splitting windows where the vendor's answer says a shorter one is needed.

use super::run::Msg;
use super::{windows, Reader, Stream, MIN_FAILED_SPLIT, MIN_REFUSED_SPLIT, MIN_SPLIT};
use crate::connector::{ConnectorError, Page, Window};
use crate::connectors::genesys::{GenesysConnector, OpenError};
use crate::connectors::gong::GongConnector;
use crate::http::Counters;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a fetcher learned besides its pages.
pub(super) struct Fetched {
    /// Genesys: the service names the service mapping listed.
    pub(super) services: Option<Vec<String>>,
}

/// Sends one stream's pages to the writer.
struct Sink {
    idx: usize,
    tx: mpsc::Sender<Msg>,
    stop: Arc<AtomicBool>,
}

impl Sink {
    /// False once the writer stopped this stream (it reports why) or is gone.
    async fn send(&self, page: Page, window_end: Option<DateTime<Utc>>) -> bool {
        !self.stop.load(Relaxed)
            && self
                .tx
                .send(Msg {
                    stream: self.idx,
                    page,
                    window_end,
                })
                .await
                .is_ok()
    }
}

/// The fetching side of one stream: reads its windows in time order and sends
/// their pages.
pub(super) async fn produce(
    stream: Arc<Stream>,
    idx: usize,
    range: Window,
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<Fetched, ConnectorError> {
    let sink = Sink { idx, tx, stop };
    match &stream.reader {
        Reader::Gong { conn, log_type } => {
            produce_gong(&stream, conn, log_type, range, &counters, &sink).await?;
            Ok(Fetched { services: None })
        }
        Reader::Genesys { conn, realtime } => {
            // The service names, for `status`; a mapping we may not read is no failure.
            let services = match conn.services(&counters).await {
                Ok(list) => Some(list),
                // Credentials refused here are refused everywhere: stop now.
                Err(e) if e.class() == crate::http::ErrorClass::Auth => return Err(e),
                Err(e) => {
                    let e = stream.redactor.for_the_record(&e.to_string());
                    tracing::warn!(stream = %stream.key, "cannot read the audit service mapping: {e}");
                    None
                }
            };
            produce_genesys(&stream, conn, *realtime, range, &counters, &sink).await?;
            Ok(Fetched { services })
        }
    }
}

/// Adaptive windows: ask for the whole range; halve while the first page
/// reports more than `window_records`, or when the vendor's cursor expires
/// before the window's pages are read (then later windows get fewer records).
async fn produce_gong(
    stream: &Stream,
    conn: &GongConnector,
    log_type: &str,
    range: Window,
    counters: &Counters,
    sink: &Sink,
) -> Result<(), ConnectorError> {
    let mut limit = stream.settings.window_records;
    let mut todo = vec![range];
    while let Some(w) = todo.pop() {
        let mut reader = conn.open(log_type, w, counters).await?;
        let total = reader.total();
        if let Some((a, b)) = windows::split_for_count(w, total, limit, MIN_SPLIT) {
            todo.extend([b, a]);
            continue;
        }
        loop {
            match reader.next(counters).await {
                Ok(Some((page, last))) => {
                    if !sink.send(page, last.then_some(w.to)).await {
                        return Ok(());
                    }
                }
                Ok(None) => break,
                Err(ConnectorError::Cursor { what }) => {
                    let Some((a, b)) = windows::split(w, MIN_SPLIT) else {
                        return Err(ConnectorError::Protocol { what, detail: format!(
                            "the vendor's cursor expired before the next page even for a window of {} s ({total} records): its cursors live shorter than the time between this stream's requests; raise requests_per_second, sync fewer log_types at once, or ask Gong about the cursor lifetime",
                            MIN_SPLIT.num_seconds()
                        ) });
                    };
                    limit = windows::limit_after_cursor_failure(limit, total);
                    tracing::info!(stream = %stream.key, window = %w, limit, "cursor expired twice; splitting the window");
                    todo.extend([b, a]);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Fixed windows of `window`; one whose query keeps failing is halved down to
/// an hour, and one the vendor refuses as too long is halved (with every window
/// after it) down to a minute.
async fn produce_genesys(
    stream: &Stream,
    conn: &GenesysConnector,
    realtime: bool,
    range: Window,
    counters: &Counters,
    sink: &Sink,
) -> Result<(), ConnectorError> {
    let mut max_len = crate::time::chrono_duration(stream.settings.window);
    let mut todo = vec![range];
    while let Some(w) = todo.pop() {
        if w.len() > max_len {
            todo.extend(w.split_every(max_len).into_iter().rev());
            continue;
        }
        let opened = if realtime {
            conn.open_realtime(w, counters)
                .await
                .map_err(OpenError::from)
        } else {
            conn.open(w, counters).await
        };
        let mut reader = match opened {
            Ok(r) => r,
            Err(OpenError::QueryFailed {
                transaction_id,
                state,
            }) => {
                let Some((a, b)) = windows::split(w, MIN_FAILED_SPLIT) else {
                    return Err(ConnectorError::Protocol {
                        what: format!("{} {w}", stream.key),
                        detail: format!("audit query transaction {transaction_id} ended {state} twice, even for a window of an hour or less; the next run tries again"),
                    });
                };
                tracing::warn!(stream = %stream.key, %transaction_id, %state, window = %w, "audit query failed twice; splitting the window");
                todo.extend([b, a]);
                continue;
            }
            Err(OpenError::Connector(ConnectorError::WindowTooLong { what, message })) => {
                if windows::split(w, MIN_REFUSED_SPLIT).is_none() {
                    let message = format!(
                        "{message} (even a window of {} s was refused)",
                        w.len().num_seconds()
                    );
                    return Err(ConnectorError::WindowTooLong { what, message });
                }
                max_len = windows::max_len_after_refusal(max_len, w, MIN_REFUSED_SPLIT);
                tracing::warn!(stream = %stream.key, window = %w, %message, "the vendor refused the interval as too long; splitting it");
                todo.push(w);
                continue;
            }
            Err(OpenError::Connector(e)) => return Err(e),
        };
        while let Some((page, last)) = reader.next(counters).await? {
            if !sink.send(page, last.then_some(w.to)).await {
                return Ok(());
            }
        }
    }
    Ok(())
}
