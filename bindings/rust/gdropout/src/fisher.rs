//! Diagonal empirical Fisher information (`gd_fisher`).
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{check, created, shape_if, Error, Result};
use crate::sys;

/// Site reductions for [`Fisher::site_scores`].  Non-exhaustive: a later
/// library version may add reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reduce {
    /// The paper's: mean over the site's tensors of each tensor's mean.
    TensorMean,
    /// Mean over every element of the site.
    ElementMean,
    /// Sum over every element of the site.
    Sum,
    /// Largest element of the site.
    Max,
}

impl Reduce {
    fn raw(self) -> i32 {
        match self {
            Reduce::TensorMean => sys::GD_REDUCE_TENSOR_MEAN,
            Reduce::ElementMean => sys::GD_REDUCE_ELEMENT_MEAN,
            Reduce::Sum => sys::GD_REDUCE_SUM,
            Reduce::Max => sys::GD_REDUCE_MAX,
        }
    }
}

/// Axes for [`Fisher::unit_scores`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// One score per row (per output unit of `W[out x in]`).
    Rows,
    /// One score per column.
    Cols,
}

/// What a registered tensor is.  Non-exhaustive: made by [`Fisher::info`]
/// only, and a later version may describe more (say, an element type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// Its element count.
    pub numel: usize,
    /// The dropout site it feeds, if any.
    pub site: Option<usize>,
}

/// `None` as GD_NONE; `Some(GD_NONE)` is no site or tensor at all, and the
/// C library would read it as `None`, so it is refused with `code`.
fn opt_raw(v: Option<usize>, code: i32) -> Result<usize> {
    match v {
        None => Ok(sys::GD_NONE),
        Some(sys::GD_NONE) => Err(Error::from_code(code)),
        Some(i) => Ok(i),
    }
}

pub(crate) fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::from_code(sys::GD_EINVAL))
}

pub(crate) fn c_path(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::from_code(sys::GD_EINVAL))
    }
    #[cfg(not(unix))]
    {
        c_string(path.to_str().ok_or_else(|| Error::from_code(sys::GD_EINVAL))?)
    }
}

/// Per-tensor diagonal Fisher accumulators.  Freed on drop.  `Send` (the C
/// object may move between threads) but not `Sync` (one thread at a time).
pub struct Fisher {
    raw: NonNull<sys::gd_fisher>,
}

// The C contract: a gd_fisher is used by one thread at a time; nothing in
// it is tied to the creating thread.
unsafe impl Send for Fisher {}

impl Drop for Fisher {
    fn drop(&mut self) {
        unsafe { sys::gd_fisher_destroy(self.raw.as_ptr()) }
    }
}

impl Fisher {
    /// An empty accumulator.
    pub fn new() -> Result<Fisher> {
        let raw = created(|p| unsafe { sys::gd_fisher_create(p) })?;
        Ok(Fisher { raw })
    }

    /// Reads a file written by [`Fisher::save`].
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Fisher> {
        let path = c_path(path.as_ref())?;
        let raw = created(|p| unsafe { sys::gd_fisher_load(p, path.as_ptr()) })?;
        Ok(Fisher { raw })
    }

    fn ptr(&self) -> *const sys::gd_fisher {
        self.raw.as_ptr()
    }

    fn mut_ptr(&mut self) -> *mut sys::gd_fisher {
        self.raw.as_ptr()
    }

    /// Writes the estimates as safetensors (atomically replaced).
    pub fn save<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        let path = c_path(path.as_ref())?;
        check(unsafe { sys::gd_fisher_save(self.ptr(), path.as_ptr()) })
    }

    /// Registers a tensor of numel elements feeding `site`; returns its id.
    pub fn add_tensor(&mut self, name: &str, numel: usize, site: Option<usize>) -> Result<usize> {
        let name = c_string(name)?;
        let site = opt_raw(site, sys::GD_EINVAL)?;
        let mut id = 0usize;
        check(unsafe {
            sys::gd_fisher_add_tensor(self.mut_ptr(), name.as_ptr(), numel, site, &mut id)
        })?;
        Ok(id)
    }

    /// Number of registered tensors.
    pub fn count(&self) -> Result<usize> {
        let mut n = 0usize;
        check(unsafe { sys::gd_fisher_count(self.ptr(), &mut n) })?;
        Ok(n)
    }

    /// The id of the tensor called `name`.
    pub fn find(&self, name: &str) -> Result<usize> {
        let name = c_string(name)?;
        let mut id = 0usize;
        check(unsafe { sys::gd_fisher_find(self.ptr(), name.as_ptr(), &mut id) })?;
        Ok(id)
    }

    /// What tensor `id` is.
    pub fn info(&self, id: usize) -> Result<TensorInfo> {
        let mut name: *const c_char = ptr::null();
        let (mut numel, mut site) = (0usize, 0usize);
        check(unsafe { sys::gd_fisher_info(self.ptr(), id, &mut name, &mut numel, &mut site) })?;
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
        let site = if site == sys::GD_NONE { None } else { Some(site) };
        Ok(TensorInfo { name, numel, site })
    }

    fn numel(&self, id: usize) -> Result<usize> {
        self.info(id).map(|t| t.numel)
    }

    /// F += w * grad^2 for one example's gradient.
    pub fn accumulate(&mut self, id: usize, grad: &[f32], w: f32) -> Result<()> {
        shape_if(grad.len() != self.numel(id)?)?;
        check(unsafe { sys::gd_fisher_accumulate(self.mut_ptr(), id, grad.as_ptr(), w) })
    }

    /// `batch` examples' gradients at once, `grads[batch x numel]`.
    pub fn accumulate_batch(&mut self, id: usize, grads: &[f32], batch: usize) -> Result<()> {
        shape_if(Some(grads.len()) != batch.checked_mul(self.numel(id)?))?;
        check(unsafe { sys::gd_fisher_accumulate_batch(self.mut_ptr(), id, grads.as_ptr(), batch) })
    }

    /// A dense layer `W[out x in]` from `x[batch x in]` and per-example output
    /// gradients `dy[batch x out]`; `b_id` the bias tensor, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate_dense(
        &mut self,
        w_id: usize,
        b_id: Option<usize>,
        x: &[f32],
        dy: &[f32],
        batch: usize,
        n_in: usize,
        n_out: usize,
    ) -> Result<()> {
        shape_if(Some(x.len()) != batch.checked_mul(n_in))?;
        shape_if(Some(dy.len()) != batch.checked_mul(n_out))?;
        let b_id = opt_raw(b_id, sys::GD_ENOTFOUND)?;
        check(unsafe {
            sys::gd_fisher_accumulate_dense(
                self.mut_ptr(),
                w_id,
                b_id,
                x.as_ptr(),
                dy.as_ptr(),
                batch,
                n_in,
                n_out,
            )
        })
    }

    /// The same for sequences: `x[batch x seq x in]`, `dy[batch x seq x out]`.
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate_dense_seq(
        &mut self,
        w_id: usize,
        b_id: Option<usize>,
        x: &[f32],
        dy: &[f32],
        batch: usize,
        seq: usize,
        n_in: usize,
        n_out: usize,
    ) -> Result<()> {
        let rows = batch.checked_mul(seq);
        shape_if(Some(x.len()) != rows.and_then(|r| r.checked_mul(n_in)))?;
        shape_if(Some(dy.len()) != rows.and_then(|r| r.checked_mul(n_out)))?;
        let b_id = opt_raw(b_id, sys::GD_ENOTFOUND)?;
        check(unsafe {
            sys::gd_fisher_accumulate_dense_seq(
                self.mut_ptr(),
                w_id,
                b_id,
                x.as_ptr(),
                dy.as_ptr(),
                batch,
                seq,
                n_in,
                n_out,
            )
        })
    }

    /// Replaces the estimate by `batch * v / (1 - beta2^step)` (weight 1).
    pub fn from_adam(
        &mut self,
        id: usize,
        v: &[f32],
        beta2: f32,
        step: u64,
        batch: usize,
    ) -> Result<()> {
        shape_if(v.len() != self.numel(id)?)?;
        check(unsafe {
            sys::gd_fisher_from_adam(self.mut_ptr(), id, v.as_ptr(), beta2, step, batch)
        })
    }

    /// Writes tensor `id`'s estimate into `estimate`; returns its sample weight.
    pub fn read(&self, id: usize, estimate: &mut [f32]) -> Result<f64> {
        let mut w = 0.0f64;
        check(unsafe {
            sys::gd_fisher_read(self.ptr(), id, estimate.as_mut_ptr(), estimate.len(), &mut w)
        })?;
        Ok(w)
    }

    /// Tensor `id`'s estimate and sample weight, allocated.
    pub fn read_vec(&self, id: usize) -> Result<(Vec<f32>, f64)> {
        let mut est = vec![0.0f32; self.numel(id)?];
        let w = self.read(id, &mut est)?;
        Ok((est, w))
    }

    /// The raw sums into `sums`; returns the weight.
    pub fn sums(&self, id: usize, sums: &mut [f64]) -> Result<f64> {
        let mut w = 0.0f64;
        check(unsafe {
            sys::gd_fisher_sums(self.ptr(), id, sums.as_mut_ptr(), sums.len(), &mut w)
        })?;
        Ok(w)
    }

    /// Replaces tensor `id`'s raw sums and weight.
    pub fn set_sums(&mut self, id: usize, sums: &[f64], weight: f64) -> Result<()> {
        check(unsafe {
            sys::gd_fisher_set_sums(self.mut_ptr(), id, sums.as_ptr(), sums.len(), weight)
        })
    }

    /// `self += other` (same tensors in the same order).
    pub fn merge(&mut self, other: &Fisher) -> Result<()> {
        check(unsafe { sys::gd_fisher_merge(self.mut_ptr(), other.ptr()) })
    }

    /// 1 + the largest site any tensor feeds.
    pub fn site_count(&self) -> Result<usize> {
        let mut n = 0usize;
        check(unsafe { sys::gd_fisher_site_count(self.ptr(), &mut n) })?;
        Ok(n)
    }

    /// One score per site into `scores` (NaN where no tensor feeds a site).
    pub fn site_scores(&self, reduce: Reduce, scores: &mut [f32]) -> Result<()> {
        check(unsafe {
            sys::gd_fisher_site_scores(self.ptr(), reduce.raw(), scores.as_mut_ptr(), scores.len())
        })
    }

    /// [`Fisher::site_scores`] for every site, allocated.
    pub fn site_scores_vec(&self, reduce: Reduce) -> Result<Vec<f32>> {
        let mut s = vec![0.0f32; self.site_count()?];
        self.site_scores(reduce, &mut s)?;
        Ok(s)
    }

    /// Per-unit scores of tensor `id` viewed as `[rows x cols]`.
    pub fn unit_scores(&self, id: usize, rows: usize, cols: usize, axis: Axis) -> Result<Vec<f32>> {
        let (n, a) = match axis {
            Axis::Rows => (rows, sys::GD_AXIS_ROWS),
            Axis::Cols => (cols, sys::GD_AXIS_COLS),
        };
        let mut out = vec![0.0f32; n];
        check(unsafe {
            sys::gd_fisher_unit_scores(self.ptr(), id, rows, cols, a, out.as_mut_ptr())
        })?;
        Ok(out)
    }
}
