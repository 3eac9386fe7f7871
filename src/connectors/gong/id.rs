//! The content id of a Gong entry (Gong entries carry no id of their own).

use super::canonical::{canonical, CanonError};
use crate::time::fmt_utc;
use sha2::{Digest, Sha256};

/// What an id is computed from: the entry's fields as read from the wire.
pub struct IdFields<'a> {
    pub log_type: &'a str,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub user_id: Option<&'a str>,
    pub user_email: Option<&'a str>,
    pub impersonator_id: Option<&'a str>,
    pub impersonator_email: Option<&'a str>,
    /// The raw JSON text of `logRecord`; `None` when absent or `null`.
    pub log_record: Option<&'a str>,
}

/// The id (`docs/gong-id.md`): lower-case hex of SHA-256 over the bytes
///
/// ```text
/// log_type
/// 0x1f  eventTime in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ (microseconds, truncated)
/// then, for userId, userEmailAddress, impersonatorUserId, impersonatorEmailAddress
///       in this order: 0x1f and the string's UTF-8 bytes if the field is present
///       (even when empty), or the single byte 0x1e if it is absent or null
/// 0x1f  the canonical JSON of logRecord, or nothing if it is absent or null
/// ```
///
/// Strings are the JSON strings unescaped. The canonical JSON (see
/// `canonical.rs`) has no whitespace; object keys sorted by the UTF-8 bytes of
/// the unescaped key, the last of repeated keys kept; strings escaped as `\"`,
/// `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00xx`
/// (lower-case hex) and every other character as raw UTF-8; integers that fit
/// `u64` (negative: `i64`) in decimal; other numbers as the nearest-by-serde_json
/// `f64` printed shortest-round-trip as `1.0`, `0.00015`, `1e+21`, `1.5e-7`.
/// Display names (`userFullName`, `impersonatorFullName`) and
/// `impersonatorCompanyId` are not part of the id.
///
/// This is exactly what earlier versions computed with serde_json's
/// `Value::to_string`; it is frozen by golden vectors in the tests.
pub fn entry_id(f: &IdFields<'_>) -> Result<String, CanonError> {
    let mut h = Sha256::new();
    h.update(f.log_type.as_bytes());
    h.update([0x1f]);
    h.update(fmt_utc(f.timestamp).as_bytes());
    for field in [
        f.user_id,
        f.user_email,
        f.impersonator_id,
        f.impersonator_email,
    ] {
        match field {
            Some(v) => {
                h.update([0x1f]);
                h.update(v.as_bytes());
            }
            None => h.update([0x1e]),
        }
    }
    h.update([0x1f]);
    if let Some(record) = f.log_record {
        h.update(canonical(record)?.as_bytes());
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}
