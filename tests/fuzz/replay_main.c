/*
 * Corpus replay for libFuzzer targets when no fuzzer is available (gcc builds,
 * the sanitizer CI run): feeds every file of the given directories to
 * LLVMFuzzerTestOneInput, then deterministic mutations of each (line drops,
 * duplicates, swaps, digit changes) so the replay covers more than the seeds.
 *   fuzz_replay [-n MUTATIONS] DIR...
 * FUZZ_MUTATIONS in the environment overrides -n (longer local runs).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* One mutation of src into dst (cap bytes); returns the length. */
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
			if (op == 3 && i == a && lens[k]) { /* bump one digit */
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

int main(int argc, char **argv)
{
	long muts = 2000;
	int files = 0, runs = 0;
	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		muts = atol(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (getenv("FUZZ_MUTATIONS"))
		muts = atol(getenv("FUZZ_MUTATIONS"));
	for (int d = 1; d < argc; d++) {
		DIR *dir = opendir(argv[d]);
		struct dirent *e;
		if (!dir) {
			fprintf(stderr, "cannot open corpus %s\n", argv[d]);
			return 1;
		}
		while ((e = readdir(dir))) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[d], e->d_name);
			FILE *f = fopen(path, "rb");
			if (!f)
				continue;
			static char buf[65536], mut[65536];
			size_t n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
			files++;
			runs++;
			/* Mutations chain: each starts from the previous one. */
			memcpy(mut, buf, n);
			size_t mn = n;
			for (long i = 0; i < muts; i++) {
				static char tmp[65536];
				size_t tn = mutate(i % 8 ? mut : buf, i % 8 ? mn : n, tmp, sizeof(tmp));
				LLVMFuzzerTestOneInput((const uint8_t *)tmp, tn);
				memcpy(mut, tmp, tn);
				mn = tn;
				runs++;
			}
		}
		closedir(dir);
	}
	printf("%d corpus files, %d inputs replayed, no crash\n", files, runs);
	return files ? 0 : 1;
}
