//! The drivers: each tells time for deadlines and advances their timers.
//!
//! [`TickDriver`](tick::TickDriver) and [`ManualDriver`](manual::ManualDriver)
//! are advanced by their owner; [`EmbassyDriver`](embassy::EmbassyDriver)
//! runs on embassy-time; `ms` holds the `std` runtimes' drivers. This layer
//! may use `time`, `node`, `wheel`, `util` and `sync`; it uses `time`,
//! `wheel` and `sync`. It is below the handles, so that a token with no clock
//! can fall back on `ThreadDriver::global`.

#[cfg(all(feature = "embassy", not(cancel_token_loom)))]
pub(crate) mod embassy;
#[cfg(feature = "alloc")]
pub(crate) mod manual;
#[cfg(feature = "std")]
pub(crate) mod ms;
pub(crate) mod tick;
