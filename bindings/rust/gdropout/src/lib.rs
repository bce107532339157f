//! Guided dropout for Rust: a safe binding of libgdropout.
//!
//! - [`Fisher`]: diagonal empirical Fisher information per parameter tensor,
//!   reduced to one score per dropout site;
//! - [`Plan`]: the guided schedule, scores in, one dropout rate per site out;
//! - the kernels ([`dropout_fwd`], [`dropout_bwd`], ...): counter-based
//!   Philox masks that any implementation reproduces bit for bit from a
//!   [`Stream`] (seed, stream, offset).
//!
//! Every fallible call returns [`Result`]; an [`Error`] carries the C code
//! and `gd_strerror`'s message.  Slice lengths are checked here before the
//! C library is called, so a wrong length is a [`ErrorKind::Shape`] error,
//! never out-of-bounds memory.
//!
//! ```no_run
//! let s = gdropout::Stream::new(42, 7);
//! let x = vec![1.0f32; 1000];
//! let mut y = vec![0.0f32; 1000];
//! let mut mask = vec![0u8; gdropout::mask_bytes(1000)];
//! gdropout::dropout_fwd(&mut y, &x, 0.1, &s, Some(&mut mask)).unwrap();
//! ```
#![deny(missing_docs)]

mod error;
mod fisher;
mod kernels;
mod mixed;
mod plan;

pub use error::{Error, ErrorKind, Result};
pub use fisher::{Axis, Fisher, Reduce, TensorInfo};
pub use kernels::*;
pub use mixed::*;
pub use plan::{Plan, Rule, SiteInfo};

use std::ffi::CStr;
use std::os::raw::c_char;

/// Re-export of the raw declarations.
pub use gdropout_sys as sys;

/// The library's version as (major, minor, patch).
pub fn version() -> (u32, u32, u32) {
    let v = unsafe { sys::gd_version() };
    (v >> 16, (v >> 8) & 0xFF, v & 0xFF)
}

/// The library's version string, "major.minor.patch".
pub fn version_string() -> &'static str {
    unsafe { static_str(sys::gd_version_string()) }
}

/// The kernel family in use: "avx512", "avx2" or "scalar".
pub fn dispatch_name() -> &'static str {
    unsafe { static_str(sys::gd_dispatch_name()) }
}

/// A static, NUL-terminated ASCII string from the library.
unsafe fn static_str(p: *const c_char) -> &'static str {
    CStr::from_ptr(p).to_str().unwrap_or("?")
}
