/*
 * Replays every file of a corpus directory through LLVMFuzzerTestOneInput(),
 * each placed against a PROT_NONE guard page. Used when no libFuzzer-capable
 * compiler is available, so the corpus still runs as an ordinary test.
 *
 *   fuzz_codec_replay DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t n;
	struct guard g;

	if (!f) {
		fprintf(stderr, "fuzz replay: cannot open %s\n", path);
		return -1;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	uint8_t *p = (uint8_t *)guard_place(&g, buf, n);
	if (!p) {
		fprintf(stderr, "fuzz replay: mmap failed\n");
		return -1;
	}
	LLVMFuzzerTestOneInput(p, n);
	/* Every prefix too: that is how bytes arrive from a socket. */
	for (size_t k = 0; k < n && k < 4096; k++) {
		struct guard gk;
		uint8_t *q = (uint8_t *)guard_place(&gk, buf, k);
		if (!q)
			return -1;
		LLVMFuzzerTestOneInput(q, k);
		guard_release(&gk);
	}
	guard_release(&g);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
		return 2;
	}
	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		struct dirent *e;
		if (!d) {
			fprintf(stderr, "fuzz replay: cannot open directory %s\n", argv[a]);
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
			failed += run_file(path) < 0;
			files++;
		}
		closedir(d);
	}
	printf("fuzz replay: %d files, %d unreadable\n", files, failed);
	return failed || files == 0 ? 1 : 0;
}
