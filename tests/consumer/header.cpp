// The public header must compile as C++ (-std=c++11 -pedantic -Werror):
// extern "C" linkage, no C-only syntax, no name clashes with C++.
#include <gdropout/gdropout.h>

static_assert(sizeof(gd_stream) == 3 * sizeof(uint64_t), "gd_stream is a frozen POD");

int main()
{
    const gd_stream s = {1, 2, 3};
    uint32_t r[4];
    int (*fn)(uint32_t *, size_t, const gd_stream *) = gd_random_u32;
    gd_fisher *f = nullptr;
    gd_plan *p = nullptr;
    (void)f;
    (void)p;
    (void)fn;
    (void)r;
    (void)s;
    return GD_OK;
}
