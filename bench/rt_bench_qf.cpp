// QuickFIX side of rt_bench: a plain initiator application, as a QuickFIX
// user would write it (generic FIX::Message, sendToTarget, fromApp).
#include "bench/rt_bench_qf.h"

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

namespace {

class App : public FIX::Application {
public:
	rfx_qf_rt_cb cb;
	void *ctx;
	std::atomic<bool> logged_on{false};

	void onCreate(const FIX::SessionID &) override {}
	void onLogon(const FIX::SessionID &) override { logged_on = true; }
	void onLogout(const FIX::SessionID &) override { logged_on = false; }
	void toAdmin(FIX::Message &, const FIX::SessionID &) override {}
	void toApp(FIX::Message &, const FIX::SessionID &) throw(FIX::DoNotSend) override {}
	void fromAdmin(const FIX::Message &, const FIX::SessionID &)
		throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
		      FIX::RejectLogon) override
	{
	}
	void fromApp(const FIX::Message &m, const FIX::SessionID &)
		throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
		      FIX::UnsupportedMessageType) override
	{
		const std::string &id = m.getField(11);
		long oid = -1;
		if (m.isSetField(37)) {
			const std::string &o = m.getField(37);
			char *end = nullptr;
			if (o.size() > 1 && o[0] == 'O') {
				oid = std::strtol(o.c_str() + 1, &end, 10);
				if (*end)
					oid = -1;
			}
		}
		cb(ctx, std::strtol(id.c_str(), nullptr, 10), oid);
	}
};

} // namespace

struct rfx_qf_rt {
	App app;
	FIX::SessionSettings settings;
	std::unique_ptr<FIX::MessageStoreFactory> store;
	std::unique_ptr<FIX::SocketInitiator> init;
	FIX::SessionID sid{"FIX.4.4", "BANK", "VENUE"};
};

extern "C" struct rfx_qf_rt *rfx_qf_rt_start(const char *cfg, int file_store, rfx_qf_rt_cb cb,
					     void *ctx, int timeout_ms)
{
	rfx_qf_rt *q = nullptr;
	try {
		q = new rfx_qf_rt;
		q->app.cb = cb;
		q->app.ctx = ctx;
		q->settings = FIX::SessionSettings(cfg);
		if (file_store)
			q->store.reset(new FIX::FileStoreFactory(q->settings));
		else
			q->store.reset(new FIX::MemoryStoreFactory());
		q->init.reset(new FIX::SocketInitiator(q->app, *q->store, q->settings));
		q->init->start();
		for (int waited = 0; !q->app.logged_on; waited++) {
			if (waited >= timeout_ms) {
				rfx_qf_rt_stop(q);
				return nullptr;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		}
		return q;
	} catch (...) {
		delete q;
		return nullptr;
	}
}

extern "C" int rfx_qf_rt_send(struct rfx_qf_rt *q, long id, long qty, const char *text)
{
	try {
		FIX::Message m;
		m.getHeader().setField(35, "D");
		m.setField(11, std::to_string(id));
		m.setField(21, "1");
		m.setField(55, "ABC");
		m.setField(54, "1");
		m.setField(60, "20260101-00:00:00");
		m.setField(40, "2");
		m.setField(44, "101.25");
		m.setField(38, std::to_string(qty));
		if (text)
			m.setField(58, text);
		return FIX::Session::sendToTarget(m, q->sid) ? 0 : -1;
	} catch (...) {
		return -1;
	}
}

extern "C" void rfx_qf_rt_stop(struct rfx_qf_rt *q)
{
	if (!q)
		return;
	try {
		if (q->init)
			q->init->stop();
	} catch (...) {
	}
	delete q;
}
