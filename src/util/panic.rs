//! Keeps a cancel going when a callback or waker panics.
//!
//! With `std`, each user call runs under `catch_unwind`; the first panic is kept,
//! the walk finishes (every other callback runs, every waiter wakes), and then
//! the panic continues on the cancelling thread. Without `std` there is no
//! `catch_unwind`; embedded targets abort on panic.

#[cfg(feature = "std")]
pub(crate) struct PanicSlot(Option<std::boxed::Box<dyn core::any::Any + Send>>);

#[cfg(not(feature = "std"))]
pub(crate) struct PanicSlot;

impl PanicSlot {
    pub(crate) fn new() -> Self {
        #[cfg(feature = "std")]
        return PanicSlot(None);
        #[cfg(not(feature = "std"))]
        return PanicSlot;
    }

    /// Runs `f`, keeping its panic (the first one) for `resume`.
    #[inline]
    pub(crate) fn guard(&mut self, f: impl FnOnce()) {
        #[cfg(feature = "std")]
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            self.0.get_or_insert(payload);
        }
        #[cfg(not(feature = "std"))]
        f()
    }

    /// Continues the first kept panic, if any.
    pub(crate) fn resume(self) {
        #[cfg(feature = "std")]
        if let Some(payload) = self.0 {
            std::panic::resume_unwind(payload);
        }
    }
}

/// Runs a function when dropped: as its scope ends, and also while a panic
/// (continued by `PanicSlot::resume`) unwinds through it. For the clean-up a
/// drop must finish whatever `cancel` does.
pub(crate) struct Finally<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Finally<F> {
    pub(crate) fn new(f: F) -> Self {
        Finally(Some(f))
    }
}

impl<F: FnOnce()> Drop for Finally<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f()
        }
    }
}
