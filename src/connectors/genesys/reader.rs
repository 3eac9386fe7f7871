//! Paging one window of the Genesys connector: every planned service's
//! transaction (or realtime pages) in turn, restarting once on a lost cursor.
//! The page arithmetic (a smaller page size, whether more pages follow) is pure.

use super::*;

/// Reads one window page by page: every planned service in turn.
#[derive(Debug)]
pub struct WindowReader<'a> {
    pub(super) conn: &'a GenesysConnector,
    pub(super) window: Window,
    pub(super) mode: GenesysMode,
    pub(super) plan: Vec<Option<String>>,
    /// History: the transaction of each planned service.
    pub(super) txs: Vec<String>,
    /// The planned service being read.
    pub(super) at: usize,
    pub(super) cursor: Option<String>,
    pub(super) seen: HashSet<String>,
    pub(super) page_number: u32,
    pub(super) page_size: u32,
    pub(super) pending: Option<Fetched>,
    /// The current service's transaction was run again already.
    pub(super) restarted: bool,
}

impl WindowReader<'_> {
    /// The next page and whether it is the window's last; `None` after the last.
    pub async fn next(
        &mut self,
        counters: &Counters,
    ) -> Result<Option<(Page, bool)>, ConnectorError> {
        loop {
            let Some(service) = self.plan.get(self.at).cloned() else {
                return Ok(None);
            };
            let key = (self.window, service.as_deref());
            let fetched = match self.pending.take() {
                Some(f) => f,
                None if self.mode == GenesysMode::Realtime => {
                    let (n, size) = (self.page_number, self.page_size);
                    let f = self.conn.fetch_realtime(key.0, key.1, n, size, counters);
                    f.await?
                }
                None => {
                    let tx = &self.txs[self.at];
                    let (cursor, size) = (self.cursor.as_deref(), self.page_size);
                    let f = self.conn.fetch_results(key, tx, cursor, size, counters);
                    f.await?
                }
            };
            let what = || self.conn.what(self.window, service.as_deref());
            let f = match fetched {
                Fetched::Page(f) => f,
                Fetched::TooLarge if self.page_size > 1 => {
                    (self.page_number, self.page_size) =
                        smaller_pages(self.page_number, self.page_size);
                    tracing::info!(what = %what(), page_size = self.page_size, "response too large; asking for smaller pages");
                    continue;
                }
                Fetched::TooLarge => {
                    return Err(HttpError::Rejected {
                        what: what(),
                        status: 400,
                        message: format!("{TOO_LARGE} even with pageSize=1"),
                    }
                    .into())
                }
                Fetched::CursorRejected => {
                    self.restart(counters).await?;
                    continue;
                }
                Fetched::NeedsService => {
                    let detail = "a query without serviceName was refused mid-window".into();
                    return Err(ConnectorError::Protocol {
                        what: what(),
                        detail,
                    });
                }
            };
            if let Some(c) = &f.cursor {
                if !self.seen.insert(c.clone()) {
                    self.restart(counters).await?;
                    continue;
                }
            }
            let realtime = self.mode == GenesysMode::Realtime;
            let more = match realtime {
                true => {
                    more_realtime_pages(f.count, f.page_count, self.page_number, self.page_size)
                }
                false => f.cursor.is_some(),
            };
            if more && realtime {
                self.page_number = self.page_number.saturating_add(1);
            } else if more {
                self.cursor = f.cursor;
            } else {
                self.at += 1;
                self.cursor = None;
                self.seen.clear();
                self.page_number = 1;
                self.restarted = false;
            }
            return Ok(Some((f.page, self.at == self.plan.len())));
        }
    }

    /// Runs the current service's transaction again (once) after its cursor
    /// expired or repeated; rows already read are idempotent.
    async fn restart(&mut self, counters: &Counters) -> Result<(), ConnectorError> {
        let service = self.plan.get(self.at).cloned().flatten();
        let what = self.conn.what(self.window, service.as_deref());
        if self.restarted || self.mode == GenesysMode::Realtime {
            return Err(ConnectorError::Window {
                what,
                failure: WindowFailure::CursorExpired,
                detail: "the vendor's cursor expired or repeated twice in one window".into(),
            });
        }
        tracing::info!(%what, "cursor expired or repeated; running the query again");
        self.restarted = true;
        let detail = match self
            .conn
            .transaction(self.window, service.as_deref(), counters)
            .await
        {
            Ok(Some(id)) => {
                self.txs[self.at] = id;
                self.cursor = None;
                self.seen.clear();
                return Ok(());
            }
            Ok(None) => "a query without serviceName was refused mid-window".into(),
            Err(e) => return Err(e),
        };
        Err(ConnectorError::Protocol { what, detail })
    }
}

impl PageReader for WindowReader<'_> {
    fn total(&self) -> Option<u64> {
        None
    }

    fn next<'a>(
        &'a mut self,
        counters: &'a Counters,
    ) -> BoxFuture<'a, Result<Option<(Page, bool)>, ConnectorError>> {
        Box::pin(WindowReader::next(self, counters))
    }
}

/// After `response.entity.too.large`: half the page size, and the page number
/// (realtime pages are numbered from 1) at which the same messages begin.
pub(super) fn smaller_pages(page_number: u32, page_size: u32) -> (u32, u32) {
    let offset = page_number.saturating_sub(1).saturating_mul(page_size);
    let size = (page_size / 2).max(1);
    (offset / size + 1, size)
}

/// Whether a realtime page of `count` messages (page `page_number` of
/// `page_count`, if the API said) has pages after it.
pub(super) fn more_realtime_pages(
    count: usize,
    page_count: Option<u64>,
    page_number: u32,
    page_size: u32,
) -> bool {
    count > 0 && page_count.map_or(count >= page_size as usize, |n| u64::from(page_number) < n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn realtime_pages_end_at_the_page_count_or_a_short_page() {
        assert!(more_realtime_pages(500, Some(3), 2, 500));
        assert!(!more_realtime_pages(500, Some(3), 3, 500));
        assert!(more_realtime_pages(500, None, 7, 500));
        assert!(!more_realtime_pages(499, None, 7, 500));
        assert!(!more_realtime_pages(0, Some(9), 1, 500));
    }

    proptest! {
        /// Halving the page size never skips a message: the new page starts
        /// at or before the offset the old one started at.
        #[test]
        fn smaller_pages_keep_the_offset(number in 1u32..10_000, size in 2u32..=500) {
            let (n, s) = smaller_pages(number, size);
            prop_assert_eq!(s, size / 2);
            let (old, new) = (u64::from(number - 1) * u64::from(size), u64::from(n - 1) * u64::from(s));
            prop_assert!(new <= old && old < new + u64::from(s));
        }
    }
}
