/* glassnet's kernel (_ckernel.c) as setup.py builds it for AVX-512 processors: -march=skylake-avx512. */
#define GLASSNET_MODULE _ckernel_avx512
#include "_ckernel.c"
