// QuickFIX 1.15.1 over its own SSL transport: the reference peer of
// tests/integration/test_tls.c, never a product dependency.
//
//   qf_ssl_peer acceptor|initiator SETTINGS_FILE
//
// Runs a ThreadedSSLSocketAcceptor or ThreadedSSLSocketInitiator with an
// in-memory store, prints "logon SESSION" / "logout SESSION" lines as the
// sessions come and go, and stops cleanly on SIGTERM or SIGINT (exit 0).
// QuickFIX reads its SSL settings from the [DEFAULT] section.
#define HAVE_SSL 1
#include <quickfix/Application.h>
#include <quickfix/MessageStore.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSSLSocketAcceptor.h>
#include <quickfix/ThreadedSSLSocketInitiator.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

namespace {

struct PrintingApp : FIX::NullApplication {
	void onLogon(const FIX::SessionID &id) override
	{
		std::printf("logon %s\n", id.toString().c_str());
		std::fflush(stdout);
	}
	void onLogout(const FIX::SessionID &id) override
	{
		std::printf("logout %s\n", id.toString().c_str());
		std::fflush(stdout);
	}
};

} // namespace

int main(int argc, char **argv)
{
	if (argc != 3 || (std::strcmp(argv[1], "acceptor") && std::strcmp(argv[1], "initiator"))) {
		std::fprintf(stderr, "usage: qf_ssl_peer acceptor|initiator SETTINGS_FILE\n");
		return 2;
	}
	// Signals are taken with sigwait on this thread; QuickFIX's threads
	// inherit the mask.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	try {
		FIX::SessionSettings settings(argv[2]);
		PrintingApp app;
		FIX::MemoryStoreFactory store;
		std::unique_ptr<FIX::Acceptor> acc;
		std::unique_ptr<FIX::Initiator> ini;
		if (argv[1][0] == 'a') {
			acc.reset(new FIX::ThreadedSSLSocketAcceptor(app, store, settings));
			acc->start();
		} else {
			ini.reset(new FIX::ThreadedSSLSocketInitiator(app, store, settings));
			ini->start();
		}
		std::printf("started %s\n", argv[1]);
		std::fflush(stdout);
		int sig = 0;
		sigwait(&set, &sig);
		if (acc)
			acc->stop();
		if (ini)
			ini->stop();
	} catch (const std::exception &e) {
		std::fprintf(stderr, "qf_ssl_peer: %s\n", e.what());
		return 1;
	}
	return 0;
}
