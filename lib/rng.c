#include <math.h>

#include "xf.h"

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
xf_rng_mix(uint64_t x)
{
	return splitmix64(&x);
}

void
xf_rng_seed(struct xf_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
xf_rng_next(struct xf_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t
xf_rng_below(struct xf_rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = xf_rng_next(r);
	while (x >= limit);
	return x % n;
}

float
xf_rng_uniform(struct xf_rng *r)
{
	return (float)(xf_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

float
xf_rng_normal(struct xf_rng *r)
{
	/* u1 in (0, 1] so log is finite. */
	double u1 = ((xf_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
	double u2 = (xf_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);

	return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void
xf_rng_permute(struct xf_rng *r, uint32_t *perm, size_t n, int fill)
{
	if (fill)
		for (size_t i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = xf_rng_below(r, i);
		uint32_t t = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}
