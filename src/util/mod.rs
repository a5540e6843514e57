//! The bottom layer: small building blocks with no knowledge of tokens.
//!
//! A spin-or-critical-section lock ([`lock`]), panic capture for callbacks
//! ([`panic`]) and a thread parker ([`park`]). It may use only `sync`.

pub(crate) mod lock;
pub(crate) mod panic;
#[cfg(feature = "std")]
pub(crate) mod park;
