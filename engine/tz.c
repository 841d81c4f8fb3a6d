/*
 * TZif reader and offset lookup. Format: RFC 8536.
 */
#include "engine/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/civil.h"

void rfx_tz_utc(struct rfx_tz *tz)
{
	memset(tz, 0, sizeof(*tz));
	strcpy(tz->name, "UTC");
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ string (the TZif footer) */

static const char *tz_name(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p ? p + 1 : NULL;
	}
	const char *s = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; hours may reach 167 for rule times. */
static const char *tz_hms(const char *p, int32_t *out)
{
	int sign = 1;
	int32_t v[3] = {0, 0, 0};
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return i ? p : NULL;
		while (*p >= '0' && *p <= '9') {
			v[i] = v[i] * 10 + (*p++ - '0');
			if (v[i] > 1000)
				return NULL;
		}
		if (i < 2 && *p == ':')
			p++;
		else
			break;
	}
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	return p;
}

static const char *tz_rule(const char *p, struct rfx_tz_rule *r)
{
	int v[3] = {0, 0, 0};
	if (*p++ != 'M')
		return NULL; /* Jn / n forms: not used by the tz database footers */
	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			v[i] = v[i] * 10 + (*p++ - '0');
		if (i < 2 && *p++ != '.')
			return NULL;
	}
	if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] > 6)
		return NULL;
	r->month = (uint8_t)v[0];
	r->week = (uint8_t)v[1];
	r->wday = (uint8_t)v[2];
	r->secs = 7200;
	if (*p == '/') {
		p = tz_hms(p + 1, &r->secs);
		if (!p)
			return NULL;
	}
	return p;
}

static bool parse_footer(struct rfx_tz *tz, const char *s)
{
	int32_t off;
	const char *p = tz_name(s);
	if (!p || !(p = tz_hms(p, &off)))
		return false;
	tz->std_off = -off; /* POSIX offsets count west */
	if (!*p) {
		tz->dst_off = tz->std_off;
		tz->has_rule = true;
		tz->rule_dst = false;
		return true;
	}
	if (!(p = tz_name(p)))
		return false;
	tz->dst_off = tz->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = tz_hms(p, &off)))
			return false;
		tz->dst_off = -off;
	}
	if (*p++ != ',' || !(p = tz_rule(p, &tz->dst_start)) || *p++ != ',' ||
	    !(p = tz_rule(p, &tz->dst_end)) || *p)
		return false;
	tz->has_rule = true;
	tz->rule_dst = true;
	return true;
}

/* Local second (in the zone's standard or DST offset) a rule fires in year y. */
static int64_t rule_local(const struct rfx_tz_rule *r, int y)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t first = rfx_days_from_civil(y, r->month, 1);
	unsigned dim = mdays[r->month - 1];
	if (r->month == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		dim = 29;
	unsigned day = 1 + (unsigned)((r->wday - rfx_weekday(first) + 7) % 7) + (r->week - 1u) * 7;
	while (day > dim)
		day -= 7;
	return (first + day - 1) * 86400 + r->secs;
}

static int32_t rule_offset(const struct rfx_tz *tz, int64_t t)
{
	if (!tz->rule_dst)
		return tz->std_off;
	int y;
	unsigned m, d;
	rfx_civil_from_days(rfx_floor_div(t + tz->std_off, 86400), &y, &m, &d);
	int64_t start = rule_local(&tz->dst_start, y) - tz->std_off;
	int64_t end = rule_local(&tz->dst_end, y) - tz->dst_off;
	bool dst = start < end ? (t >= start && t < end) : (t >= start || t < end);
	return dst ? tz->dst_off : tz->std_off;
}

int32_t rfx_tz_offset(const struct rfx_tz *tz, int64_t t)
{
	if (!tz)
		return 0;
	if (tz->ntrans == 0 || t < tz->trans[0]) {
		if (tz->ntrans == 0 && tz->has_rule)
			return rule_offset(tz, t);
		return tz->before_off;
	}
	if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule)
		return rule_offset(tz, t);
	uint32_t lo = 0, hi = tz->ntrans; /* last transition <= t */
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->type_off[tz->trans_type[lo]];
}

int64_t rfx_tz_local_to_utc(const struct rfx_tz *tz, int64_t lt)
{
	/* Offsets change by at most a day; two refinements settle DST edges. */
	int64_t a = lt - rfx_tz_offset(tz, lt - 86400);
	int64_t b = lt - rfx_tz_offset(tz, lt + 86400);
	int64_t ua = lt - rfx_tz_offset(tz, a), ub = lt - rfx_tz_offset(tz, b);
	bool a_ok = ua + rfx_tz_offset(tz, ua) == lt, b_ok = ub + rfx_tz_offset(tz, ub) == lt;
	if (a_ok && b_ok)
		return ua < ub ? ua : ub;
	if (a_ok)
		return ua;
	if (b_ok)
		return ub;
	/* In a gap: read with the offset before the jump (mktime's choice). */
	return ua < ub ? ub : ua;
}

int rfx_tz_parse(struct rfx_tz *tz, const void *data, size_t len, const char *name)
{
	const unsigned char *p = data, *end = p + len;
	memset(tz, 0, sizeof(*tz));
	snprintf(tz->name, sizeof(tz->name), "%s", name ? name : "");
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -EINVAL;
	int version = p[4] ? p[4] - '0' : 1;
	int tsize = 4;
	for (int pass = 0;; pass++) {
		if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
			return -EINVAL;
		uint32_t isut = be32(p + 20), isstd = be32(p + 24), leap = be32(p + 28);
		uint32_t timecnt = be32(p + 32), typecnt = be32(p + 36), charcnt = be32(p + 40);
		if (typecnt == 0 || timecnt > 1000000 || typecnt > 256 || charcnt > 65536 ||
		    leap > 100000 || isut > 256 || isstd > 256)
			return -EINVAL;
		size_t need = (size_t)timecnt * (size_t)tsize + timecnt + typecnt * 6u + charcnt +
			      leap * (size_t)(tsize + 4) + isstd + isut;
		p += 44;
		if ((size_t)(end - p) < need)
			return -EINVAL;
		if (version >= 2 && pass == 0) { /* skip the 32-bit block */
			p += need;
			tsize = 8;
			continue;
		}
		if (timecnt > RFX_TZ_MAX_TRANS || typecnt > RFX_TZ_MAX_TYPES)
			return -E2BIG;
		const unsigned char *tt = p, *ti = p + (size_t)timecnt * (size_t)tsize;
		const unsigned char *ty = ti + timecnt;
		for (uint32_t i = 0; i < typecnt; i++) {
			int32_t off = (int32_t)be32(ty + 6 * i);
			if (off < -26 * 3600 || off > 26 * 3600)
				return -EINVAL;
			tz->type_off[i] = off;
		}
		for (uint32_t i = 0; i < timecnt; i++) {
			tz->trans[i] = tsize == 8 ? be64(tt + 8 * (size_t)i) : (int32_t)be32(tt + 4 * (size_t)i);
			if (ti[i] >= typecnt || (i && tz->trans[i] <= tz->trans[i - 1]))
				return -EINVAL;
			tz->trans_type[i] = ti[i];
		}
		tz->ntrans = timecnt;
		tz->ntypes = typecnt;
		tz->before_off = tz->type_off[0];
		p += need;
		break;
	}
	if (version >= 2 && end - p >= 2 && *p == '\n') {
		const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		char footer[128];
		if (nl && nl - p - 1 < (long)sizeof(footer)) {
			memcpy(footer, p + 1, (size_t)(nl - p - 1));
			footer[nl - p - 1] = 0;
			if (footer[0] && !parse_footer(tz, footer))
				tz->has_rule = false; /* keep the last transition's offset */
		}
	}
	if (!tz->has_rule && tz->ntrans) {
		tz->has_rule = true;
		tz->rule_dst = false;
		tz->std_off = tz->dst_off = tz->type_off[tz->trans_type[tz->ntrans - 1]];
	}
	return 0;
}

/* Reads and parses one TZif file (defined below). */
static int load_file(struct rfx_tz *tz, const char *path, const char *name);

int rfx_tz_load(struct rfx_tz *tz, const char *name)
{
	char path[512];
	const char *dir = getenv("TZDIR");
	if (!name || !name[0] || name[0] == '/' || strstr(name, "..") || strlen(name) > 200)
		return -EINVAL;
	if (strcmp(name, "UTC") == 0 || strcmp(name, "GMT") == 0) {
		rfx_tz_utc(tz);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", name);
	return load_file(tz, path, name);
}

int rfx_tz_load_local(struct rfx_tz *tz)
{
	const char *env = getenv("TZ");

	if (env && env[0]) {
		/* POSIX TZ rule strings ("EST5EDT") are not zone names; only a name
		 * that loads is taken, else fall through to /etc/localtime. */
		if (rfx_tz_load(tz, env[0] == ':' ? env + 1 : env) == 0)
			return 0;
	}
	if (access("/etc/localtime", R_OK) == 0)
		return load_file(tz, "/etc/localtime", "localtime");
	rfx_tz_utc(tz);
	return 0;
}

/* Reads and parses one TZif file; name labels it in errors and dumps. */
static int load_file(struct rfx_tz *tz, const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 1 << 17, len = 0;
	unsigned char *buf = malloc(cap);
	int rc = 0;
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			rc = -E2BIG;
			goto out;
		}
	}
	rc = rfx_tz_parse(tz, buf, len, name);
out:
	free(buf);
	close(fd);
	return rc;
}
