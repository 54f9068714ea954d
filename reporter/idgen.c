/*
 * idgen.c - fast, well-seeded random trace and span ids for libmixd.
 *
 * Each thread owns a xoshiro256** generator in initial-exec TLS (safe in a
 * library loaded with dlopen, costs one %fs-relative load). A thread seeds
 * its generator the first time it asks for a number: 32 bytes from
 * getrandom(2) with GRND_NONBLOCK, XORed with a splitmix64 stream over the
 * clock, pid, a global counter and the state's address, so that a kernel
 * whose pool is not yet initialised still gives distinct seeds per thread
 * and never blocks the caller. A fork handler (registered once with
 * pthread_atfork) marks the forking thread's generator unseeded in the
 * child, the only thread the child has, so parent and child never share a
 * stream. If the handler cannot be registered, every call compares getpid()
 * with the pid seen at seeding instead (slower, still correct).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "mixd/tracecontext.h"

struct idgen_rng {
	uint64_t s[4];
	pid_t pid;      /* pid at seeding, used when check_pid */
	bool seeded;
	bool check_pid; /* pthread_atfork failed: detect fork by pid */
};

static _Thread_local struct idgen_rng tls_rng
	__attribute__((tls_model("initial-exec")));

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static atomic_bool atfork_failed;
static atomic_uint_fast64_t seed_counter;

static void idgen_on_fork_child(void)
{
	/* runs in the child, in the thread that called fork(): its state is
	 * the only one left in the process */
	tls_rng.seeded = false;
}

static void idgen_register_atfork(void)
{
	if (pthread_atfork(NULL, NULL, idgen_on_fork_child) != 0)
		atomic_store(&atfork_failed, true);
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void idgen_seed(struct idgen_rng *r)
{
	uint64_t kern[4] = { 0, 0, 0, 0 };
	size_t got = 0;
	int saved_errno = errno;
	struct timespec rt = { 0, 0 }, mono = { 0, 0 };
	uint64_t mix;

	(void)pthread_once(&atfork_once, idgen_register_atfork);
	r->check_pid = atomic_load(&atfork_failed);

	for (int tries = 0; got < sizeof kern && tries < 8; tries++) {
		ssize_t n = getrandom((char *)kern + got, sizeof kern - got,
				      GRND_NONBLOCK);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EINTR)
			break; /* EAGAIN (pool not ready), ENOSYS: fall back */
	}

	/* fallback entropy, mixed in even when getrandom succeeded */
	(void)clock_gettime(CLOCK_REALTIME, &rt);
	(void)clock_gettime(CLOCK_MONOTONIC, &mono);
	r->pid = getpid();
	mix = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	mix ^= ((uint64_t)mono.tv_nsec << 20) ^ (uint64_t)mono.tv_sec;
	mix ^= (uint64_t)(uintptr_t)r * 0x9e3779b97f4a7c15ull;
	mix ^= (uint64_t)r->pid << 40;
	mix ^= atomic_fetch_add(&seed_counter, 1) * 0xd1b54a32d192ed03ull;

	for (int i = 0; i < 4; i++)
		r->s[i] = kern[i] ^ splitmix64(&mix);
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1; /* xoshiro must not start from all zero */
	r->seeded = true;
	errno = saved_errno;
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

MIXD_API uint64_t mixd_random_u64(void)
{
	struct idgen_rng *r = &tls_rng;
	uint64_t out, t;

	if (!r->seeded || (r->check_pid && r->pid != getpid()))
		idgen_seed(r);

	/* xoshiro256** (Blackman and Vigna) */
	out = rotl64(r->s[1] * 5, 7) * 9;
	t = r->s[1] << 17;
	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl64(r->s[3], 45);
	return out;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

MIXD_API void mixd_random_ids(uint8_t *trace_id16, uint8_t *span_id8)
{
	if (trace_id16) {
		uint64_t hi, lo;
		do {
			hi = mixd_random_u64();
			lo = mixd_random_u64();
		} while ((hi | lo) == 0);
		put_be64(trace_id16, hi);
		put_be64(trace_id16 + 8, lo);
	}
	if (span_id8) {
		uint64_t s;
		do {
			s = mixd_random_u64();
		} while (s == 0);
		put_be64(span_id8, s);
	}
}
