//! Who may write a stream. A lease names its holder (`host:pid:nonce`) and
//! expires; [`decide`] (pure, the clock and the liveness test passed in) says
//! whether a runner may take it: free, expired, already its own, or held by a
//! process of this host that no longer exists (asked of the kernel by
//! [`holder_is_dead`], so a SIGKILL never leaves a stream locked until expiry).

use chrono::{DateTime, Utc};

/// The lease as stored: its holder and when it expires (if it can be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held<'a> {
    pub owner: &'a str,
    pub expires: Option<DateTime<Utc>>,
}

/// Whether a runner may take a stream's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Take,
    /// Someone else holds it and may still be writing.
    Busy,
}

/// May `me` take a lease held as `held` at `now`? A lease with no holder, one
/// of ours, one past its expiry (or with an unreadable one) and one whose
/// holder `dead` says is gone may be taken.
pub fn decide(
    held: Option<Held<'_>>,
    me: &str,
    now: DateTime<Utc>,
    dead: impl Fn(&str) -> bool,
) -> Decision {
    let free = match held {
        None => true,
        Some(h) if h.owner == me => true,
        Some(h) => h.expires.is_none_or(|t| t <= now) || dead(h.owner),
    };
    if free {
        Decision::Take
    } else {
        Decision::Busy
    }
}

/// A lease owner string for this process: `host:pid:nonce`.
pub fn owner_id() -> String {
    let nonce = crate::clock::now().timestamp_subsec_nanos();
    format!("{}:{}:{:08x}", hostname(), std::process::id(), nonce)
}

/// The kernel's host name (uname), the same inside a sandboxed unit that cannot
/// read `/proc/sys` as in a root shell beside it.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer outlives the call and its length is passed with it.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).trim().to_owned())
        .filter(|s| ok && !s.is_empty() && !s.contains(':'))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// True when `owner` names a process of this host that no longer runs. Other
/// hosts' leases (a database on a shared disk) only expire.
pub fn holder_is_dead(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (
        parts.next(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) else {
        return false;
    };
    if host != hostname() || !cfg!(target_os = "linux") || pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // Signal 0 only asks. EPERM: it exists but is not ours to signal (another
    // user's process, e.g. a root `sync` seen from the sandboxed daemon, whose
    // /proc entry `ProtectProc=invisible` hides): alive.
    // SAFETY: kill with signal 0 sends nothing and touches no memory.
    let asked = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if asked != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return true;
    }
    // A zombie nobody has reaped yet will write no more either.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => matches!(
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn who_may_take_a_lease() {
        let (now, alive, dead) = (at(1000), |_: &str| false, |_: &str| true);
        let held = |owner, exp| {
            Some(Held {
                owner,
                expires: exp,
            })
        };
        assert_eq!(decide(None, "me", now, alive), Decision::Take);
        assert_eq!(
            decide(held("me", Some(at(2000))), "me", now, alive),
            Decision::Take
        );
        assert_eq!(
            decide(held("you", Some(at(2000))), "me", now, alive),
            Decision::Busy
        );
        assert_eq!(
            decide(held("you", Some(at(1000))), "me", now, alive),
            Decision::Take,
            "expired"
        );
        assert_eq!(
            decide(held("you", None), "me", now, alive),
            Decision::Take,
            "unreadable expiry"
        );
        assert_eq!(
            decide(held("you", Some(at(2000))), "me", now, dead),
            Decision::Take,
            "holder gone"
        );
    }

    #[test]
    fn this_process_is_alive_and_other_hosts_only_expire() {
        let me = owner_id();
        assert!(!holder_is_dead(&me));
        assert!(!holder_is_dead("some-other-host:1:0"));
        assert!(!holder_is_dead("garbage"));
        let gone = format!("{}:{}:0", hostname(), i32::MAX as u32 - 1);
        assert!(holder_is_dead(&gone));
    }

    proptest! {
        /// A live holder of another name keeps its lease until it expires, and
        /// never after.
        #[test]
        fn a_live_lease_is_kept_exactly_until_it_expires(now in 0i64..1_000_000, expires in 0i64..1_000_000) {
            let held = Some(Held { owner: "you", expires: Some(at(expires)) });
            let d = decide(held, "me", at(now), |_| false);
            prop_assert_eq!(d == Decision::Busy, expires > now);
        }
    }
}
