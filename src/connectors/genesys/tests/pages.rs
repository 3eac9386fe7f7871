//! Results pages with bytes that are not UTF-8 or messages of the wrong types,
//! and the page and token parsers under arbitrary and mutated bytes.

use super::*;
use crate::connectors::genesys::auth::parse_token;
use crate::connectors::gong::tests::fuzz::{apply, edits};
use proptest::prelude::*;

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
    f.page.rows.iter().map(|r| r.id.clone()).collect()
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
    assert_eq!(f.page.rejected_payloads(), wrong);
}

#[test]
fn token_lifetimes_are_bounded() {
    let t = |b: &str| parse_token(b.as_bytes());
    assert_eq!(
        t(r#"{"access_token":"a","expires_in":10}"#),
        Some(("a".into(), 10))
    );
    assert_eq!(t(r#"{"access_token":"a"}"#), Some(("a".into(), 86_400)));
    let huge = t(r#"{"access_token":"a","expires_in":18446744073709551615}"#).unwrap();
    assert!(huge.1 <= 366 * 86_400, "{huge:?}");
    for bad in [
        r#"{"access_token":""}"#,
        r#"{"expires_in":5}"#,
        r#"{"access_token":7}"#,
        "",
        "\u{0}",
    ] {
        assert_eq!(t(bad), None, "{bad}");
    }
}

/// Ok or Err; if Ok, at most one message per input byte and texts a few times
/// the input plus a fixed overhead per message.
fn check_page(body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(f) = parse_page(body) {
        let size = f.page.text_len() + f.cursor.as_ref().map_or(0, String::len);
        prop_assert!(
            f.count <= body.len(),
            "{} messages from {} bytes",
            f.count,
            body.len()
        );
        prop_assert!(
            size <= 4 * body.len() + 512 * f.count + 1024,
            "{size} bytes from {}",
            body.len()
        );
    }
    Ok(())
}

const TOKEN: &str =
    r#"{"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig","token_type":"bearer","expires_in":86399}"#;

fn check_token(body: &[u8]) -> Result<(), TestCaseError> {
    if let Some((token, life)) = parse_token(body) {
        prop_assert!(!token.is_empty() && token.len() <= body.len());
        prop_assert!(life <= 366 * 86_400);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pages_of_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
        check_page(&body)?;
    }

    #[test]
    fn a_mutated_real_page_never_panics(e in edits()) {
        let page = results(&[message("m1", b""), message("m2", b"\xff"), message("m3", b"")], b"c");
        check_page(&apply(page, &e))?;
    }

    #[test]
    fn tokens_of_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        check_token(&body)?;
    }

    #[test]
    fn a_mutated_token_never_panics(e in edits()) {
        check_token(&apply(TOKEN.as_bytes().to_vec(), &e))?;
    }
}
