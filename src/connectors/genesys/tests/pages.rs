//! Results pages with bytes that are not UTF-8 or messages of the wrong types.

use super::*;

/// MESSAGE with its `id` replaced and `bad` put inside the user's name.
fn message(id: &str, bad: &[u8]) -> Vec<u8> {
    let m = compact_json(MESSAGE).replace("583cae9f-87d6-4bce-a5eb-6b133184405b", id);
    let at = m.find("Zo").unwrap() + 2;
    let mut out = m.as_bytes()[..at].to_vec();
    out.extend_from_slice(bad);
    out.extend_from_slice(&m.as_bytes()[at..]);
    out
}

fn results(messages: &[Vec<u8>], cursor: &[u8]) -> Vec<u8> {
    let mut body = br#"{"id":"tx","pageSize":500,"entities":[ "#.to_vec();
    body.extend_from_slice(&messages.join(&b", "[..]));
    body.extend_from_slice(br#" ],"cursor":""#);
    body.extend_from_slice(cursor);
    body.extend_from_slice(br#"","pageCount":3}"#);
    body
}

fn ids(f: &Fetch) -> Vec<String> {
    match &f.page.rows {
        PageRows::Genesys(rows) => rows.iter().map(|r| r.id.clone()).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn a_message_with_a_bad_byte_is_rejected_whole_and_the_rest_lands() {
    let bad = message("m2", &[0xff]);
    let body = results(
        &[message("m1", b""), bad.clone(), message("m3", b"")],
        b"next",
    );
    let f = parse_page(&body).unwrap();
    assert_eq!(ids(&f), ["m1", "m3"]);
    assert_eq!(
        (f.count, f.cursor.as_deref(), f.page_count),
        (3, Some("next"), Some(3))
    );
    let [r] = f.page.rejected.as_slice() else {
        panic!("{:?}", f.page.rejected)
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&r.raw_payload)
        .unwrap();
    assert_eq!(decoded, bad, "the message's exact bytes");
    let at = bad.iter().position(|b| *b == 0xff).unwrap();
    assert_eq!(
        r.reason,
        format!("message is not valid UTF-8 (byte 0xff at offset {at} of the message); raw_payload holds its bytes in base64")
    );
    // A bad byte in the cursor, or outside any string: the page is unreadable.
    assert!(parse_page(&results(&[message("m1", b"")], b"a\xffb")).is_err());
    let mut broken = results(&[message("m1", b""), bad], b"c");
    broken.insert(broken.len() - 1, 0xff);
    assert!(parse_page(&broken).is_err());
    assert!(parse_page(&body[..body.len() / 2]).is_err());
}

#[test]
fn messages_of_the_wrong_types_are_rejected_beside_good_ones() {
    let wrong = [
        r#"{"id":"w1","eventDate":1743510896}"#,
        r#"{"id":{"v":"w2"},"eventDate":"2026-01-01T00:00:00Z"}"#,
        r#"{"id":"w3","eventDate":"2026-01-01T00:00:00Z","user":"u1"}"#,
        r#"{"id":"w4","eventDate":"2026-01-01T00:00:00Z","remoteIp":[1]}"#,
        r#""a message""#,
    ];
    let mut messages = vec![message("m1", b"")];
    messages.extend(wrong.iter().map(|w| w.as_bytes().to_vec()));
    messages.push(message("m2", b""));
    let f = parse_page(&results(&messages, b"")).unwrap();
    assert_eq!(
        (ids(&f), f.count, f.cursor),
        (vec!["m1".into(), "m2".into()], 7, None)
    );
    let payloads: Vec<&str> = f
        .page
        .rejected
        .iter()
        .map(|r| r.raw_payload.as_str())
        .collect();
    assert_eq!(payloads, wrong);
}
