//! Many threads creating, cancelling, dropping, waiting and timing out at once.
//! Run under ThreadSanitizer and AddressSanitizer by `scripts/sanitizers.sh`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use cancel_token::{CancelSource, ManualDriver, Reason};

/// A small xorshift, so each thread's mix of operations differs but repeats.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn threads_create_cancel_drop_wait_and_time_out() {
    // Miri is far too slow for this; loom and the smaller tests cover the races there.
    if cfg!(miri) {
        return;
    }
    const THREADS: usize = 8;
    let rounds = 20_000;
    let driver = ManualDriver::new();
    let root = CancelSource::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let start = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (root, driver, fired, start) =
                (root.token(), driver.clone(), fired.clone(), &start);
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let mut held = Vec::new();
                start.wait();
                for _ in 0..rounds {
                    match rng.next() % 8 {
                        0 => held.push(root.child()),
                        1 => held.push(root.child_with_timeout_on(
                            &driver,
                            Duration::from_micros(rng.next() % 50),
                        )),
                        2 => {
                            if let Some(s) = held.pop() {
                                s.cancel();
                            }
                        }
                        3 => {
                            if !held.is_empty() {
                                let i = (rng.next() as usize) % held.len();
                                drop(held.swap_remove(i));
                            }
                        }
                        4 => {
                            if let Some(s) = held.last() {
                                let f = fired.clone();
                                let g = s.token().on_cancel(move |_| {
                                    f.fetch_add(1, SeqCst);
                                });
                                if rng.next() % 2 == 0 {
                                    drop(g);
                                } else {
                                    let _ = g.disarm();
                                }
                            }
                        }
                        5 => {
                            if let Some(s) = held.last() {
                                let _ = s.token().wait_timeout(Duration::from_micros(10));
                            }
                        }
                        6 => driver.advance_by(Duration::from_micros(7)),
                        _ => {
                            if let Some(s) = held.last() {
                                let linked = CancelSource::linked([&s.token(), &root]);
                                held.push(linked);
                            }
                        }
                    }
                }
            });
        }
        start.wait();
    });
    root.cancel();
    assert_eq!(driver.pending(), 0);
}

#[test]
fn a_wide_tree_cancelled_while_its_leaves_come_and_go() {
    if cfg!(miri) {
        return;
    }
    // Each thread makes leaves and waits on them until the root is cancelled;
    // every wait that ends by cancellation must report the root's reason.
    let root = CancelSource::new();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let root = root.token();
            s.spawn(move || loop {
                let leaf = root.child();
                match leaf.token().wait_timeout(Duration::from_micros(50)) {
                    Some(reason) => assert_eq!(reason, Reason::Cancelled),
                    None => assert!(!leaf.is_cancelled() || root.is_cancelled()),
                }
                if root.is_cancelled() {
                    // The walk may still be on its way to this leaf: wait for it.
                    assert_eq!(leaf.token().wait(), Reason::Cancelled);
                    break;
                }
            });
        }
        std::thread::sleep(Duration::from_millis(20));
        root.cancel();
    });
}
