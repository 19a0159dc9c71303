//! A counting global allocator for the tests that measure memory: `NOW` is
//! what is allocated, `PEAK` the most it reached since a test last stored
//! into it. Included by `#[path]` (it installs itself as the test binary's
//! allocator); a file that uses it holds one test, so no other test
//! allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes allocated now.
pub static NOW: AtomicUsize = AtomicUsize::new(0);
/// The most `NOW` reached since it was last reset.
#[allow(dead_code)] // not every measuring test reads the peak
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;
