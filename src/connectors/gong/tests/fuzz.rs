//! The page parser under arbitrary bytes and under mutations of a real page: it
//! answers Ok or Err, never panics, and what it returns stays proportionate to
//! what it read.

use super::*;
use crate::simulator::{SimConfig, SimState};

/// A page as the simulator serves it: five UserActivityLog entries (offsets,
/// impersonators, nested logRecords), a cursor and `totalRecords`.
fn real_page() -> Vec<u8> {
    static PAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PAGE.get_or_init(render_page).clone()
}

fn render_page() -> Vec<u8> {
    let sim = SimState::new(SimConfig::new(11));
    let to = sim.cfg.origin + chrono::Duration::days(1);
    let now = crate::clock::now().timestamp_micros();
    let all =
        crate::simulator::gong::truth(&sim, "UserActivityLog", sim.cfg.origin, to, now, false);
    let entries: Vec<&str> = all.iter().take(5).map(String::as_str).collect();
    assert_eq!(entries.len(), 5);
    format!(
        r#"{{"requestId":"4al018gzaztcr8nbukw","records":{{"totalRecords":263,"currentPageSize":5,"currentPageNumber":0,"cursor":"eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}},"logEntries":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

/// Deletions, insertions and byte flips at random places.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Delete(usize, usize),
    Insert(usize, u8),
    Flip(usize, u8),
}

pub(crate) fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Flip(at, b)),
        // Bytes that matter to JSON and to UTF-8.
        (
            any::<usize>(),
            prop::sample::select(b"\"\\{}[],:0e-\xff\xc3\x80 ".to_vec())
        )
            .prop_map(|(at, b)| Edit::Insert(at, b)),
    ];
    prop::collection::vec(edit, 1..8)
}

pub(crate) fn apply(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = body.len().max(1);
        match *e {
            Edit::Delete(at, n) => {
                let at = at % len;
                body.drain(at.min(body.len())..(at + n).min(body.len()));
            }
            Edit::Insert(at, b) => body.insert(at % (body.len() + 1), b),
            Edit::Flip(at, b) => {
                if let Some(x) = body.get_mut(at % len) {
                    *x ^= b | 1;
                }
            }
        }
    }
    body
}

/// Everything a parsed page holds, in bytes.
fn size(p: &FetchedPage) -> (usize, usize) {
    let cursor = p.cursor.as_ref().map_or(0, String::len);
    (p.page.text_len() + cursor, p.page.records())
}

/// Ok or Err; if Ok, at most one record per input byte and a bounded size:
/// each record's texts are a few times its own bytes plus a fixed overhead.
fn check(body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(p) = parse_page(body, LogType::UserActivityLog) {
        let (bytes, records) = size(&p);
        prop_assert!(
            records <= body.len(),
            "{records} records from {} bytes",
            body.len()
        );
        prop_assert!(
            bytes <= 4 * body.len() + 512 * records + 1024,
            "{bytes} bytes from {} input bytes",
            body.len()
        );
    }
    Ok(())
}

#[test]
fn the_real_page_parses() {
    let p = parse_page(&real_page(), LogType::UserActivityLog).unwrap();
    assert_eq!(
        (p.page.rows.len(), p.page.rejected.len(), p.total),
        (5, 0, 263)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&body)?;
    }

    #[test]
    fn arbitrary_json_shaped_bytes_never_panic(
        body in prop::collection::vec(prop::sample::select(b"{}[]\",:0123456789.eE-+ntrufalsogEIdc\\\xff\xe2\x82".to_vec()), 0..300),
    ) {
        let mut page = br#"{"logEntries":["#.to_vec();
        page.extend_from_slice(&body);
        check(&page)?;
    }

    #[test]
    fn a_mutated_real_page_never_panics(edits in edits()) {
        check(&apply(real_page(), &edits))?;
    }

    #[test]
    fn canonical_never_panics(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = canonical(&String::from_utf8_lossy(&body));
    }
}
