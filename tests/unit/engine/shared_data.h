/* Test helper: where the conformance data (../shared next to the repository)
 * lives. Read at run time; tests skip with a message when it is absent. */
#ifndef RFX_TEST_SHARED_DATA_H
#define RFX_TEST_SHARED_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ../shared next to the source tree (RFX_SHARED_DIR overrides); NULL if absent. */
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
