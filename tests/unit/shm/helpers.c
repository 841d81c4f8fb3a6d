#include "helpers.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int guarded_map(struct guarded *g, size_t size)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (size + pg - 1) / pg * pg;
	uint8_t *b;

	g->total = body + 2 * pg;
	b = mmap(NULL, g->total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return -1;
	if (mprotect(b, pg, PROT_NONE) || mprotect(b + pg + body, pg, PROT_NONE)) {
		munmap(b, g->total);
		return -1;
	}
	g->base = b;
	g->size = size;
	g->p = b + pg + body - size;
	return 0;
}

void guarded_unmap(struct guarded *g)
{
	if (g->base)
		munmap(g->base, g->total);
	g->base = NULL;
}

uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

void fill_record(void *dst, uint64_t seq, uint32_t len)
{
	uint8_t *d = dst;
	uint64_t x = mix64(seq);
	uint32_t i;
	uint64_t h;

	memcpy(d, &seq, 8);
	for (i = 8; i + 8 <= len - 8; i += 8) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		memcpy(d + i, &x, 8);
	}
	for (; i < len - 8; i++)
		d[i] = (uint8_t)(seq + i);
	h = hash_bytes(d + 8, len - 16);
	memcpy(d + len - 8, &h, 8);
}

int check_record(const void *src, uint64_t seq, uint32_t len)
{
	const uint8_t *s = src;
	uint64_t got, h;

	if (len < 16)
		return -1;
	memcpy(&got, s, 8);
	if (got != seq)
		return -1;
	memcpy(&h, s + len - 8, 8);
	return h == hash_bytes(s + 8, len - 16) ? 0 : -1;
}

uint64_t stress_records(uint64_t dflt)
{
	const char *e = getenv("RFX_STRESS_RECORDS");

	if (e && *e)
		return strtoull(e, NULL, 10);
	return sanitizer_scaled(dflt);
}

uint64_t sanitizer_scaled(uint64_t dflt)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return dflt / 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return dflt / 8;
#endif
#endif
	return dflt;
}

int kill_child(pid_t pid)
{
	int st = 0;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return st;
}

int wait_child(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) < 0)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
