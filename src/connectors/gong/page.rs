//! One `/v2/logs` body: `records` (total and cursor) and each of `logEntries`
//! sliced out once and mapped; entries that are not UTF-8 or do not map are
//! rejected alone, with the reason.

use super::map::map_entry;
use super::LogType;
use crate::connector::Page;
use crate::connectors::json::lossy;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One fetched page, mapped.
#[derive(Debug)]
pub struct FetchedPage {
    pub page: Page,
    pub total: u64,
    pub cursor: Option<String>,
}

/// Absent and `null` alike mean empty: a last page may carry neither. `records`
/// is kept as text until it is known to be UTF-8 (see [`parse_page`]).
#[derive(Deserialize)]
struct LogsPage<'a> {
    #[serde(borrow)]
    records: Option<&'a RawValue>,
    #[serde(rename = "logEntries", borrow)]
    log_entries: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize, Default)]
struct Records {
    #[serde(rename = "totalRecords")]
    total_records: Option<u64>,
    cursor: Option<String>,
}

/// Parses one `/v2/logs` body: each entry is sliced out once, then mapped.
///
/// A body that is not UTF-8 throughout is read again with each bad byte as `?`:
/// an entry holding a bad byte is rejected with its bytes in base64, the others
/// are mapped, and paging goes on. Bad bytes in `records` (the cursor), or a
/// body that is not JSON even so, make the page unreadable as a whole.
pub fn parse_page(body: &[u8], log_type: LogType) -> Result<FetchedPage, serde_json::Error> {
    let err = match serde_json::from_slice::<LogsPage<'_>>(body) {
        Ok(page) => return map_page(page, log_type, None),
        Err(e) => e,
    };
    let Some(lossy) = lossy::Lossy::new(body) else {
        return Err(err);
    };
    let Ok(page) = serde_json::from_str::<LogsPage<'_>>(lossy.text()) else {
        return Err(err);
    };
    if page.records.is_some_and(|r| !lossy.is_clean(body, r.get())) {
        return Err(serde::de::Error::custom(format!(
            "records (the cursor) is not valid UTF-8 ({err})"
        )));
    }
    map_page(page, log_type, Some((&lossy, body)))
}

/// Maps a parsed page; `lossy` when it was parsed from a repaired copy of `body`.
fn map_page(
    page: LogsPage<'_>,
    log_type: LogType,
    lossy: Option<(&lossy::Lossy, &[u8])>,
) -> Result<FetchedPage, serde_json::Error> {
    let records: Records = match page.records {
        Some(r) => serde_json::from_str::<Option<Records>>(r.get())?.unwrap_or_default(),
        None => Records::default(),
    };
    let entries = page.log_entries.unwrap_or_default();
    let mut rows = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for raw in entries {
        let checked = lossy.map_or(Ok(()), |(l, body)| l.check(body, raw.get(), "entry"));
        match checked.and_then(|()| map_entry(log_type, raw.get())) {
            Ok(row) => rows.push(row.into()),
            Err(r) => rejected.push(r),
        }
    }
    let total = records
        .total_records
        .unwrap_or(rows.len() as u64 + rejected.len() as u64);
    let cursor = records.cursor.filter(|c| !c.is_empty());
    Ok(FetchedPage {
        page: Page { rows, rejected },
        total,
        cursor,
    })
}
