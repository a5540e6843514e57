//! A caller-supplied cause: a `'static` error, or (with `alloc`) an owned
//! one shared by every node that reports it.

use core::error::Error;
use core::fmt;
use core::ptr::NonNull;

/// The error type behind a [`Cause`].
type DynError = dyn Error + Send + Sync + 'static;

/// Why a source was cancelled, in the caller's own error type: attached with
/// [`CancelSource::cancel_with`](crate::CancelSource::cancel_with) and
/// reported by `cause()` on the source's tokens and their descendants (Go's
/// `context.Cause`).
///
/// A `Cause` is either a `'static` reference, which needs no allocator (a
/// unit struct or enum constant is promoted to one, so `&MyError::Shutdown`
/// converts), or, with `alloc`, an owned error made by [`Cause::new`] (or
/// from a `Box<dyn Error + Send + Sync>`). An owned cause is reference
/// counted: every node that reports it, and every `Cause` handed out, holds
/// one reference, and the error is dropped with the last. Cloning one is an
/// atomic increment; a static one copies two words.
///
/// It dereferences to `dyn Error + Send + Sync`, so `is`, `downcast_ref` and
/// `to_string` work on it, and implements [`Error`] itself (forwarding
/// `source`), so it fits `Box<dyn Error>` and `?`. Two words, like the
/// reference it replaces: `Option<Cause>` is as large as `Cause`.
///
/// # Examples
///
/// ```
/// use cancel_token::{CancelSource, Cause};
///
/// #[derive(Debug)]
/// struct Shutdown;
/// impl core::fmt::Display for Shutdown {
///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
///         f.write_str("server shutting down")
///     }
/// }
/// impl core::error::Error for Shutdown {}
///
/// let source = CancelSource::new();
/// let child = source.token().child();
/// source.cancel_with(&Shutdown); // static: no allocation
/// let cause: Cause = child.token().cause().unwrap();
/// assert!(cause.is::<Shutdown>());
/// assert_eq!(cause.to_string(), "server shutting down");
/// ```
///
/// An owned error, with data known only at run time:
///
/// ```
/// use cancel_token::{CancelSource, Cause};
///
/// #[derive(Debug)]
/// struct Deploy { version: u32 }
/// impl core::fmt::Display for Deploy {
///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
///         write!(f, "version {} deployed", self.version)
///     }
/// }
/// impl core::error::Error for Deploy {}
///
/// let source = CancelSource::new();
/// let token = source.token();
/// source.cancel_with(Cause::new(Deploy { version: 7 }));
/// drop(source);
/// let cause = token.cause().unwrap();
/// assert_eq!(cause.downcast_ref::<Deploy>().unwrap().version, 7);
/// assert_eq!(cause.to_string(), "version 7 deployed");
/// ```
pub struct Cause {
    /// The `'static` error, or an owned cause's `Shared` allocation.
    data: NonNull<()>,
    /// How to read and free `data`.
    vtable: &'static Vtable,
}

/// How a [`Cause`] reads and frees its data.
struct Vtable {
    /// The error `data` holds.
    error: unsafe fn(NonNull<()>) -> *const DynError,
    /// `None` for a static cause; for an owned one, frees its `Shared`
    /// allocation.
    free: Option<unsafe fn(NonNull<()>)>,
}

// SAFETY: the error is `Send + Sync`, and an owned cause's count is atomic.
unsafe impl Send for Cause {}
// SAFETY: as above.
unsafe impl Sync for Cause {}

/// The vtable of a static cause of type `E`.
struct Static<E>(core::marker::PhantomData<E>);

impl<E: Error + Send + Sync + 'static> Static<E> {
    const VTABLE: Vtable = Vtable {
        error: Self::error,
        free: None,
    };

    /// # Safety
    /// `data` came from a `&'static E` (`Cause::from_static`).
    unsafe fn error(data: NonNull<()>) -> *const DynError {
        data.cast::<E>().as_ptr().cast_const()
    }
}

impl Cause {
    /// A cause that is a `'static` error, with no allocation: what
    /// `From<&'static E>` does, in a `const` context.
    ///
    /// # Examples
    ///
    /// ```
    /// use cancel_token::{Cause, StaticSource};
    ///
    /// #[derive(Debug)]
    /// struct PowerLoss;
    /// impl core::fmt::Display for PowerLoss {
    ///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    ///         f.write_str("power loss")
    ///     }
    /// }
    /// impl core::error::Error for PowerLoss {}
    ///
    /// static SHUTDOWN: StaticSource = StaticSource::new();
    /// const POWER_LOSS: Cause = Cause::from_static(&PowerLoss);
    /// SHUTDOWN.cancel_with(POWER_LOSS);
    /// assert!(SHUTDOWN.cause().unwrap().is::<PowerLoss>());
    /// ```
    pub const fn from_static<E: Error + Send + Sync + 'static>(error: &'static E) -> Cause {
        Cause {
            // SAFETY: a reference is never null.
            data: unsafe { NonNull::new_unchecked(error as *const E as *mut ()) },
            vtable: &Static::<E>::VTABLE,
        }
    }

    /// The error, as a trait object: what `*cause` gives.
    pub fn as_error(&self) -> &(dyn Error + Send + Sync + 'static) {
        // SAFETY: `data` is what `vtable` was made for, and alive: static, or
        // an owned cause this `Cause` holds a reference to.
        unsafe { &*(self.vtable.error)(self.data) }
    }

    /// Whether the cause is a static one: nothing to drop.
    #[cfg(feature = "alloc")]
    pub(crate) fn is_static(&self) -> bool {
        self.vtable.free.is_none()
    }

    /// Whether two causes are the same one: clones of one owned cause (one
    /// allocation), or the same static error. Compares addresses only, so
    /// two zero-sized static errors may compare equal: use `is` to tell
    /// types apart.
    pub fn ptr_eq(a: &Cause, b: &Cause) -> bool {
        a.data == b.data
    }
}

impl<E: Error + Send + Sync + 'static> From<&'static E> for Cause {
    /// A static cause: see [`Cause::from_static`].
    fn from(error: &'static E) -> Cause {
        Cause::from_static(error)
    }
}

impl Clone for Cause {
    #[inline]
    fn clone(&self) -> Cause {
        #[cfg(feature = "alloc")]
        if self.vtable.free.is_some() {
            owned::retain(self.data);
        }
        Cause {
            data: self.data,
            vtable: self.vtable,
        }
    }
}

impl Drop for Cause {
    #[inline]
    fn drop(&mut self) {
        if let Some(free) = self.vtable.free {
            // SAFETY: an owned cause, whose reference this was.
            unsafe { owned::release(self.data, free) };
        }
    }
}

impl core::ops::Deref for Cause {
    type Target = dyn Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        self.as_error()
    }
}

/// The error's own `Debug`.
impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_error(), f)
    }
}

/// The error's own `Display`.
impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_error(), f)
    }
}

/// Transparent: `source` is the error's own.
impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.as_error().source()
    }
}

#[cfg(not(feature = "alloc"))]
mod owned {
    use core::ptr::NonNull;

    /// Without `alloc` every cause is static: never called.
    ///
    /// # Safety
    /// None needed.
    pub(super) unsafe fn release(_: NonNull<()>, _: unsafe fn(NonNull<()>)) {}
}

#[cfg(feature = "alloc")]
mod owned {
    //! Owned causes: one allocation holding a count and the error.

    use alloc::boxed::Box;
    use core::ptr::NonNull;

    use super::{Cause, DynError, Error, Vtable};
    use crate::sync::{AtomicUsize, Ordering::*};

    /// Past this many references something leaks causes in a loop; abort
    /// like `Arc`.
    const MAX_REFS: usize = isize::MAX as usize;

    /// An owned cause's allocation. `repr(C)`: the count comes first, so it
    /// is read without knowing `T`.
    #[repr(C)]
    struct Shared<T> {
        /// One for each `Cause` that points here.
        refs: AtomicUsize,
        value: T,
    }

    /// What an owned cause can hold: an error, or a boxed one.
    trait Erase: Send + Sync + 'static {
        fn erase(&self) -> &DynError;
    }

    impl<E: Error + Send + Sync + 'static> Erase for E {
        fn erase(&self) -> &DynError {
            self
        }
    }

    /// A boxed error, held as the error it boxes (so `is` sees its type).
    struct Boxed(Box<DynError>);

    impl Erase for Boxed {
        fn erase(&self) -> &DynError {
            &*self.0
        }
    }

    /// The vtable of an owned cause holding a `T`.
    struct Owned<T>(core::marker::PhantomData<T>);

    impl<T: Erase> Owned<T> {
        const VTABLE: Vtable = Vtable {
            error: Self::error,
            free: Some(Self::free),
        };

        fn cause(value: T) -> Cause {
            let shared = Box::new(Shared {
                refs: AtomicUsize::new(1),
                value,
            });
            Cause {
                data: NonNull::from(Box::leak(shared)).cast(),
                vtable: &Self::VTABLE,
            }
        }

        /// # Safety
        /// `data` is a live `Shared<T>`.
        unsafe fn error(data: NonNull<()>) -> *const DynError {
            // SAFETY: by the caller's guarantee.
            let shared = unsafe { data.cast::<Shared<T>>().as_ref() };
            shared.value.erase()
        }

        /// # Safety
        /// `data` is a `Shared<T>` from `new` whose last reference is gone.
        unsafe fn free(data: NonNull<()>) {
            // SAFETY: made by `Box::leak` in `new`; no one refers to it now.
            drop(unsafe { Box::from_raw(data.cast::<Shared<T>>().as_ptr()) });
        }
    }

    /// The count of the `Shared` at `data`.
    ///
    /// # Safety
    /// `data` is a live `Shared` (`repr(C)`, count first).
    unsafe fn refs<'a>(data: NonNull<()>) -> &'a AtomicUsize {
        // SAFETY: by the caller's guarantee.
        unsafe { data.cast::<AtomicUsize>().as_ref() }
    }

    /// Takes one more reference, from one the caller holds.
    pub(super) fn retain(data: NonNull<()>) {
        // SAFETY: the caller's `Cause` holds a reference, so it is live.
        // Relaxed: a new reference is made from an existing one, which keeps
        // the allocation alive meanwhile (Arc's argument).
        let old = unsafe { refs(data) }.fetch_add(1, Relaxed);
        if old > MAX_REFS {
            abort();
        }
    }

    /// Gives back one reference, freeing the cause at the last.
    ///
    /// # Safety
    /// `data` is an owned cause the caller holds a reference to, given back
    /// here; `free` is its vtable's.
    pub(super) unsafe fn release(data: NonNull<()>, free: unsafe fn(NonNull<()>)) {
        // SAFETY: the caller's reference keeps it live until this decrement.
        let refs = unsafe { refs(data) };
        // Release: every holder's use of the error happens before its
        // decrement, which the last holder's Acquire load below acquires.
        if refs.fetch_sub(1, Release) != 1 {
            return;
        }
        // Acquire: pairs with the other holders' Release decrements, so the
        // error is freed after all their uses.
        let _ = refs.load(Acquire);
        // SAFETY: that was the last reference.
        unsafe { free(data) };
    }

    #[cold]
    fn abort() -> ! {
        #[cfg(feature = "std")]
        std::process::abort();
        #[cfg(not(feature = "std"))]
        panic!("cancel-token: cause reference count overflow");
    }

    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    impl Cause {
        /// An owned cause: `error` moved into one allocation with a count,
        /// shared by every node that reports it and freed with the last.
        /// Pass it to [`CancelSource::cancel_with`](crate::CancelSource::cancel_with).
        ///
        /// # Examples
        ///
        /// ```
        /// use cancel_token::Cause;
        ///
        /// let cause = Cause::new(std::io::Error::other("disk full"));
        /// let copy = cause.clone(); // the same error, one more reference
        /// assert!(Cause::ptr_eq(&cause, &copy));
        /// assert!(copy.is::<std::io::Error>());
        /// assert_eq!(copy.to_string(), "disk full");
        /// ```
        pub fn new<E: Error + Send + Sync + 'static>(error: E) -> Cause {
            Owned::cause(error)
        }
    }

    /// An owned cause holding the boxed error; `is` and `downcast_ref` see
    /// the boxed error's own type.
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    impl From<Box<DynError>> for Cause {
        fn from(error: Box<DynError>) -> Cause {
            Owned::cause(Boxed(error))
        }
    }
}
