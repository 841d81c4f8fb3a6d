/*
 * Test helper for tests/cli/test_config.py: loads a settings file with
 * engine/settings and prints the Password of its first session, proving that
 * what `ringfix config encrypt` wrote is what the engine decrypts.
 *
 *   cli_settings_probe FILE
 */
#include <stdio.h>

#include "engine/error.h"
#include "engine/settings.h"

int main(int argc, char **argv)
{
	struct rfx_settings_error err;
	struct rfx_settings *s;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: cli_settings_probe FILE\n");
		return 2;
	}
	rc = rfx_settings_load(argv[1], &s, &err);
	if (rc < 0) {
		fprintf(stderr, "cli_settings_probe: %s\n", err.text[0] ? err.text : rfx_strerror(rc));
		return 1;
	}
	if (s->nsessions == 0) {
		fprintf(stderr, "cli_settings_probe: %s: no session\n", argv[1]);
		rfx_settings_free(s);
		return 1;
	}
	printf("%s\n", s->sessions[0].password);
	rfx_settings_free(s);
	return 0;
}
