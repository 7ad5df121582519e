//! Decoder panics are caught (see [`catch`]) and must not reach the user's terminal either.
//!
//! Rust prints a panic message from the panic hook before unwinding starts, so
//! `catch_unwind` alone leaves "thread panicked at ..." on stderr of the CLI and the server
//! for what is, to fracdet, just a corrupt file. The first call installs, once per process,
//! a hook that stays quiet while this thread is inside [`catch`] and otherwise hands the
//! panic to whatever hook was installed before, so every other panic is reported as usual.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many [`catch`] calls this thread is inside (they nest: header, then pixels).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Where the last quiet panic happened, for the error message.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Run `f`, turning a panic into `Err(message)` without printing anything.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    INSTALL.call_once(wrap_current_hook);
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result.map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        match LOCATION.with(|l| l.borrow_mut().take()) {
            Some(at) => format!("{what} (at {at})"),
            None => what,
        }
    })
}

/// Put the quiet hook in front of the current one.
pub(crate) fn wrap_current_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // `try_with`: a panic during thread teardown must still be reported.
        if DEPTH.try_with(|d| d.get() > 0).unwrap_or(false) {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            let _ = LOCATION.try_with(|l| *l.borrow_mut() = at);
            return;
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// One test owns the process-wide hook; the marker keeps panics of other tests in this
    /// binary (running in parallel) out of the count.
    #[test]
    fn decoder_panics_are_silent_and_others_are_forwarded() {
        const MARKER: &str = "quiet-hook-test-7f3a";
        INSTALL.call_once(wrap_current_hook);
        let forwarded = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&forwarded);
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let text = info.payload().downcast_ref::<String>().cloned();
            if text.as_deref().is_some_and(|t| t.contains(MARKER)) {
                seen.fetch_add(1, Ordering::SeqCst);
            } else {
                default(info);
            }
        }));
        // As the Once did at first use: the quiet hook in front of the recording one.
        wrap_current_hook();

        let err = catch(|| -> u8 { panic!("{MARKER} inside") }).unwrap_err();
        assert!(err.contains("inside") && err.contains("quiet.rs"), "{err}");
        assert_eq!(
            forwarded.load(Ordering::SeqCst),
            0,
            "decoder panic was printed"
        );
        assert_eq!(DEPTH.with(Cell::get), 0);

        let outside = panic::catch_unwind(|| panic!("{MARKER} outside"));
        assert!(outside.is_err());
        assert_eq!(
            forwarded.load(Ordering::SeqCst),
            1,
            "other panic was swallowed"
        );

        assert_eq!(catch(|| 5), Ok(5));
    }
}
