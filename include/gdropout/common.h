/*
 * libgdropout: common definitions (export macro, versions, error codes).
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 */
#ifndef GDROPOUT_COMMON_H
#define GDROPOUT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every public symbol is declared with GD_API; everything else in the shared
 * object has hidden visibility, and lib/gdropout.map versions what is left. */
#if defined(_WIN32) && defined(GD_BUILDING_DLL)
#define GD_API __declspec(dllexport)
#elif defined(_WIN32) && defined(GD_USING_DLL)
#define GD_API __declspec(dllimport)
#elif defined(__GNUC__) || defined(__clang__)
#define GD_API __attribute__((visibility("default")))
#else
#define GD_API
#endif

/* A returned error code that is ignored is almost always a bug in the host. */
#if defined(__GNUC__) || defined(__clang__)
#define GD_NODISCARD __attribute__((warn_unused_result))
#else
#define GD_NODISCARD
#endif

/* Compile-time version of the header.  Compare with gd_version() at run time
 * to detect a header/library mismatch. */
#define GD_VERSION_MAJOR 1
#define GD_VERSION_MINOR 0
#define GD_VERSION_PATCH 0
#define GD_VERSION_NUMBER \
    ((GD_VERSION_MAJOR << 16) | (GD_VERSION_MINOR << 8) | GD_VERSION_PATCH)
#define GD_VERSION_STRING "1.0.0"

/* Error codes.  Every fallible function returns GD_OK or one of these
 * negative values, and on error leaves every output untouched.  The numbers
 * are part of the ABI and never change meaning. */
#define GD_ERROR_LIST(X)                                                        \
    X(GD_EINVAL, -1, "invalid argument (NULL pointer, bad flag or empty size)") \
    X(GD_EDOMAIN, -2, "value out of its domain (NaN or Inf, negative, p outside [0,1] or "    \
                      "p_min > p_max, or too large to keep: see the function)")              \
    X(GD_EOVERFLOW, -3, "size arithmetic overflows size_t")                     \
    X(GD_ESHAPE, -4, "sizes do not match")                                      \
    X(GD_ENOTFOUND, -5, "unknown tensor, site or id")                           \
    X(GD_EEXIST, -6, "name already registered")                                 \
    X(GD_ENOMEM, -7, "out of memory")                                           \
    X(GD_EIO, -8, "file could not be opened, read or written")                 \
    X(GD_EFORMAT, -9, "file is corrupt or not in the expected format")         \
    X(GD_ESTATE, -10, "object is not in a state that allows this call")

enum {
    GD_OK = 0,
#define GD_ERROR_ENUM_(name, value, text) name = value,
    GD_ERROR_LIST(GD_ERROR_ENUM_)
#undef GD_ERROR_ENUM_
    GD_ERROR_LAST_ = -10
};

/* "No tensor", e.g. a dense layer without a bias.  gd_none() returns the same
 * value for bindings that cannot read macros. */
#define GD_NONE ((size_t)-1)

/* Library version as (major << 16 | minor << 8 | patch).  Thread-safe. */
GD_API unsigned gd_version(void);

/* Library version as "major.minor.patch"; a static string.  Thread-safe. */
GD_API const char *gd_version_string(void);

/* A static English message for an error code; never NULL (unknown codes give
 * "unknown error").  Thread-safe. */
GD_API const char *gd_strerror(int code);

/* The code's symbolic name ("GD_EINVAL"; "GD_OK" for 0; "GD_EUNKNOWN" for
 * anything else); never NULL.  Thread-safe. */
GD_API const char *gd_error_name(int code);

/* GD_NONE at run time.  Thread-safe. */
GD_API size_t gd_none(void);

#ifdef __cplusplus
}
#endif

#endif /* GDROPOUT_COMMON_H */
