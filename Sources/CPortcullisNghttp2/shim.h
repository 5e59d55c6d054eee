// Shim for the system libnghttp2. The API is plain functions; this header exists so version-gated calls
// (the *2 APIs of nghttp2 >= 1.61) can be wrapped here, named CPortcullisNghttp2_<original>.
#ifndef C_PORTCULLIS_NGHTTP2_SHIM_H
#define C_PORTCULLIS_NGHTTP2_SHIM_H

#include <nghttp2/nghttp2.h>

static inline const char *CPortcullisNghttp2_version_string(void) {
    return nghttp2_version(0)->version_str;
}

#endif
