//! What a request's end by its token looks like: [`Expired`], the log form
//! of its reason and cause, and the responses that carry it (gRPC's
//! trailers-only status, or a plain HTTP status with the text as body).

use core::fmt;
use core::time::Duration;

use bytes::Bytes;
use cancel_token::{CancelToken, Reason};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

/// `grpc-timeout`, made once: a name given as text is parsed at each use.
pub(crate) const GRPC_TIMEOUT: HeaderName =
    HeaderName::from_static(cancel_token::grpc_timeout::HEADER);

/// gRPC's status codes this crate answers with.
pub(crate) mod code {
    /// `CANCELLED`.
    pub const CANCELLED: u8 = 1;
    /// `DEADLINE_EXCEEDED`.
    pub const DEADLINE_EXCEEDED: u8 = 4;
    /// `INTERNAL`, for a malformed `grpc-timeout` (as grpc-go answers).
    pub const INTERNAL: u8 = 13;
}

/// Why the server layer ended a request before its handler did: its
/// token's reason, the cause's message (the layer's own
/// [`CallerDeadline`](crate::CallerDeadline) or
/// [`ServerLimit`](crate::ServerLimit), or whatever cancelled the server's
/// token) and the budget the request was given. Put in the response's
/// extensions, and as text in the response (`grpc-message`, or the body),
/// for a log line.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::Reason;
/// use cancel_token_tower::Expired;
///
/// let e = Expired::new(Reason::DeadlineExceeded, Some("the caller's grpc-timeout passed".into()), Some(Duration::from_millis(300)));
/// assert_eq!(e.to_string(), "deadline exceeded: the caller's grpc-timeout passed (budget 300ms)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    /// The request token's reason.
    pub reason: Reason,
    /// The message of the token's cause, if it has one.
    pub cause: Option<String>,
    /// The budget the request was given (the smaller of its `grpc-timeout`
    /// and the server's maximum), if it had one.
    pub budget: Option<Duration>,
}

impl Expired {
    /// An `Expired` from its parts.
    ///
    /// ```
    /// let e = cancel_token_tower::Expired::new(cancel_token::Reason::Cancelled, None, None);
    /// assert_eq!(e.to_string(), "operation cancelled");
    /// ```
    pub fn new(reason: Reason, cause: Option<String>, budget: Option<Duration>) -> Self {
        Expired {
            reason,
            cause,
            budget,
        }
    }

    /// The `Expired` of a cancelled `token` given `budget`.
    pub(crate) fn of(token: &CancelToken, reason: Reason, budget: Option<Duration>) -> Self {
        Expired::new(reason, token.cause().map(|c| c.to_string()), budget)
    }

    /// The gRPC status code: `DEADLINE_EXCEEDED` (4) for a deadline,
    /// `CANCELLED` (1) otherwise.
    ///
    /// ```
    /// let e = cancel_token_tower::Expired::new(cancel_token::Reason::DeadlineExceeded, None, None);
    /// assert_eq!(e.grpc_code(), 4);
    /// ```
    pub fn grpc_code(&self) -> u8 {
        match self.reason {
            Reason::DeadlineExceeded => code::DEADLINE_EXCEEDED,
            _ => code::CANCELLED,
        }
    }
}

impl fmt::Display for Expired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        if let Some(budget) = self.budget {
            write!(f, " (budget {budget:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Expired {}

/// Whether a request's `content-type` is gRPC's.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// `grpc-status` and `grpc-message` for `code` and `message`, into `headers`.
pub(crate) fn put_status(headers: &mut HeaderMap, code: u8, message: &str) {
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    if let Ok(v) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", v);
    }
}

/// `message` as `grpc-message` wants it: bytes outside printable ASCII, and
/// `%`, as `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response of the layer's own: gRPC's trailers-only form with `code`, or
/// `status` with `message` as its text body.
pub(crate) fn respond(
    grpc: bool,
    code: u8,
    status: StatusCode,
    message: &str,
) -> (Response<()>, Option<Bytes>) {
    let mut response = Response::new(());
    let headers = response.headers_mut();
    if grpc {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        put_status(headers, code, message);
        (response, None)
    } else {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        *response.status_mut() = status;
        (response, Some(Bytes::from(format!("{message}\n"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(percent_encode("50% done: é"), "50%25 done: %C3%A9");
    }
}
