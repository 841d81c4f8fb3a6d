/*
 * C shim over a QuickFIX 1.15.1 initiator for rt_bench: the same strategy work
 * (send NewOrderSingle, take ExecutionReports) through FIX::SocketInitiator.
 */
#ifndef RFX_BENCH_RT_BENCH_QF_H
#define RFX_BENCH_RT_BENCH_QF_H

#ifdef __cplusplus
extern "C" {
#endif

struct rfx_qf_rt;

/* Called on QuickFIX's socket thread for each ExecutionReport, with its
 * ClOrdID(11) as a number and the number n of its OrderID(37) "O<n>" (-1
 * when absent or not in that form). */
typedef void (*rfx_qf_rt_cb)(void *ctx, long id, long order_id);

/* Start an initiator from the settings file `cfg` (one FIX.4.4 BANK->VENUE
 * session), FileStore when `file_store`, else MemoryStore. Waits up to
 * `timeout_ms` for the logon; NULL if it fails. The socket thread is created
 * by the calling thread and inherits its CPU affinity. */
struct rfx_qf_rt *rfx_qf_rt_start(const char *cfg, int file_store, rfx_qf_rt_cb cb, void *ctx,
				  int timeout_ms);
/* Send a NewOrderSingle with ClOrdID `id`, OrderQty `qty` and, when `text`
 * is not NULL, Text(58). 0 on success, -1 if QuickFIX refused it. */
int rfx_qf_rt_send(struct rfx_qf_rt *q, long id, long qty, const char *text);
void rfx_qf_rt_stop(struct rfx_qf_rt *q);

#ifdef __cplusplus
}
#endif
#endif
