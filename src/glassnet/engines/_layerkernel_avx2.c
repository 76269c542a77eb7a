/* glassnet's layer-network kernel (_layerkernel.c) as setup.py builds it for AVX2 processors. */
#define LK_MODULE _layerkernel_avx2
#include "_layerkernel.c"
