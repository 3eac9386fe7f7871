//! The OAuth client-credentials token (cached, renewed before it expires and once
//! on a 401) and authorized API calls of the Genesys connector.

use super::*;

impl GenesysConnector {
    // ------------------------------------------------------------- token

    /// A bearer token with time left, fetching a new one when there is none,
    /// it is about to expire, or it is `stale` (the API answered 401 to it).
    pub(super) async fn bearer(
        &self,
        counters: &Counters,
        stale: Option<&HeaderValue>,
    ) -> Result<HeaderValue, ConnectorError> {
        let mut st = self.token.lock().await;
        if let Some((b, refresh_at)) = &st.bearer {
            if Some(b) != stale && Instant::now() < *refresh_at {
                return Ok(b.clone());
            }
        }
        let what = format!("genesys/{}/token", self.account);
        let url = format!("{}/oauth/token", self.login);
        let build = |c: &Client| {
            c.post(&url)
                .header(AUTHORIZATION, self.basic.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
        };
        let asked = Instant::now();
        let (token, expires_in) = self
            .http
            .call(counters, &what, build, |r| self.judge_token(r, &what))
            .await?;
        self.http.redactor().add_token(&token);
        let mut bearer = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
            ConnectorError::Protocol {
                what: what.clone(),
                detail: "the access token cannot go in an HTTP header".into(),
            }
        })?;
        bearer.set_sensitive(true);
        if st.issued > 0 {
            counters.token_refreshes.fetch_add(1, Relaxed);
        }
        st.issued += 1;
        let life = Duration::from_secs(expires_in);
        let margin = Duration::from_secs(60).min(life / 10);
        st.bearer = Some((bearer.clone(), asked + life - margin));
        Ok(bearer)
    }

    pub(super) fn judge_token(&self, r: &Reply, what: &str) -> Verdict<(String, u64)> {
        match r.status {
            StatusCode::OK => match parse_token(&r.body) {
                Some(t) => Verdict::Done(t),
                // Never quote this body: it may hold a token.
                None => Verdict::Retry("the token response has no access_token".into()),
            },
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Verdict::Fail(HttpError::Auth {
                    what: what.to_owned(),
                    message: format!(
                        "Genesys login at {} refused the client credentials of account {} (HTTP {}: {}): check client_id and client_secret, that the OAuth client uses the Client Credentials grant and that it belongs to this region; {SCOPE_HINT}",
                        self.login, self.account, r.status.as_u16(), oauth_error(r)
                    ),
                })
            }
            s => Verdict::Fail(HttpError::Rejected {
                what: what.to_owned(),
                status: s.as_u16(),
                message: oauth_error(r),
            }),
        }
    }

    /// Sends an API request with the bearer token; on a 401 fetches a new
    /// token and tries once more. A 403 names the permission needed.
    pub(super) async fn call<T>(
        &self,
        counters: &Counters,
        what: &str,
        build: impl Fn(&Client) -> RequestBuilder,
        mut judge: impl FnMut(&Reply) -> Verdict<T>,
    ) -> Result<T, ConnectorError> {
        let mut stale = None;
        loop {
            let bearer = self.bearer(counters, stale.as_ref()).await?;
            let with_token = |c: &Client| build(c).header(AUTHORIZATION, bearer.clone());
            let judged = |r: &Reply| match r.status {
                StatusCode::UNAUTHORIZED => Verdict::Done(None),
                StatusCode::FORBIDDEN => Verdict::Fail(HttpError::Auth {
                    what: what.to_owned(),
                    message: format!(
                        "Genesys refused account {} (HTTP 403: {}): {SCOPE_HINT}",
                        self.account,
                        error_text(r)
                    ),
                }),
                _ => match judge(r) {
                    Verdict::Done(t) => Verdict::Done(Some(t)),
                    Verdict::Retry(why) => Verdict::Retry(why),
                    Verdict::Fail(e) => Verdict::Fail(e),
                },
            };
            match self.http.call(counters, what, with_token, judged).await? {
                Some(t) => return Ok(t),
                None if stale.is_none() => stale = Some(bearer),
                None => {
                    return Err(HttpError::Auth {
                        what: what.to_owned(),
                        message: format!(
                            "Genesys answered 401 to a freshly issued token of account {}: check that api_base_url and login_base_url are the same region; {SCOPE_HINT}",
                            self.account
                        ),
                    }
                    .into())
                }
            }
        }
    }
}

/// The longest token lifetime believed: `expires_in` beyond it (up to
/// `u64::MAX` on the wire) would overflow the refresh instant.
const MAX_TOKEN_LIFE: u64 = 366 * 86_400;

/// An `/oauth/token` answer: the access token (non-empty) and its lifetime in
/// seconds (a day when absent, at most [`MAX_TOKEN_LIFE`]).
pub(super) fn parse_token(body: &[u8]) -> Option<(String, u64)> {
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
        expires_in: Option<u64>,
    }
    let t = serde_json::from_slice::<Token>(body).ok()?;
    let life = t.expires_in.unwrap_or(86_400).min(MAX_TOKEN_LIFE);
    (!t.access_token.is_empty()).then_some((t.access_token, life))
}
