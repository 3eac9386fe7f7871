//! Paging through one window: the decisions in [`Paging`] (pure: which cursor to
//! send, whether a page was the last, when a lost cursor restarts the window and
//! when it fails it), and [`WindowReader`], which does the requests.

use super::page::FetchedPage;
use super::{Fetched, GongConnector, LogType};
use crate::connector::{BoxFuture, ConnectorError, Page, PageReader, Window, WindowFailure};
use crate::http::Counters;
use std::collections::HashSet;

/// What to do after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Hand the page on; `last` when no cursor follows it.
    Page { last: bool },
    /// Read the window again from its first page (its cursor was lost once).
    Restart,
    /// The cursor was lost a second time in this window.
    Fail,
}

/// The paging state of one window: the cursor to send next, the cursors seen
/// (one that repeats would loop forever), and whether it was read afresh once.
#[derive(Debug, Default)]
pub struct Paging {
    cursor: Option<String>,
    seen: HashSet<String>,
    restarted: bool,
    done: bool,
}

impl Paging {
    /// The cursor for the next request (`None`: the first page).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Whether the window's last page was handed on.
    pub fn done(&self) -> bool {
        self.done
    }

    /// A page arrived whose `records.cursor` is `next`.
    pub fn on_page(&mut self, next: Option<String>) -> Step {
        if let Some(c) = &next {
            if !self.seen.insert(c.clone()) {
                return self.lost();
            }
        }
        self.done = next.is_none();
        self.cursor = next;
        Step::Page { last: self.done }
    }

    /// The vendor refused the cursor (expired, or failed to verify).
    pub fn on_cursor_rejected(&mut self) -> Step {
        self.lost()
    }

    fn lost(&mut self) -> Step {
        if self.restarted {
            return Step::Fail;
        }
        self.restarted = true;
        self.cursor = None;
        self.seen.clear();
        Step::Restart
    }
}

/// Reads one window page by page, restarting it once if the vendor's cursor
/// expires or repeats.
pub struct WindowReader<'a> {
    pub(super) conn: &'a GongConnector,
    pub(super) log_type: LogType,
    pub(super) window: Window,
    /// The first page, fetched by `open` for its `totalRecords`.
    pub(super) pending: Option<FetchedPage>,
    pub(super) paging: Paging,
}

impl WindowReader<'_> {
    /// `totalRecords` of the first page (0 for an empty window).
    pub fn total(&self) -> u64 {
        self.pending.as_ref().map_or(0, |p| p.total)
    }

    /// The next page and whether it is the window's last; `None` after the last.
    pub async fn next(
        &mut self,
        counters: &Counters,
    ) -> Result<Option<(Page, bool)>, ConnectorError> {
        loop {
            if self.paging.done() {
                return Ok(None);
            }
            let fetched = match self.pending.take() {
                Some(p) => Fetched::Page(p),
                None => {
                    let cursor = self.paging.cursor();
                    let f = self
                        .conn
                        .fetch(self.log_type, self.window, cursor, counters);
                    f.await?
                }
            };
            let (step, page) = match fetched {
                Fetched::Page(p) => (self.paging.on_page(p.cursor), Some(p.page)),
                Fetched::CursorRejected => (self.paging.on_cursor_rejected(), None),
            };
            let what = || self.conn.what(self.log_type, self.window);
            match (step, page) {
                (Step::Page { last }, Some(page)) => return Ok(Some((page, last))),
                (Step::Restart, _) => {
                    // Rows already written are idempotent.
                    tracing::info!(what = %what(), "cursor expired or repeated; reading the window again");
                }
                _ => {
                    return Err(ConnectorError::Window {
                        what: what(),
                        failure: WindowFailure::CursorExpired,
                        detail: "the vendor's cursor expired or repeated twice in one window (a Gong cursor that expires before the next request means the account's requests are too far apart: raise requests_per_second, sync fewer log_types at once, or ask Gong about the cursor lifetime)".into(),
                    })
                }
            }
        }
    }
}

impl PageReader for WindowReader<'_> {
    fn total(&self) -> Option<u64> {
        Some(WindowReader::total(self))
    }

    fn next<'a>(
        &'a mut self,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Option<(Page, bool)>, ConnectorError>> {
        Box::pin(WindowReader::next(self, counters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_pages_until_no_cursor_follows() {
        let mut p = Paging::default();
        assert_eq!(p.cursor(), None);
        assert_eq!(p.on_page(Some("a".into())), Step::Page { last: false });
        assert_eq!(p.cursor(), Some("a"));
        assert_eq!(p.on_page(None), Step::Page { last: true });
        assert!(p.done());
    }

    #[test]
    fn a_lost_cursor_restarts_the_window_once_then_fails() {
        let mut p = Paging::default();
        p.on_page(Some("a".into()));
        assert_eq!(p.on_cursor_rejected(), Step::Restart);
        assert_eq!(p.cursor(), None, "read afresh from the first page");
        // After the restart the same cursors are new again.
        assert_eq!(p.on_page(Some("a".into())), Step::Page { last: false });
        assert_eq!(p.on_cursor_rejected(), Step::Fail);
    }

    #[test]
    fn a_repeated_cursor_counts_as_lost() {
        let mut p = Paging::default();
        p.on_page(Some("a".into()));
        p.on_page(Some("b".into()));
        assert_eq!(p.on_page(Some("a".into())), Step::Restart);
        p.on_page(Some("a".into()));
        assert_eq!(p.on_page(Some("a".into())), Step::Fail);
    }
}
