// QuickFIX 1.15.1 side of bench/validate_bench.c: the reference peer, never a
// product dependency. Plain C loops so the C side does all timing.
#include <quickfix/DataDictionary.h>
#include <quickfix/Message.h>

#include <string>

extern "C" {
void *rfx_qf_dict_load(const char *path);
void rfx_qf_dict_free(void *dd);
long rfx_qf_parse_dd_loop(void *dd, const char *msg, size_t len, long iters);
long rfx_qf_validate_loop(void *dd, const char *msg, size_t len, long iters);
}

void *rfx_qf_dict_load(const char *path)
{
	try {
		return new FIX::DataDictionary(path);
	} catch (const std::exception &) {
		return nullptr;
	}
}

void rfx_qf_dict_free(void *dd)
{
	delete static_cast<FIX::DataDictionary *>(dd);
}

// FIX::Message(string, dictionary, validate=true): BodyLength and CheckSum
// checked, fields split, repeating groups built from the dictionary (the parse
// QuickFIX does before it can validate a message with groups).
long rfx_qf_parse_dd_loop(void *dd, const char *msg, size_t len, long iters)
{
	const FIX::DataDictionary &d = *static_cast<FIX::DataDictionary *>(dd);
	long sink = 0;
	try {
		const std::string s(msg, len);
		for (long i = 0; i < iters; i++) {
			FIX::Message m(s, d, true);
			sink += (long)m.totalFields();
		}
	} catch (const std::exception &) {
		return -1;
	}
	return sink;
}

// DataDictionary::validate of a message parsed once (header, trailer and body
// with every check QuickFIX's defaults enable).
long rfx_qf_validate_loop(void *dd, const char *msg, size_t len, long iters)
{
	const FIX::DataDictionary &d = *static_cast<FIX::DataDictionary *>(dd);
	long sink = 0;
	try {
		const FIX::Message m(std::string(msg, len), d, true);
		for (long i = 0; i < iters; i++) {
			d.validate(m);
			sink++;
		}
	} catch (const std::exception &) {
		return -1;
	}
	return sink;
}
