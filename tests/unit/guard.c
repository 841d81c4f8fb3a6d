#include "guard.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *guard_place(struct guard *g, const void *data, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data_pages = (len + page - 1) / page;

	if (data_pages == 0)
		data_pages = 1;
	g->maplen = (data_pages + 1) * page;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		return NULL;
	}
	char *fence = (char *)g->map + data_pages * page;
	if (mprotect(fence, page, PROT_NONE) != 0) {
		guard_release(g);
		return NULL;
	}
	if (len)
		memcpy(fence - len, data, len);
	return fence - len;
}

void guard_release(struct guard *g)
{
	if (g->map)
		munmap(g->map, g->maplen);
	g->map = NULL;
}
