#ifndef ESTUARY_CZLIB_SHIM_H
#define ESTUARY_CZLIB_SHIM_H
#include <zlib.h>

/* deflateInit2 and inflateInit2 are function-like macros, which Swift cannot import. */
static inline int estuary_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
static inline int estuary_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
