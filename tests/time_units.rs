//! The units of the driver contract: ticks, durations and instants as a
//! driver converts them, through a reference to the driver as through the
//! driver itself, at a tick rate that divides nothing evenly.

use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use core::time::Duration;

use cancel_token::{DriverStopped, ManualDriver, TickDriver, TimerDriver};

/// Every conversion of `driver`, called through the trait as the crate calls
/// it: with `D = &ManualDriver`, each goes through `impl TimerDriver for &D`.
fn conversions<D: TimerDriver>(
    driver: D,
    at: D::Instant,
) -> (D::Instant, u64, D::Instant, u64, Duration) {
    (
        driver.now(),
        driver.ticks_at(at),
        driver.instant_at(7),
        driver.duration_ticks(Duration::from_millis(3)),
        driver.ticks_duration(42),
    )
}

#[test]
fn a_reference_to_a_driver_converts_as_the_driver() {
    let driver = ManualDriver::new();
    driver.advance_by(Duration::from_micros(1_500));
    let by_ref = conversions(&driver, Duration::from_micros(2_500));
    let by_value = conversions(driver.clone(), Duration::from_micros(2_500));
    assert_eq!(by_ref, by_value);
    assert_eq!(
        by_ref,
        (
            Duration::from_micros(1_500),
            2_500,
            Duration::from_micros(7),
            3_000,
            Duration::from_micros(42),
        )
    );
}

#[test]
fn a_reference_to_a_driver_has_its_epoch_and_timers() {
    fn epoch<D: TimerDriver>(driver: D) -> Option<std::time::Instant> {
        driver.epoch()
    }
    fn pending<D: TimerDriver>(driver: D) -> usize {
        driver.timers().get().pending()
    }
    let driver = ManualDriver::new();
    assert!(driver.epoch().is_some());
    assert_eq!(epoch(&driver), driver.epoch());
    let root = cancel_token::CancelSource::new();
    let _call = root
        .token()
        .child_with_timeout_on(&driver, Duration::from_millis(5));
    assert_eq!(pending(&driver), 1);
}

#[test]
// `&&TICKS` on purpose: `&TICKS` is the driver itself, not a reference to one.
#[allow(clippy::needless_borrows_for_generic_args)]
fn a_reference_to_a_driver_asks_the_driver_for_its_wake_up() {
    static TICKS: TickDriver = TickDriver::new();
    static ASKED: AtomicU64 = AtomicU64::new(0);
    fn wake_at<D: TimerDriver>(driver: D, tick: u64) -> Result<(), DriverStopped> {
        driver.wake_at(tick)
    }
    TICKS.set_alarm_hook(|tick| ASKED.store(tick, SeqCst));
    // `&&TICKS`: a reference to the driver `&TICKS`.
    assert_eq!(wake_at(&&TICKS, 9), Ok(()));
    assert_eq!(ASKED.load(SeqCst), 9);
}

/// 7 ticks a second: 2.5 s is 17.5 ticks, rounded up to 18.
#[test]
fn durations_round_up_to_whole_ticks() {
    static SEVEN: TickDriver<7> = TickDriver::new();
    assert_eq!(SEVEN.duration_ticks(Duration::new(2, 500_000_000)), 18);
    assert_eq!(SEVEN.duration_ticks(Duration::new(2, 0)), 14);
    assert_eq!(SEVEN.duration_ticks(Duration::from_nanos(1)), 1);
    assert_eq!(SEVEN.duration_ticks(Duration::ZERO), 0);
    assert_eq!(SEVEN.duration_ticks(Duration::MAX), u64::MAX);
}

/// 18 ticks of 7 a second are 2 s and 4/7 s, to the nanosecond rounded down.
#[test]
fn ticks_are_durations_to_the_nanosecond() {
    static SEVEN: TickDriver<7> = TickDriver::new();
    assert_eq!((&SEVEN).ticks_duration(18), Duration::new(2, 571_428_571));
    assert_eq!((&SEVEN).ticks_duration(6), Duration::new(0, 857_142_857));
    assert_eq!((&SEVEN).ticks_duration(0), Duration::ZERO);
}

#[test]
fn a_stopped_driver_says_so() {
    assert_eq!(DriverStopped.to_string(), "timer driver stopped");
}
