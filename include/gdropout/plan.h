/*
 * libgdropout: the guided schedule.
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 *
 * A plan holds one score per dropout site (its Fisher information) and turns
 * them into one dropout probability per site: the least informative sites get
 * p_max, the most informative p_min.  A plan is used by one thread at a time;
 * distinct plans may be used concurrently.
 */
#ifndef GDROPOUT_PLAN_H
#define GDROPOUT_PLAN_H

#include <gdropout/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gd_plan gd_plan;

/* Rules for gd_plan_compute.  Probabilities are computed in double and
 * rounded once to float. */
enum {
    /* every site p_max: standard dropout, the baseline */
    GD_RULE_UNIFORM = 0,
    /* the paper's: sort sites by score ascending (ties by site index); the
     * site of rank r (0 = least informative) of L gets
     * p = p_max - (p_max - p_min) * r / (L - 1); one site gets p_max */
    GD_RULE_RANK_LINEAR = 1,
    /* linear in the score itself: p = p_max - (p_max - p_min) *
     * (score - min) / (max - min); all scores equal gives p_max */
    GD_RULE_SCORE_LINEAR = 2,
    /* the same on log(score), for scores spread over orders of magnitude;
     * every score must be > 0 (GD_EDOMAIN otherwise) */
    GD_RULE_LOG_SCORE_LINEAR = 3
};

/* Creates a plan for n_sites >= 1 sites, with no scores and no names ("").
 * Errors: GD_EINVAL (NULL out, n_sites == 0), GD_EOVERFLOW, GD_ENOMEM. */
GD_NODISCARD GD_API int gd_plan_create(gd_plan **out, size_t n_sites);

/* Frees p.  NULL is a no-op. */
GD_API void gd_plan_destroy(gd_plan *p);

/* Number of sites.  Errors: GD_EINVAL. */
GD_NODISCARD GD_API int gd_plan_size(const gd_plan *p, size_t *n_sites);

/* Names site `site` and sets its score (finite).  name may be NULL to keep
 * the current name; otherwise UTF-8 of at most 255 bytes, no white space or
 * control characters, and not "-" (plan files write "-" for "no name");
 * "" clears it.  Changing a score clears computed
 * probabilities until the next gd_plan_compute.
 * Errors: GD_EINVAL (NULL p, bad name), GD_ENOTFOUND (site out of range),
 * GD_EDOMAIN (score NaN or Inf), GD_ENOMEM. */
GD_NODISCARD GD_API int gd_plan_set_site(gd_plan *p, size_t site, const char *name, float score);

/* Sets all n == n_sites scores at once (finite).  Errors: GD_EINVAL,
 * GD_ESHAPE, GD_EDOMAIN. */
GD_NODISCARD GD_API int gd_plan_set_scores(gd_plan *p, const float *scores, size_t n);

/* Computes every site's probability under `rule` (GD_RULE_*), with
 * 0 <= p_min <= p_max <= 1.  Every rule needs every score set.  Results are
 * clamped to [p_min, p_max], so the ends are exactly p_max and p_min.  No
 * allocation: the rank sort uses scratch made by gd_plan_create.
 * Errors: GD_EINVAL (NULL p, unknown rule), GD_EDOMAIN (p_max or p_min
 * outside [0, 1] or NaN, p_min > p_max, or a score <= 0 under
 * GD_RULE_LOG_SCORE_LINEAR),
 * GD_ESTATE (a site without a score). */
GD_NODISCARD GD_API int gd_plan_compute(gd_plan *p, int rule, float p_max, float p_min);

/* The computed probability of site `site`.  Errors: GD_EINVAL,
 * GD_ENOTFOUND, GD_ESTATE (not computed since the last score change). */
GD_NODISCARD GD_API int gd_plan_get(const gd_plan *p, size_t site, float *prob);

/* All n == n_sites probabilities at once.  Errors: as gd_plan_get, and
 * GD_ESHAPE. */
GD_NODISCARD GD_API int gd_plan_get_all(const gd_plan *p, float *probs, size_t n);

/* What site `site` holds: name (owned by p, valid until the next change of
 * that name or p's destruction), score (NaN if unset) and probability (NaN
 * if not computed).  Any output may be NULL.  Errors: GD_EINVAL,
 * GD_ENOTFOUND. */
GD_NODISCARD GD_API int gd_plan_site_info(const gd_plan *p, size_t site, const char **name,
                                          float *score, float *prob);

/* Controls for gd_plan_control: the plan's own computed probabilities moved
 * among its sites, so an experiment can tell WHERE dropout goes from HOW
 * MUCH there is (since 1.2). */
enum {
    /* rank order reversed: sort sites by probability ascending, ties by
     * index; the sites of ranks r and n-1-r swap probabilities.  Under
     * GD_RULE_RANK_LINEAR the most informative site then gets p_max */
    GD_CONTROL_REVERSED = 1,
    /* a uniformly random permutation drawn from `seed` (GD_CONTROL_STREAM,
     * below) */
    GD_CONTROL_PERMUTED = 2,
    /* the same, within each KIND of site: sites whose names are equal once
     * every decimal digit is removed ("encoder.layer.3.output.dropout" and
     * "encoder.layer.0.output.dropout" are one kind).  Each kind keeps the
     * probabilities it had, only their order among its layers changes */
    GD_CONTROL_KIND = 3,
    /* every site at the mean probability (summed in double, rounded once) */
    GD_CONTROL_MATCHED = 4
};
/* The Philox stream of the controls' draws: "ctrl". */
enum { GD_CONTROL_STREAM = 0x6374726c };
/* Rearranges p's computed probabilities by `control` (GD_CONTROL_*); the
 * scores and names stay, the plan stays computed, so gd_plan_get and
 * gd_plan_save give the control's rates.  The permutations are exact:
 * groups (all sites for PERMUTED; each kind, kinds in byte order of their
 * digit-free names, for KIND) are shuffled in turn, each by Fisher-Yates
 * over its sites in index order: for i = m-1 down to 1, j = (u * (i + 1))
 * >> 32 with u the next word of gd_random_u32 on {seed, GD_CONTROL_STREAM,
 * offset 0, 1, 2, ... across all groups}, then its i-th and j-th sites
 * swap.  seed is ignored by REVERSED and MATCHED.  No allocation.
 * Errors: GD_EINVAL (NULL p, unknown control), GD_ESTATE (not computed).
 * Thread-safety: as every plan function (one thread per plan).  Since 1.2. */
GD_NODISCARD GD_API int gd_plan_control(gd_plan *p, int control, uint64_t seed);
/* Writes the computed plan as text, one site a line:
 *   <index> <name or -> <score> <p>
 * ('#' starts a comment line; floats as "%.9g", so they read back exactly),
 * through a temporary file, fsync and rename.  path must name a regular
 * file (replaced; it keeps its mode) or nothing (created with mode 0666
 * less the umask); a symlink, dangling symlink, directory, FIFO, socket or
 * device at path is GD_EIO and stays as it was (as gd_fisher_save).
 * Errors: GD_EINVAL, GD_ESTATE (not computed), GD_EIO, GD_ENOMEM. */
GD_NODISCARD GD_API int gd_plan_save(const gd_plan *p, const char *path);

/* Reads a plan written by gd_plan_save (comments and blank lines allowed;
 * every index 0 .. n-1 exactly once, in any order) into a new plan in *out,
 * with its probabilities computed as written.  Lines end in "\n" or
 * "\r\n" and hold at most 1024 bytes without that ending; fields are
 * separated by spaces or tabs; numbers are decimal ([+-]digits[.digits]
 * [e[+-]digits]: no hex, inf or nan) of at most 64 characters (what
 * gd_plan_save writes needs 24).  Memory is a small multiple of the
 * file's size.  path must be a regular file (or a symlink to one), checked
 * before anything is read: a FIFO or device is GD_EIO at once.
 * Errors: GD_EINVAL, GD_EIO, GD_EFORMAT, GD_ENOMEM. */
GD_NODISCARD GD_API int gd_plan_load(gd_plan **out, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* GDROPOUT_PLAN_H */
