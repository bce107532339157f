//! Mixed precision and the 16-bit mask rule (libgdropout 1.2,
//! `<gdropout/mixed.h>`).
//!
//! Every dropout kernel again for `f32`, [`Bf16`] and [`F16`] tensors and
//! either [`MaskRule`].  A half-precision kernel widens its input to f32
//! (exactly), runs the f32 kernel of the rule and rounds to nearest even, so
//! for the same stream and p it keeps exactly the elements the f32 kernel
//! keeps.  [`MaskRule::Bits16`] draws 16 bits per element (two elements per
//! Philox word) and quantises p to k/65536, k = floor(p * 65536 + 0.5); its
//! masks differ from [`MaskRule::Bits32`]'s, which are 1.0's.
use std::os::raw::{c_int, c_void};

use crate::error::{check, shape_if, Result};
use crate::kernels::{
    mask_bytes, mask_ptr, matrix, opt_mut_ptr, opt_ptr, source_ptrs, MaskSource, Stream,
};
use crate::sys;

/// A bfloat16 value as its bits (1 sign, 8 exponent, 7 mantissa bits).
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Bf16(pub u16);

/// An IEEE 754 binary16 value as its bits.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct F16(pub u16);

impl Bf16 {
    /// The nearest bf16, ties to even (nothing flushed); NaN stays NaN
    /// (quiet, same sign, top payload bits): the library's rounding.
    pub fn from_f32(f: f32) -> Bf16 {
        let u = f.to_bits();
        if u & 0x7FFF_FFFF > 0x7F80_0000 {
            return Bf16((u >> 16) as u16 | 0x40);
        }
        Bf16((u.wrapping_add(0x7FFF + ((u >> 16) & 1)) >> 16) as u16)
    }

    /// The exact f32 value.
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }
}

impl F16 {
    /// The nearest binary16, ties to even, gradual underflow, Inf beyond
    /// 65520; NaN stays NaN (quiet, same sign, top payload bits): the
    /// library's rounding.
    pub fn from_f32(f: f32) -> F16 {
        let u = f.to_bits();
        let sign = ((u >> 16) & 0x8000) as u16;
        let a = u & 0x7FFF_FFFF;
        let bits = if a > 0x7F80_0000 {
            0x7E00 | ((a >> 13) & 0x3FF) as u16
        } else if a >= 0x477F_F000 {
            0x7C00
        } else if a >= 0x3880_0000 {
            ((a + 0xFFF + ((a >> 13) & 1) - (112 << 23)) >> 13) as u16
        } else if a <= 0x3300_0000 {
            0
        } else {
            let (e, m) = (a >> 23, (a & 0x7F_FFFF) | 0x80_0000);
            let sh = 126 - e;
            let (r, rem, half) = (m >> sh, m & ((1 << sh) - 1), 1 << (sh - 1));
            (r + u32::from(rem > half || (rem == half && r & 1 == 1))) as u16
        };
        F16(sign | bits)
    }

    /// The exact f32 value (a signalling NaN becomes quiet).
    pub fn to_f32(self) -> f32 {
        let h = self.0 as u32;
        let sign = (h & 0x8000) << 16;
        let (e, m) = ((h >> 10) & 0x1F, h & 0x3FF);
        if e == 0x1F {
            let quiet = if m != 0 { 0x40_0000 } else { 0 };
            return f32::from_bits(sign | 0x7F80_0000 | quiet | (m << 13));
        }
        if e != 0 {
            return f32::from_bits(sign | ((e + 112) << 23) | (m << 13));
        }
        let v = m as f32 * f32::from_bits(0x3380_0000); // 2^-24
        if sign != 0 {
            -v
        } else {
            v
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for super::Bf16 {}
    impl Sealed for super::F16 {}
}

/// An element type of the `_ex` kernels: `f32`, [`Bf16`] or [`F16`].
pub trait Element: Copy + sealed::Sealed {
    /// The C dtype code (`GD_F32`, `GD_BF16`, `GD_F16`).
    const DTYPE: c_int;
}

impl Element for f32 {
    const DTYPE: c_int = sys::GD_F32;
}
impl Element for Bf16 {
    const DTYPE: c_int = sys::GD_BF16;
}
impl Element for F16 {
    const DTYPE: c_int = sys::GD_F16;
}

/// Which random bits decide an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MaskRule {
    /// 32-bit draws: the rule of every 1.0 kernel (`GD_MASK_32`).
    #[default]
    Bits32,
    /// 16-bit draws, p quantised to k/65536 (`GD_MASK_16`).
    Bits16,
}

impl MaskRule {
    fn code(self) -> c_int {
        match self {
            MaskRule::Bits32 => sys::GD_MASK_32,
            MaskRule::Bits16 => sys::GD_MASK_16,
        }
    }
}

fn vp<T>(v: &[T]) -> *const c_void {
    v.as_ptr() as *const c_void
}

fn vpm<T>(v: &mut [T]) -> *mut c_void {
    v.as_mut_ptr() as *mut c_void
}

fn opt_vp<T>(v: Option<&[T]>, len: usize) -> Result<*const c_void> {
    Ok(opt_ptr(v, len)? as *const c_void)
}

/// The keep mask of n elements at drop probability p under a rule.
pub fn mask_bernoulli_ex(
    rule: MaskRule,
    mask: &mut [u8],
    n: usize,
    p: f32,
    s: &Stream,
) -> Result<()> {
    shape_if(mask.len() != mask_bytes(n))?;
    check(unsafe { sys::gd_mask_bernoulli_ex(rule.code(), mask.as_mut_ptr(), n, p, &s.raw()) })
}

/// `y = dropout(x)` at probability p under a rule; the mask, if given, is
/// written.
pub fn dropout_fwd_ex<T: Element>(
    rule: MaskRule,
    y: &mut [T],
    x: &[T],
    p: f32,
    s: &Stream,
    mask: Option<&mut [u8]>,
) -> Result<()> {
    shape_if(y.len() != x.len())?;
    let m = mask_ptr(mask, x.len())?;
    check(unsafe {
        sys::gd_dropout_fwd_ex(T::DTYPE, rule.code(), vpm(y), vp(x), x.len(), p, &s.raw(), m)
    })
}

/// `dx = dy * s` where kept, 0 where dropped (the forward's rule).
pub fn dropout_bwd_ex<T: Element>(
    rule: MaskRule,
    dx: &mut [T],
    dy: &[T],
    p: f32,
    src: MaskSource<'_>,
) -> Result<()> {
    shape_if(dx.len() != dy.len())?;
    let mut slot = sys::gd_stream::default();
    let (sp, mp) = source_ptrs(src, dy.len(), &mut slot)?;
    check(unsafe {
        sys::gd_dropout_bwd_ex(T::DTYPE, rule.code(), vpm(dx), vp(dy), dy.len(), p, sp, mp)
    })
}

/// Per-unit dropout of `x[rows x cols]`: column c at `p_cols[c]`.
#[allow(clippy::too_many_arguments)]
pub fn dropout_fwd_cols_ex<T: Element>(
    rule: MaskRule,
    y: &mut [T],
    x: &[T],
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
        sys::gd_dropout_fwd_cols_ex(
            T::DTYPE,
            rule.code(),
            vpm(y),
            vp(x),
            rows,
            cols,
            p_cols.as_ptr(),
            &s.raw(),
            m,
        )
    })
}

/// Backward of [`dropout_fwd_cols_ex`].
pub fn dropout_bwd_cols_ex<T: Element>(
    rule: MaskRule,
    dx: &mut [T],
    dy: &[T],
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
        sys::gd_dropout_bwd_cols_ex(
            T::DTYPE,
            rule.code(),
            vpm(dx),
            vp(dy),
            rows,
            cols,
            p_cols.as_ptr(),
            sp,
            mp,
        )
    })
}

/// The fused epilogue `y = residual + dropout(x + bias)` on `[rows x cols]`,
/// in f32, rounded once to T; bias (cols) and residual (rows * cols) are
/// optional and of type T.
#[allow(clippy::too_many_arguments)]
pub fn dropout_add_fwd_ex<T: Element>(
    rule: MaskRule,
    y: &mut [T],
    x: &[T],
    bias: Option<&[T]>,
    residual: Option<&[T]>,
    rows: usize,
    cols: usize,
    p: f32,
    s: &Stream,
    mask: Option<&mut [u8]>,
) -> Result<()> {
    let n = matrix(rows, cols, x.len())?;
    shape_if(y.len() != n)?;
    let b = opt_vp(bias, cols)?;
    let r = opt_vp(residual, n)?;
    let m = mask_ptr(mask, n)?;
    check(unsafe {
        sys::gd_dropout_add_fwd_ex(
            T::DTYPE,
            rule.code(),
            vpm(y),
            vp(x),
            b,
            r,
            rows,
            cols,
            p,
            &s.raw(),
            m,
        )
    })
}

/// Backward of [`dropout_add_fwd_ex`]: `dx` and, if given, `dbias` (f32:
/// the column sums of dx as stored, summed in f64, rounded once).
#[allow(clippy::too_many_arguments)]
pub fn dropout_add_bwd_ex<T: Element>(
    rule: MaskRule,
    dx: &mut [T],
    dbias: Option<&mut [f32]>,
    dy: &[T],
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
        sys::gd_dropout_add_bwd_ex(
            T::DTYPE,
            rule.code(),
            vpm(dx),
            db,
            vp(dy),
            rows,
            cols,
            p,
            sp,
            mp,
        )
    })
}

/// Gaussian dropout `y = x * (1 + sigma * z)` in f32, rounded to T.
pub fn gaussian_dropout_fwd_ex<T: Element>(
    y: &mut [T],
    x: &[T],
    sigma: f32,
    s: &Stream,
) -> Result<()> {
    shape_if(y.len() != x.len())?;
    check(unsafe {
        sys::gd_gaussian_dropout_fwd_ex(T::DTYPE, vpm(y), vp(x), x.len(), sigma, &s.raw())
    })
}

/// `dx = dy * (1 + sigma * z)` with the forward's z regenerated, rounded to T.
pub fn gaussian_dropout_bwd_ex<T: Element>(
    dx: &mut [T],
    dy: &[T],
    sigma: f32,
    s: &Stream,
) -> Result<()> {
    shape_if(dx.len() != dy.len())?;
    check(unsafe {
        sys::gd_gaussian_dropout_bwd_ex(T::DTYPE, vpm(dx), vp(dy), dy.len(), sigma, &s.raw())
    })
}
