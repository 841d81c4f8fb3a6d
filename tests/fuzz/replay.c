/*
 * Corpus replay for the libFuzzer targets when no fuzzer is built (gcc, the
 * sanitizer CI run): feeds inputs to LLVMFuzzerTestOneInput() as an ordinary
 * test. Every input sits right before a PROT_NONE guard page, so an over-read
 * faults instead of passing silently.
 *
 *   fuzz_replay [--prefixes] [-n MUTATIONS] DIR|FILE...
 *
 * --prefixes     also every prefix of each input up to 4 KiB (bytes arrive
 *                from a socket in pieces; for parsers)
 * -n MUTATIONS   also that many deterministic line-level mutations of each
 *                input (drop, swap, duplicate a line, change a digit; for
 *                line-oriented inputs such as the session scripts);
 *                FUZZ_MUTATIONS in the environment overrides it
 *
 * Exit status: 0 when every input ran (a crash or a sanitizer report fails the
 * test on its own), 1 when an input cannot be read or none was found, 2 usage.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1u << 20)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static long runs;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Runs one input from a guard-page copy. */
static int run(const void *data, size_t n)
{
	struct guard g;
	const uint8_t *p = (const uint8_t *)guard_place(&g, data, n);

	if (!p) {
		fprintf(stderr, "fuzz replay: mmap failed\n");
		return -1;
	}
	LLVMFuzzerTestOneInput(p, n);
	guard_release(&g);
	runs++;
	return 0;
}

/* One line-level mutation of src into dst (cap bytes); returns its length. */
static size_t mutate(const char *src, size_t n, char *dst, size_t cap)
{
	const char *lines[256];
	size_t lens[256], nl = 0, o = 0;

	for (size_t i = 0; i < n && nl < 256;) {
		const char *e = memchr(src + i, '\n', n - i);
		size_t l = e ? (size_t)(e - (src + i)) : n - i;
		lines[nl] = src + i;
		lens[nl++] = l;
		i += l + 1;
	}
	if (!nl)
		return 0;
	size_t a = next_rand() % nl, b = next_rand() % nl;
	unsigned op = (unsigned)(next_rand() % 4);
	for (size_t i = 0; i < nl; i++) {
		size_t k = i;
		if (op == 0 && i == a)
			continue;                       /* drop */
		if (op == 1 && (i == a || i == b))
			k = i == a ? b : a;             /* swap */
		for (int rep = 0; rep < (op == 2 && i == a ? 2 : 1); rep++) { /* dup */
			if (o + lens[k] + 1 > cap)
				return o;
			memcpy(dst + o, lines[k], lens[k]);
			if (op == 3 && i == a && lens[k]) { /* change one digit */
				size_t at = next_rand() % lens[k];
				for (size_t j = 0; j < lens[k]; j++, at = (at + 1) % lens[k])
					if (dst[o + at] >= '0' && dst[o + at] <= '9') {
						dst[o + at] = (char)('0' + next_rand() % 10);
						break;
					}
			}
			o += lens[k];
			dst[o++] = '\n';
		}
	}
	return o;
}

static int run_file(const char *path, int prefixes, long mutations)
{
	static char buf[REPLAY_MAX_INPUT], mut[REPLAY_MAX_INPUT], tmp[REPLAY_MAX_INPUT];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "fuzz replay: cannot open %s\n", path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (run(buf, n) < 0)
		return -1;
	for (size_t k = 0; prefixes && k < n && k < 4096; k++)
		if (run(buf, k) < 0)
			return -1;
	/* Mutations chain (each from the previous), restarting from the seed
	 * every eighth so they do not drift too far from it. */
	memcpy(mut, buf, n);
	size_t mn = n;
	for (long i = 0; i < mutations; i++) {
		size_t tn = mutate(i % 8 ? mut : buf, i % 8 ? mn : n, tmp, sizeof(tmp));
		if (run(tmp, tn) < 0)
			return -1;
		memcpy(mut, tmp, tn);
		mn = tn;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int prefixes = 0, files = 0, failed = 0, a = 1;
	long mutations = 0;

	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "--prefixes") == 0) {
			prefixes = 1;
		} else if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
			mutations = atol(argv[++a]);
		} else {
			fprintf(stderr, "usage: %s [--prefixes] [-n MUTATIONS] DIR|FILE...\n", argv[0]);
			return 2;
		}
	}
	if (getenv("FUZZ_MUTATIONS"))
		mutations = atol(getenv("FUZZ_MUTATIONS"));
	for (; a < argc; a++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[a], &st) < 0) {
			fprintf(stderr, "fuzz replay: cannot find %s\n", argv[a]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[a], prefixes, mutations) < 0;
			files++;
			continue;
		}
		if (!(d = opendir(argv[a]))) {
			fprintf(stderr, "fuzz replay: cannot open directory %s\n", argv[a]);
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
			failed += run_file(path, prefixes, mutations) < 0;
			files++;
		}
		closedir(d);
	}
	printf("fuzz replay: %d files, %ld inputs, %d unreadable\n", files, runs, failed);
	return failed || files == 0 ? 1 : 0;
}
