/*
 * test_fisher_mpi: gdx_fisher_allreduce and gdx_mpi_agree under mpirun
 * (any -np; the mismatch cases need 2 or more ranks).
 *
 *   mpirun -np 3 test_fisher_mpi
 *
 * Known answers: rank r adds one example of weight r + 1 whose gradient is
 * g_j = (r + 1) + j / 2, so the totals S_j = sum_r (r+1) g_rj^2 and
 * W = sum_r (r+1) are small integers and halves, exact in double whatever
 * the order of addition; the reduced estimates must be (float)(S_j / W)
 * exactly, and the weights W exactly.  Each rank prints its failures and
 * exits non-zero, so mpirun does too.
 */
#include "fisher_mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NA = 37, NB = 5 }; /* 37 + 1 doubles: not a multiple of the chunks below */

static int rank, size, failures, checks;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok) {
        failures++;
        fprintf(stderr, "test_fisher_mpi: rank %d: FAILED: %s\n", rank, what);
    }
}

/* Tensors a (37 elements, site 0), b (5, no site), c (1, site 1); rank r
 * adds its example to a and c, and to b only on the last rank, so that
 * the other ranks bring b a weight of 0. */
static gd_fisher *make(size_t a_numel, const char *b_name, size_t c_site)
{
    gd_fisher *f = NULL;
    float g[NA];
    for (size_t j = 0; j < NA; j++)
        g[j] = (float)(rank + 1) + 0.5f * (float)j;
    const float w = (float)(rank + 1);
    int rc = gd_fisher_create(&f);
    if (rc == GD_OK)
        rc = gd_fisher_add_tensor(f, "a", a_numel, 0, NULL);
    if (rc == GD_OK)
        rc = gd_fisher_add_tensor(f, b_name, NB, GD_NONE, NULL);
    if (rc == GD_OK)
        rc = gd_fisher_add_tensor(f, "c", 1, c_site, NULL);
    if (rc == GD_OK)
        rc = gd_fisher_accumulate(f, 0, g, w);
    if (rc == GD_OK && rank == size - 1)
        rc = gd_fisher_accumulate(f, 1, g, w);
    if (rc == GD_OK)
        rc = gd_fisher_accumulate(f, 2, g + 3, w);
    check(rc == GD_OK, "building the accumulator");
    return f;
}

/* The exact totals of tensor a's element j (offset 0) or c's (offset 3). */
static double total_sum(size_t j, int ranks)
{
    double s = 0.0;
    for (int r = 0; r < ranks; r++) {
        const double g = (double)(r + 1) + 0.5 * (double)j;
        s += (double)(r + 1) * g * g;
    }
    return s;
}

static double total_weight(int ranks)
{
    return (double)ranks * (ranks + 1) / 2.0;
}

/* f holds the totals over every rank. */
static void check_totals(const gd_fisher *f, const char *label)
{
    char what[128];
    float est[NA];
    double w = -1.0;
    const double W = total_weight(size);
    int ok = gd_fisher_read(f, 0, est, NA, &w) == GD_OK && w == W;
    for (size_t j = 0; j < NA && ok; j++)
        ok = est[j] == (float)(total_sum(j, size) / W);
    snprintf(what, sizeof what, "%s: tensor a is the exact total", label);
    check(ok, what);
    const double last = (double)size; /* only the last rank fed b: its weight */
    ok = gd_fisher_read(f, 1, est, NB, &w) == GD_OK && w == last;
    for (size_t j = 0; j < NB && ok; j++) {
        const double g = (double)size + 0.5 * (double)j;
        ok = est[j] == (float)(last * g * g / last);
    }
    snprintf(what, sizeof what, "%s: tensor b has the last rank's example only", label);
    check(ok, what);
    ok = gd_fisher_read(f, 2, est, 1, &w) == GD_OK && w == W &&
         est[0] == (float)(total_sum(3, size) / W);
    snprintf(what, sizeof what, "%s: tensor c is the exact total", label);
    check(ok, what);
}

/* f still holds only this rank's example. */
static void check_local(const gd_fisher *f, const char *label)
{
    char what[128];
    float est[NA];
    double w = -1.0;
    int ok = gd_fisher_read(f, 0, est, NA, &w) == GD_OK && w == (double)(rank + 1);
    for (size_t j = 0; j < NA && ok; j++) {
        const float g = (float)(rank + 1) + 0.5f * (float)j;
        ok = est[j] == (float)((double)g * (double)g);
    }
    snprintf(what, sizeof what, "%s: f untouched", label);
    check(ok, what);
}

static void test_allreduce(size_t chunk_bytes)
{
    char label[64];
    snprintf(label, sizeof label, "allreduce, chunks of %zu bytes", chunk_bytes);
    gd_fisher *f = make(NA, "b", 1);
    check(gdx_fisher_allreduce(f, MPI_COMM_WORLD, GDX_FISHER_ALL_RANKS, chunk_bytes) == 0, label);
    check_totals(f, label);
    gd_fisher_destroy(f);
}

static void test_reduce_to_root(void)
{
    const int root = size - 1;
    gd_fisher *f = make(NA, "b", 1);
    check(gdx_fisher_allreduce(f, MPI_COMM_WORLD, root, 16) == 0, "reduce to the last rank");
    if (rank == root)
        check_totals(f, "reduce to the last rank, root");
    else
        check_local(f, "reduce to the last rank, not root");
    gd_fisher_destroy(f);
}

/* The last rank registers something else: every rank must refuse, with
 * every f untouched. */
static void test_mismatch(size_t a_numel, const char *b_name, size_t c_site, const char *label)
{
    const int odd = rank == size - 1;
    gd_fisher *f = make(odd ? a_numel : NA, odd ? b_name : "b", odd ? c_site : 1);
    check(gdx_fisher_allreduce(f, MPI_COMM_WORLD, GDX_FISHER_ALL_RANKS, 0) == -1, label);
    if (!odd)
        check_local(f, label);
    gd_fisher_destroy(f);
}

static void test_extra_tensor(void)
{
    gd_fisher *f = make(NA, "b", 1);
    if (rank == size - 1)
        check(gd_fisher_add_tensor(f, "d", 2, 0, NULL) == GD_OK, "adding d");
    check(gdx_fisher_allreduce(f, MPI_COMM_WORLD, GDX_FISHER_ALL_RANKS, 0) == -1,
          "one more tensor on the last rank is refused");
    gd_fisher_destroy(f);
}

static void test_bad_arguments(void)
{
    gd_fisher *f = make(NA, "b", 1);
    check(gdx_fisher_allreduce(f, MPI_COMM_WORLD, size, 0) == -1, "root = size is refused");
    check(gdx_fisher_allreduce(f, MPI_COMM_WORLD, -2, 0) == -1, "root = -2 is refused");
    check(gdx_fisher_allreduce(NULL, MPI_COMM_WORLD, GDX_FISHER_ALL_RANKS, 0) == -1,
          "NULL f is refused");
    check_local(f, "after refused arguments");
    gd_fisher_destroy(f);
}

static void test_agree(void)
{
    int first = -2;
    check(gdx_mpi_agree(MPI_COMM_WORLD, 0, &first) == 0 && first == -1, "agree: nobody failed");
    first = -2;
    check(gdx_mpi_agree(MPI_COMM_WORLD, rank == size - 1, &first) == -1 && first == size - 1,
          "agree: the last rank failed");
    first = -2;
    check(gdx_mpi_agree(MPI_COMM_WORLD, rank != 0, &first) == (size > 1 ? -1 : 0) &&
              first == (size > 1 ? 1 : -1),
          "agree: the lowest failing rank is named");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    test_agree();
    test_allreduce(0);  /* the default: one message per tensor */
    test_allreduce(8);  /* one double per message */
    test_allreduce(24); /* three: 38 = 12 * 3 + 2, a short last piece */
    test_reduce_to_root();
    if (rank == 0)
        fprintf(stderr, "test_fisher_mpi: the refusals below are expected:\n");
    test_bad_arguments();
    if (size > 1) {
        test_mismatch(NA - 1, "b", 1, "another size on the last rank is refused");
        test_mismatch(NA, "B", 1, "another name on the last rank is refused");
        test_mismatch(NA, "b", 2, "another site on the last rank is refused");
        test_extra_tensor();
    }
    printf("test_fisher_mpi: rank %d of %d: %d of %d checks passed\n", rank, size,
           checks - failures, checks);
    MPI_Finalize();
    return failures ? 1 : 0;
}
