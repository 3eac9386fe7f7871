//! A run's hold on its streams: taking each stream's lease (waiting for another
//! holder up to `Options::wait`), and keeping the leases alive while the run
//! lasts, however long it waits between pages.

use super::{Halt, Options, Stream};
use crate::store::{Lease, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// How often a runner that waits for a lease asks again.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Each stream's lease, or who holds it. A held lease is asked for again until
/// `opts.wait` runs out; the leases already taken are kept alive meanwhile.
pub(super) fn acquire(
    store: &mut Store,
    streams: &[Arc<Stream>],
    opts: &Options,
) -> Result<Vec<Result<Lease, String>>, StoreError> {
    let deadline = Instant::now() + opts.wait;
    let mut got: Vec<Option<Lease>> = vec![None; streams.len()];
    let (mut told, mut renewed) = (false, Instant::now());
    loop {
        for (s, slot) in streams.iter().zip(got.iter_mut()) {
            if slot.is_none() {
                *slot = store.try_lease(&s.key, &opts.owner, opts.lease_ttl)?;
            }
        }
        let now = Instant::now();
        if got.iter().all(Option::is_some) || now >= deadline || opts.cancel.is_cancelled() {
            break;
        }
        if !told {
            for (s, _) in streams.iter().zip(&got).filter(|(_, g)| g.is_none()) {
                let holder = store.lease_holder(&s.key)?.unwrap_or_default();
                tracing::info!(stream = %s.key, "{holder} is syncing this stream; waiting up to {}s for it", (deadline - now).as_secs());
            }
            told = true;
        }
        if renewed.elapsed() >= opts.lease_ttl / 4 {
            for lease in got.iter().flatten() {
                store.renew_lease(lease)?;
            }
            renewed = Instant::now();
        }
        std::thread::sleep(LEASE_POLL.min(deadline - now));
    }
    let mut out = Vec::with_capacity(got.len());
    for (s, lease) in streams.iter().zip(got) {
        out.push(match lease {
            Some(l) => Ok(l),
            None => Err(store
                .lease_holder(&s.key)?
                .unwrap_or_else(|| "another process".into())),
        });
    }
    Ok(out)
}

/// Renews a run's leases every third of their lifetime while the run lasts, so a
/// run that waits long between pages (a slow vendor query, a long Retry-After)
/// keeps its streams; the writer renews them with every page too. A lease found
/// taken over stops its stream's fetcher.
pub(super) struct LeaseKeeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseKeeper {
    pub(super) fn start(
        db: std::path::PathBuf,
        leases: Vec<(Lease, Arc<Halt>)>,
        every: std::time::Duration,
    ) -> LeaseKeeper {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = (!leases.is_empty())
            .then(|| {
                std::thread::Builder::new()
                    .name("lease-keeper".into())
                    .spawn(move || {
                        let mut store = None;
                        loop {
                            std::thread::park_timeout(every);
                            if flag.load(Relaxed) {
                                return;
                            }
                            if store.is_none() {
                                store = Store::open(&db).ok();
                            }
                            let Some(s) = store.as_mut() else { continue };
                            for (lease, halt) in &leases {
                                if let Err(e @ StoreError::LeaseLost { .. }) = s.renew_lease(lease)
                                {
                                    halt.halt(e.to_string());
                                }
                            }
                        }
                    })
                    .ok()
            })
            .flatten();
        LeaseKeeper { stop, thread }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
