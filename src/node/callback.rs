//! Callbacks run on cancellation, with C++ `std::stop_callback` rules.
//!
//! A callback entry is linked into its node's list. The canceller takes it out
//! under the lock, marks it `Running` (recording its thread and a pointer to a
//! `destroyed` flag on its own stack), releases the lock and calls it. Afterwards
//! it retakes the lock and marks it `Done`, unless the owner has flagged it
//! destroyed meanwhile, in which case it no longer touches it.
//!
//! The owner removing a callback (`disarm`) takes the lock and:
//! - `Queued`: unlinks it; it never runs.
//! - `Running` on this thread (the callback is removing itself, or, without
//!   `std`, an interrupt preempted the runner): sets `destroyed` and frees the
//!   entry at once. The function was moved out of the entry before it started.
//! - `Running` on another thread (`std`): releases the lock and waits for `Done`.
//! - `Done` or never linked (`Idle`): nothing to wait for.
//!
//! This is race R4 of the `node` module docs.

use core::ptr::NonNull;

use crate::node::list::{Entry, Kind, Status};
use crate::node::Node;
use crate::sync::{loom_const_fn, Ordering::*, UnsafeCell};
use crate::{Cause, Reason};

/// The thread running a callback: `std`'s thread id, or nothing without threads.
#[cfg(all(feature = "std", not(cancel_token_loom)))]
type Runner = Option<std::thread::ThreadId>;
#[cfg(cancel_token_loom)]
type Runner = Option<loom::thread::ThreadId>;
#[cfg(not(any(feature = "std", cancel_token_loom)))]
type Runner = Option<()>;

fn current_runner() -> Runner {
    #[cfg(all(feature = "std", not(cancel_token_loom)))]
    return Some(std::thread::current().id());
    #[cfg(cancel_token_loom)]
    return Some(loom::thread::current().id());
    #[cfg(not(any(feature = "std", cancel_token_loom)))]
    return Some(());
}

/// What a callback does when it fires: the user's closure, or an internal action
/// such as cancelling a linked source.
pub(crate) trait Fire: Send + 'static {
    fn fire(self, reason: Reason, cause: Option<&Cause>);
}

/// The user's closure as a callback.
pub(crate) struct UserFn<F>(pub(crate) F);

impl<F: FnOnce(Reason) + Send + 'static> Fire for UserFn<F> {
    fn fire(self, reason: Reason, _cause: Option<&Cause>) {
        (self.0)(reason)
    }
}

/// The type-erased head of every callback entry. `#[repr(C)]`, entry first.
#[repr(C)]
pub(crate) struct CallbackHeader {
    pub(crate) entry: Entry,
    /// Moves the function out of the entry and calls it.
    call: unsafe fn(NonNull<CallbackHeader>, Reason, Option<&Cause>),
    /// While `Running`: the runner's `destroyed` flag. Guarded by the node's lock.
    destroyed: UnsafeCell<*const UnsafeCell<bool>>,
    /// While `Running`: the runner's thread. Guarded by the node's lock.
    runner: UnsafeCell<Runner>,
}

/// A callback entry with its function.
#[repr(C)]
pub(crate) struct Callback<F> {
    pub(crate) header: CallbackHeader,
    f: UnsafeCell<Option<F>>,
}

impl<F: Fire> Callback<F> {
    loom_const_fn! {
        pub(crate) fn new(f: F) -> Self {
            Callback {
                header: CallbackHeader {
                    entry: Entry::new(Kind::Callback, 0),
                    call: Self::call,
                    destroyed: UnsafeCell::new(core::ptr::null()),
                    runner: UnsafeCell::new(None),
                },
                f: UnsafeCell::new(Some(f)),
            }
        }
    }

    /// # Safety
    /// `this` is a `Callback<F>` that the caller marked `Running`.
    unsafe fn call(this: NonNull<CallbackHeader>, reason: Reason, cause: Option<&Cause>) {
        let this = this.cast::<Self>();
        // SAFETY: `Running` gives the runner the function; the owner does not touch it.
        let f = unsafe { (*this.as_ptr()).f.with_mut(|f| (*f).take()) };
        if let Some(f) = f {
            f.fire(reason, cause);
        }
    }

    /// Takes the function back out, if it did not run (for `disarm`).
    ///
    /// # Safety
    /// No canceller can run it any more (it was unlinked, or is `Done`).
    pub(crate) unsafe fn take(&self) -> Option<F> {
        // SAFETY: by the caller's guarantee we are the only user.
        self.f.with_mut(|f| unsafe { (*f).take() })
    }

    /// Replaces the function before the callback is registered.
    ///
    /// # Safety
    /// Not registered, and no one else uses it meanwhile.
    pub(crate) unsafe fn set(&self, f: F) {
        // SAFETY: by the caller's guarantee we are the only user.
        self.f.with_mut(|slot| unsafe { *slot = Some(f) });
    }
}

/// Links `cb` into `node`, or, if `node` is cancelled, runs it now on this thread.
/// Returns whether it was linked.
///
/// # Safety
/// `cb` stays valid and pinned until `unregister` returns.
pub(crate) unsafe fn register<F: Fire>(node: &Node, cb: &Callback<F>) -> bool {
    if node.ownership() == crate::node::kind::Ownership::Never {
        return false;
    }
    let guard = node.lock();
    let state = guard.state();
    if !state.is_cancelled() {
        // SAFETY: under the lock; the caller keeps `cb` pinned until unregistered.
        unsafe { node.list.push_front(NonNull::from(cb).cast()) };
        return true;
    }
    drop(guard);
    // Seen cancelled under the lock, which acquired the cause's publication.
    let (reason, cause) = (state.cancelled_reason(), node.cause());
    // SAFETY: never linked: we are its only user.
    if let Some(f) = unsafe { cb.take() } {
        f.fire(reason, cause.as_ref());
    }
    false
}

/// Removes `cb` from `node`. Returns true if it was removed before running;
/// otherwise waits (with `std`, on another thread) until it has returned.
///
/// # Safety
/// `cb` was passed to `register` with this `node`.
pub(crate) unsafe fn unregister(node: &Node, cb: &CallbackHeader) -> bool {
    // Relaxed: only the owner moves a callback out of `Idle`, in `register`.
    if cb.entry.status.load(Relaxed) == Status::Idle {
        return false;
    }
    let guard = node.lock();
    match cb.entry.status_locked() {
        Status::Queued => {
            // SAFETY: under the lock, and it is in this node's list.
            unsafe { node.list.unlink(NonNull::from(cb).cast()) };
            cb.entry.status.store(Status::Idle, Relaxed); // Relaxed: under the lock
            true
        }
        Status::Running => {
            // SAFETY: `runner` and `destroyed` are guarded by the lock we hold.
            let same = cb.runner.with(|r| unsafe { *r }) == current_runner();
            if same || cfg!(not(feature = "std")) {
                // The runner is below us on this stack (or preempted by us): flag
                // the entry destroyed so it is not touched after the call returns.
                // SAFETY: the flag lives in the runner's frame, which is alive
                // until it retakes this lock.
                cb.destroyed
                    .with(|d| unsafe { (**d).with_mut(|flag| *flag = true) });
                return false;
            }
            drop(guard);
            let mut spins = 0;
            // Acquire: pairs with the Release store of `Done`, so the callback's
            // effects are visible when we return.
            while cb.entry.status.load(Acquire) != Status::Done {
                crate::sync::relax(&mut spins);
            }
            false
        }
        Status::Done => false,
        // Linked, so not `Idle` (only its owner, this caller, unlinks it);
        // callbacks are never `Notified`.
        s @ (Status::Idle | Status::Notified) => unreachable!("a registered callback is {s:?}"),
    }
}

/// Marks a callback just popped from `node`'s list as `Running` by this thread,
/// with `destroyed` as its flag.
///
/// # Safety
/// The caller holds the node's lock, `e` is a `Kind::Callback` entry it just
/// popped, and `destroyed` outlives the matching `run`.
pub(crate) unsafe fn claim(e: NonNull<Entry>, destroyed: &UnsafeCell<bool>) {
    // SAFETY: the entry is the first field of a `#[repr(C)]` header, alive while
    // linked or `Running`; its cells are guarded by the lock the caller holds.
    unsafe {
        let h = e.cast::<CallbackHeader>().as_ref();
        h.destroyed.with_mut(|d| *d = destroyed);
        h.runner.with_mut(|r| *r = current_runner());
        h.entry.status.store(Status::Running, Relaxed); // Relaxed: under the lock
    }
}

/// Runs a callback that `claim` marked `Running`, then marks it `Done` unless its
/// owner flagged it destroyed.
///
/// # Safety
/// `cb` was claimed with `destroyed` under `node`'s lock, which is now released.
pub(crate) unsafe fn run(
    node: &Node,
    cb: NonNull<Entry>,
    destroyed: &UnsafeCell<bool>,
    reason: Reason,
    cause: Option<&Cause>,
    panic: &mut crate::util::panic::PanicSlot,
) {
    let header = cb.cast::<CallbackHeader>();
    // SAFETY: still `Running`: the entry is alive until we mark it `Done` or the owner
    // flags it destroyed, which it can only do while we are inside `call`.
    let call = unsafe { header.as_ref() }.call;
    struct Finish<'a> {
        node: &'a Node,
        header: NonNull<CallbackHeader>,
        destroyed: &'a UnsafeCell<bool>,
    }
    impl Drop for Finish<'_> {
        fn drop(&mut self) {
            let _guard = self.node.lock();
            // SAFETY: the owner writes the flag only under this lock.
            if !self.destroyed.with(|d| unsafe { *d }) {
                // SAFETY: not destroyed, so the owner has not freed the entry.
                let h = unsafe { self.header.as_ref() };
                // Release: the callback's effects happen-before the owner's return.
                h.entry.status.store(Status::Done, Release);
            }
        }
    }
    let _finish = Finish {
        node,
        header,
        destroyed,
    };
    // SAFETY: `call` belongs to this entry, which is `Running`.
    panic.guard(|| unsafe { call(header, reason, cause) });
}
