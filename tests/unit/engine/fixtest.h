/* Shared helpers for the engine tests: readable '|' for SOH, and an
 * independent (deliberately naive) message assembler as the test oracle. */
#ifndef RFX_TESTS_FIXTEST_H
#define RFX_TESTS_FIXTEST_H

#include <stdio.h>
#include <string.h>

/* Copies s to out replacing '|' with SOH; returns the length. */
static inline size_t soh(char *out, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] == '|' ? '\001' : s[i];
	out[n] = 0;
	return n;
}

/* "8=<bs>|9=<n>|<body>10=<sum>|" from a '|' body that starts at "35=". */
static inline size_t fixmsg(char *out, const char *bs, const char *body)
{
	char b[8192];
	size_t bl = soh(b, body);
	int n = sprintf(out, "8=%s\0019=%zu\001", bs, bl);
	memcpy(out + n, b, bl);
	n += (int)bl;
	unsigned sum = 0;
	for (int i = 0; i < n; i++)
		sum += (unsigned char)out[i];
	n += sprintf(out + n, "10=%03u\001", sum % 256);
	return (size_t)n;
}

#endif
