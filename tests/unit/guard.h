/*
 * Test helper: place bytes so the last one sits right before a PROT_NONE page,
 * so a parser that reads one byte too far faults instead of passing silently.
 */
#ifndef RFX_TESTS_GUARD_H
#define RFX_TESTS_GUARD_H

#include <stddef.h>

struct guard {
	void *map;
	size_t maplen;
};

/* Copies len bytes of data to the end of a fresh read-write mapping followed by
 * a PROT_NONE page; returns the copy (NULL when mmap fails). Release with
 * guard_release(). len may be 0 (the result then points at the guard page). */
char *guard_place(struct guard *g, const void *data, size_t len);
void guard_release(struct guard *g);

#endif
