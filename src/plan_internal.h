/* The gd_plan object, shared by plan.c (scores and rules) and plan_io.c. */
#ifndef GDROPOUT_PLAN_INTERNAL_H
#define GDROPOUT_PLAN_INTERNAL_H

#include "internal.h"

struct gd_plan {
    size_t n;
    char **names;  /* NULL means "" */
    float *scores; /* NaN = not set */
    float *probs;  /* valid when computed */
    size_t *order; /* scratch for the rank sort, allocated once at create */
    bool computed;
};

/* A site name a plan accepts: gd_name_ok without spaces, "" allowed, and
 * not "-" (which files use for "no name"). */
bool gd_plan_name_ok(const char *name);

#endif /* GDROPOUT_PLAN_INTERNAL_H */
