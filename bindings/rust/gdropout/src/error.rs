use std::fmt;
use std::ptr::{self, NonNull};

use crate::sys;

/// What went wrong, one kind per `GD_E*` code.  Non-exhaustive: a later
/// library version may add codes (match with a `_` arm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `GD_EINVAL`: NULL pointer, bad flag, bad name, empty size.
    Invalid,
    /// `GD_EDOMAIN`: a parameter outside its domain (p outside [0, 1], NaN).
    Domain,
    /// `GD_EOVERFLOW`: size arithmetic overflows.
    Overflow,
    /// `GD_ESHAPE`: sizes do not match (also slice lengths checked here).
    Shape,
    /// `GD_ENOTFOUND`: unknown tensor, site or id.
    NotFound,
    /// `GD_EEXIST`: name already registered.
    Exists,
    /// `GD_ENOMEM`: out of memory.
    NoMemory,
    /// `GD_EIO`: file could not be opened, read or written.
    Io,
    /// `GD_EFORMAT`: file is corrupt.
    Format,
    /// `GD_ESTATE`: the object is not in a state that allows the call.
    State,
    /// A code this binding does not know.
    Unknown,
}

/// A libgdropout error: the C code, its kind and `gd_strerror`'s message.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    code: i32,
}

/// `std::result::Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error of a (negative) C return code.
    pub fn from_code(code: i32) -> Error {
        Error { code }
    }

    /// The `GD_E*` code, negative.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The kind of the code.
    pub fn kind(&self) -> ErrorKind {
        match self.code {
            sys::GD_EINVAL => ErrorKind::Invalid,
            sys::GD_EDOMAIN => ErrorKind::Domain,
            sys::GD_EOVERFLOW => ErrorKind::Overflow,
            sys::GD_ESHAPE => ErrorKind::Shape,
            sys::GD_ENOTFOUND => ErrorKind::NotFound,
            sys::GD_EEXIST => ErrorKind::Exists,
            sys::GD_ENOMEM => ErrorKind::NoMemory,
            sys::GD_EIO => ErrorKind::Io,
            sys::GD_EFORMAT => ErrorKind::Format,
            sys::GD_ESTATE => ErrorKind::State,
            _ => ErrorKind::Unknown,
        }
    }

    /// The code's symbol, e.g. "GD_EDOMAIN".
    pub fn name(&self) -> &'static str {
        unsafe { crate::static_str(sys::gd_error_name(self.code)) }
    }

    /// `gd_strerror`'s English message.
    pub fn message(&self) -> &'static str {
        unsafe { crate::static_str(sys::gd_strerror(self.code)) }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.name(), self.message())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.name())
    }
}

impl std::error::Error for Error {}

/// GD_OK or the error.
pub(crate) fn check(rc: i32) -> Result<()> {
    if rc == sys::GD_OK {
        Ok(())
    } else {
        Err(Error::from_code(rc))
    }
}

/// A slice length this binding refuses before calling C.
pub(crate) fn shape_if(bad: bool) -> Result<()> {
    if bad {
        Err(Error::from_code(sys::GD_ESHAPE))
    } else {
        Ok(())
    }
}

/// A new C object: `make(&mut out)` must return GD_OK and set `out`.
pub(crate) fn created<T>(make: impl FnOnce(&mut *mut T) -> i32) -> Result<NonNull<T>> {
    let mut p = ptr::null_mut();
    check(make(&mut p))?;
    Ok(NonNull::new(p).expect("libgdropout returned GD_OK and a NULL object"))
}
