#include <stdlib.h>

#include "xf.h"

/*
 * Debian's BLIS 0.9 does not recognise recent AVX-512 CPUs (under KVM it
 * cannot count their FMA units) and falls back to its AVX2 kernels at half
 * the speed.  Ask for its AVX-512 (skx) kernels when the CPU has every
 * extension they use and the user has not chosen.  BLIS reads the variable
 * at its first call.
 */
void
xf_blis_setup(void)
{
	__builtin_cpu_init();
	if (getenv("BLIS_ARCH_TYPE") == NULL &&
	    __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		setenv("BLIS_ARCH_TYPE", "skx", 0);
}
