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

/// The `alloc` tier without `std`: a heap tree bound to a firmware tick
/// counter takes timeouts with no driver named; one with no clock has no
/// default to fall back on, and says so at the call.
#[cfg(all(test, feature = "alloc"))]
mod alloc_tier {
    use core::time::Duration;

    use cancel_token::{CancelSource, Reason, TickDriver};

    #[test]
    fn a_tree_bound_to_a_tick_counter_takes_timeouts() {
        static TICKS: TickDriver = TickDriver::new(); // 1 kHz
        let app = CancelSource::with_clock(&TICKS);
        let part = app.child();
        let call = part.child_with_timeout(Duration::from_millis(3));
        assert_eq!(call.remaining(), Some(Duration::from_millis(3)));
        TICKS.advance_by(3);
        assert_eq!(call.reason(), Some(Reason::DeadlineExceeded));
        assert_eq!(TICKS.pending(), 0);
    }

    #[test]
    #[should_panic(expected = "the token's tree has no clock")]
    fn a_tree_without_a_clock_panics_at_the_call() {
        let root = CancelSource::new();
        let _ = root.child_with_timeout(Duration::from_millis(3));
    }

    #[test]
    fn a_tree_without_a_clock_has_no_remaining_time() {
        let root = CancelSource::new();
        assert_eq!(root.remaining(), None);
    }
}
