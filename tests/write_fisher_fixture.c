/* Writes the small Fisher file the tool and Python tests read: exact sums,
 * so its scores do not depend on OpenBLAS.  Sites 0, 1 and 3 are fed, site
 * 2 is not, and one tensor is on no site.  With a second path, also the
 * file of gdropout-plan(1)'s site-naming examples (a common prefix cut at a
 * '.', none inside a part of a name, fc0). */
#include <gdropout/gdropout.h>

#include <stdio.h>

static int add(gd_fisher *f, const char *name, size_t site, const double *sums, size_t n,
               double weight)
{
    size_t id;
    int rc = gd_fisher_add_tensor(f, name, n, site, &id);
    return rc ? rc : gd_fisher_set_sums(f, id, sums, n, weight);
}

/* Sites 0-2 fed as in the manual page's naming examples. */
static int write_names(const char *path)
{
    static const double one[2] = {1, 1};
    gd_fisher *f = NULL;
    int rc = gd_fisher_create(&f);
    rc = rc ? rc : add(f, "encoder.layer.0.attention.query.weight", 0, one, 2, 1.0);
    rc = rc ? rc : add(f, "encoder.layer.0.attention.key.bias", 0, one, 2, 1.0);
    rc = rc ? rc : add(f, "fc1.weight", 1, one, 2, 2.0);
    rc = rc ? rc : add(f, "fc10.weight", 1, one, 2, 2.0);
    rc = rc ? rc : add(f, "fc0.weight", 2, one, 2, 4.0);
    rc = rc ? rc : add(f, "fc0.bias", 2, one, 2, 4.0);
    rc = rc ? rc : gd_fisher_save(f, path);
    gd_fisher_destroy(f);
    return rc;
}

int main(int argc, char **argv)
{
    static const double word[4] = {1, 2, 3, 4}, norm[2] = {1, 1}, q[4] = {8, 8, 8, 8},
                        qb[2] = {2, 2}, ffn[3] = {0.3, 0.3, 0.3}, pool[2] = {5, 5};
    gd_fisher *f = NULL;
    if (argc < 2 || argc > 3 || gd_fisher_create(&f) != GD_OK) {
        fprintf(stderr, "usage: write_fisher_fixture OUT.safetensors [NAMES.safetensors]\n");
        return 2;
    }
    int rc = add(f, "embeddings.word.weight", 0, word, 4, 1.0);
    rc = rc ? rc : add(f, "embeddings.norm.weight", 0, norm, 2, 2.0);
    rc = rc ? rc : add(f, "encoder.0.attn.q.weight", 1, q, 4, 1.0);
    rc = rc ? rc : add(f, "encoder.0.attn.q.bias", 1, qb, 2, 1.0);
    rc = rc ? rc : add(f, "encoder.0.ffn.weight", 3, ffn, 3, 1.0);
    rc = rc ? rc : add(f, "pooler.weight", GD_NONE, pool, 2, 1.0);
    rc = rc ? rc : gd_fisher_save(f, argv[1]);
    gd_fisher_destroy(f);
    if (rc == GD_OK && argc == 3)
        rc = write_names(argv[2]);
    if (rc)
        fprintf(stderr, "write_fisher_fixture: %s\n", gd_strerror(rc));
    return rc ? 1 : 0;
}
