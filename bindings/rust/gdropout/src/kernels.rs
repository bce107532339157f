//! The counter-based generator and the dropout kernels.
//!
//! Masks are packed: bit j of a mask is bit j % 8 of byte j / 8, 1 = kept;
//! a mask of n elements has [`mask_bytes`]`(n)` bytes.
use std::ptr;

use crate::error::{check, shape_if, Error, Result};
use crate::sys;

/// Which random words a call uses (`gd_stream`): the Philox key `seed`, the
/// mask id `stream` (e.g. `step << 16 | site`) and the absolute index
/// `offset` of the call's first element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stream {
    /// Philox key (word 0 = low half, word 1 = high half).
    pub seed: u64,
    /// Which mask: counter words 2 and 3.
    pub stream: u64,
    /// Absolute index of the call's first element.
    pub offset: u64,
}

impl Stream {
    /// A stream at offset 0.
    pub fn new(seed: u64, stream: u64) -> Stream {
        Stream { seed, stream, offset: 0 }
    }

    /// The same stream at another offset (e.g. one thread's share).
    pub fn at(self, offset: u64) -> Stream {
        Stream { offset, ..self }
    }

    pub(crate) fn raw(&self) -> sys::gd_stream {
        sys::gd_stream { seed: self.seed, stream: self.stream, offset: self.offset }
    }
}

/// Where a backward pass gets its mask from.
#[derive(Debug, Clone, Copy)]
pub enum MaskSource<'a> {
    /// The mask the forward wrote.
    Mask(&'a [u8]),
    /// Regenerated from the forward's stream (no mask stored).
    Regenerate(&'a Stream),
}

/// Bytes of a packed mask of n elements, ceil(n / 8).
pub fn mask_bytes(n: usize) -> usize {
    n / 8 + usize::from(n % 8 != 0)
}

pub(crate) fn mask_ptr(mask: Option<&mut [u8]>, n: usize) -> Result<*mut u8> {
    match mask {
        Some(m) => {
            shape_if(m.len() != mask_bytes(n))?;
            Ok(m.as_mut_ptr())
        }
        None => Ok(ptr::null_mut()),
    }
}

/// (stream pointer, mask pointer) of a backward's source; the gd_stream
/// lives in `slot` for the duration of the call.
pub(crate) fn source_ptrs(
    src: MaskSource<'_>,
    n: usize,
    slot: &mut sys::gd_stream,
) -> Result<(*const sys::gd_stream, *const u8)> {
    match src {
        MaskSource::Mask(m) => {
            shape_if(m.len() != mask_bytes(n))?;
            Ok((ptr::null(), m.as_ptr()))
        }
        MaskSource::Regenerate(s) => {
            *slot = s.raw();
            Ok((slot as *const sys::gd_stream, ptr::null()))
        }
    }
}

/// `v`'s pointer for an optional input of `len` elements (bias, residual),
/// or null.
pub(crate) fn opt_ptr<T>(v: Option<&[T]>, len: usize) -> Result<*const T> {
    match v {
        Some(v) => {
            shape_if(v.len() != len)?;
            Ok(v.as_ptr())
        }
        None => Ok(ptr::null()),
    }
}

/// `v`'s pointer for an optional output of `len` floats (the bias gradient),
/// or null.
pub(crate) fn opt_mut_ptr(v: Option<&mut [f32]>, len: usize) -> Result<*mut f32> {
    match v {
        Some(v) => {
            shape_if(v.len() != len)?;
            Ok(v.as_mut_ptr())
        }
        None => Ok(ptr::null_mut()),
    }
}

/// rows * cols, which must be `len`.
pub(crate) fn matrix(rows: usize, cols: usize, len: usize) -> Result<usize> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(n),
        Some(_) => Err(Error::from_code(sys::GD_ESHAPE)),
        None => Err(Error::from_code(sys::GD_EOVERFLOW)),
    }
}

/// One Philox4x32-10 block.
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut out = [0u32; 4];
    // cannot fail: every pointer is valid
    let rc = unsafe { sys::gd_philox4x32_10(ctr.as_ptr(), key.as_ptr(), out.as_mut_ptr()) };
    debug_assert_eq!(rc, sys::GD_OK);
    out
}

/// `r[j]` = the stream word of absolute index `s.offset + j`.
pub fn random_u32(r: &mut [u32], s: &Stream) -> Result<()> {
    check(unsafe { sys::gd_random_u32(r.as_mut_ptr(), r.len(), &s.raw()) })
}

/// `z[j]` = the standard normal deviate Gaussian dropout uses at `s.offset + j`.
pub fn random_normal(z: &mut [f32], s: &Stream) -> Result<()> {
    check(unsafe { sys::gd_random_normal(z.as_mut_ptr(), z.len(), &s.raw()) })
}

/// The keep mask of n elements at drop probability p.
pub fn mask_bernoulli(mask: &mut [u8], n: usize, p: f32, s: &Stream) -> Result<()> {
    shape_if(mask.len() != mask_bytes(n))?;
    check(unsafe { sys::gd_mask_bernoulli(mask.as_mut_ptr(), n, p, &s.raw()) })
}

/// `y = dropout(x)` at probability p; the mask, if given, is written.
pub fn dropout_fwd(
    y: &mut [f32],
    x: &[f32],
    p: f32,
    s: &Stream,
    mask: Option<&mut [u8]>,
) -> Result<()> {
    shape_if(y.len() != x.len())?;
    let m = mask_ptr(mask, x.len())?;
    check(unsafe { sys::gd_dropout_fwd(y.as_mut_ptr(), x.as_ptr(), x.len(), p, &s.raw(), m) })
}

/// [`dropout_fwd`] in place.
pub fn dropout_fwd_inplace(
    xy: &mut [f32],
    p: f32,
    s: &Stream,
    mask: Option<&mut [u8]>,
) -> Result<()> {
    let m = mask_ptr(mask, xy.len())?;
    let xp = xy.as_mut_ptr();
    check(unsafe { sys::gd_dropout_fwd(xp, xp, xy.len(), p, &s.raw(), m) })
}

/// `dx = dy * s` where kept, 0 where dropped.
pub fn dropout_bwd(dx: &mut [f32], dy: &[f32], p: f32, src: MaskSource<'_>) -> Result<()> {
    shape_if(dx.len() != dy.len())?;
    let mut slot = sys::gd_stream::default();
    let (sp, mp) = source_ptrs(src, dy.len(), &mut slot)?;
    check(unsafe { sys::gd_dropout_bwd(dx.as_mut_ptr(), dy.as_ptr(), dy.len(), p, sp, mp) })
}

/// [`dropout_bwd`] in place.
pub fn dropout_bwd_inplace(dxy: &mut [f32], p: f32, src: MaskSource<'_>) -> Result<()> {
    let mut slot = sys::gd_stream::default();
    let (sp, mp) = source_ptrs(src, dxy.len(), &mut slot)?;
    let d = dxy.as_mut_ptr();
    check(unsafe { sys::gd_dropout_bwd(d, d, dxy.len(), p, sp, mp) })
}

/// Per-unit dropout of `x[rows x cols]`: column c at `p_cols[c]`.
pub fn dropout_fwd_cols(
    y: &mut [f32],
    x: &[f32],
    rows: usize,
    cols: usize,
    p_cols: &[f32],
    s: &Stream,
    mask: Option<&mut [u8]>,
) -> Result<()> {
    let n = matrix(rows, cols, x.len())?;
    shape_if(y.len() != n || p_cols.len() != cols)?;
    let m = mask_ptr(mask, n)?;
    check(unsafe {
        sys::gd_dropout_fwd_cols(
            y.as_mut_ptr(),
            x.as_ptr(),
            rows,
            cols,
            p_cols.as_ptr(),
            &s.raw(),
            m,
        )
    })
}

/// Backward of [`dropout_fwd_cols`].
pub fn dropout_bwd_cols(
    dx: &mut [f32],
    dy: &[f32],
    rows: usize,
    cols: usize,
    p_cols: &[f32],
    src: MaskSource<'_>,
) -> Result<()> {
    let n = matrix(rows, cols, dy.len())?;
    shape_if(dx.len() != n || p_cols.len() != cols)?;
    let mut slot = sys::gd_stream::default();
    let (sp, mp) = source_ptrs(src, n, &mut slot)?;
    check(unsafe {
        sys::gd_dropout_bwd_cols(dx.as_mut_ptr(), dy.as_ptr(), rows, cols, p_cols.as_ptr(), sp, mp)
    })
}

/// The fused epilogue `y = residual + dropout(x + bias)` on `[rows x cols]`;
/// bias (cols) and residual (rows * cols) are optional.
#[allow(clippy::too_many_arguments)]
pub fn dropout_add_fwd(
    y: &mut [f32],
    x: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    rows: usize,
    cols: usize,
    p: f32,
    s: &Stream,
    mask: Option<&mut [u8]>,
) -> Result<()> {
    let n = matrix(rows, cols, x.len())?;
    shape_if(y.len() != n)?;
    let b = opt_ptr(bias, cols)?;
    let r = opt_ptr(residual, n)?;
    let m = mask_ptr(mask, n)?;
    check(unsafe {
        sys::gd_dropout_add_fwd(y.as_mut_ptr(), x.as_ptr(), b, r, rows, cols, p, &s.raw(), m)
    })
}

/// Backward of [`dropout_add_fwd`]: `dx` for the branch and, if given, the
/// column sums of dx in `dbias` (the residual's gradient is dy itself).
pub fn dropout_add_bwd(
    dx: &mut [f32],
    dbias: Option<&mut [f32]>,
    dy: &[f32],
    rows: usize,
    cols: usize,
    p: f32,
    src: MaskSource<'_>,
) -> Result<()> {
    let n = matrix(rows, cols, dy.len())?;
    shape_if(dx.len() != n)?;
    let db = opt_mut_ptr(dbias, cols)?;
    let mut slot = sys::gd_stream::default();
    let (sp, mp) = source_ptrs(src, n, &mut slot)?;
    check(unsafe {
        sys::gd_dropout_add_bwd(dx.as_mut_ptr(), db, dy.as_ptr(), rows, cols, p, sp, mp)
    })
}

/// `out[c]` = sum over rows of `x[r, c]` (in double, rounded once).
pub fn sum_cols(out: &mut [f32], x: &[f32], rows: usize, cols: usize) -> Result<()> {
    matrix(rows, cols, x.len())?;
    shape_if(out.len() != cols)?;
    check(unsafe { sys::gd_sum_cols(out.as_mut_ptr(), x.as_ptr(), rows, cols) })
}

/// Gaussian dropout `y = x * (1 + sigma * z)`.
pub fn gaussian_dropout_fwd(y: &mut [f32], x: &[f32], sigma: f32, s: &Stream) -> Result<()> {
    shape_if(y.len() != x.len())?;
    check(unsafe {
        sys::gd_gaussian_dropout_fwd(y.as_mut_ptr(), x.as_ptr(), x.len(), sigma, &s.raw())
    })
}

/// `dx = dy * (1 + sigma * z)` with the forward's z regenerated.
pub fn gaussian_dropout_bwd(dx: &mut [f32], dy: &[f32], sigma: f32, s: &Stream) -> Result<()> {
    shape_if(dx.len() != dy.len())?;
    check(unsafe {
        sys::gd_gaussian_dropout_bwd(dx.as_mut_ptr(), dy.as_ptr(), dy.len(), sigma, &s.raw())
    })
}

/// [`gaussian_dropout_fwd`] in place.
pub fn gaussian_dropout_inplace(xy: &mut [f32], sigma: f32, s: &Stream) -> Result<()> {
    let p = xy.as_mut_ptr();
    check(unsafe { sys::gd_gaussian_dropout_fwd(p, p, xy.len(), sigma, &s.raw()) })
}

/// The variance-matched sigma, `sqrt(p / (1 - p))`.
pub fn gaussian_sigma(p: f32) -> Result<f32> {
    let mut s = 0.0f32;
    check(unsafe { sys::gd_gaussian_sigma(p, &mut s) })?;
    Ok(s)
}
