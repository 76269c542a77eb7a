/* glassnet's layer-network kernel (_layerkernel.c) as setup.py builds it for AVX-512 processors. */
#define LK_MODULE _layerkernel_avx512
#include "_layerkernel.c"
