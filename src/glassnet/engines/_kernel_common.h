/* What both compiled kernels (_ckernel.c, _layerkernel.c) end with: the processor check, the
 * build's description and the empty Python module that lets setuptools build the file.
 *
 * The including file defines
 *   KERNEL_CPU_OK   the exported name of the processor check
 *   KERNEL_INFO     the exported name of the build's description
 *   KERNEL_MODULE   the extension's module name (each variant build sets its own)
 *   KERNEL_DOC      the module's docstring
 */

/* Whether this processor has the instructions this build was compiled for.  setup.py builds
 * each kernel three times (AVX-512, AVX2, portable) and engines/ loads the first build whose
 * check passes; the check itself is compiled for the baseline x86-64, so that asking never
 * executes an instruction the processor lacks. */
#if defined(__x86_64__)
__attribute__((target("arch=x86-64")))
#endif
int64_t KERNEL_CPU_OK(void)
{
#if defined(__x86_64__) && (defined(__AVX2__) || defined(__AVX512F__))
    __builtin_cpu_init();
    int64_t ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#if defined(__AVX512F__)
    ok = ok && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
         && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    return ok;
#else
    return 1;
#endif
}

/* What the build was compiled for, for the engines' and benchmarks' reports. */
const char *KERNEL_INFO(void)
{
#if defined(__AVX512F__)
    return "C, AVX-512";
#elif defined(__AVX2__)
    return "C, AVX2";
#else
    return "C, portable vectors";
#endif
}

#ifndef GLASSNET_NO_PYTHON
/* An importable (empty) module, so that setuptools builds and installs the file like any
 * extension; engines/ finds the file and loads it with ctypes, without importing it. */
#define KERNEL_JOIN2(a, b) a##b
#define KERNEL_JOIN(a, b) KERNEL_JOIN2(a, b)
#define KERNEL_TEXT2(a) #a
#define KERNEL_TEXT(a) KERNEL_TEXT2(a)
static struct PyModuleDef kernel_module = {PyModuleDef_HEAD_INIT, KERNEL_TEXT(KERNEL_MODULE), KERNEL_DOC, -1,
                                           NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC KERNEL_JOIN(PyInit_, KERNEL_MODULE)(void)
{
    return PyModule_Create(&kernel_module);
}
#endif
