/*
 * libgdropout: common definitions (export macro, versions, error codes).
 * The version macros (GD_VERSION_*) are in <gdropout/version.h>, generated
 * by the build.
 *
 * Include <gdropout/gdropout.h> rather than this file directly.
 */
#ifndef GDROPOUT_COMMON_H
#define GDROPOUT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <gdropout/version.h>

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

/* A returned error code that is ignored is almost always a bug in the host,
 * so fallible functions warn when their result is dropped.  To discard one on
 * purpose, cast the call to void: (void)gd_plan_save(p, path);
 * GD_NODISCARD opens the declaration (GD_NODISCARD GD_API int ...), because
 * the attribute that honours the cast must come first:
 *   - gcc 11+ in C: C23's [[nodiscard]], accepted in C11 mode through
 *     __extension__; gcc's warn_unused_result ignores (void) casts;
 *   - clang: warn_unused_result, which honours (void) casts (clang 14 does
 *     not parse [[...]] before C2x);
 *   - C++17, and g++ in C++11/14: [[nodiscard]];
 *   - anything older: warn_unused_result where available, whose warning a
 *     (void) cast does not silence on gcc; assign the result instead. */
#if defined(__cplusplus) && __cplusplus >= 201703L
#define GD_NODISCARD [[nodiscard]]
#elif defined(__clang__)
#define GD_NODISCARD __attribute__((warn_unused_result))
#elif defined(__GNUC__) && defined(__cplusplus) && defined(__has_cpp_attribute)
#if __has_cpp_attribute(nodiscard)
#define GD_NODISCARD [[nodiscard]]
#endif
#elif defined(__GNUC__) && defined(__has_c_attribute)
#if __has_c_attribute(nodiscard)
#define GD_NODISCARD __extension__ [[nodiscard]]
#endif
#endif
#if !defined(GD_NODISCARD) && (defined(__GNUC__) || defined(__clang__))
#define GD_NODISCARD __attribute__((warn_unused_result))
#endif
#ifndef GD_NODISCARD
#define GD_NODISCARD
#endif

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
