//! Test harness shared by every firmware test in `src/bin/`.
//!
//! A test is a `#![no_std] #![no_main]` binary with a `#[entry]` that ends in
//! [`pass`] (or [`fail`]). This crate supplies the rest:
//!
//! - a panic handler and a HardFault handler that print the cause over
//!   semihosting and exit QEMU with failure;
//! - [`pass`]/[`fail`], which print one result line and exit QEMU with the
//!   semihosting status (`EXIT_SUCCESS` / `EXIT_FAILURE`);
//! - [`core_name`], the core QEMU actually emulates (read from CPUID);
//! - [`atomic`], read-modify-write atomics on every target (thumbv6m has no
//!   CAS: they come from portable-atomic over critical-section there);
//! - the critical-section implementation itself (cortex-m's
//!   `critical-section-single-core`), linked through the `cortex-m` dependency;
//! - [`exec`], a single-future executor ([`exec::block_on`]) that sleeps in
//!   `wfi` until an interrupt handler wakes the future, and wakers that set a
//!   static flag ([`exec::flag_waker`]);
//! - [`SysTickTime`], an embassy-time driver on SysTick for the embassy
//!   binaries, as a board crate would provide one.
//!
//! The harness has no global allocator: a test that needs one fails to link,
//! unless it is built with the `alloc` feature and defines its own (as
//! `clock_tree` does, with embedded-alloc).
#![no_std]

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

pub use cortex_m;
pub use cortex_m_rt::{entry, exception, ExceptionFrame};
pub use cortex_m_semihosting::{debug, hprint, hprintln};

/// Atomics with `fetch_*`/`compare_exchange` on every target.
pub mod atomic {
    pub use core::sync::atomic::Ordering;
    #[cfg(not(fw_no_cas))]
    pub use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize};
    #[cfg(fw_no_cas)]
    pub use portable_atomic::{AtomicBool, AtomicU32, AtomicUsize};
}

/// A minimal executor: one future, polled in thread mode, sleeping in `wfi`.
pub mod exec {
    use core::future::Future;
    use core::pin::pin;
    use core::sync::atomic::AtomicBool;
    use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

    use crate::atomic::{AtomicUsize, Ordering};

    /// Set by the waker of [`block_on`]; cleared before each poll.
    static WOKEN: AtomicBool = AtomicBool::new(false);
    /// Every `wake`/`wake_by_ref` of a [`flag_waker`], whatever its flag.
    static WAKES: AtomicUsize = AtomicUsize::new(0);

    // The data pointer is a `&'static AtomicBool`: cloning copies it, waking
    // sets the flag (Release, so the poll that follows sees what the waker saw).
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(data: *const ()) {
        // SAFETY: made by `flag_waker` from a `&'static AtomicBool`.
        let flag = unsafe { &*data.cast::<AtomicBool>() };
        flag.store(true, Ordering::Release);
        WAKES.fetch_add(1, Ordering::Relaxed);
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

    /// A waker whose `wake` sets `flag` (it may be called from an interrupt
    /// handler) and counts in [`wakes`].
    pub fn flag_waker(flag: &'static AtomicBool) -> Waker {
        let data = (flag as *const AtomicBool).cast::<()>();
        // SAFETY: the vtable's functions only read `data` as the `'static`
        // flag it came from; cloning and dropping own nothing.
        unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
    }

    /// The flag behind [`block_on`]'s waker: `flag_waker(main_flag()).wake()`
    /// wakes the future being blocked on, as its own waker would.
    pub fn main_flag() -> &'static AtomicBool {
        &WOKEN
    }

    /// How many times any [`flag_waker`] was woken so far.
    pub fn wakes() -> usize {
        WAKES.load(Ordering::Relaxed)
    }

    /// Polls `fut` to completion in thread mode and returns its output and the
    /// number of polls. Between polls the core sleeps in `wfi` until the waker
    /// was called (from an interrupt handler, typically).
    ///
    /// The flag check and the `wfi` run with interrupts masked (PRIMASK), so a
    /// wake landing between them is not lost: `wfi` still returns on a pending
    /// interrupt while PRIMASK is set, and the handler runs as soon as
    /// interrupts are enabled again. Interrupts must be enabled on entry.
    pub fn block_on<F: Future>(fut: F) -> (F::Output, usize) {
        assert!(
            cortex_m::register::primask::read().is_active(),
            "block_on with interrupts disabled would sleep forever"
        );
        let mut fut = pin!(fut);
        let waker = flag_waker(&WOKEN);
        let mut cx = Context::from_waker(&waker);
        let mut polls = 0;
        loop {
            // Cleared before the poll: a wake during the poll polls again.
            WOKEN.store(false, Ordering::Relaxed);
            polls += 1;
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return (out, polls);
            }
            loop {
                cortex_m::interrupt::disable();
                let woken = WOKEN.load(Ordering::Acquire);
                if !woken {
                    cortex_m::asm::wfi();
                }
                // SAFETY: interrupts were enabled on entry (asserted above);
                // this ends the masked check-and-sleep, and any pending
                // handler runs now.
                unsafe { cortex_m::interrupt::enable() };
                if woken {
                    break;
                }
            }
        }
    }

    /// Polls a pinned future once with `waker`.
    pub fn poll_once<F: Future + ?Sized>(
        fut: core::pin::Pin<&mut F>,
        waker: &Waker,
    ) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(waker))
    }
}

pub mod systick_time;
pub use systick_time::SysTickTime;

/// QEMU machine this image was linked for (from build.rs).
pub const MACHINE: &str = env!("FIRMWARE_MACHINE");
/// Rust target this image was built for.
pub const TARGET: &str = env!("FIRMWARE_TARGET");

/// Name of the core we run on, from the CPUID register's PARTNO field.
pub fn core_name() -> &'static str {
    // SAFETY: CPUID base is a read-only register present on every Cortex-M.
    let cpuid = unsafe { (*cortex_m::peripheral::CPUID::PTR).base.read() };
    match (cpuid >> 4) & 0xfff {
        0xc20 => "cortex-m0",
        0xc60 => "cortex-m0+",
        0xc21 => "cortex-m1",
        0xc23 => "cortex-m3",
        0xc24 => "cortex-m4",
        0xc27 => "cortex-m7",
        0xd20 => "cortex-m23",
        0xd21 => "cortex-m33",
        0xd22 => "cortex-m55",
        _ => "cortex-m?",
    }
}

/// Prints `ok: <core> <detail>` and exits QEMU with success.
pub fn pass(detail: core::fmt::Arguments) -> ! {
    hprintln!("ok: {} {} ({} on {})", core_name(), detail, TARGET, MACHINE);
    exit(true)
}

/// Prints `FAIL: <core> <detail>` and exits QEMU with failure.
pub fn fail(detail: core::fmt::Arguments) -> ! {
    hprintln!(
        "FAIL: {} {} ({} on {})",
        core_name(),
        detail,
        TARGET,
        MACHINE
    );
    exit(false)
}

/// Like `assert!`, but reports through [`fail`] with the failing expression.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            $crate::fail(format_args!("check failed: {} at {}:{}", stringify!($cond), file!(), line!()));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            $crate::fail(format_args!("check failed: {} at {}:{}: {}", stringify!($cond), file!(), line!(), format_args!($($arg)+)));
        }
    };
}

/// Exits QEMU through semihosting; `success` picks the exit status.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a semihosting host: stop here.
    loop {
        core::hint::spin_loop();
    }
}

/// Set by the first panic or fault, so one inside the reporting (say, in
/// `hprintln!`) exits at once instead of recursing until the timeout.
static FAILING: AtomicBool = AtomicBool::new(false);

fn first_failure() -> bool {
    cortex_m::interrupt::disable();
    // Load + store is enough: single core, interrupts off.
    let first = !FAILING.load(Ordering::Relaxed);
    FAILING.store(true, Ordering::Relaxed);
    first
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    if !first_failure() {
        exit(false);
    }
    match info.location() {
        Some(l) => hprintln!(
            "FAIL: {} panicked at {}:{}: {} ({} on {})",
            core_name(),
            l.file(),
            l.line(),
            info.message(),
            TARGET,
            MACHINE
        ),
        None => hprintln!(
            "FAIL: {} panicked: {} ({} on {})",
            core_name(),
            info.message(),
            TARGET,
            MACHINE
        ),
    }
    exit(false)
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    if !first_failure() {
        exit(false);
    }
    hprintln!(
        "FAIL: {} HardFault: {:?} ({} on {})",
        core_name(),
        ef,
        TARGET,
        MACHINE
    );
    exit(false)
}
