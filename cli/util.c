/* Small helpers shared by the ringfix subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "shm/segment.h"

void rfx_cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ringfix %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void rfx_cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

int rfx_cli_read_all(const char *path, char **out, size_t *len)
{
	FILE *f = stdin;
	size_t cap = 1 << 16, n = 0;
	char *buf, *nb;
	int rc = 0;

	if (path && strcmp(path, "-") != 0) {
		f = fopen(path, "rb");
		if (!f)
			return -errno;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
		if (n == cap) {
			nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (rc < 0) {
		free(buf);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
out:
	if (f != stdin)
		fclose(f);
	return rc;
}

int rfx_cli_each_session(const char *instance, bool (*fn)(void *ctx, const char *id), void *ctx)
{
	struct rfx_seg seg;
	int rc = rfx_seg_open_ro(&seg, instance, 0);
	if (rc < 0)
		return rc;
	uint32_t shards = seg.shard_count;
	rfx_seg_close(&seg);
	for (uint32_t sh = 0; sh < shards; sh++) {
		if ((rc = rfx_seg_open_ro(&seg, instance, sh)) < 0)
			return rc;
		for (uint32_t i = 0; i < seg.max_sessions; i++) {
			struct rfx_session_info info;
			int tries = 0;
			/* -EAGAIN: the shard is updating this entry; its seqlock
			 * settles within a few reads. */
			while ((rc = rfx_seg_dir_read(&seg, i, &info)) == -EAGAIN && tries++ < 1000)
				;
			if (rc < 0 || !info.id[0] || info.state == RFX_SESSION_UNUSED)
				continue;
			if (!fn(ctx, info.id)) {
				rfx_seg_close(&seg);
				return 0;
			}
		}
		rfx_seg_close(&seg);
	}
	return 0;
}
