/*
 * Fisher information across MPI ranks: the reduction and the error
 * agreement that a data-parallel Fisher pass needs.
 *
 * Host code shared by the examples, not part of libgdropout (the library
 * never depends on MPI).  Each rank accumulates the examples of its shard
 * into its own gd_fisher; gdx_fisher_allreduce then adds the raw sums and
 * sample weights of every tensor over the ranks, so that each rank (or the
 * root) holds the Fisher of all the examples:
 *
 *   F_j = (sum_r S_rj) / (sum_r W_r),   S_rj = sum over rank r's examples of
 *                                              w_n g_nj^2,  W_r = sum of w_n
 *
 * Sums, not estimates: an estimate is a ratio S/W, and the mean of the
 * ranks' ratios is the Fisher of the union only when every rank has the
 * same weight; uneven shards (the last batch, 3 ranks over 29 batches) make
 * it wrong, and a rank with no examples has no estimate at all.
 *
 * Every function here is COLLECTIVE over comm: every rank of comm calls it,
 * in the same order, with the same root and chunk_bytes.  A rank whose own
 * part fails (bad input, out of memory, registrations that differ) prints
 * why to stderr, prefixed with its rank, and still takes part in the
 * collective calls; the function then returns -1 on EVERY rank, so the
 * ranks leave together and nobody waits for a rank that has gone.  If an
 * MPI call itself fails (only when the host replaced the default error
 * handler, MPI_ERRORS_ARE_FATAL), the functions print MPI's message and call
 * MPI_Abort(comm, 1): agreement is impossible then, and a job that ends is
 * better than one that hangs.
 *
 * Thread-safety: as MPI's (call from one thread per rank) and gd_fisher's
 * (one thread at a time per object).
 */
#ifndef GDX_FISHER_MPI_H
#define GDX_FISHER_MPI_H

#include <stddef.h>

#include <mpi.h>

#include <gdropout/gdropout.h>

/* The default bound on the payload of one MPI call, 16 MiB: large enough
 * that the per-call latency is nothing next to the transfer, small enough
 * that no element count nears INT_MAX (MPI counts are int) and that MPI's
 * own staging buffers stay modest. */
#define GDX_FISHER_CHUNK_DEFAULT ((size_t)16 << 20)

/* root value asking gdx_fisher_allreduce for the total on every rank. */
enum { GDX_FISHER_ALL_RANKS = -1 };

/* Ends a phase: each rank passes failed = 0 if its part went well, nonzero
 * if not (after printing why).  Returns 0 on every rank if no rank failed,
 * otherwise -1 on every rank, with *first_failed (may be NULL) set to the
 * lowest failing rank on every rank.  One MPI_Allreduce of two ints. */
int gdx_mpi_agree(MPI_Comm comm, int failed, int *first_failed);

/* Checks that every rank of comm registered the same tensors in f as rank 0:
 * the same count and, id by id, the same name, element count and site.  A
 * rank that differs prints the first difference, e.g.
 *   gdx_fisher: rank 2: tensor 1 is 'fc0.bias' (64 elements, site 1),
 *   rank 0 has 'fc0.bias' (128 elements, site 1)
 * Rank 0's description (name and two numbers per tensor) is broadcast in
 * messages of at most chunk_bytes (0: GDX_FISHER_CHUNK_DEFAULT).
 * Returns 0 if all agree, -1 on every rank otherwise (also for NULL f or
 * out of memory on any rank). */
int gdx_fisher_check_same(const gd_fisher *f, MPI_Comm comm, size_t chunk_bytes);

/* Adds every tensor's raw sums and sample weight (gd_fisher_sums) over the
 * ranks of comm in double (MPI_SUM on MPI_DOUBLE) and stores the totals
 * (gd_fisher_set_sums).  root == GDX_FISHER_ALL_RANKS: every rank's f gets
 * the totals (MPI_Allreduce); root in [0, size): only root's f does
 * (MPI_Reduce) and the other ranks' f are left as they were.
 *
 * First runs gdx_fisher_check_same.  No MPI call carries more than
 * chunk_bytes of payload (0: GDX_FISHER_CHUNK_DEFAULT; values below 8 are
 * raised to one double), so a tensor of any size goes in pieces; a
 * tensor's weight travels with its last piece.  Scratch: numel + 1 doubles
 * of the largest tensor (gd_fisher_sums hands out whole tensors), freed
 * before return.
 *
 * The totals are the sums of the ranks' sums in MPI's order of addition,
 * which differs from a single process's: equal up to double rounding
 * (relative 2^-52 per addition, every term >= 0), so the float estimates
 * of gd_fisher_read / gd_fisher_save differ by at most one unit in the last
 * place from a single-process pass over the same batches.
 *
 * Returns 0 on every rank, or -1 on every rank after the failing rank
 * printed why: a bad root or chunk, registrations that differ, out of
 * memory, or a total that overflows double (gd_fisher_set_sums refuses Inf).
 * Failures found before the reduction leave f untouched on every rank; an
 * overflow found during it leaves f partly reduced: discard it. */
int gdx_fisher_allreduce(gd_fisher *f, MPI_Comm comm, int root, size_t chunk_bytes);

#endif /* GDX_FISHER_MPI_H */
