/* A strategy built the way users build one: only <ringfix.h> and the shared
 * libringfix (its exported symbols), no internal header. Attaching to an
 * instance that does not exist must fail cleanly with -ENOENT. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ringfix.h>

int main(void)
{
	struct rfx_client *c = NULL;
	int rc = rfx_client_attach(&c, "no_such_instance_here", NULL);

	rfx_client_detach(c); /* NULL-safe */
	if (rc != -ENOENT) {
		fprintf(stderr, "ringfix_link: attach returned %d (%s)\n", rc, rfx_strerror(rc));
		return 1;
	}
	if (strcmp(rfx_strerror(RFX_ENOSLOT), "no free client slot") != 0)
		return 1;
	return 0;
}
