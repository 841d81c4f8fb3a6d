// QuickFIX 1.15.1 side of bench/session_bench.c: the reference peer, never a
// product dependency. A FIX.4.4 acceptor Session (ISLD <- TW) with a null
// store, no log, fed the same wire bytes; with a dictionary path, validating
// against it (UseDataDictionary=Y) as ringfix's inbound+dict workload does.
#include <quickfix/Application.h>
#include <quickfix/DataDictionaryProvider.h>
#include <quickfix/NullStore.h>
#include <quickfix/Responder.h>
#include <quickfix/Session.h>
#include <quickfix/SessionID.h>
#include <quickfix/TimeRange.h>
#include <quickfix/fix44/NewOrderSingle.h>

#include <chrono>
#include <string>

extern "C" {
double rfx_qf_session_inbound(const char *logon, size_t logon_len, char **wire,
			      const size_t *lens, long n, const char *dict_path);
double rfx_qf_session_outbound(const char *logon, size_t logon_len, long n);
}

namespace {

struct CountingApp : FIX::NullApplication {
	long received = 0;
	void fromApp(const FIX::Message &, const FIX::SessionID &)
		throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
		      FIX::UnsupportedMessageType) override
	{
		received++;
	}
};

struct CountingResponder : FIX::Responder {
	long bytes = 0;
	bool send(const std::string &s) override
	{
		bytes += (long)s.size();
		return true;
	}
	void disconnect() override {}
};

struct Rig {
	CountingApp app;
	FIX::NullStoreFactory store;
	FIX::SessionID id{"FIX.4.4", "ISLD", "TW"};
	FIX::DataDictionaryProvider dicts;
	FIX::TimeRange range{FIX::UtcTimeOnly(0, 0, 0), FIX::UtcTimeOnly(0, 0, 0)};
	CountingResponder responder;
	FIX::Session session;

	explicit Rig(const char *dict_path)
		: dicts(with_dict(dict_path)), session(app, store, id, dicts, range, 0, nullptr)
	{
	}

	// What SessionFactory builds for DataDictionary=path on a FIX.4.x session.
	static FIX::DataDictionaryProvider with_dict(const char *path)
	{
		FIX::DataDictionaryProvider p;
		if (path) {
			std::shared_ptr<FIX::DataDictionary> dd(new FIX::DataDictionary(path));
			p.addTransportDataDictionary(FIX::BeginString("FIX.4.4"), dd);
			p.addApplicationDataDictionary(FIX::Message::toApplVerID(FIX::BeginString("FIX.4.4")), dd);
		}
		return p;
	}

	bool logon(const char *msg, size_t len)
	{
		session.setCheckLatency(false);
		session.setResponder(&responder);
		session.next(std::string(msg, len), FIX::UtcTimeStamp());
		return session.isLoggedOn();
	}
};

double elapsed_ns(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
		.count();
}

} // namespace

double rfx_qf_session_inbound(const char *logon, size_t logon_len, char **wire,
			      const size_t *lens, long n, const char *dict_path)
{
	try {
		Rig rig(dict_path);
		if (!rig.logon(logon, logon_len))
			return -1;
		// Strings built outside the timed loop: the socket reader hands
		// QuickFIX a std::string too.
		std::vector<std::string> msgs;
		msgs.reserve((size_t)n);
		for (long i = 0; i < n; i++)
			msgs.emplace_back(wire[i], lens[i]);
		FIX::UtcTimeStamp ts;
		auto t0 = std::chrono::steady_clock::now();
		for (long i = 0; i < n; i++)
			rig.session.next(msgs[(size_t)i], ts);
		double t = elapsed_ns(t0);
		if (rig.app.received != n)
			return -1;
		return t;
	} catch (const std::exception &) {
		return -1;
	}
}

double rfx_qf_session_outbound(const char *logon, size_t logon_len, long n)
{
	try {
		Rig rig(nullptr);
		if (!rig.logon(logon, logon_len))
			return -1;
		FIX44::NewOrderSingle order;
		order.setField(FIX::ClOrdID("ORD-000012345"));
		order.setField(FIX::Account("ACCT-7"));
		order.setField(FIX::HandlInst('1'));
		order.setField(FIX::Symbol("AAPL"));
		order.setField(FIX::Side(FIX::Side_BUY));
		order.setField(FIX::TransactTime(FIX::UtcTimeStamp(), 3));
		order.setField(FIX::OrderQty(100));
		order.setField(FIX::OrdType(FIX::OrdType_LIMIT));
		order.setField(FIX::Price(187.25));
		order.setField(FIX::TimeInForce(FIX::TimeInForce_DAY));
		auto t0 = std::chrono::steady_clock::now();
		for (long i = 0; i < n; i++)
			if (!rig.session.send(order))
				return -1;
		return elapsed_ns(t0);
	} catch (const std::exception &) {
		return -1;
	}
}
