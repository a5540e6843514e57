//! `PinnedOnCancel`: a callback stored in place, for the no-allocator tier.

use core::fmt;
use core::marker::PhantomPinned;
use core::pin::Pin;

use crate::node::callback::{self, Callback, UserFn};
use crate::node::kind::Ownership;
use crate::node::Node;
use crate::{Reason, TokenRef};

/// A callback run when a token is cancelled, stored in place (a stack frame,
/// an async task, a `static` cell) rather than on the heap. It is the
/// no-allocator tier's [`CancelToken::on_cancel`](crate::CancelToken::on_cancel),
/// with the same rules: it runs once, on the cancelling thread (or interrupt
/// handler), with no lock held; at once if the token is already cancelled.
///
/// It registers on first [`arm`](Self::arm). Dropping it (or
/// [`disarm`](Self::disarm)) removes it; with `std`, if it is running on
/// another thread, that waits until it has returned. Without `std` there is
/// no other thread to wait for: removing it from an interrupt handler that
/// preempted its run, or from inside it, does not wait.
///
/// # Examples
///
/// ```
/// use core::pin::pin;
/// use core::sync::atomic::{AtomicBool, Ordering};
/// use cancel_token::{PinnedOnCancel, StaticSource};
///
/// static ROOT: StaticSource = StaticSource::new();
/// static STOPPED: AtomicBool = AtomicBool::new(false);
///
/// let mut stop_motor = pin!(PinnedOnCancel::new(ROOT.token_ref(), |_reason| {
///     STOPPED.store(true, Ordering::Relaxed);
/// }));
/// stop_motor.as_mut().arm();
/// ROOT.cancel();
/// assert!(STOPPED.load(Ordering::Relaxed));
/// ```
///
/// [`arm`](Self::arm) and [`disarm`](Self::disarm) take `Pin<&mut Self>`,
/// the pin `pin!` gives, by value: a call on it moves it, so call them
/// through [`Pin::as_mut`] (as above) to keep the pin for a later call
/// (Rust does not reborrow a `Pin<&mut Self>` implicitly, as it does a
/// `&mut`). They change its state, so they do not take `Pin<&Self>` as
/// [`PinnedChild`](crate::PinnedChild)'s methods do.
///
/// # In a `static`
///
/// A plain `static` gives no `&mut`, so it could never be armed. Put it in a
/// `static` cell initialised at run time, such as
/// [`static_cell`](https://docs.rs/static_cell)'s `StaticCell`, with a
/// function (a closure's type cannot be named there), and pin the
/// `&'static mut` it gives with [`Pin::static_mut`]:
///
/// ```
/// use core::pin::Pin;
/// use core::sync::atomic::{AtomicBool, Ordering};
/// use cancel_token::{PinnedOnCancel, Reason, StaticSource};
/// use static_cell::StaticCell;
///
/// static ROOT: StaticSource = StaticSource::new();
/// static STOPPED: AtomicBool = AtomicBool::new(false);
/// static STOP_MOTOR: StaticCell<PinnedOnCancel<'static, fn(Reason)>> = StaticCell::new();
///
/// fn stop_motor(_: Reason) {
///     STOPPED.store(true, Ordering::Relaxed);
/// }
///
/// let mut on_stop = Pin::static_mut(STOP_MOTOR.init(PinnedOnCancel::new(ROOT.token_ref(), stop_motor)));
/// on_stop.as_mut().arm();
/// ROOT.cancel();
/// assert!(STOPPED.load(Ordering::Relaxed));
/// ```
///
/// It is `!Unpin`: its token's callback list points into it once armed, so
/// it must not move once pinned, and no safe code can move it:
///
/// ```compile_fail
/// fn assert_unpin<T: Unpin>() {}
/// assert_unpin::<cancel_token::PinnedOnCancel<'static, fn(cancel_token::Reason)>>();
/// ```
pub struct PinnedOnCancel<'a, F: FnOnce(Reason) + Send + 'static> {
    callback: Callback<UserFn<F>>,
    node: &'a Node,
    phase: Phase,
    _pin: PhantomPinned,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    New,
    Armed,
    /// Disarmed; whether it was removed before running.
    Disarmed(bool),
}

// SAFETY: the callback entry is only touched under the node's lock or by its
// owner once unregistered; the closure is `Send`.
unsafe impl<F: FnOnce(Reason) + Send + 'static> Send for PinnedOnCancel<'_, F> {}
// SAFETY: `&PinnedOnCancel` gives access to nothing but its phase.
unsafe impl<F: FnOnce(Reason) + Send + 'static> Sync for PinnedOnCancel<'_, F> {}

impl<'a, F: FnOnce(Reason) + Send + 'static> PinnedOnCancel<'a, F> {
    /// A callback on `token`, not yet registered: it runs only once
    /// [armed](Self::arm).
    ///
    /// ```
    /// use core::pin::pin;
    /// use core::sync::atomic::{AtomicBool, Ordering};
    /// use cancel_token::{PinnedOnCancel, StaticSource};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static RAN: AtomicBool = AtomicBool::new(false);
    ///
    /// let set = |_| RAN.store(true, Ordering::Relaxed);
    /// let _unarmed = pin!(PinnedOnCancel::new(ROOT.token_ref(), set));
    /// ROOT.cancel();
    /// assert!(!RAN.load(Ordering::Relaxed));
    /// ```
    pub fn new(token: TokenRef<'a>, f: F) -> Self {
        PinnedOnCancel {
            callback: Callback::new(UserFn(f)),
            node: token.node(),
            phase: Phase::New,
            _pin: PhantomPinned,
        }
    }

    /// Registers the callback, or runs it now if the token is cancelled.
    /// Calling it again, or after `disarm`, does nothing.
    ///
    /// ```
    /// use core::pin::pin;
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use cancel_token::{PinnedOnCancel, StaticSource};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static RUNS: AtomicUsize = AtomicUsize::new(0);
    ///
    /// ROOT.cancel();
    /// let mut callback = pin!(PinnedOnCancel::new(ROOT.token_ref(), |_| {
    ///     RUNS.fetch_add(1, Ordering::Relaxed);
    /// }));
    /// callback.as_mut().arm(); // cancelled already: runs here
    /// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
    /// callback.as_mut().arm(); // does nothing
    /// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
    /// ```
    pub fn arm(self: Pin<&mut Self>) {
        // SAFETY: only `phase` is changed; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        // A token that is never cancelled keeps nothing: it stays `New`.
        if this.phase != Phase::New || this.node.ownership() == Ownership::Never {
            return;
        }
        this.phase = Phase::Armed;
        // SAFETY: the callback is pinned with `self`, whose drop unregisters it.
        unsafe { callback::register(this.node, &this.callback) };
    }

    /// Removes the callback. Returns `true` if it had not run and now never
    /// will (also when it was never armed); `false` if it has run.
    ///
    /// ```
    /// use core::pin::pin;
    /// use core::sync::atomic::{AtomicBool, Ordering};
    /// use cancel_token::{PinnedOnCancel, StaticSource};
    ///
    /// static ROOT: StaticSource = StaticSource::new();
    /// static RAN: AtomicBool = AtomicBool::new(false);
    ///
    /// let set = |_| RAN.store(true, Ordering::Relaxed);
    /// let mut callback = pin!(PinnedOnCancel::new(ROOT.token_ref(), set));
    /// callback.as_mut().arm();
    /// assert!(callback.as_mut().disarm()); // removed before it ran
    /// ROOT.cancel();
    /// assert!(!RAN.load(Ordering::Relaxed));
    /// ```
    pub fn disarm(self: Pin<&mut Self>) -> bool {
        // SAFETY: only `phase` and the function's slot change; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let removed = match this.phase {
            Phase::Disarmed(removed) => return removed,
            Phase::New => true,
            // SAFETY: registered (or run inline) on this node by `arm`.
            Phase::Armed => unsafe { callback::unregister(this.node, &this.callback.header) },
        };
        this.phase = Phase::Disarmed(removed);
        if removed {
            // SAFETY: never linked, or unlinked before it ran: ours alone.
            drop(unsafe { this.callback.take() });
        }
        removed
    }
}

impl<F: FnOnce(Reason) + Send + 'static> Drop for PinnedOnCancel<'_, F> {
    fn drop(&mut self) {
        if self.phase == Phase::Armed {
            // SAFETY: registered (or run inline) on this node by `arm`, and
            // still in place: `Pin`'s drop guarantee.
            unsafe { callback::unregister(self.node, &self.callback.header) };
        }
    }
}

impl<F: FnOnce(Reason) + Send + 'static> fmt::Debug for PinnedOnCancel<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedOnCancel")
            .field("phase", &self.phase)
            .finish()
    }
}
