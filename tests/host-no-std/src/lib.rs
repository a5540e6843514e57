//! Firmware-style code on cancel-token's no-allocator tier, with host tests.
#![cfg_attr(not(test), no_std)]

use core::pin::pin;

use cancel_token::{PinnedDeadline, Reason, TickDriver, TokenRef};

/// Runs `step` until it returns `true`, or until `parent` is cancelled or
/// `ticks` ticks of `clock` pass; returns why it stopped, if it did not finish.
pub fn run_job(
    parent: TokenRef<'_>,
    clock: &'static TickDriver,
    ticks: u64,
    mut step: impl FnMut() -> bool,
) -> Option<Reason> {
    let at = clock.now() + ticks;
    let job = pin!(PinnedDeadline::new(parent, clock, at));
    let token = job.as_ref().token();
    loop {
        if let Some(reason) = token.reason() {
            return Some(reason);
        }
        if step() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cancel_token::StaticSource;

    #[test]
    fn a_job_finishes_before_its_deadline() {
        static SHUTDOWN: StaticSource = StaticSource::new();
        static TICKS: TickDriver = TickDriver::new();
        let mut n = 0;
        let done = run_job(SHUTDOWN.token_ref(), &TICKS, 10, || {
            n += 1;
            n == 3
        });
        assert_eq!(done, None);
        assert_eq!(TICKS.pending(), 0);
    }

    #[test]
    fn a_job_that_overruns_is_cancelled_by_the_tick() {
        static SHUTDOWN: StaticSource = StaticSource::new();
        static TICKS: TickDriver = TickDriver::new();
        let reason = run_job(SHUTDOWN.token_ref(), &TICKS, 2, || {
            TICKS.advance_by(1); // the SysTick handler, on the host
            false
        });
        assert_eq!(reason, Some(Reason::DeadlineExceeded));
    }

    #[test]
    fn shutdown_stops_a_job() {
        static SHUTDOWN: StaticSource = StaticSource::new();
        static TICKS: TickDriver = TickDriver::new();
        let reason = run_job(SHUTDOWN.token_ref(), &TICKS, 100, || {
            SHUTDOWN.cancel();
            false
        });
        assert_eq!(reason, Some(Reason::Cancelled));
    }
}
