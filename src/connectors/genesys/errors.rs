//! Reading Genesys error replies: `ErrorBody` as text, the OAuth error form,
//! `response.entity.too.large`, and what a 400 on a query means for the engine
//! (split the window, the stream is unavailable, or a plain refusal).

use super::*;

#[derive(Deserialize, Default)]
struct ErrorBody {
    message: Option<String>,
    code: Option<String>,
}

fn error_body(r: &Reply) -> ErrorBody {
    serde_json::from_slice(&r.body).unwrap_or_default()
}

/// `ErrorBody` as text: `message (code)`, or the body itself.
pub(super) fn error_text(r: &Reply) -> String {
    match error_body(r) {
        ErrorBody {
            message: Some(m),
            code: Some(c),
        } => format!("{m} ({c})"),
        ErrorBody {
            message: Some(m), ..
        } => m,
        _ => r.snippet(),
    }
}

pub(super) fn oauth_error(r: &Reply) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: Option<String>,
        error_description: Option<String>,
        description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(&r.body) {
        Ok(e) if e.error.is_some() => {
            let text = e.error_description.or(e.description).unwrap_or_default();
            format!("{}: {text}", e.error.unwrap_or_default())
        }
        _ => error_text(r),
    }
}

pub(super) fn is_too_large(r: &Reply) -> bool {
    error_body(r).code.as_deref() == Some(TOO_LARGE)
}

/// Whether the error's message mentions `word` (lower case).
pub(super) fn mentions(r: &Reply, word: &str) -> bool {
    let b = error_body(r);
    let text = b.message.or(b.code).unwrap_or_else(|| r.snippet());
    text.to_ascii_lowercase().contains(word)
}

/// Reads a 400 on a query for what the engine can do about it: an interval the
/// tenant finds too long splits the window; a service it says it does not have
/// makes the stream unavailable. Anything else stays as it was.
pub(super) fn refine(e: ConnectorError, service: Option<&str>) -> ConnectorError {
    let ConnectorError::Http(HttpError::Rejected {
        what,
        status: 400,
        message,
    }) = e
    else {
        return e;
    };
    let lower = message.to_ascii_lowercase();
    let says_service = |s: &str| {
        lower.contains(&s.to_ascii_lowercase())
            && ["not", "invalid", "unknown", "unsupported", "no such"]
                .iter()
                .any(|w| lower.contains(w))
    };
    if lower.contains("interval") {
        ConnectorError::Window {
            what,
            failure: WindowFailure::TooLong,
            detail: format!("the vendor refuses a time window this long: {message}"),
        }
    } else if let Some(s) = service.filter(|s| says_service(s)) {
        ConnectorError::Http(HttpError::Unavailable {
            what,
            message: format!("Genesys refused serviceName {s} (HTTP 400: {message}); remove it from `services` if this organisation does not have it"),
        })
    } else {
        ConnectorError::Http(HttpError::Rejected {
            what,
            status: 400,
            message,
        })
    }
}

pub(super) fn rejected<T>(r: &Reply, what: &str) -> Verdict<T> {
    Verdict::Fail(HttpError::Rejected {
        what: what.to_owned(),
        status: r.status.as_u16(),
        message: error_text(r),
    })
}
