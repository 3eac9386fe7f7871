//! Pages with bytes that are not UTF-8, and entries of the wrong types: one bad
//! entry is rejected and the rest of its page still lands.

use super::*;

const GOOD: &str = r#"{"userId":"1","userFullName":"Zoë 😀","eventTime":"2024-01-01T00:00:00Z","logRecord":{"call_id":"7"}}"#;

/// A page of `entries` (raw bytes each) with a cursor; also where each entry
/// starts in the body.
fn page_of(entries: &[Vec<u8>], cursor: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut body = br#"{"requestId":"r","records":{"totalRecords":9,"cursor":""#.to_vec();
    body.extend_from_slice(cursor);
    body.extend_from_slice(br#""},"logEntries":[ "#);
    let mut starts = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b" ,\n ");
        }
        starts.push(body.len());
        body.extend_from_slice(e);
    }
    body.extend_from_slice(b"]}");
    (body, starts)
}

/// GOOD with `bad` put inside its userFullName string.
fn with_bytes(bad: &[u8]) -> (Vec<u8>, usize) {
    let at = GOOD.find("Zo").unwrap() + 2;
    let mut e = GOOD.as_bytes()[..at].to_vec();
    e.extend_from_slice(bad);
    e.extend_from_slice(&GOOD.as_bytes()[at..]);
    (e, at)
}

fn decode(payload: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(payload)
        .unwrap()
}

#[test]
fn an_entry_with_a_bad_byte_is_rejected_whole_and_the_rest_lands() {
    let (bad, at) = with_bytes(&[0xff]);
    let (body, _) = page_of(&[GOOD.into(), bad.clone(), GOOD.into()], b"next");
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "the body as a whole is not JSON text"
    );
    let p = parse_page(&body, LogType::UserCallPlay).unwrap();
    assert_eq!((p.total, p.cursor.as_deref()), (9, Some("next")));
    let rows = &p.page.rows;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.raw_json == GOOD),
        "good entries are kept byte for byte"
    );
    let [r] = p.page.rejected.as_slice() else {
        panic!("{:?}", p.page.rejected)
    };
    assert_eq!(decode(&r.raw_payload), bad, "the entry's exact bytes");
    assert_eq!(
        r.reason,
        format!("entry is not valid UTF-8 (byte 0xff at offset {at} of the entry); raw_payload holds its bytes in base64")
    );
}

#[test]
fn every_kind_of_invalid_sequence_is_kept_losslessly() {
    let cases: [&[u8]; 7] = [
        &[0xff],
        &[0x80],                   // a lone continuation byte
        &[0xe2, 0x82],             // a sequence cut short before the closing quote
        &[0xc0, 0xaf],             // an overlong `/`
        &[0xed, 0xa0, 0x80],       // a UTF-8-encoded surrogate
        &[0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
        &[0xfe, 0xfe, b'x', 0xc3], // several, and a lead byte at the end
    ];
    let mut entries: Vec<Vec<u8>> = vec![GOOD.into()];
    entries.extend(cases.iter().map(|b| with_bytes(b).0));
    entries.push(GOOD.into());
    let (body, _) = page_of(&entries, b"c");
    let p = parse_page(&body, LogType::UserCallPlay).unwrap();
    assert_eq!(p.page.rows.len(), 2);
    let payloads: Vec<Vec<u8>> = p
        .page
        .rejected
        .iter()
        .map(|r| decode(&r.raw_payload))
        .collect();
    assert_eq!(payloads, entries[1..entries.len() - 1].to_vec());
    for (r, bad) in p.page.rejected.iter().zip(cases) {
        let shown = format!("byte 0x{:02x} at offset", bad[0]);
        assert!(r.reason.contains(&shown), "{}", r.reason);
    }
}

#[test]
fn bad_bytes_outside_entries() {
    let (bad, _) = with_bytes(&[0xff]);
    // In the cursor: the page cannot be paged on, so it is unreadable.
    let (body, _) = page_of(&[GOOD.into()], b"ab\xffc");
    let e = parse_page(&body, LogType::AccessLog).unwrap_err();
    assert!(e.to_string().contains("cursor"), "{e}");
    // In a field the mirror does not read: ignored.
    let mut body = page_of(&[GOOD.into(), bad.clone()], b"c").0;
    body.splice(15..15, [0xff]);
    assert_eq!(&body[..17], b"{\"requestId\":\"r\xff\"");
    let p = parse_page(&body, LogType::AccessLog).unwrap();
    assert_eq!((p.page.rows.len(), p.page.rejected.len()), (1, 1));
    // Outside any string, or with the body cut short: not JSON at all.
    let (mut body, starts) = page_of(&[GOOD.into(), bad], b"c");
    body.insert(starts[1], 0xff);
    assert!(parse_page(&body, LogType::AccessLog).is_err());
    let (body, _) = page_of(&[with_bytes(&[0xff]).0, GOOD.into()], b"c");
    assert!(parse_page(&body[..body.len() - 40], LogType::AccessLog).is_err());
}

#[test]
fn a_bad_byte_page_is_done_not_retried() {
    let (bad, _) = with_bytes(&[0xff]);
    let (body, _) = page_of(&[bad, GOOD.into()], b"");
    let reply = Reply {
        status: StatusCode::OK,
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::from(body),
    };
    match judge(&reply, LogType::UserCallPlay, false, "acme", "w") {
        Verdict::Done(Fetched::Page(p)) => {
            assert_eq!(
                (p.page.rows.len(), p.page.rejected.len(), p.cursor),
                (1, 1, None)
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn entries_of_the_wrong_types_are_rejected_beside_good_ones() {
    let wrong = [
        r#"{"eventTime":1704067200,"userId":"1"}"#,
        r#"{"eventTime":"2024-01-01T00:00:00Z","userId":{"id":"1"}}"#,
        r#"{"eventTime":"2024-01-01T00:00:00Z","userEmailAddress":["a@b"]}"#,
        r#"{"eventTime":"2024-01-01T00:00:00Z","impersonatorUserId":true}"#,
        r#"{"eventTime":null,"userId":"1"}"#,
        r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":"text"}"#,
        r#"{"eventTime":"2024-01-01T00:00:00Z","logRecord":{"n":1e400}}"#,
        r#""an entry""#,
        "7",
    ];
    let mut entries: Vec<Vec<u8>> = vec![GOOD.into()];
    entries.extend(wrong.iter().map(|w| w.as_bytes().to_vec()));
    entries.push(GOOD.into());
    let (body, _) = page_of(&entries, b"c");
    let p = parse_page(&body, LogType::UserActivityLog).unwrap();
    assert_eq!(p.page.rows.len(), 2);
    assert_eq!(
        p.page.rejected_payloads(),
        wrong,
        "each rejected with its own text"
    );
}
