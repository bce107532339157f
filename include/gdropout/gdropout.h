/*
 * libgdropout: guided dropout for any trainer.
 *
 * Guided dropout (Sharma et al., "Information Guided Regularization for
 * Fine-tuning Language Models", arXiv 2406.14005) measures the diagonal
 * Fisher information of a pretrained model, ranks its dropout sites by it,
 * and fine-tunes with less dropout where the information is.  This library
 * gives a host trainer the three pieces, per layer:
 *
 *   gdropout/fisher.h   Fisher estimation (per-sample, dense GEMM, Adam)
 *   gdropout/plan.h     the guided schedule: scores in, probabilities out
 *   gdropout/dropout.h  reproducible Philox masks and fused dropout kernels
 *   gdropout/random.h   the counter-based generator under the masks
 *   gdropout/common.h   versions, error codes, export macro
 *
 * Conventions (the v1 contract):
 *   - every fallible function returns GD_OK (0) or a negative GD_E* code and
 *     on error leaves every output untouched; nothing aborts, prints or exits;
 *   - no global mutable state: every function is reentrant, kernels on
 *     distinct buffers run concurrently from any threads, and one gd_fisher
 *     or gd_plan is used by one thread at a time;
 *   - memory is allocated only by *_create, *_add_*, *_load and, for a bounded
 *     scratch buffer, the dense Fisher accumulators;
 *   - the only public struct, gd_stream, is a frozen POD.
 *
 * Departures from shared/docs/api-v1.md, each with its reason:
 *   - gd_dropout_add_bwd, gd_sum_cols: the contract invites a column-sum
 *     helper; the fused backward saves the host a second pass;
 *   - gd_random_normal, gd_gaussian_sigma: the Gaussian noise is exposed so
 *     other implementations can check it, and the variance-matched sigma is a
 *     helper as the contract asks;
 *   - gd_fisher_count/find/info/site_count, gd_plan_size/get_all/site_info:
 *     a loaded file or plan is useless without a way to enumerate it;
 *   - gd_error_name, gd_none: bindings that cannot read macros need the
 *     symbolic error names and GD_NONE at run time (libsodium's rule);
 *   - gd_dispatch_name: benchmarks and bug reports must say which of the
 *     bitwise-identical kernel families ran;
 *   - GD_NODISCARD on fallible functions: an ignored error is a host bug.
 */
#ifndef GDROPOUT_GDROPOUT_H
#define GDROPOUT_GDROPOUT_H

#include <gdropout/common.h>
#include <gdropout/random.h>
#include <gdropout/dropout.h>
#include <gdropout/fisher.h>
#include <gdropout/plan.h>

#endif /* GDROPOUT_GDROPOUT_H */
