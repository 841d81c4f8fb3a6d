/*
 * ringfix logout|logon|reset|disconnect and ringfix admin against real
 * ringfixd processes on loopback: a VENUE acceptor instance and a BANK
 * initiator instance, commands through the admin socket, results seen in both
 * instances' session directories (as ringfix status reads them).
 */
#include <sys/un.h>

#include "proc.h"
#include "shm/segment.h"

#define VENUE_ID "FIX.4.4:VENUE->BANK"
#define BANK_ID "FIX.4.4:BANK->VENUE"

struct env {
	char dir[256];
	char venue[32], bank[32];
	char venue_sock[300];
	char venue_log[300], bank_log[300];
	pid_t venue_pid, bank_pid;
	int port;
};

static struct env e;

static void start(void)
{
	const char *rd = bin("RINGFIXD");
	char path[512], cfg[2048];
	snprintf(e.dir, sizeof(e.dir), "%s/rfx-adm.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(e.dir));
	e.port = free_port();
	unsigned tag = (unsigned)getpid() * 7919u + (unsigned)now_ms();
	snprintf(e.venue, sizeof(e.venue), "adv%u", tag % 1000000u);
	snprintf(e.bank, sizeof(e.bank), "adb%u", tag % 1000000u);
	snprintf(e.venue_sock, sizeof(e.venue_sock), "%s/venue.sock", e.dir);

	char extra[400];
	snprintf(extra, sizeof(extra), "AdminSocket=%s\n", e.venue_sock);
	venue_settings(cfg, sizeof(cfg), e.port, e.venue, e.dir, extra);
	snprintf(path, sizeof(path), "%s/venue.cfg", e.dir);
	write_text(path, cfg);
	snprintf(e.venue_log, sizeof(e.venue_log), "%s/venue.log", e.dir);
	e.venue_pid = spawn(e.venue_log, (char *[]){(char *)rd, path, NULL});
	wait_log(e.venue_log, "serving", 10000);

	/* The bank uses the default socket path: the CLI finds it by name. */
	bank_settings(cfg, sizeof(cfg), e.port, e.bank, e.dir, "");
	snprintf(path, sizeof(path), "%s/bank.cfg", e.dir);
	write_text(path, cfg);
	snprintf(e.bank_log, sizeof(e.bank_log), "%s/bank.log", e.dir);
	e.bank_pid = spawn(e.bank_log, (char *[]){(char *)rd, path, NULL});
	wait_log(e.bank_log, "serving", 10000);
}

static void finish(void)
{
	cr_expect_eq(stop(e.bank_pid), 0, "bank ringfixd exit status");
	cr_expect_eq(stop(e.venue_pid), 0, "venue ringfixd exit status");
	remove_dir(e.dir);
}

/* Runs `ringfix ARGS...`; returns its exit status, output (both streams) in out. */
static int cli(char *out, size_t n, const char *const *args)
{
	const char *rf = bin("RINGFIX");
	char *argv[16];
	int pfd[2], k = 0, st;
	argv[k++] = (char *)rf;
	for (int i = 0; args[i] && k < 15; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execv(rf, argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0;
	ssize_t r;
	while ((r = read(pfd[0], out + len, n - 1 - len)) > 0 && len + (size_t)r < n - 1)
		len += (size_t)r;
	if (r > 0)
		len += (size_t)r;
	out[len] = 0;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define CLI(out, ...) cli(out, sizeof(out), (const char *const[]){__VA_ARGS__, NULL})

/* The directory entry of id in instance (shard 0). */
static bool dir_info(const char *instance, const char *id, struct rfx_session_info *info)
{
	struct rfx_seg seg;
	if (rfx_seg_open_ro(&seg, instance, 0) < 0)
		return false;
	int i = rfx_seg_dir_find(&seg, id);
	int rc = i < 0 ? -1 : rfx_seg_dir_read(&seg, (uint32_t)i, info);
	rfx_seg_close(&seg);
	return rc == 0;
}

static bool in_state(const char *instance, const char *id, uint32_t state)
{
	struct rfx_session_info info;
	return dir_info(instance, id, &info) && info.state == state;
}

static void wait_state(const char *instance, const char *id, uint32_t state, int ms)
{
	int64_t end = now_ms() + ms;
	while (!in_state(instance, id, state)) {
		cr_assert(now_ms() < end, "%s %s: not %s within %d ms", instance, id,
			  rfx_seg_state_name(&(struct rfx_session_info){.state = state}), ms);
		usleep(20000);
	}
}

/* id stays out of state for ms. */
static void stays_not(const char *instance, const char *id, uint32_t state, int ms)
{
	int64_t end = now_ms() + ms;
	while (now_ms() < end) {
		cr_assert(!in_state(instance, id, state), "%s %s: %s again", instance, id,
			  rfx_seg_state_name(&(struct rfx_session_info){.state = state}));
		usleep(20000);
	}
}

static void both_active(void)
{
	wait_state(e.bank, BANK_ID, RFX_SESSION_ACTIVE, 10000);
	wait_state(e.venue, VENUE_ID, RFX_SESSION_ACTIVE, 10000);
}

static void seqs(const char *instance, const char *id, uint64_t *out, uint64_t *in)
{
	struct rfx_session_info info;
	cr_assert(dir_info(instance, id, &info));
	*out = info.next_sender_seq;
	*in = info.next_target_seq;
}

/* The bank's shard process, from its segment header. */
static pid_t bank_shard_pid(void)
{
	struct rfx_seg seg;
	cr_assert_eq(rfx_seg_open_ro(&seg, e.bank, 0), 0);
	pid_t pid = (pid_t)atomic_load(&seg.hdr->shard_pid);
	rfx_seg_close(&seg);
	cr_assert_gt(pid, 0);
	return pid;
}

Test(admin, ping_and_sessions, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	both_active();
	cr_assert_eq(CLI(out, "admin", "ping", "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "pong RFXADM/1 instance") && strstr(out, e.bank), "%s", out);
	cr_assert_eq(CLI(out, "admin", "sessions", "--socket", e.venue_sock), 0, "%s", out);
	cr_assert(strstr(out, VENUE_ID) && strstr(out, "ACTIVE"), "%s", out);
	cr_assert(strstr(out, "1 session"), "%s", out);
	/* The directory's update stamp is monotonic like status's clock: a
	 * real age, not 0 (a wall-clock stamp always looked newer than now). */
	usleep(100000);
	cr_assert_eq(CLI(out, "status", "--instance", e.bank, "--json"), 0, "%s", out);
	const char *age = strstr(out, "\"updated_age_ns\":");
	cr_assert(age, "%s", out);
	long long ns = atoll(age + strlen("\"updated_age_ns\":"));
	cr_assert(ns > 0 && ns < 60000000000LL, "updated_age_ns %lld", ns);
}

Test(admin, logout_then_logon_initiator, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	both_active();
	cr_assert_eq(CLI(out, "logout", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "Logout sent"), "%s", out);
	wait_state(e.bank, BANK_ID, RFX_SESSION_DISCONNECTED, 5000);
	wait_state(e.venue, VENUE_ID, RFX_SESSION_DISCONNECTED, 5000);
	/* ReconnectInterval=1: a session merely disconnected would be back. */
	stays_not(e.bank, BANK_ID, RFX_SESSION_ACTIVE, 2500);
	cr_assert_eq(CLI(out, "logout", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "already logged out"), "%s", out);
	/* Both views say why it stays down. */
	cr_assert_eq(CLI(out, "status", "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, BANK_ID) && strstr(out, "HELD"), "%s", out);
	cr_assert_eq(CLI(out, "admin", "sessions", "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "HELD"), "%s", out);
	cr_assert_eq(CLI(out, "logon", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "connecting to 127.0.0.1"), "%s", out);
	both_active();
	cr_assert_eq(CLI(out, "logon", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "already logged on"), "%s", out);
	cr_assert_eq(CLI(out, "status", "--instance", e.bank), 0, "%s", out);
	cr_assert(!strstr(out, "HELD"), "%s", out);
}

Test(admin, logout_then_logon_acceptor, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	both_active();
	cr_assert_eq(CLI(out, "logout", VENUE_ID, "--socket", e.venue_sock), 0, "%s", out);
	wait_state(e.venue, VENUE_ID, RFX_SESSION_DISCONNECTED, 5000);
	/* The bank keeps trying; the venue refuses it. */
	wait_log(e.venue_log, "connection refused: session logged out by the operator", 5000);
	stays_not(e.bank, BANK_ID, RFX_SESSION_ACTIVE, 1500);
	cr_assert_eq(CLI(out, "logon", VENUE_ID, "--socket", e.venue_sock), 0, "%s", out);
	cr_assert(strstr(out, "waiting for the counterparty"), "%s", out);
	both_active();
}

Test(admin, reset_logged_on_resets_both_sides, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	uint64_t bo, bi, vo, vi;
	both_active();
	/* Two reconnects take the numbers up first. */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(CLI(out, "disconnect", BANK_ID, "--instance", e.bank), 0, "%s", out);
		wait_state(e.venue, VENUE_ID, RFX_SESSION_DISCONNECTED, 5000);
		both_active();
	}
	seqs(e.bank, BANK_ID, &bo, &bi);
	cr_assert_geq(bo, 3, "bank next out %llu", (unsigned long long)bo);
	cr_assert_eq(CLI(out, "reset", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "ResetSeqNumFlag=Y"), "%s", out);
	/* Both Logons of the exchange were number 1: everyone expects 2 next. */
	int64_t end = now_ms() + 5000;
	do {
		usleep(20000);
		seqs(e.bank, BANK_ID, &bo, &bi);
		seqs(e.venue, VENUE_ID, &vo, &vi);
	} while ((bo != 2 || bi != 2 || vo != 2 || vi != 2) && now_ms() < end);
	cr_assert(bo == 2 && bi == 2 && vo == 2 && vi == 2, "bank %llu/%llu venue %llu/%llu",
		  (unsigned long long)bo, (unsigned long long)bi, (unsigned long long)vo,
		  (unsigned long long)vi);
	cr_assert(in_state(e.bank, BANK_ID, RFX_SESSION_ACTIVE));
	cr_assert(in_state(e.venue, VENUE_ID, RFX_SESSION_ACTIVE));
}

Test(admin, reset_logged_out_initiator_logs_on_with_reset, .init = start, .fini = finish,
     .timeout = 60)
{
	char out[4096];
	uint64_t o, i;
	both_active();
	cr_assert_eq(CLI(out, "logout", BANK_ID, "--instance", e.bank), 0, "%s", out);
	wait_state(e.venue, VENUE_ID, RFX_SESSION_DISCONNECTED, 5000);
	cr_assert_eq(CLI(out, "reset", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "next Logon carries ResetSeqNumFlag=Y"), "%s", out);
	seqs(e.bank, BANK_ID, &o, &i);
	cr_assert(o == 1 && i == 1, "%llu/%llu", (unsigned long long)o, (unsigned long long)i);
	cr_assert_eq(CLI(out, "logon", BANK_ID, "--instance", e.bank), 0, "%s", out);
	both_active();
	seqs(e.venue, VENUE_ID, &o, &i);
	cr_assert(o == 2 && i == 2, "venue %llu/%llu", (unsigned long long)o, (unsigned long long)i);
}

Test(admin, disconnect_initiator_reconnects, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	both_active();
	cr_assert_eq(CLI(out, "disconnect", VENUE_ID, "--socket", e.venue_sock), 0, "%s", out);
	cr_assert(strstr(out, "disconnected"), "%s", out);
	wait_state(e.bank, BANK_ID, RFX_SESSION_DISCONNECTED, 5000);
	both_active();
	cr_assert_eq(CLI(out, "disconnect", BANK_ID, "--instance", e.bank), 0, "%s", out);
	cr_assert(strstr(out, "reconnecting in 1 s"), "%s", out);
	wait_state(e.venue, VENUE_ID, RFX_SESSION_DISCONNECTED, 5000);
	both_active();
	/* Nothing to drop: refused with the reason. */
	cr_assert_eq(CLI(out, "logout", VENUE_ID, "--socket", e.venue_sock), 0, "%s", out);
	wait_state(e.venue, VENUE_ID, RFX_SESSION_DISCONNECTED, 5000);
	stays_not(e.venue, VENUE_ID, RFX_SESSION_CONNECTING, 300);
	cr_assert_eq(CLI(out, "disconnect", VENUE_ID, "--socket", e.venue_sock), 1, "%s", out);
	cr_assert(strstr(out, "not connected"), "%s", out);
}

Test(admin, unknown_session_and_bad_arguments, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	cr_assert_eq(CLI(out, "logout", "FIX.4.4:NOBODY->VENUE", "--instance", e.bank), 1, "%s", out);
	cr_assert(strstr(out, "no session FIX.4.4:NOBODY->VENUE"), "%s", out);
	cr_assert_eq(CLI(out, "reset", "not-a-session", "--instance", e.bank), 2, "%s", out);
	cr_assert(strstr(out, "is not a session ID"), "%s", out);
	cr_assert_eq(CLI(out, "logon", "--instance", e.bank), 2, "%s", out);
	cr_assert(strstr(out, "missing SESSION"), "%s", out);
	cr_assert_eq(CLI(out, "admin", "frobnicate", "--instance", e.bank), 2, "%s", out);
	cr_assert_eq(CLI(out, "disconnect", "--help"), 0, "%s", out);
	cr_assert(strstr(out, "usage: ringfix disconnect SESSION"), "%s", out);
}

Test(admin, malformed_requests_on_the_socket, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096], buf[2048];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, e.venue_sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	const char req[] = "hello\nRFXADM/7 ping\nRFXADM/1 logout\nRFXADM/1 reset A->B\x01\n"
			   "RFXADM/1 ping\n";
	cr_assert_eq(send(fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	size_t len = 0;
	while (len < sizeof(buf) - 1 && !strstr(buf, "OK pong")) {
		ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		cr_assert_gt(r, 0, "answers so far: %s", buf);
		len += (size_t)r;
		buf[len] = 0;
	}
	cr_assert(strstr(buf, "ERR usage request must start with RFXADM/1\n"), "%s", buf);
	cr_assert(strstr(buf, "ERR version "), "%s", buf);
	cr_assert(strstr(buf, "ERR usage missing SESSION"), "%s", buf);
	cr_assert(strstr(buf, "ERR usage control or non-ASCII"), "%s", buf);
	/* An over-long line ends that connection; the engine serves on. */
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
	len = 0;
	ssize_t r;
	while ((r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	cr_assert(strstr(buf, "ERR toolong"), "%s", buf);
	close(fd);
	cr_assert_eq(CLI(out, "admin", "ping", "--socket", e.venue_sock), 0, "%s", out);
}

/* A shard that does not answer (stopped) gives a timeout, not a hang; it
 * serves commands again when it runs. */
Test(admin, hung_shard_times_out, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	both_active();
	pid_t shard = bank_shard_pid();
	cr_assert_eq(kill(shard, SIGSTOP), 0);
	int64_t t0 = now_ms();
	int rc = CLI(out, "disconnect", BANK_ID, "--instance", e.bank);
	int64_t took = now_ms() - t0;
	kill(shard, SIGCONT);
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "did not answer"), "%s", out);
	cr_assert_lt(took, 12000, "took %lld ms", (long long)took);
	/* The supervisor stayed responsive meanwhile and after. */
	cr_assert_eq(CLI(out, "admin", "ping", "--instance", e.bank), 0, "%s", out);
	both_active();
	cr_assert_eq(CLI(out, "logout", BANK_ID, "--instance", e.bank), 0, "%s", out);
}

Test(admin, engine_not_running, .timeout = 30)
{
	char out[4096];
	cr_assert_eq(CLI(out, "logout", BANK_ID, "--instance", "adnosuch"), 1, "%s", out);
	cr_assert(strstr(out, "instance 'adnosuch' is not running"), "%s", out);
	cr_assert_eq(CLI(out, "admin", "ping", "--socket", "/nonexistent/x.sock"), 1, "%s", out);
	cr_assert(strstr(out, "not running"), "%s", out);
	/* A stopped ringfixd removes its socket. */
	start();
	cr_assert_eq(CLI(out, "admin", "ping", "--socket", e.venue_sock), 0, "%s", out);
	cr_assert_eq(stop(e.venue_pid), 0);
	e.venue_pid = 0;
	cr_assert_eq(access(e.venue_sock, F_OK), -1, "socket left behind");
	cr_assert_eq(CLI(out, "admin", "ping", "--socket", e.venue_sock), 1, "%s", out);
	cr_assert(strstr(out, "not running"), "%s", out);
	finish();
}

/* A shard killed outright: while the supervisor waits to restart it (500 ms
 * backoff) a command fails at once with the reason; after the restart the
 * same command works. */
Test(admin, dead_shard_is_a_clear_error, .init = start, .fini = finish, .timeout = 60)
{
	char out[4096];
	both_active();
	cr_assert_eq(kill(bank_shard_pid(), SIGKILL), 0);
	wait_log(e.bank_log, "killed by signal 9", 5000);
	int64_t t0 = now_ms();
	int rc = CLI(out, "disconnect", BANK_ID, "--instance", e.bank);
	cr_assert_eq(rc, 1, "%s", out);
	cr_assert(strstr(out, "is not running (restarting)") || strstr(out, "is starting"), "%s",
		  out);
	cr_assert_lt(now_ms() - t0, 6000);
	wait_log(e.bank_log, "shard 0: restarted", 5000);
	both_active();
	cr_assert_eq(CLI(out, "disconnect", BANK_ID, "--instance", e.bank), 0, "%s", out);
}
