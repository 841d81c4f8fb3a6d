/* Test helper: places bytes so the last one sits just before a PROT_NONE page,
 * so a parser that reads past the end faults instead of passing by luck. */
#ifndef RFX_TEST_GUARD_H
#define RFX_TEST_GUARD_H

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard_buf {
	void *map;
	size_t maplen;
	char *p;
};

static inline char *guard_copy(struct guard_buf *g, const char *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (len + page - 1) / page * page;

	if (data == 0)
		data = page;
	g->maplen = data + page;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(g->map != MAP_FAILED);
	cr_assert(mprotect((char *)g->map + data, page, PROT_NONE) == 0);
	g->p = (char *)g->map + data - len;
	memcpy(g->p, src, len);
	return g->p;
}

static inline void guard_free(struct guard_buf *g)
{
	munmap(g->map, g->maplen);
}

/* ../shared next to the repository (RFX_SHARED_DIR overrides); NULL if absent. */
static inline const char *shared_dir(void)
{
	static char buf[2048];
	const char *env = getenv("RFX_SHARED_DIR");

	if (env)
		snprintf(buf, sizeof(buf), "%s", env);
	else
		snprintf(buf, sizeof(buf), "%s/../shared", RFX_SOURCE_ROOT);
	return access(buf, R_OK) == 0 ? buf : NULL;
}

#endif
