//! Interrupt-vs-thread races, no allocator: SysTick fires every ~2000 cycles
//! and cancels the current scope while thread mode, in a tight loop, creates
//! pinned children, registers, re-polls and drops waiters, and drops the
//! children again.
//!
//! Each iteration (at least 20 000 of them, and for at least 6000 ticks)
//! thread mode pins a child `C` of the static `PARENT` (and mostly a
//! grandchild `G` of `C`), publishes pointers to them for the handler, and
//! walks through the phases below, storing the current one in
//! `PHASE`. On each tick the handler cancels `G` (odd ticks, if published) or
//! `C`, and counts a *hit* for the phase it interrupted when that cancel was
//! the first for the node. Thread mode withdraws a pointer inside a critical
//! section before the node it points to is dropped, so the handler never
//! touches a dropped node; everything else races freely.
//!
//! Checked every iteration:
//! - a waiter that was pending before its token was cancelled has had its
//!   waker called and is `Ready(Cancelled)` on its next poll (no lost
//!   wake-up), and one whose token is still live stays pending, not woken;
//! - a future that completes sees its token cancelled;
//! - a cancelled `C` implies a cancelled `G`.
//!
//! At the end: the handler hit the middle of the thread's operations (hits in
//! phases with a waiter or child being registered or dropped) and completed
//! the wake-up check, otherwise the test proves nothing and fails; and
//! cancelling `PARENT` walks a list that no dropped child is left in. A
//! deadlock hangs, and the script's timeout fails the run.
#![no_std]
#![no_main]

use core::fmt;
use core::pin::{pin, Pin};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32};
use core::task::Poll;

use cancel_token::{PinnedChild, Reason, StaticSource, TokenRef};
use cortex_m::peripheral::syst::SystClkSource;
use harness::atomic::Ordering;
use harness::exec::{flag_waker, poll_once};
use harness::{check, entry, exception};

/// The thread-mode loop runs at least this many iterations...
const MIN_ITERATIONS: u32 = 20_000;
/// ... and until this many SysTick interrupts have come: 12M core cycles,
/// about 1 s of QEMU's clock on lm3s6965evb (12 MHz), 0.5 s on mps2 (25 MHz).
const MIN_TICKS: u32 = 6_000;
/// SysTick reload: every 2000 core cycles.
const RELOAD: u32 = 2_000 - 1;

static PARENT: StaticSource = StaticSource::new();

/// The current child and grandchild, for the handler; null when absent.
static CUR_C: AtomicPtr<PinnedChild<'static>> = AtomicPtr::new(ptr::null_mut());
static CUR_G: AtomicPtr<PinnedChild<'static>> = AtomicPtr::new(ptr::null_mut());

// Thread-mode phases: what the thread was doing when the handler cancelled.
const P_IDLE: usize = 0; //         between iterations, nothing published
const P_NEW_C: usize = 1; //        C published, not linked yet (the handler links it)
const P_LINK_C: usize = 2; //       linking C into PARENT
const P_REG_W1: usize = 3; //       first poll of W1 on C: registration
const P_LINK_G: usize = 4; //       G published, linking G into C
const P_REG_W2: usize = 5; //       first poll of W2 on G: registration
const P_REPOLL: usize = 6; //       re-polling W1 and W2 (waker replaced)
const P_THREAD_CANCEL: usize = 7; // thread mode itself cancelling C or G
const P_DROP_W2: usize = 8; //      dropping W2 (unlinking it from G)
const P_DROP_G: usize = 9; //       dropping G (cancel itself, unlink from C)
const P_CHECK: usize = 10; //       the checks on W1
const P_DROP_W1: usize = 11; //     dropping W1 (unlinking it from C)
const PHASES: usize = 12;
const PHASE_NAMES: [&str; PHASES] = [
    "idle",
    "new_c",
    "link_c",
    "reg_w1",
    "link_g",
    "reg_w2",
    "repoll",
    "thr_cancel",
    "drop_w2",
    "drop_g",
    "check",
    "drop_w1",
];
/// Phases in which a waiter or child is being registered, polled or dropped.
const MID_OPERATION: [usize; 9] = [
    P_NEW_C, P_LINK_C, P_REG_W1, P_LINK_G, P_REG_W2, P_REPOLL, P_DROP_W2, P_DROP_G, P_DROP_W1,
];
/// Each of these must have been hit at least once (each is hit hundreds of
/// times in a normal run): linking a child, registering a waiter, dropping a
/// waiter, dropping a child.
const MUST_HIT: [usize; 6] = [P_LINK_C, P_REG_W1, P_REG_W2, P_DROP_W2, P_DROP_G, P_DROP_W1];

static PHASE: AtomicU32 = AtomicU32::new(P_IDLE as u32);

// Written only by the handler (it does not preempt itself): load + store.
static TICKS: AtomicU32 = AtomicU32::new(0);
static IDLE_TICKS: AtomicU32 = AtomicU32::new(0);
static REPEAT_CANCELS: AtomicU32 = AtomicU32::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU32 = AtomicU32::new(0);
static HITS_C: [AtomicU32; PHASES] = [ZERO; PHASES];
static HITS_G: [AtomicU32; PHASES] = [ZERO; PHASES];

fn bump(a: &AtomicU32) {
    a.store(a.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

#[derive(Debug)]
struct IsrCancel;
impl fmt::Display for IsrCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled from SysTick")
    }
}
impl core::error::Error for IsrCancel {}
static ISR_CANCEL: IsrCancel = IsrCancel;

#[exception]
fn SysTick() {
    let tick = TICKS.load(Ordering::Relaxed) + 1;
    TICKS.store(tick, Ordering::Relaxed);
    let (mut p, mut hits) = (ptr::null_mut(), &HITS_C);
    if tick % 2 == 1 {
        (p, hits) = (CUR_G.load(Ordering::Acquire), &HITS_G);
    }
    if p.is_null() {
        (p, hits) = (CUR_C.load(Ordering::Acquire), &HITS_C);
    }
    if p.is_null() {
        bump(&IDLE_TICKS);
        return;
    }
    // SAFETY: thread mode keeps the published child pinned and alive until it
    // has cleared the pointer (in a critical section, so never while we run).
    let node = unsafe { Pin::new_unchecked(&*p) };
    let phase = PHASE.load(Ordering::Relaxed) as usize;
    if node.is_cancelled() {
        bump(&REPEAT_CANCELS);
        return;
    }
    node.cancel_with(&ISR_CANCEL);
    check!(node.is_cancelled(), "cancel from the handler did not stick");
    bump(&hits[phase]);
}

fn set_phase(p: usize) {
    // Relaxed: the handler reads it on this core.
    PHASE.store(p as u32, Ordering::Relaxed);
}

/// Publishes `node` for the handler.
fn publish(slot: &AtomicPtr<PinnedChild<'static>>, node: Pin<&PinnedChild<'_>>) {
    let p = ptr::from_ref(node.get_ref()) as *mut PinnedChild<'static>;
    slot.store(p, Ordering::Release);
}

/// Withdraws a published node; once this returns the handler cannot be using it.
fn withdraw(slot: &AtomicPtr<PinnedChild<'static>>) {
    cortex_m::interrupt::free(|_| slot.store(ptr::null_mut(), Ordering::Relaxed));
}

static W1_WOKEN: AtomicBool = AtomicBool::new(false);
static W2_WOKEN: AtomicBool = AtomicBool::new(false);

/// What thread mode saw about one waiter; the wake-up check.
struct Wait {
    /// Pending on its first poll: linked into its token's list.
    registered: bool,
    flag: &'static AtomicBool,
}

/// Whether a waiter in `fut` for `token` is consistent: pending and not woken
/// while the token is live; woken and ready once it is cancelled (if it was
/// registered before). Returns whether this was a completed wake-up check.
fn check_waiter(
    what: &str,
    token: TokenRef<'_>,
    w: &Wait,
    fut: Pin<&mut cancel_token::Cancelled<'_>>,
    waker: &core::task::Waker,
) -> bool {
    // Read before polling: if it is cancelled now, the poll must be Ready.
    let cancelled = token.is_cancelled();
    let woken = w.flag.load(Ordering::Acquire);
    let polled = poll_once(fut, waker);
    if cancelled {
        check!(
            polled == Poll::Ready(Reason::Cancelled),
            "{}: token cancelled, future {:?}",
            what,
            polled
        );
        if w.registered {
            check!(
                woken,
                "{}: registered waiter not woken (lost wake-up)",
                what
            );
            return true;
        }
    } else {
        if polled.is_pending() {
            check!(
                !woken || token.is_cancelled(),
                "{}: woken while its token is live",
                what
            );
        } else {
            check!(
                token.is_cancelled(),
                "{}: Ready before its token was cancelled",
                what
            );
        }
    }
    false
}

/// Tiny xorshift for the per-iteration variant.
fn next(seed: &mut u32) -> u32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    *seed
}

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let w1_waker = flag_waker(&W1_WOKEN);
    let w2_waker = flag_waker(&W2_WOKEN);

    let syst = &mut cp.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();

    let mut seed = 0x2545_f491u32;
    let mut wake_checks = 0u32; // wake-ups verified after the handler's cancel
    let mut thread_wake_checks = 0u32; // ... after thread mode's own cancel
    let mut cancelled_iterations = 0u32;
    let mut iterations = 0u32;
    while iterations < MIN_ITERATIONS || TICKS.load(Ordering::Relaxed) < MIN_TICKS {
        iterations += 1;
        let r = next(&mut seed);
        let with_g = r & 3 != 0; // 3/4: a grandchild
        let with_w2 = with_g && r & 4 != 0; // 1/2 of those: a waiter on it
        let poll_w1 = r & 8 != 0; // 1/2: W1 registered (else dropped idle)
        let thread_cancel = r & 0x30 == 0; // 1/4: thread mode cancels too
        let spin = (r >> 8) & 31; // shifts the phases against the tick

        set_phase(P_NEW_C);
        let c = pin!(PinnedChild::new(PARENT.token_ref()));
        let c = c.into_ref();
        publish(&CUR_C, c);
        for _ in 0..spin {
            cortex_m::asm::nop();
        }
        set_phase(P_LINK_C);
        let tc = c.token();
        {
            set_phase(P_REG_W1);
            W1_WOKEN.store(false, Ordering::Relaxed);
            let mut w1 = pin!(tc.cancelled());
            let mut w1_state = Wait {
                registered: false,
                flag: &W1_WOKEN,
            };
            if poll_w1 {
                match poll_once(w1.as_mut(), &w1_waker) {
                    Poll::Pending => w1_state.registered = true,
                    Poll::Ready(reason) => {
                        check!(reason == Reason::Cancelled && tc.is_cancelled());
                    }
                }
            }
            if with_g {
                set_phase(P_LINK_G);
                let g = pin!(PinnedChild::new(tc));
                let g = g.into_ref();
                publish(&CUR_G, g);
                let tg = g.token();
                {
                    set_phase(P_REG_W2);
                    W2_WOKEN.store(false, Ordering::Relaxed);
                    let mut w2 = pin!(tg.cancelled());
                    let mut w2_state = Wait {
                        registered: false,
                        flag: &W2_WOKEN,
                    };
                    if with_w2 {
                        match poll_once(w2.as_mut(), &w2_waker) {
                            Poll::Pending => w2_state.registered = true,
                            Poll::Ready(reason) => {
                                check!(reason == Reason::Cancelled && tg.is_cancelled());
                            }
                        }
                    }
                    set_phase(P_REPOLL);
                    if w1_state.registered {
                        // Re-polls swap the waker in place (LINKED path).
                        if let Poll::Ready(reason) = poll_once(w1.as_mut(), &w1_waker) {
                            check!(reason == Reason::Cancelled && tc.is_cancelled());
                            check!(
                                W1_WOKEN.load(Ordering::Acquire),
                                "w1 ready on re-poll, never woken"
                            );
                        }
                    }
                    if w2_state.registered {
                        if let Poll::Ready(reason) = poll_once(w2.as_mut(), &w2_waker) {
                            check!(reason == Reason::Cancelled && tg.is_cancelled());
                            check!(
                                W2_WOKEN.load(Ordering::Acquire),
                                "w2 ready on re-poll, never woken"
                            );
                        }
                    }
                    if thread_cancel {
                        set_phase(P_THREAD_CANCEL);
                        let was = tg.is_cancelled();
                        if r & 0x40 != 0 {
                            c.cancel();
                            check!(tc.is_cancelled());
                        } else {
                            g.cancel();
                        }
                        check!(
                            tg.is_cancelled(),
                            "G live after thread mode cancelled it or C"
                        );
                        if w2_state.registered {
                            check!(W2_WOKEN.load(Ordering::Acquire), "w2 not woken by a cancel");
                            thread_wake_checks += !was as u32;
                        }
                    }
                    if tc.is_cancelled() {
                        check!(tg.is_cancelled(), "C cancelled, its child G live");
                    }
                    if with_w2 {
                        check_waiter("w2", tg, &w2_state, w2.as_mut(), &w2_waker);
                    }
                    set_phase(P_DROP_W2);
                } // w2 dropped
                withdraw(&CUR_G);
                set_phase(P_DROP_G);
            } // g dropped
            set_phase(P_CHECK);
            if poll_w1
                && check_waiter("w1", tc, &w1_state, w1.as_mut(), &w1_waker)
                && tc
                    .cause()
                    .is_some_and(|c| c.downcast_ref::<IsrCancel>().is_some())
            {
                // Registered, then cancelled by the handler (C carries its cause).
                wake_checks += 1;
            }
            set_phase(P_DROP_W1);
        } // w1 dropped
        if tc.is_cancelled() {
            cancelled_iterations += 1;
        }
        withdraw(&CUR_C);
        set_phase(P_IDLE);
        // c dropped here: cancels itself, unlinks from PARENT.
    }

    syst.disable_interrupt();
    syst.disable_counter();

    // Every dropped child left PARENT's list: cancelling it walks no dead frame.
    check!(!PARENT.is_cancelled());
    PARENT.cancel();
    check!(PARENT.is_cancelled());

    let load = |a: &AtomicU32| a.load(Ordering::Relaxed);
    let mut mid = 0;
    for &p in MID_OPERATION.iter() {
        mid += load(&HITS_C[p]) + load(&HITS_G[p]);
    }
    let total: u32 = (0..PHASES)
        .map(|p| load(&HITS_C[p]) + load(&HITS_G[p]))
        .sum();
    harness::hprint!("note: handler's first cancels by thread phase (C/G):");
    for p in 0..PHASES {
        let (hc, hg) = (load(&HITS_C[p]), load(&HITS_G[p]));
        if hc + hg > 0 {
            harness::hprint!(" {}={}/{}", PHASE_NAMES[p], hc, hg);
        }
    }
    harness::hprintln!("");
    check!(
        mid > 0,
        "the handler never hit a registration or drop: no race tested"
    );
    for &p in MUST_HIT.iter() {
        let hits = load(&HITS_C[p]) + load(&HITS_G[p]);
        check!(hits > 0, "the handler never hit phase {}", PHASE_NAMES[p]);
    }
    check!(
        wake_checks > 0,
        "no registered waiter was cancelled from the handler"
    );

    harness::pass(format_args!(
        "isr_stress: {} iterations, {} ticks ({} idle, {} repeat), {} fresh cancels from \
         the handler ({} mid-operation), {} iterations with C cancelled, {} handler \
         wake-ups checked, {} thread-cancel wake-ups checked",
        iterations,
        load(&TICKS),
        load(&IDLE_TICKS),
        load(&REPEAT_CANCELS),
        total,
        mid,
        cancelled_iterations,
        wake_checks,
        thread_wake_checks
    ))
}
