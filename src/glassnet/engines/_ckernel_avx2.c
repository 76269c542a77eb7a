/* glassnet's kernel (_ckernel.c) as setup.py builds it for AVX2 processors: -march=haswell. */
#define GLASSNET_MODULE _ckernel_avx2
#include "_ckernel.c"
