// QuickFIX 1.15.1 side of bench/codec_bench.c: the reference peer, never a
// product dependency. Exposes plain C loops so the C side does all timing.
#include <quickfix/Message.h>

#include <string>

extern "C" {
long rfx_qf_parse_loop(const char *msg, size_t len, long iters);
long rfx_qf_serialize_loop(const char *msg, size_t len, long iters);
}

// Construct FIX::Message from the wire string without a data dictionary, with
// validation on (BodyLength and CheckSum are checked, as the ringfix side does).
// Every field is split into tag and value and stored in the message's maps.
long rfx_qf_parse_loop(const char *msg, size_t len, long iters)
{
	long sink = 0;
	try {
		const std::string s(msg, len);
		for (long i = 0; i < iters; i++) {
			FIX::Message m(s, true);
			sink += (long)m.getHeader().totalFields() + (long)m.totalFields();
		}
	} catch (const std::exception &) {
		return -1;
	}
	return sink;
}

// toString() of a message parsed once: QuickFIX recomputes BodyLength and
// CheckSum and concatenates every field. The output string is reused, which is
// QuickFIX's cheapest serialization path.
long rfx_qf_serialize_loop(const char *msg, size_t len, long iters)
{
	long sink = 0;
	try {
		const FIX::Message m(std::string(msg, len), true);
		std::string out;
		for (long i = 0; i < iters; i++) {
			m.toString(out);
			sink += (long)out.size();
		}
	} catch (const std::exception &) {
		return -1;
	}
	return sink;
}
