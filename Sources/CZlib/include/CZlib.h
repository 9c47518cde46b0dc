#ifndef CZLIB_H
#define CZLIB_H
#include <zlib.h>

// zlib's init functions are macros that pass the library version and struct size; Swift cannot call macros.
static inline int czlib_inflate_init2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}

static inline int czlib_deflate_init2(z_streamp strm, int level, int windowBits) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
#endif
