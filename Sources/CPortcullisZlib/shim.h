// Shim for the system zlib: deflateInit2/inflateInit2 are macros, so they are wrapped here.
#ifndef C_PORTCULLIS_ZLIB_SHIM_H
#define C_PORTCULLIS_ZLIB_SHIM_H

#include <zlib.h>

static inline int CPortcullisZlib_deflateInit2(z_streamp strm, int level, int method, int windowBits,
                                               int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}
static inline int CPortcullisZlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
static inline const char *CPortcullisZlib_version(void) { return zlibVersion(); }

#endif
