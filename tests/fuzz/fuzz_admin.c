/*
 * Fuzz target: ringfixd's admin request parser (cli/admin.h). The input is a
 * stream as a client might send it; each LF-terminated line (and the rest) is
 * parsed, and every outcome must be one the protocol allows: a known verb with
 * a printable, bounded SESSION exactly when the verb takes one, or an error
 * with one of the documented codes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const codes[] = {"usage", "version", "toolong"};

static void check(const char *line, size_t len)
{
	struct rfx_admin_req req;
	struct rfx_admin_error err = {0};
	if (rfx_admin_parse(line, len, &req, &err) < 0) {
		int known = 0;
		for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			known |= err.code && strcmp(err.code, codes[i]) == 0;
		if (!known || !err.text || !err.text[0])
			abort();
		return;
	}
	const char *name = rfx_admin_verb_name(req.verb);
	size_t sl = strnlen(req.session, sizeof(req.session));
	if (!name || sl == sizeof(req.session))
		abort();
	int takes = req.verb != RFX_ADMIN_PING && req.verb != RFX_ADMIN_SESSIONS;
	if (takes != (sl > 0))
		abort();
	for (size_t i = 0; i < sl; i++)
		if (req.session[i] <= ' ' || req.session[i] > '~')
			abort();
	/* The accepted line is exactly "RFXADM/1 verb[ session][\r]". */
	size_t want = strlen(RFX_ADMIN_VERSION) + 1 + strlen(name) + (takes ? 1 + sl : 0);
	if (len != want && !(len == want + 1 && line[len - 1] == '\r'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t start = 0;
	for (size_t i = 0; i < size; i++)
		if (p[i] == '\n') {
			check(p + start, i - start);
			start = i + 1;
		}
	check(p + start, size - start);
	return 0;
}
