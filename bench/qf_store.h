/* Tiny C shim over QuickFIX 1.15.1's FIX::FileStore (reference peer only). */
#ifndef RFX_BENCH_QF_STORE_H
#define RFX_BENCH_QF_STORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rfx_qf_store;

/* FileStore for session FIX.4.4:SENDER->TARGET under dir; NULL on failure. */
struct rfx_qf_store *rfx_qf_store_new(const char *dir);
/* FileStore::set; 0 or -1 (IOException). */
int rfx_qf_store_set(struct rfx_qf_store *q, int seq, const char *msg, size_t len);
/* FileStore::get(begin, end, vector<string>): number of messages, bytes in
 * *bytes; -1 on error. */
long rfx_qf_store_get_range(struct rfx_qf_store *q, int begin, int end, size_t *bytes);
void rfx_qf_store_free(struct rfx_qf_store *q);

#ifdef __cplusplus
}
#endif

#endif
