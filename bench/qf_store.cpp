// C shim over QuickFIX's FileStore so the C benchmark can drive it.
#include "bench/qf_store.h"

#include <quickfix/FileStore.h>
#include <quickfix/SessionID.h>

#include <string>
#include <vector>

struct rfx_qf_store {
	FIX::FileStore fs;
	std::vector<std::string> out; // reused by get_range
	explicit rfx_qf_store(const char *dir)
		: fs(dir, FIX::SessionID("FIX.4.4", "SENDER", "TARGET")) {}
};

extern "C" struct rfx_qf_store *rfx_qf_store_new(const char *dir)
{
	try {
		return new rfx_qf_store(dir);
	} catch (...) {
		return nullptr;
	}
}

extern "C" int rfx_qf_store_set(struct rfx_qf_store *q, int seq, const char *msg, size_t len)
{
	try {
		// QuickFIX's API takes std::string: building it is part of its cost.
		return q->fs.set(seq, std::string(msg, len)) ? 0 : -1;
	} catch (...) {
		return -1;
	}
}

extern "C" long rfx_qf_store_get_range(struct rfx_qf_store *q, int begin, int end, size_t *bytes)
{
	try {
		size_t b = 0;
		q->fs.get(begin, end, q->out);
		for (const auto &m : q->out)
			b += m.size() + (unsigned char)m[0];
		*bytes = b;
		return (long)q->out.size();
	} catch (...) {
		return -1;
	}
}

extern "C" void rfx_qf_store_free(struct rfx_qf_store *q)
{
	delete q;
}
