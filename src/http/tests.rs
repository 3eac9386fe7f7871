//! Unit tests of the HTTP layer: Retry-After, the pacer, and client errors.

use super::*;
use reqwest::header::HeaderValue;

fn headers(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        reqwest::header::RETRY_AFTER,
        HeaderValue::from_str(v).unwrap(),
    );
    h
}

#[test]
fn retry_after_takes_seconds_or_a_date() {
    let now = crate::clock::now();
    let at = |v: &str| retry_after(&headers(v), now);
    assert_eq!(at("3"), Some(Duration::from_secs(3)));
    assert_eq!(at("0.5"), Some(Duration::from_millis(500)));
    let soon = (now + chrono::Duration::seconds(30))
        .to_rfc2822()
        .replace("+0000", "GMT");
    let d = at(&soon).unwrap();
    assert!(
        d > Duration::from_secs(28) && d <= Duration::from_secs(30),
        "{d:?}"
    );
    assert_eq!(at("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
    assert_eq!(at("soon"), None);
    assert_eq!(at("-1"), None);
    assert_eq!(at("1e300"), None);
    assert_eq!(at("NaN"), None);
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
}

#[tokio::test(start_paused = true)]
async fn the_pacer_spaces_requests() {
    let p = Pacer::per_second(3.0);
    let start = Instant::now();
    for _ in 0..7 {
        p.wait().await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!((2.0..2.1).contains(&elapsed), "{elapsed}");
    p.defer(Duration::from_secs(5));
    let before = Instant::now();
    p.wait().await;
    assert!(before.elapsed() >= Duration::from_secs(4));
}

#[test]
fn a_client_error_says_its_causes_once_and_chains_none() {
    // A relative URL fails in reqwest's builder: a real reqwest::Error.
    install_tls();
    let e = Client::new().get("no-scheme").build().unwrap_err();
    let cause = e.to_string();
    let text = HttpError::Client(e).to_string();
    assert!(text.starts_with("cannot build the HTTP client: "), "{text}");
    assert_eq!(text.matches(&cause).count(), 1, "{text}");
    // Nothing chained, so `{:#}` (which appends each source) adds nothing.
    let err: &dyn std::error::Error =
        &HttpError::Client(Client::new().get("no-scheme").build().unwrap_err());
    assert!(err.source().is_none());
}
