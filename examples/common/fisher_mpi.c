/*
 * Fisher information across MPI ranks (see fisher_mpi.h).
 *
 * Every collective path has the same shape: do the local part, remember
 * whether it failed, then gdx_mpi_agree.  No rank returns between two
 * collective calls that the others will make, which is what keeps a
 * failure on one rank from becoming a hang on the others.
 */
#include "fisher_mpi.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only when the host installed an error handler that returns: MPI is then
 * in an unknown state, so end the job rather than risk a hang. */
static void mpi_check(int rc, MPI_Comm comm, const char *what)
{
    if (rc == MPI_SUCCESS)
        return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    int rank = -1;
    (void)MPI_Comm_rank(comm, &rank);
    fprintf(stderr, "gdx_fisher: rank %d: %s failed: %s; aborting the job\n", rank, what, text);
    MPI_Abort(comm, 1);
}

static int comm_rank(MPI_Comm comm)
{
    int rank = 0;
    mpi_check(MPI_Comm_rank(comm, &rank), comm, "MPI_Comm_rank");
    return rank;
}

int gdx_mpi_agree(MPI_Comm comm, int failed, int *first_failed)
{
    /* MAXLOC over (failed, rank): the largest flag, ties to the lowest rank. */
    struct {
        int failed, rank;
    } mine = { failed != 0, comm_rank(comm) }, all;
    mpi_check(MPI_Allreduce(&mine, &all, 1, MPI_2INT, MPI_MAXLOC, comm), comm, "MPI_Allreduce");
    if (first_failed)
        *first_failed = all.failed ? all.rank : -1;
    return all.failed ? -1 : 0;
}

/* Elements of `size` bytes per MPI call: at least one, at most INT_MAX. */
static int chunk_count(size_t chunk_bytes, size_t size)
{
    const size_t bytes = chunk_bytes ? chunk_bytes : GDX_FISHER_CHUNK_DEFAULT;
    const size_t n = bytes / size;
    return n == 0 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- the registrations ----------------------------------------------- */

/* One line per tensor, "name\tnumel\tsite\n" (site "none" for GD_NONE):
 * names hold no control characters (gd_fisher_add_tensor refuses them), so
 * tab and newline separate unambiguously.  NULL on failure, after a
 * message. */
static char *describe(const gd_fisher *f, int rank, size_t *len_out)
{
    size_t n = 0;
    if (!f || gd_fisher_count(f, &n) != GD_OK) {
        fprintf(stderr, "gdx_fisher: rank %d: no Fisher object\n", rank);
        return NULL;
    }
    size_t cap = 256, len = 0;
    char *text = malloc(cap);
    for (size_t id = 0; id < n && text; id++) {
        const char *name = NULL;
        size_t numel = 0, site = 0;
        if (gd_fisher_info(f, id, &name, &numel, &site) != GD_OK) {
            free(text);
            text = NULL;
            break;
        }
        char num[64];
        if (site == GD_NONE)
            snprintf(num, sizeof num, "\t%zu\tnone\n", numel);
        else
            snprintf(num, sizeof num, "\t%zu\t%zu\n", numel, site);
        const size_t add = strlen(name) + strlen(num);
        if (len + add + 1 > cap) {
            cap = 2 * (len + add + 1);
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                text = NULL;
                break;
            }
            text = grown;
        }
        len += (size_t)sprintf(text + len, "%s%s", name, num);
    }
    if (!text)
        fprintf(stderr, "gdx_fisher: rank %d: out of memory describing the tensors\n", rank);
    *len_out = len;
    return text;
}

/* Broadcasts len bytes from root in pieces of at most chunk_bytes. */
static void bcast_bytes(char *buf, size_t len, int root, MPI_Comm comm, size_t chunk_bytes)
{
    const size_t step = (size_t)chunk_count(chunk_bytes, 1);
    for (size_t at = 0; at < len; at += step) {
        const size_t k = len - at < step ? len - at : step;
        mpi_check(MPI_Bcast(buf + at, (int)k, MPI_CHAR, root, comm), comm, "MPI_Bcast");
    }
}

/* Line `i` of a description as "'name' (N elements, site S)"; "nothing"
 * past its end. */
static void line_text(const char *desc, size_t len, size_t i, char *out, size_t size)
{
    const char *p = desc, *end = desc + len;
    for (size_t k = 0; k < i && p < end; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    if (p >= end) {
        snprintf(out, size, "nothing");
        return;
    }
    const char *tab1 = memchr(p, '\t', (size_t)(end - p));
    const char *tab2 = tab1 ? memchr(tab1 + 1, '\t', (size_t)(end - tab1 - 1)) : NULL;
    const char *nl = tab2 ? memchr(tab2 + 1, '\n', (size_t)(end - tab2 - 1)) : NULL;
    if (!nl) {
        snprintf(out, size, "(malformed)");
        return;
    }
    snprintf(out, size, "'%.*s' (%.*s elements, site %.*s)", (int)(tab1 - p), p,
             (int)(tab2 - tab1 - 1), tab1 + 1, (int)(nl - tab2 - 1), tab2 + 1);
}

static size_t count_lines(const char *desc, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += desc[i] == '\n';
    return n;
}

/* Prints the first line where mine differs from rank 0's. */
static void report_difference(const char *mine, size_t mine_len, const char *ref,
                              size_t ref_len, int rank)
{
    const size_t n_mine = count_lines(mine, mine_len), n_ref = count_lines(ref, ref_len);
    size_t i = 0, at = 0;
    while (at < mine_len && at < ref_len && mine[at] == ref[at]) {
        i += mine[at] == '\n';
        at++;
    }
    char a[600], b[600];
    line_text(mine, mine_len, i, a, sizeof a);
    line_text(ref, ref_len, i, b, sizeof b);
    fprintf(stderr,
            "gdx_fisher: rank %d: registered tensors differ from rank 0's (%zu here, %zu on "
            "rank 0): tensor %zu is %s here, rank 0 has %s\n",
            rank, n_mine, n_ref, i, a, b);
}

int gdx_fisher_check_same(const gd_fisher *f, MPI_Comm comm, size_t chunk_bytes)
{
    const int rank = comm_rank(comm);
    size_t len = 0;
    char *mine = describe(f, rank, &len);
    if (gdx_mpi_agree(comm, mine == NULL, NULL) != 0) {
        free(mine);
        return -1;
    }
    /* Rank 0's length, then its bytes. */
    unsigned long long ref_len = len;
    mpi_check(MPI_Bcast(&ref_len, 1, MPI_UNSIGNED_LONG_LONG, 0, comm), comm, "MPI_Bcast");
    char *ref = rank == 0 ? mine : malloc(ref_len ? (size_t)ref_len : 1);
    if (!ref)
        fprintf(stderr, "gdx_fisher: rank %d: out of memory\n", rank);
    if (gdx_mpi_agree(comm, ref == NULL, NULL) != 0) {
        free(mine);
        return -1;
    }
    bcast_bytes(ref, (size_t)ref_len, 0, comm, chunk_bytes);
    const int differs = ref_len != len || memcmp(ref, mine, len) != 0;
    if (differs)
        report_difference(mine, len, ref, (size_t)ref_len, rank);
    if (ref != mine)
        free(ref);
    free(mine);
    return gdx_mpi_agree(comm, differs, NULL);
}

/* ---- the reduction --------------------------------------------------- */

/* Sums buf[0..n) over the ranks, in place, in pieces of `step` doubles:
 * on every rank (root < 0) or on root only. */
static void sum_doubles(double *buf, size_t n, int root, int rank, MPI_Comm comm, int step)
{
    for (size_t at = 0; at < n; at += (size_t)step) {
        const int k = n - at < (size_t)step ? (int)(n - at) : step;
        double *p = buf + at;
        if (root < 0)
            mpi_check(MPI_Allreduce(MPI_IN_PLACE, p, k, MPI_DOUBLE, MPI_SUM, comm), comm,
                      "MPI_Allreduce");
        else if (rank == root)
            mpi_check(MPI_Reduce(MPI_IN_PLACE, p, k, MPI_DOUBLE, MPI_SUM, root, comm), comm,
                      "MPI_Reduce");
        else
            mpi_check(MPI_Reduce(p, NULL, k, MPI_DOUBLE, MPI_SUM, root, comm), comm,
                      "MPI_Reduce");
    }
}

/* Every rank must pass the same root and chunk: compare their extremes. */
static int check_arguments(int root, size_t chunk_bytes, MPI_Comm comm, int rank, int size)
{
    const long long v[2] = { root, (long long)(chunk_bytes ? chunk_bytes
                                                           : GDX_FISHER_CHUNK_DEFAULT) };
    long long lo[2], hi[2];
    mpi_check(MPI_Allreduce(v, lo, 2, MPI_LONG_LONG, MPI_MIN, comm), comm, "MPI_Allreduce");
    mpi_check(MPI_Allreduce(v, hi, 2, MPI_LONG_LONG, MPI_MAX, comm), comm, "MPI_Allreduce");
    int bad = 0;
    if (lo[0] != hi[0] || lo[1] != hi[1]) {
        bad = 1;
        if (rank == 0)
            fprintf(stderr, "gdx_fisher: the ranks passed different roots or chunk sizes\n");
    } else if (root < GDX_FISHER_ALL_RANKS || root >= size) {
        bad = 1;
        if (rank == 0)
            fprintf(stderr, "gdx_fisher: root %d is not a rank of this %d-rank communicator "
                            "(nor GDX_FISHER_ALL_RANKS)\n", root, size);
    }
    return bad;
}

/* The largest element count of f's tensors (f already checked). */
static size_t largest_tensor(const gd_fisher *f, size_t n)
{
    size_t max = 0;
    for (size_t id = 0; id < n; id++) {
        size_t numel = 0;
        if (gd_fisher_info(f, id, NULL, &numel, NULL) == GD_OK && numel > max)
            max = numel;
    }
    return max;
}

/* One tensor: its sums with its weight appended (buf holds numel + 1
 * doubles), summed over the ranks, stored where stores is set.  Every rank
 * makes the same MPI calls whatever happens locally.  Returns a GD_* code. */
static int reduce_tensor(gd_fisher *f, size_t id, double *buf, int root, int rank, int stores,
                         MPI_Comm comm, int step)
{
    size_t numel = 0;
    int rc = gd_fisher_info(f, id, NULL, &numel, NULL);
    if (rc == GD_OK)
        rc = gd_fisher_sums(f, id, buf, numel, &buf[numel]);
    if (rc != GD_OK) /* cannot happen after gdx_fisher_check_same: keep in step */
        memset(buf, 0, (numel + 1) * sizeof *buf);
    sum_doubles(buf, numel + 1, root, rank, comm, step);
    if (rc == GD_OK && stores)
        rc = gd_fisher_set_sums(f, id, buf, numel, buf[numel]);
    return rc;
}

int gdx_fisher_allreduce(gd_fisher *f, MPI_Comm comm, int root, size_t chunk_bytes)
{
    const int rank = comm_rank(comm);
    int size = 0;
    mpi_check(MPI_Comm_size(comm, &size), comm, "MPI_Comm_size");
    if (gdx_mpi_agree(comm, check_arguments(root, chunk_bytes, comm, rank, size), NULL) != 0)
        return -1;
    if (gdx_fisher_check_same(f, comm, chunk_bytes) != 0)
        return -1;

    /* Same registrations everywhere, so n and every numel agree. */
    size_t n = 0;
    int failed = gd_fisher_count(f, &n) != GD_OK;
    const size_t max_numel = failed ? 0 : largest_tensor(f, n);
    double *buf = !failed && max_numel < SIZE_MAX / sizeof(double) - 1
                      ? malloc((max_numel + 1) * sizeof *buf)
                      : NULL;
    if (!failed && !buf)
        fprintf(stderr, "gdx_fisher: rank %d: out of memory for %zu sums\n", rank, max_numel);
    if (gdx_mpi_agree(comm, buf == NULL, NULL) != 0) {
        free(buf);
        return -1;
    }

    /* From here every rank makes the same calls whatever happens locally; a
     * local failure is remembered and agreed on at the end. */
    const int step = chunk_count(chunk_bytes, sizeof(double));
    const int stores = root < 0 || rank == root;
    failed = 0;
    for (size_t id = 0; id < n; id++) {
        const int rc = reduce_tensor(f, id, buf, root, rank, stores, comm, step);
        if (rc != GD_OK && !failed) {
            const char *name = NULL;
            if (gd_fisher_info(f, id, &name, NULL, NULL) != GD_OK)
                name = "?";
            fprintf(stderr, "gdx_fisher: rank %d: tensor '%s': %s (%s)%s\n", rank, name,
                    gd_strerror(rc), gd_error_name(rc),
                    rc == GD_EDOMAIN ? ": a total overflowed double" : "");
            failed = 1;
        }
    }
    free(buf);
    return gdx_mpi_agree(comm, failed, NULL);
}
