//! Paging one window of the Genesys connector: every planned service's
//! transaction (or realtime pages) in turn, restarting once on a lost cursor.

use super::*;

/// Reads one window page by page: every planned service in turn.
#[derive(Debug)]
pub struct WindowReader<'a> {
    pub(super) conn: &'a GenesysConnector,
    pub(super) window: Window,
    pub(super) realtime: bool,
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
                None if self.realtime => {
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
                    let offset = (self.page_number - 1).saturating_mul(self.page_size);
                    self.page_size /= 2;
                    self.page_number = offset / self.page_size + 1;
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
            let more = match self.realtime {
                true => {
                    f.count > 0
                        && f.page_count
                            .map_or(f.count >= self.page_size as usize, |n| {
                                u64::from(self.page_number) < n
                            })
                }
                false => f.cursor.is_some(),
            };
            if more && self.realtime {
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
        if self.restarted || self.realtime {
            return Err(ConnectorError::Cursor { what });
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
            Err(OpenError::Connector(e)) => return Err(e),
            Err(OpenError::QueryFailed {
                transaction_id,
                state,
            }) => {
                format!(
                    "running the window again, transaction {transaction_id} ended {state} twice"
                )
            }
        };
        Err(ConnectorError::Protocol { what, detail })
    }
}
