//! The `grpc-timeout` header: a call's remaining time on the wire, as gRPC
//! sends it from a client to each server it calls.
//!
//! The value is at most 8 ASCII digits and one case-sensitive unit: `H`
//! hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n`
//! nanoseconds (gRPC's `PROTOCOL-HTTP2.md`). A request without the header has
//! no deadline. Plain functions, in `no_std`, without allocating:
//!
//! ```
//! use std::time::Duration;
//! use cancel_token::grpc_timeout;
//!
//! // A client with 1.5 s left writes the header...
//! let value = grpc_timeout::encode(Duration::from_millis(1_500));
//! assert_eq!(value.as_str(), "1500000u");
//! // ...and the server reads it back.
//! assert_eq!(grpc_timeout::decode(value.as_bytes()), Ok(Duration::from_millis(1_500)));
//! ```
//!
//! # Rounding
//!
//! [`encode`] writes the finest unit whose value fits in 8 digits, and
//! truncates to it: a callee is never given more time than its caller has
//! left. The loss is under one part in 10⁷ of the value (under 1 ms below
//! 27 hours). grpc-go rounds up instead, which can give a callee up to one
//! unit beyond its caller's deadline; tonic truncates, as here.
//!
//! # Malformed values
//!
//! [`decode`] accepts exactly the spec's form, with two tolerances the spec
//! allows or implies: surrounding spaces and tabs are stripped (the spec says
//! they "may be stripped"), and a value of zero is taken as a deadline
//! already spent rather than refused. Everything else is an error that names
//! what is wrong ([`GrpcTimeoutError`]): an empty value, no digits, more than
//! 8 digits (which is also how a value too large to count is refused; the
//! largest valid one, `99999999H`, is about 11 400 years), a character other
//! than a digit before the unit (a sign, a space, a decimal point), and a
//! missing or unknown unit, including a lower-case `h`, `s` or an upper-case
//! `U`. What a server does with an error is its choice; grpc-go fails the
//! call with `INTERNAL`.

use core::fmt;
use core::time::Duration;

/// The header's name, lower case as HTTP/2 requires.
///
/// ```
/// let (name, value) = (
///     cancel_token::grpc_timeout::HEADER,
///     cancel_token::grpc_timeout::encode(std::time::Duration::from_secs(2)),
/// );
/// assert_eq!(format!("{name}: {value}"), "grpc-timeout: 2000000u");
/// ```
pub const HEADER: &str = "grpc-timeout";

/// The most digits a value may have.
const MAX_DIGITS: usize = 8;
/// The largest value that fits in 8 digits.
const MAX_VALUE: u64 = 99_999_999;

/// An encoded `grpc-timeout` value: at most 8 digits and a unit, kept inline.
///
/// ```
/// use std::time::Duration;
/// let value = cancel_token::grpc_timeout::encode(Duration::from_secs(90));
/// assert_eq!(value.to_string(), "90000000u");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GrpcTimeout {
    bytes: [u8; MAX_DIGITS + 1],
    len: u8,
}

impl GrpcTimeout {
    /// The value as text, for a header value.
    ///
    /// ```
    /// use std::time::Duration;
    /// let value = cancel_token::grpc_timeout::encode(Duration::from_secs(3 * 3600));
    /// assert_eq!(value.as_str(), "10800000m");
    /// ```
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and unit letters are ever written.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The value as bytes, for a header value.
    ///
    /// ```
    /// use std::time::Duration;
    /// let value = cancel_token::grpc_timeout::encode(Duration::from_millis(250));
    /// assert_eq!(value.as_bytes(), b"250000u");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for GrpcTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for GrpcTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrpcTimeout({:?})", self.as_str())
    }
}

/// Why a `grpc-timeout` value was refused by [`decode`].
///
/// ```
/// use cancel_token::grpc_timeout::{decode, GrpcTimeoutError};
/// assert_eq!(decode(b"1s"), Err(GrpcTimeoutError::UnknownUnit(b's')));
/// assert_eq!(decode(b"123456789S"), Err(GrpcTimeoutError::TooManyDigits));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcTimeoutError {
    /// The value is empty (or only spaces).
    Empty,
    /// No digit comes before the unit.
    NoDigits,
    /// More than 8 digits.
    TooManyDigits,
    /// A character other than a digit comes before the unit (a sign, a space,
    /// a decimal point, a non-ASCII byte).
    NotADigit(u8),
    /// The value ends in a digit: the unit is missing.
    MissingUnit,
    /// The last character is not one of `H M S m u n`.
    UnknownUnit(u8),
}

impl fmt::Display for GrpcTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed grpc-timeout: ")?;
        match self {
            GrpcTimeoutError::Empty => f.write_str("empty value"),
            GrpcTimeoutError::NoDigits => f.write_str("no digits before the unit"),
            GrpcTimeoutError::TooManyDigits => f.write_str("more than 8 digits"),
            GrpcTimeoutError::NotADigit(b) => {
                write!(f, "byte {:?} where a digit belongs", char::from(*b))
            }
            GrpcTimeoutError::MissingUnit => f.write_str("no unit (one of H M S m u n)"),
            GrpcTimeoutError::UnknownUnit(b) => {
                write!(f, "unit {:?} is not one of H M S m u n", char::from(*b))
            }
        }
    }
}

impl core::error::Error for GrpcTimeoutError {}

/// Encodes `d` in the finest unit whose value fits in 8 digits, truncated to
/// that unit (see the [module docs](self) for why). A duration of 99 999 999
/// hours or more is written as `99999999H`. A call without a deadline sends
/// no header rather than a value.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::grpc_timeout::encode;
///
/// assert_eq!(encode(Duration::from_nanos(250)).as_str(), "250n");
/// assert_eq!(encode(Duration::from_secs(5)).as_str(), "5000000u");
/// assert_eq!(encode(Duration::from_secs(3 * 3600)).as_str(), "10800000m");
/// assert_eq!(encode(Duration::MAX).as_str(), "99999999H");
/// ```
pub fn encode(d: Duration) -> GrpcTimeout {
    let secs = d.as_secs();
    let nanos = u64::from(d.subsec_nanos());
    // Each unit fits once the whole value is below 10^8 of it: a check on
    // `secs` alone, then one multiplication and division in 64 bits.
    let (value, unit) = if secs == 0 && nanos <= MAX_VALUE {
        (nanos, b'n')
    } else if secs < 100 {
        (secs * 1_000_000 + nanos / 1_000, b'u')
    } else if secs < 100_000 {
        (secs * 1_000 + nanos / 1_000_000, b'm')
    } else if secs <= MAX_VALUE {
        (secs, b'S')
    } else if secs / 60 <= MAX_VALUE {
        (secs / 60, b'M')
    } else {
        ((secs / 3600).min(MAX_VALUE), b'H')
    };
    let mut bytes = [0; MAX_DIGITS + 1];
    let mut digits = [0; MAX_DIGITS];
    let mut n = 0;
    let mut rest = value;
    loop {
        digits[n] = b'0' + (rest % 10) as u8;
        n += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for (i, d) in digits[..n].iter().rev().enumerate() {
        bytes[i] = *d;
    }
    bytes[n] = unit;
    GrpcTimeout {
        bytes,
        len: n as u8 + 1,
    }
}

/// Decodes a `grpc-timeout` value, as a header's bytes. See the [module
/// docs](self) for what is accepted.
///
/// ```
/// use std::time::Duration;
/// use cancel_token::grpc_timeout::{decode, GrpcTimeoutError};
///
/// assert_eq!(decode(b"1S"), Ok(Duration::from_secs(1)));
/// assert_eq!(decode(b"250m"), Ok(Duration::from_millis(250)));
/// assert_eq!(decode(b"-1S"), Err(GrpcTimeoutError::NotADigit(b'-')));
/// assert_eq!(decode(b""), Err(GrpcTimeoutError::Empty));
/// ```
pub fn decode(value: &[u8]) -> Result<Duration, GrpcTimeoutError> {
    let value = trim(value);
    let Some((&unit, digits)) = value.split_last() else {
        return Err(GrpcTimeoutError::Empty);
    };
    if unit.is_ascii_digit() {
        return Err(GrpcTimeoutError::MissingUnit);
    }
    if digits.is_empty() {
        return Err(GrpcTimeoutError::NoDigits);
    }
    if let Some(&b) = digits.iter().find(|b| !b.is_ascii_digit()) {
        return Err(GrpcTimeoutError::NotADigit(b));
    }
    if digits.len() > MAX_DIGITS {
        return Err(GrpcTimeoutError::TooManyDigits);
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    // At most 99 999 999 of any unit: no product below overflows.
    Ok(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        other => return Err(GrpcTimeoutError::UnknownUnit(other)),
    })
}

/// `value` without leading and trailing spaces and tabs.
fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}
