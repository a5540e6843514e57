//! `OnCancel`: the guard of a registered callback.

use alloc::boxed::Box;
use core::fmt;
use core::ptr::NonNull;

use crate::node::callback::{self, Callback, CallbackHeader, Fire};
use crate::CancelToken;

/// Keeps a callback registered by [`CancelToken::on_cancel`]. Dropping it (or
/// [`disarm`](Self::disarm)) removes the callback.
///
/// If the callback is running on another thread at that moment, removal waits
/// until it has returned, so whatever it borrows may be freed right after.
/// Removing it from inside the callback itself does not wait.
///
/// # Examples
///
/// ```
/// let source = cancel_token::CancelSource::new();
/// let guard = source.token().on_cancel(|_| unreachable!());
/// assert!(guard.disarm()); // removed before it could run
/// source.cancel();
/// ```
#[must_use = "dropping the guard removes the callback at once"]
pub struct OnCancel {
    token: CancelToken,
    /// The boxed `Callback<F>` while registered.
    entry: Option<NonNull<CallbackHeader>>,
    /// Frees `entry` with its real type.
    free: unsafe fn(NonNull<CallbackHeader>),
    /// Without an entry: whether the callback never ran (token that is never
    /// cancelled) rather than having run at registration.
    never_ran: bool,
}

// SAFETY: the entry is only touched under the node's lock or after it is
// unregistered; the closure is `Send`.
unsafe impl Send for OnCancel {}
// SAFETY: `&OnCancel` gives access to nothing.
unsafe impl Sync for OnCancel {}

impl OnCancel {
    pub(crate) fn register<F: Fire>(token: &CancelToken, f: F) -> OnCancel {
        /// Frees the boxed callback behind `p`.
        ///
        /// # Safety
        /// `p` came from `Box::leak` of a `Callback<F>`, unregistered (or
        /// never registered), and is not used after.
        unsafe fn free<F>(p: NonNull<CallbackHeader>) {
            // SAFETY: `p` came from `Box::leak` of a `Callback<F>` (header first).
            drop(unsafe { Box::from_raw(p.cast::<Callback<F>>().as_ptr()) });
        }
        let node = token.node();
        let mut guard = OnCancel {
            token: token.clone(),
            entry: None,
            free: free::<F>,
            never_ran: node.ownership() == crate::node::kind::Ownership::Never,
        };
        if let Some((reason, cause)) = node.reason_and_cause() {
            f.fire(reason, cause.as_ref());
        } else if !guard.never_ran {
            let cb = NonNull::from(Box::leak(Box::new(Callback::new(f))));
            // SAFETY: the box stays put until `unregister` in `disarm`/drop.
            if unsafe { callback::register(node, cb.as_ref()) } {
                guard.entry = Some(cb.cast());
            } else {
                // SAFETY: not linked (it ran inline): ours to free.
                unsafe { free::<F>(cb.cast()) };
            }
        }
        guard
    }

    /// Removes the callback. Returns `true` if it had not run and now never will;
    /// `false` if it has run (waiting, if it is running on another thread).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let source = cancel_token::CancelSource::new();
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let flag = ran.clone();
    /// let guard = source.token().on_cancel(move |_| flag.store(true, Ordering::Relaxed));
    /// assert!(guard.disarm()); // removed before it ran
    /// source.cancel();
    /// assert!(!ran.load(Ordering::Relaxed));
    /// ```
    pub fn disarm(mut self) -> bool {
        self.remove()
    }

    fn remove(&mut self) -> bool {
        let Some(entry) = self.entry.take() else {
            return self.never_ran;
        };
        // SAFETY: `entry` was registered on this token's node.
        let removed = unsafe { callback::unregister(self.token.node(), entry.as_ref()) };
        // SAFETY: unregistered: no canceller touches it any more.
        unsafe { (self.free)(entry) };
        removed
    }
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        self.remove();
    }
}

impl fmt::Debug for OnCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnCancel")
            .field("registered", &self.entry.is_some())
            .finish()
    }
}
