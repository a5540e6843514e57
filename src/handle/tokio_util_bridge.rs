//! Bridges to tokio-util's `CancellationToken`, so that both can live side by
//! side while a code base moves from one to the other.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::{CancelSource, CancelToken, OnCancel};

#[cfg_attr(docsrs, doc(cfg(feature = "tokio-util")))]
impl CancelToken {
    /// A tokio-util `CancellationToken` that is cancelled when this token is,
    /// for code that still takes one.
    ///
    /// A callback on this token cancels it, on the cancelling thread: no task
    /// is spawned, and nothing runs until then. The callback keeps this
    /// token's node alive until it runs, and removes itself when it does.
    /// Made after this token was cancelled, it is cancelled already. Cancelling
    /// the returned token (or a child of it) does not reach this one: a
    /// `CancelToken` only observes.
    ///
    /// Cost: the `CancellationToken` itself, a callback (one allocation) and
    /// the shared slot that lets it remove itself (one more).
    ///
    /// ```
    /// use cancel_token::CancelSource;
    ///
    /// let request = CancelSource::new();
    /// let legacy = request.to_cancellation_token();
    /// assert!(!legacy.is_cancelled());
    /// request.cancel();
    /// assert!(legacy.is_cancelled());
    /// ```
    pub fn to_cancellation_token(&self) -> CancellationToken {
        let theirs = CancellationToken::new();
        if self.node().ownership() == crate::node::kind::Ownership::Never {
            return theirs;
        }
        // The guard is kept where the callback can take it and drop it as it
        // runs: a callback removing itself does not wait, and frees its entry.
        let slot: Arc<Mutex<Option<OnCancel>>> = Arc::default();
        let (cancel, own) = (theirs.clone(), slot.clone());
        let guard = self.on_cancel(move |_| {
            cancel.cancel();
            drop(own.lock().unwrap_or_else(|e| e.into_inner()).take());
        });
        let mut kept = slot.lock().unwrap_or_else(|e| e.into_inner());
        if theirs.is_cancelled() {
            // It ran (inline, or on a canceller's thread that found the slot
            // empty): removing it waits for that run, which needs the slot.
            drop(kept);
            drop(guard);
        } else {
            // Not run yet: it finds the guard when it does.
            *kept = Some(guard);
        }
        theirs
    }

    /// A child of this token that is also cancelled when `theirs`, a
    /// tokio-util token, is: for code that receives one.
    ///
    /// tokio-util's tokens have no callbacks, so this spawns one task on the
    /// current tokio runtime that waits for either: it cancels the child when
    /// `theirs` is cancelled, and ends when the child is cancelled or dropped,
    /// whichever comes first. Made after `theirs` was cancelled, the child is
    /// cancelled already and no task is spawned. The child is a linked source
    /// (of this token and of a root that the task holds).
    ///
    /// Cost: one spawned task, the root and the linked child.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, unless `theirs` is cancelled already.
    ///
    /// ```
    /// use cancel_token::{CancelSource, Reason};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let server = CancelSource::new();
    ///     let legacy = CancellationToken::new();
    ///     let request = server.child_following(&legacy);
    ///     legacy.cancel();
    ///     assert_eq!(request.cancelled().await, Reason::Cancelled);
    ///     assert!(!server.is_cancelled());
    /// }
    /// ```
    pub fn child_following(&self, theirs: &CancellationToken) -> CancelSource {
        let follower = CancelSource::new();
        let child = CancelSource::linked([self, &follower.token()]);
        if theirs.is_cancelled() {
            follower.cancel();
            return child;
        }
        let (theirs, ours) = (theirs.clone(), child.token());
        drop(tokio::spawn(async move {
            if ours.run_until_cancelled(theirs.cancelled()).await.is_ok() {
                follower.cancel();
            }
        }));
        child
    }
}
