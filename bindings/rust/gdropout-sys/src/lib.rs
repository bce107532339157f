//! Raw declarations of libgdropout's C interface (`include/gdropout/*.h`),
//! one for one.  Use the `gdropout` crate for a safe interface.
//!
//! `tests/header.rs` parses the C headers and fails when any declaration,
//! constant or parameter type here diverges from them.
#![allow(non_camel_case_types)]

use std::marker::{PhantomData, PhantomPinned};
/// C `int`, `unsigned` and `char` as the platform defines them.
pub use std::os::raw::{c_char, c_int, c_uint, c_void};

// ---- common.h ----------------------------------------------------------

pub const GD_VERSION_MAJOR: c_uint = 1;
pub const GD_VERSION_MINOR: c_uint = 2;
pub const GD_VERSION_PATCH: c_uint = 0;

pub const GD_OK: c_int = 0;
pub const GD_EINVAL: c_int = -1;
pub const GD_EDOMAIN: c_int = -2;
pub const GD_EOVERFLOW: c_int = -3;
pub const GD_ESHAPE: c_int = -4;
pub const GD_ENOTFOUND: c_int = -5;
pub const GD_EEXIST: c_int = -6;
pub const GD_ENOMEM: c_int = -7;
pub const GD_EIO: c_int = -8;
pub const GD_EFORMAT: c_int = -9;
pub const GD_ESTATE: c_int = -10;

/// "No tensor" / "no site" (`(size_t)-1`).
pub const GD_NONE: usize = usize::MAX;

// ---- random.h ----------------------------------------------------------

/// Which random words a call uses; a frozen POD.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct gd_stream {
    pub seed: u64,
    pub stream: u64,
    pub offset: u64,
}

// ---- fisher.h / plan.h -------------------------------------------------

pub const GD_REDUCE_TENSOR_MEAN: c_int = 0;
pub const GD_REDUCE_ELEMENT_MEAN: c_int = 1;
pub const GD_REDUCE_SUM: c_int = 2;
pub const GD_REDUCE_MAX: c_int = 3;
pub const GD_AXIS_ROWS: c_int = 0;
pub const GD_AXIS_COLS: c_int = 1;
pub const GD_RULE_UNIFORM: c_int = 0;
pub const GD_RULE_RANK_LINEAR: c_int = 1;
pub const GD_RULE_SCORE_LINEAR: c_int = 2;
pub const GD_RULE_LOG_SCORE_LINEAR: c_int = 3;
pub const GD_CONTROL_REVERSED: c_int = 1;
pub const GD_CONTROL_PERMUTED: c_int = 2;
pub const GD_CONTROL_KIND: c_int = 3;
pub const GD_CONTROL_MATCHED: c_int = 4;
pub const GD_CONTROL_STREAM: c_int = 0x6374726c;

// mixed.h (since 1.2): element types and mask rules of the _ex kernels.
pub const GD_F32: c_int = 0;
pub const GD_BF16: c_int = 1;
pub const GD_F16: c_int = 2;
pub const GD_MASK_32: c_int = 0;
pub const GD_MASK_16: c_int = 1;

/// Opaque accumulator (`gd_fisher`): only ever behind a pointer.
#[repr(C)]
pub struct gd_fisher {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// A host's sgemm for the dense Fisher paths (`gd_sgemm_fn`, since 1.1):
/// row-major `C = alpha op(A) op(B) + beta C`, arguments
/// `(user, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)`;
/// `None` is C's NULL (the default, OpenBLAS).  The contract is in
/// include/gdropout/fisher.h.
pub type gd_sgemm_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        trans_a: c_int,
        trans_b: c_int,
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        beta: f32,
        c: *mut f32,
        ldc: usize,
    ),
>;

/// Opaque plan (`gd_plan`): only ever behind a pointer.
#[repr(C)]
pub struct gd_plan {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

extern "C" {
    // common.h
    pub fn gd_version() -> c_uint;
    pub fn gd_version_string() -> *const c_char;
    pub fn gd_strerror(code: c_int) -> *const c_char;
    pub fn gd_error_name(code: c_int) -> *const c_char;
    pub fn gd_none() -> usize;

    // random.h
    pub fn gd_philox4x32_10(ctr: *const u32, key: *const u32, out: *mut u32) -> c_int;
    pub fn gd_random_u32(r: *mut u32, n: usize, s: *const gd_stream) -> c_int;
    pub fn gd_random_normal(z: *mut f32, n: usize, s: *const gd_stream) -> c_int;
    pub fn gd_dispatch_name() -> *const c_char;

    // dropout.h
    pub fn gd_mask_bernoulli(mask: *mut u8, n: usize, p: f32, s: *const gd_stream) -> c_int;
    pub fn gd_dropout_fwd(
        y: *mut f32,
        x: *const f32,
        n: usize,
        p: f32,
        s: *const gd_stream,
        mask_out: *mut u8,
    ) -> c_int;
    pub fn gd_dropout_bwd(
        dx: *mut f32,
        dy: *const f32,
        n: usize,
        p: f32,
        s: *const gd_stream,
        mask: *const u8,
    ) -> c_int;
    pub fn gd_dropout_fwd_cols(
        y: *mut f32,
        x: *const f32,
        rows: usize,
        cols: usize,
        p_cols: *const f32,
        s: *const gd_stream,
        mask_out: *mut u8,
    ) -> c_int;
    pub fn gd_dropout_bwd_cols(
        dx: *mut f32,
        dy: *const f32,
        rows: usize,
        cols: usize,
        p_cols: *const f32,
        s: *const gd_stream,
        mask: *const u8,
    ) -> c_int;
    pub fn gd_dropout_add_fwd(
        y: *mut f32,
        x: *const f32,
        bias: *const f32,
        residual: *const f32,
        rows: usize,
        cols: usize,
        p: f32,
        s: *const gd_stream,
        mask_out: *mut u8,
    ) -> c_int;
    pub fn gd_dropout_add_bwd(
        dx: *mut f32,
        dbias: *mut f32,
        dy: *const f32,
        rows: usize,
        cols: usize,
        p: f32,
        s: *const gd_stream,
        mask: *const u8,
    ) -> c_int;
    pub fn gd_sum_cols(out: *mut f32, x: *const f32, rows: usize, cols: usize) -> c_int;
    pub fn gd_gaussian_dropout_fwd(
        y: *mut f32,
        x: *const f32,
        n: usize,
        sigma: f32,
        s: *const gd_stream,
    ) -> c_int;
    pub fn gd_gaussian_dropout_bwd(
        dx: *mut f32,
        dy: *const f32,
        n: usize,
        sigma: f32,
        s: *const gd_stream,
    ) -> c_int;
    pub fn gd_gaussian_sigma(p: f32, sigma: *mut f32) -> c_int;

    // mixed.h (since 1.2): (dtype, mask_rule), then the 1.0 arguments
    pub fn gd_mask_bernoulli_ex(
        mask_rule: c_int,
        mask: *mut u8,
        n: usize,
        p: f32,
        s: *const gd_stream,
    ) -> c_int;
    pub fn gd_dropout_fwd_ex(
        dtype: c_int,
        mask_rule: c_int,
        y: *mut c_void,
        x: *const c_void,
        n: usize,
        p: f32,
        s: *const gd_stream,
        mask_out: *mut u8,
    ) -> c_int;
    pub fn gd_dropout_bwd_ex(
        dtype: c_int,
        mask_rule: c_int,
        dx: *mut c_void,
        dy: *const c_void,
        n: usize,
        p: f32,
        s: *const gd_stream,
        mask: *const u8,
    ) -> c_int;
    pub fn gd_dropout_fwd_cols_ex(
        dtype: c_int,
        mask_rule: c_int,
        y: *mut c_void,
        x: *const c_void,
        rows: usize,
        cols: usize,
        p_cols: *const f32,
        s: *const gd_stream,
        mask_out: *mut u8,
    ) -> c_int;
    pub fn gd_dropout_bwd_cols_ex(
        dtype: c_int,
        mask_rule: c_int,
        dx: *mut c_void,
        dy: *const c_void,
        rows: usize,
        cols: usize,
        p_cols: *const f32,
        s: *const gd_stream,
        mask: *const u8,
    ) -> c_int;
    pub fn gd_dropout_add_fwd_ex(
        dtype: c_int,
        mask_rule: c_int,
        y: *mut c_void,
        x: *const c_void,
        bias: *const c_void,
        residual: *const c_void,
        rows: usize,
        cols: usize,
        p: f32,
        s: *const gd_stream,
        mask_out: *mut u8,
    ) -> c_int;
    pub fn gd_dropout_add_bwd_ex(
        dtype: c_int,
        mask_rule: c_int,
        dx: *mut c_void,
        dbias: *mut f32,
        dy: *const c_void,
        rows: usize,
        cols: usize,
        p: f32,
        s: *const gd_stream,
        mask: *const u8,
    ) -> c_int;
    pub fn gd_gaussian_dropout_fwd_ex(
        dtype: c_int,
        y: *mut c_void,
        x: *const c_void,
        n: usize,
        sigma: f32,
        s: *const gd_stream,
    ) -> c_int;
    pub fn gd_gaussian_dropout_bwd_ex(
        dtype: c_int,
        dx: *mut c_void,
        dy: *const c_void,
        n: usize,
        sigma: f32,
        s: *const gd_stream,
    ) -> c_int;

    // fisher.h
    pub fn gd_fisher_create(out: *mut *mut gd_fisher) -> c_int;
    pub fn gd_fisher_destroy(f: *mut gd_fisher);
    pub fn gd_fisher_add_tensor(
        f: *mut gd_fisher,
        name: *const c_char,
        numel: usize,
        site: usize,
        id_out: *mut usize,
    ) -> c_int;
    pub fn gd_fisher_count(f: *const gd_fisher, n: *mut usize) -> c_int;
    pub fn gd_fisher_find(f: *const gd_fisher, name: *const c_char, id: *mut usize) -> c_int;
    pub fn gd_fisher_info(
        f: *const gd_fisher,
        id: usize,
        name: *mut *const c_char,
        numel: *mut usize,
        site: *mut usize,
    ) -> c_int;
    pub fn gd_fisher_accumulate(f: *mut gd_fisher, id: usize, grad: *const f32, w: f32) -> c_int;
    pub fn gd_fisher_accumulate_batch(
        f: *mut gd_fisher,
        id: usize,
        grads: *const f32,
        batch: usize,
    ) -> c_int;
    pub fn gd_fisher_accumulate_dense(
        f: *mut gd_fisher,
        w_id: usize,
        b_id: usize,
        x: *const f32,
        dy: *const f32,
        batch: usize,
        in_: usize,
        out: usize,
    ) -> c_int;
    pub fn gd_fisher_accumulate_dense_seq(
        f: *mut gd_fisher,
        w_id: usize,
        b_id: usize,
        x: *const f32,
        dy: *const f32,
        batch: usize,
        seq: usize,
        in_: usize,
        out: usize,
    ) -> c_int;
    pub fn gd_fisher_set_sgemm(f: *mut gd_fisher, sgemm: gd_sgemm_fn, user: *mut c_void) -> c_int;
    pub fn gd_fisher_from_adam(
        f: *mut gd_fisher,
        id: usize,
        v: *const f32,
        beta2: f32,
        step: u64,
        batch: usize,
    ) -> c_int;
    pub fn gd_fisher_read(
        f: *const gd_fisher,
        id: usize,
        estimate: *mut f32,
        numel: usize,
        samples: *mut f64,
    ) -> c_int;
    pub fn gd_fisher_sums(
        f: *const gd_fisher,
        id: usize,
        sums: *mut f64,
        numel: usize,
        weight: *mut f64,
    ) -> c_int;
    pub fn gd_fisher_set_sums(
        f: *mut gd_fisher,
        id: usize,
        sums: *const f64,
        numel: usize,
        weight: f64,
    ) -> c_int;
    pub fn gd_fisher_merge(dst: *mut gd_fisher, src: *const gd_fisher) -> c_int;
    pub fn gd_fisher_site_count(f: *const gd_fisher, n_sites: *mut usize) -> c_int;
    pub fn gd_fisher_site_scores(
        f: *const gd_fisher,
        reduce: c_int,
        scores: *mut f32,
        n_sites: usize,
    ) -> c_int;
    pub fn gd_fisher_unit_scores(
        f: *const gd_fisher,
        id: usize,
        rows: usize,
        cols: usize,
        axis: c_int,
        scores: *mut f32,
    ) -> c_int;
    pub fn gd_fisher_save(f: *const gd_fisher, path: *const c_char) -> c_int;
    pub fn gd_fisher_load(out: *mut *mut gd_fisher, path: *const c_char) -> c_int;

    // plan.h
    pub fn gd_plan_create(out: *mut *mut gd_plan, n_sites: usize) -> c_int;
    pub fn gd_plan_destroy(p: *mut gd_plan);
    pub fn gd_plan_size(p: *const gd_plan, n_sites: *mut usize) -> c_int;
    pub fn gd_plan_set_site(p: *mut gd_plan, site: usize, name: *const c_char, score: f32)
        -> c_int;
    pub fn gd_plan_set_scores(p: *mut gd_plan, scores: *const f32, n: usize) -> c_int;
    pub fn gd_plan_compute(p: *mut gd_plan, rule: c_int, p_max: f32, p_min: f32) -> c_int;
    pub fn gd_plan_get(p: *const gd_plan, site: usize, prob: *mut f32) -> c_int;
    pub fn gd_plan_get_all(p: *const gd_plan, probs: *mut f32, n: usize) -> c_int;
    pub fn gd_plan_site_info(
        p: *const gd_plan,
        site: usize,
        name: *mut *const c_char,
        score: *mut f32,
        prob: *mut f32,
    ) -> c_int;
    pub fn gd_plan_save(p: *const gd_plan, path: *const c_char) -> c_int;
    pub fn gd_plan_load(out: *mut *mut gd_plan, path: *const c_char) -> c_int;
    /// Since 1.2: a control plan from the plan's own rates (`GD_CONTROL_*`).
    pub fn gd_plan_control(p: *mut gd_plan, control: c_int, seed: u64) -> c_int;
}
