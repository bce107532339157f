/* Versions and error messages. */
#include "internal.h"

unsigned gd_version(void)
{
    return GD_VERSION_NUMBER;
}

const char *gd_version_string(void)
{
    return GD_VERSION_STRING;
}

size_t gd_none(void)
{
    return GD_NONE;
}

const char *gd_strerror(int code)
{
    switch (code) {
    case GD_OK:
        return "success";
#define GD_ERROR_TEXT_(name, value, text) \
    case value:                           \
        return text;
        GD_ERROR_LIST(GD_ERROR_TEXT_)
#undef GD_ERROR_TEXT_
    default:
        return "unknown error";
    }
}

const char *gd_error_name(int code)
{
    switch (code) {
    case GD_OK:
        return "GD_OK";
#define GD_ERROR_NAME_(name, value, text) \
    case value:                           \
        return #name;
        GD_ERROR_LIST(GD_ERROR_NAME_)
#undef GD_ERROR_NAME_
    default:
        return "GD_EUNKNOWN";
    }
}
