//! Why a token was cancelled.

use core::fmt;

/// Why a token is cancelled: by its source, or because its deadline passed.
///
/// Descendants report the reason of the ancestor whose cancellation reached them.
/// It implements [`core::error::Error`], so `?` works on
/// [`CancelToken::run_until_cancelled`](crate::CancelToken::run_until_cancelled).
///
/// # Examples
///
/// ```
/// use cancel_token::{CancelSource, Reason};
///
/// let source = CancelSource::new();
/// let token = source.token();
/// assert_eq!(token.reason(), None);
/// source.cancel();
/// assert_eq!(token.reason(), Some(Reason::Cancelled));
/// assert_eq!(Reason::Cancelled.to_string(), "operation cancelled");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A source cancelled it explicitly, or was dropped.
    Cancelled,
    /// A deadline of the token or of one of its ancestors passed.
    DeadlineExceeded,
}

impl Reason {
    /// The two state bits that encode a reason (see `node::State`).
    pub(crate) const fn to_bits(self) -> usize {
        match self {
            Reason::Cancelled => 0,
            Reason::DeadlineExceeded => 1,
        }
    }

    pub(crate) const fn from_bits(bits: usize) -> Self {
        match bits {
            0 => Reason::Cancelled,
            _ => Reason::DeadlineExceeded,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Cancelled => "operation cancelled",
            Reason::DeadlineExceeded => "deadline exceeded",
        })
    }
}

impl core::error::Error for Reason {}
