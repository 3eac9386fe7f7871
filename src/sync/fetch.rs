//! The fetching side of a run: one task per stream reads its windows in time
//! order through the stream's connector and sends their pages to the writer,
//! cutting and splitting windows as `windows.rs` decides.

use super::windows::{self, Decision, Limits};
use super::writer::{Msg, Pipe};
use super::{Halt, Stream};
use crate::connector::{ConnectorError, Page, Window};
use crate::http::{Counters, ErrorClass};
use std::sync::Arc;

/// What a fetcher learned besides its pages.
pub(super) struct Fetched {
    /// The parts the vendor lists for the stream (its services, say).
    pub(super) catalog: Option<Vec<String>>,
}

/// Sends one stream's pages to the writer.
struct Sink {
    idx: usize,
    pipe: Pipe,
    stop: Arc<Halt>,
}

impl Sink {
    /// False once the writer stopped this stream (it reports why) or is gone.
    /// `last`: the window's last page.
    async fn send(&self, page: Page, window: Window, total: Option<u64>, last: bool) -> bool {
        let end = last.then_some(window.to);
        !self.stop.halted()
            && (self.pipe)
                .send(Msg::new(self.idx, page, end, Some((window, total))))
                .await
    }
}

/// The fetching side of one stream: what the vendor lists for it, then its
/// windows in time order.
pub(super) async fn produce(
    stream: Arc<Stream>,
    idx: usize,
    range: Window,
    pipe: Pipe,
    counters: Arc<Counters>,
    stop: Arc<Halt>,
) -> Result<Fetched, ConnectorError> {
    let sink = Sink { idx, pipe, stop };
    let name = stream.key.stream.as_str();
    // For `status`; a list we may not read is no failure.
    let catalog = match stream.connector.catalog(name, &counters).await {
        Ok(list) => list,
        // Credentials refused here are refused everywhere: stop now.
        Err(e) if e.class() == ErrorClass::Auth => return Err(e),
        Err(e) => {
            let e = stream.redactor.for_the_record(&e.to_string());
            tracing::warn!(stream = %stream.key, "cannot read what the vendor lists for this stream: {e}");
            None
        }
    };
    read_range(&stream, range, &counters, &sink).await?;
    Ok(Fetched { catalog })
}

/// How reading one window ended.
enum Read {
    Done,
    /// The writer stopped this stream.
    Stopped,
    /// Split before reading past the first page: read these halves instead.
    Split(Window, Window),
}

/// Reads `range` window by window, in time order.
async fn read_range(
    stream: &Stream,
    range: Window,
    counters: &Counters,
    sink: &Sink,
) -> Result<(), ConnectorError> {
    let mut limits = Limits::new(stream.spec.strategy);
    let mut todo = vec![range];
    while let Some(w) = todo.pop() {
        let pieces = windows::cut(w, &limits);
        if pieces.len() > 1 {
            todo.extend(pieces.into_iter().rev());
            continue;
        }
        let (e, total) = match read_window(stream, w, &limits, counters, sink).await {
            Ok(Read::Done) => continue,
            Ok(Read::Stopped) => return Ok(()),
            Ok(Read::Split(a, b)) => {
                todo.extend([b, a]);
                continue;
            }
            Err(failed) => failed,
        };
        let ConnectorError::Window {
            what,
            failure,
            detail,
        } = e
        else {
            return Err(e);
        };
        match windows::after_failure(w, failure, total, &mut limits) {
            Decision::Split(a, b) => {
                tracing::info!(stream = %stream.key, window = %w, "{detail}; splitting the window");
                todo.extend([b, a]);
            }
            Decision::Again => {
                tracing::warn!(stream = %stream.key, window = %w, "{detail}; reading shorter windows");
                todo.push(w);
            }
            Decision::Fail(why) => {
                return Err(ConnectorError::Window {
                    what,
                    failure,
                    detail: format!("{detail}; {why}"),
                })
            }
        }
    }
    Ok(())
}

/// Reads one window, unless its first page says it holds more records than
/// the limit. A failure comes with what the first page said it holds.
async fn read_window(
    stream: &Stream,
    w: Window,
    limits: &Limits,
    counters: &Counters,
    sink: &Sink,
) -> Result<Read, (ConnectorError, Option<u64>)> {
    let name = stream.key.stream.as_str();
    let mut reader = stream
        .connector
        .open(name, w, counters)
        .await
        .map_err(|e| (e, None))?;
    let total = reader.total();
    if let Some((a, b)) = windows::split_for_count(w, total, limits) {
        return Ok(Read::Split(a, b));
    }
    while let Some((page, last)) = reader.next(counters).await.map_err(|e| (e, total))? {
        if !sink.send(page, w, total, last).await {
            return Ok(Read::Stopped);
        }
    }
    Ok(Read::Done)
}
