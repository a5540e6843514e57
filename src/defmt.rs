//! `defmt::Format` for the reason, the deadline and the token handles, so
//! firmware that logs with [`defmt`](https://docs.rs/defmt) can log them.
//!
//! Each prints what its `Debug` prints, less a token's cause: a [`Cause`] is
//! a `core::fmt` error value, and formatting it would bring `core::fmt` into
//! a defmt firmware. Handles read through their public API, so formatting
//! never arms a deadline or links a pinned child.
//!
//! The pinned sources (`PinnedChild`, `PinnedDeadline`, `PinnedLinked`) show
//! their reason only through a pin, whose first use links them: they format
//! through their `Debug` (`defmt::Debug2Format`), which reads it in place.
//!
//! [`Cause`]: crate::Cause

use ::defmt::{write, Debug2Format, Format, Formatter};

use crate::{Deadline, DriverStopped, PinnedChild, PinnedDeadline, PinnedLinked, Reason};
use crate::{StaticSource, TokenRef};

impl Format for Reason {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Reason::Cancelled => write!(f, "Cancelled"),
            Reason::DeadlineExceeded => write!(f, "DeadlineExceeded"),
        }
    }
}

impl Format for Deadline {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "Deadline {{ ticks: {=u64} }}", self.ticks());
    }
}

impl Format for DriverStopped {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "DriverStopped");
    }
}

/// `NAME { reason: .., deadline: .. }`, as `Debug` shows a token.
fn token(f: Formatter<'_>, name: &str, token: TokenRef<'_>) {
    write!(
        f,
        "{=str} {{ reason: {}, deadline: {} }}",
        name,
        token.reason(),
        token.deadline()
    );
}

impl Format for TokenRef<'_> {
    fn format(&self, f: Formatter<'_>) {
        token(f, "TokenRef", *self);
    }
}

impl Format for crate::CancelToken {
    fn format(&self, f: Formatter<'_>) {
        token(f, "CancelToken", self.as_token_ref());
    }
}

#[cfg(feature = "alloc")]
impl Format for crate::CancelSource {
    fn format(&self, f: Formatter<'_>) {
        token(f, "CancelSource", self.as_token_ref());
    }
}

impl Format for StaticSource {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "StaticSource {{ reason: {} }}", self.reason());
    }
}

impl Format for PinnedChild<'_> {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{}", Debug2Format(self));
    }
}

impl<D> Format for PinnedDeadline<'_, D> {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{}", Debug2Format(self));
    }
}

impl<const N: usize> Format for PinnedLinked<'_, N> {
    fn format(&self, f: Formatter<'_>) {
        write!(f, "{}", Debug2Format(self));
    }
}
