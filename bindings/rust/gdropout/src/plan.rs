//! The guided schedule (`gd_plan`).
use std::ffi::CStr;
use std::os::raw::c_char;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{check, created, Result};
use crate::fisher::{c_path, c_string};
use crate::sys;

/// Rules for [`Plan::compute`].  Non-exhaustive: a later library version
/// may add rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Every site `p_max` (standard dropout).
    Uniform,
    /// The paper's: linear in the rank of the score.
    RankLinear,
    /// Linear in the score itself.
    ScoreLinear,
    /// Linear in log(score).
    LogScoreLinear,
}

impl Rule {
    fn raw(self) -> i32 {
        match self {
            Rule::Uniform => sys::GD_RULE_UNIFORM,
            Rule::RankLinear => sys::GD_RULE_RANK_LINEAR,
            Rule::ScoreLinear => sys::GD_RULE_SCORE_LINEAR,
            Rule::LogScoreLinear => sys::GD_RULE_LOG_SCORE_LINEAR,
        }
    }
}

/// What a site holds.  Non-exhaustive: made by [`Plan::site_info`] only.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SiteInfo {
    /// Its name ("" if none).
    pub name: String,
    /// Its score (NaN if unset).
    pub score: f32,
    /// Its probability (NaN if not computed).
    pub prob: f32,
}

/// A dropout plan over n sites.  Freed on drop; `Send`, not `Sync`.
pub struct Plan {
    raw: NonNull<sys::gd_plan>,
}

// A gd_plan is used by one thread at a time and tied to none.
unsafe impl Send for Plan {}

impl Drop for Plan {
    fn drop(&mut self) {
        unsafe { sys::gd_plan_destroy(self.raw.as_ptr()) }
    }
}

impl Plan {
    /// A plan of `n_sites` sites without scores.
    pub fn new(n_sites: usize) -> Result<Plan> {
        let raw = created(|p| unsafe { sys::gd_plan_create(p, n_sites) })?;
        Ok(Plan { raw })
    }

    /// Reads a plan written by [`Plan::save`].
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Plan> {
        let path = c_path(path.as_ref())?;
        let raw = created(|p| unsafe { sys::gd_plan_load(p, path.as_ptr()) })?;
        Ok(Plan { raw })
    }

    fn ptr(&self) -> *const sys::gd_plan {
        self.raw.as_ptr()
    }

    /// Writes the computed plan as text.
    pub fn save<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        let path = c_path(path.as_ref())?;
        check(unsafe { sys::gd_plan_save(self.ptr(), path.as_ptr()) })
    }

    /// Number of sites.
    pub fn size(&self) -> Result<usize> {
        let mut n = 0usize;
        check(unsafe { sys::gd_plan_size(self.ptr(), &mut n) })?;
        Ok(n)
    }

    /// Sets a site's score and, if given, its name.
    pub fn set_site(&mut self, site: usize, name: Option<&str>, score: f32) -> Result<()> {
        let name = name.map(c_string).transpose()?;
        let np = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        check(unsafe { sys::gd_plan_set_site(self.raw.as_ptr(), site, np, score) })
    }

    /// Sets every site's score.
    pub fn set_scores(&mut self, scores: &[f32]) -> Result<()> {
        check(unsafe { sys::gd_plan_set_scores(self.raw.as_ptr(), scores.as_ptr(), scores.len()) })
    }

    /// Computes every site's probability under `rule`.
    pub fn compute(&mut self, rule: Rule, p_max: f32, p_min: f32) -> Result<()> {
        check(unsafe { sys::gd_plan_compute(self.raw.as_ptr(), rule.raw(), p_max, p_min) })
    }

    /// Site `site`'s computed probability.
    pub fn get(&self, site: usize) -> Result<f32> {
        let mut p = 0.0f32;
        check(unsafe { sys::gd_plan_get(self.ptr(), site, &mut p) })?;
        Ok(p)
    }

    /// Every site's probability.
    pub fn probs(&self) -> Result<Vec<f32>> {
        let mut v = vec![0.0f32; self.size()?];
        check(unsafe { sys::gd_plan_get_all(self.ptr(), v.as_mut_ptr(), v.len()) })?;
        Ok(v)
    }

    /// What site `site` holds.
    pub fn site_info(&self, site: usize) -> Result<SiteInfo> {
        let mut name: *const c_char = ptr::null();
        let (mut score, mut prob) = (0.0f32, 0.0f32);
        check(unsafe {
            sys::gd_plan_site_info(self.ptr(), site, &mut name, &mut score, &mut prob)
        })?;
        let name = if name.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
        };
        Ok(SiteInfo { name, score, prob })
    }
}
