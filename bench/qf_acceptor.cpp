// qf_acceptor: a QuickFIX 1.15.1 acceptor for the benchmarks' peers.
//
//   qf_acceptor SETTINGS [N]
//
// Serves every session of SETTINGS with FileStore and no log, answers
// nothing beyond the session layer, prints "ready" once listening and runs
// until SIGTERM or SIGINT. With N, each session sends N NewOrderSingles
// (ClOrdID r0, r1, ...) right after its logon, for resend_bench.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/Fields.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>

namespace {

volatile std::sig_atomic_t stop_flag = 0;

void on_signal(int) { stop_flag = 1; }

// The session layer alone: every logon accepted, application messages
// ignored; optionally n orders sent after each logon.
class App : public FIX::NullApplication {
public:
	explicit App(long n) : n_(n) {}
	void onLogon(const FIX::SessionID &id) override
	{
		FIX::Session *s = FIX::Session::lookupSession(id);
		for (long i = 0; s && i < n_; i++) {
			FIX::Message m;
			m.getHeader().setField(FIX::MsgType("D"));
			m.setField(FIX::ClOrdID("r" + std::to_string(i)));
			m.setField(FIX::HandlInst('1'));
			m.setField(FIX::Symbol("ABC"));
			m.setField(FIX::Side('1'));
			m.setField(FIX::StringField(60, "20260101-00:00:00"));
			m.setField(FIX::OrdType('1'));
			m.setField(FIX::OrderQty(100));
			s->send(m);
		}
	}

private:
	long n_;
};

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		std::fprintf(stderr, "usage: qf_acceptor SETTINGS [N]\n");
		return 2;
	}
	std::signal(SIGTERM, on_signal);
	std::signal(SIGINT, on_signal);
	try {
		FIX::SessionSettings settings(argv[1]);
		App app(argc == 3 ? std::atol(argv[2]) : 0);
		FIX::FileStoreFactory store(settings);
		FIX::SocketAcceptor acceptor(app, store, settings);
		acceptor.start();
		std::printf("ready\n");
		std::fflush(stdout);
		while (!stop_flag)
			usleep(50000);
		acceptor.stop(true);
	} catch (std::exception &e) {
		std::fprintf(stderr, "qf_acceptor: %s\n", e.what());
		std::fflush(stderr);
		return 1;
	}
	return 0;
}
