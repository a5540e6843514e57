//! An embassy-time driver on SysTick, as a board crate provides one: a
//! periodic interrupt at `TICK_HZ` (1 kHz: embassy-time-driver's
//! `tick-hz-1_000`) counts the time and wakes the timers that are due.
//!
//! A binary registers it and routes the interrupt to it:
//!
//! ```ignore
//! embassy_time_driver::time_driver_impl!(static TIME: SysTickTime = SysTickTime::new());
//!
//! #[exception]
//! fn SysTick() {
//!     TIME.on_tick();
//! }
//! // in main, before the executor runs:
//! TIME.start(cortex_m::Peripherals::take().unwrap().SYST);
//! ```
//!
//! Periodic, not tickless: simple, and the tick is what the tests count. The
//! timer queue is embassy's default (integrated) one, in a critical section.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use critical_section::Mutex;
use embassy_time_queue_utils::Queue;

/// SysTick reload: one tick per 12 000 core cycles, 1 ms on lm3s6965evb
/// (12 MHz), 0.48 ms on mps2-an386 (25 MHz); counted as 1 ms.
pub const CYCLES_PER_TICK: u32 = 12_000;

/// The clock (ticks since `start`), the timer queue and its next expiration.
pub struct SysTickTime {
    now: Mutex<Cell<u64>>,
    next: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl SysTickTime {
    /// At tick 0, no timers.
    pub const fn new() -> Self {
        SysTickTime {
            now: Mutex::new(Cell::new(0)),
            next: Mutex::new(Cell::new(u64::MAX)),
            queue: Mutex::new(RefCell::new(Queue::new())),
        }
    }

    /// Starts the periodic interrupt.
    pub fn start(&self, mut syst: SYST) {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CYCLES_PER_TICK - 1);
        syst.clear_current();
        syst.enable_counter();
        syst.enable_interrupt();
    }

    /// The SysTick handler: one tick passes; wakes the timers now due.
    pub fn on_tick(&self) {
        critical_section::with(|cs| {
            let now = self.now.borrow(cs).get() + 1;
            self.now.borrow(cs).set(now);
            if now >= self.next.borrow(cs).get() {
                let next = self.queue.borrow_ref_mut(cs).next_expiration(now);
                self.next.borrow(cs).set(next);
            }
        });
    }
}

impl Default for SysTickTime {
    fn default() -> Self {
        Self::new()
    }
}

impl embassy_time_driver::Driver for SysTickTime {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.now.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            if queue.schedule_wake(at, waker) {
                // Wakes what is already due; the tick handler wakes the rest.
                let next = queue.next_expiration(self.now.borrow(cs).get());
                self.next.borrow(cs).set(next);
            }
        });
    }
}
