/*
 * ringfixd SETTINGS_FILE — the supervisor, in the foreground.
 *
 * Validates the settings (exit 2 with file:line: key: reason), runs the
 * store's rescale migration, forks one worker per shard (pinned to its
 * ShardCpus entry, PR_SET_PDEATHSIG so no shard outlives us, mlockall where
 * the memory-lock limit allows), restarts a worker that dies with
 * exponential backoff, and gives up (exit 1) when workers crash in a loop.
 * SIGTERM or SIGINT: forward SIGTERM to the shards (each logs its sessions
 * out), wait for them, exit 0. One line per event on stderr.
 *
 * The admin socket (cli/admin.h) serves the ringfix CLI from the same loop:
 * ppoll() on the socket and its connections with the signals unblocked only
 * inside the wait, so a signal never slips in between check and sleep.
 * Session commands go to the owning shard through its segment's mailbox
 * (shm/mailbox.h) and are answered when the shard has run them; the loop
 * polls for the answer with a short timeout meanwhile and never blocks on a
 * shard or a client.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin_server.h"
#include "engine/error.h"
#include "engine/settings.h"
#include "shard/worker.h"
#include "shm/segment.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define CRASH_WINDOW_S 60      /* crash-loop cap: this many restarts ... */
#define CRASH_MAX 5            /* ... within this window ends the supervisor */
#define STOP_WAIT_S 15         /* shards get this long to log out */
#define ADMIN_CMD_MS 5000      /* a shard must answer a command within this */
#define ADMIN_MAX_WAIT (RFX_ADMIN_MAX_CLIENTS) /* one request per connection */

struct shard {
	pid_t pid;
	int64_t restart_at;     /* ms, monotonic; 0 = none due */
	unsigned backoff_ms;
	int64_t crashes[CRASH_MAX];
	unsigned ncrash;
	int64_t started;
};

/* A session command on its way to a shard's mailbox and back. */
struct admin_cmd {
	struct rfx_admin_client *c;   /* NULL: entry free */
	enum rfx_admin_verb verb;
	char session[RFX_ADMIN_SESSION_MAX];
	unsigned shard;
	int64_t deadline;             /* ms, monotonic */
	bool posted;
	uint64_t seq, generation;
	pid_t pid;                    /* shard that took it */
	struct rfx_seg seg;           /* mapped while posted */
};

struct sup {
	const char *settings;
	struct rfx_worker_conf *conf;
	struct shard *sh;
	unsigned nshards;
	struct rfx_admin_server *admin;
	struct admin_cmd cmd[ADMIN_MAX_WAIT]; /* in arrival order per shard */
};

static volatile sig_atomic_t got_term, got_hup;
static const char *self = "ringfixd";

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d]: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, self, (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line so the shards' lines never interleave. */
	ssize_t w = write(2, line, len);
	(void)w;
}

static void worker_log(void *ctx, const char *line)
{
	(void)ctx;
	logf_("%s", line);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void on_chld(int sig)
{
	(void)sig; /* only wakes ppoll */
}

static void on_child_term(int sig)
{
	(void)sig;
	rfx_worker_request_stop();
}

static void lock_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
	logf_("mlockall skipped: sanitizer build");
#else
	struct rlimit rl;
	if (getenv("RINGFIX_NO_MLOCK")) {
		logf_("mlockall skipped: RINGFIX_NO_MLOCK is set");
		return;
	}
	/* With a finite limit MCL_FUTURE would make later allocations fail
	 * once it is reached; lock only when memory is unlimited for us. */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		logf_("mlockall skipped: RLIMIT_MEMLOCK is %llu bytes (raise it to lock memory)",
		      (unsigned long long)rl.rlim_cur);
		return;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		logf_("mlockall: %s (continuing unlocked)", strerror(errno));
#endif
}

static sigset_t run_mask; /* signal mask outside ppoll (the caught ones blocked) */
static struct rfx_admin_server *child_closes; /* the shard must not hold it */

static pid_t spawn(const struct rfx_worker_conf *conf, unsigned shard)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		logf_("shard %u: fork: %s", shard, strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;
	self = "ringfixd-shard";
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	rfx_admin_server_close_fds(child_closes);
	struct sigaction sa = {.sa_handler = on_child_term};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* No orphaned shard: it logs out when the supervisor dies. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	int cpu = rfx_worker_conf_cpu(conf, shard);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			logf_("shard %u: pin to CPU %d: %s (continuing unpinned)", shard, cpu,
			      strerror(errno));
		else
			logf_("shard %u: pinned to CPU %d", shard, cpu);
	}
	lock_memory();
	int rc = rfx_worker_run(conf, shard, worker_log, NULL);
	_exit(rc < 0 ? 1 : 0);
}

/* SIGHUP: re-read the settings; every shard whose sessions changed (added,
 * removed or edited) restarts with the new list (its sessions log out and
 * back on; sequence numbers live in the store), the others keep running.
 * Engine-level changes and sessions moving between shards need a restart
 * of ringfixd and are refused with a log line. */
static void reload(const char *path, struct rfx_worker_conf **conf, struct shard *sh,
		   unsigned nshards)
{
	struct rfx_settings *s = NULL;
	struct rfx_settings_error err = {0};
	struct rfx_worker_conf *next = NULL;
	char msg[512] = "";
	int rc = rfx_settings_load(path, &s, &err);
	if (rc < 0) {
		logf_("SIGHUP: settings not reloaded: %s", err.text[0] ? err.text : rfx_strerror(rc));
		return;
	}
	rc = rfx_worker_conf_new(s, &next, msg, sizeof(msg));
	rfx_settings_free(s);
	if (rc < 0) {
		logf_("SIGHUP: settings not reloaded: %s", msg[0] ? msg : rfx_strerror(rc));
		return;
	}
	if (rfx_worker_conf_needs_restart(*conf, next, msg, sizeof(msg))) {
		logf_("SIGHUP: settings not reloaded: %s (restart ringfixd to apply)", msg);
		rfx_worker_conf_free(next);
		return;
	}
	unsigned changed = 0;
	for (unsigned i = 0; i < nshards; i++) {
		if (!rfx_worker_conf_shard_differs(*conf, next, i))
			continue;
		changed++;
		if (sh[i].pid > 0) {
			logf_("shard %u: sessions changed; restarting it", i);
			kill(sh[i].pid, SIGTERM);
			int status;
			waitpid(sh[i].pid, &status, 0);
		}
		sh[i].pid = 0;
		sh[i].restart_at = mono_ms(); /* respawned by the main loop */
	}
	rfx_worker_conf_free(*conf);
	*conf = next;
	logf_("SIGHUP: settings reloaded, %u shard(s) restarted with new sessions", changed);
}

/* ------------------------------------------------------------ admin socket */

static struct sup sup;
static sigset_t wait_mask;    /* the mask inside ppoll: the caught signals open */
static uint64_t cmd_arrivals;

/* The shard of session id, or -1 when the instance has no such session. */
static int find_session(const char *id)
{
	unsigned shard;
	for (unsigned i = 0; i < rfx_worker_conf_nsessions(sup.conf); i++)
		if (strcmp(rfx_worker_conf_session(sup.conf, i, &shard), id) == 0)
			return (int)shard;
	return -1;
}

/* `sessions`: the configured list with each session's state from its
 * shard's directory (read-only; a shard that is down shows DOWN). */
static void admin_sessions(struct rfx_admin_client *c)
{
	unsigned n = 0;
	for (unsigned sh = 0; sh < sup.nshards; sh++) {
		struct rfx_seg seg;
		bool up = rfx_seg_open_ro(&seg, rfx_worker_conf_instance(sup.conf), sh) == 0;
		for (unsigned i = 0; i < rfx_worker_conf_nsessions(sup.conf); i++) {
			unsigned shard;
			const char *id = rfx_worker_conf_session(sup.conf, i, &shard);
			struct rfx_session_info info = {0};
			int idx = -1, tries = 0, rc = -1;
			if (shard != sh)
				continue;
			if (up && (idx = rfx_seg_dir_find(&seg, id)) >= 0)
				while ((rc = rfx_seg_dir_read(&seg, (uint32_t)idx, &info)) == -EAGAIN &&
				       tries++ < 1000)
					;
			if (rc == 0)
				rfx_admin_reply_line(c, "S %u %s %llu %llu %s", sh,
						     rfx_seg_state_name(&info),
						     (unsigned long long)info.next_sender_seq,
						     (unsigned long long)info.next_target_seq, id);
			else
				rfx_admin_reply_line(c, "S %u DOWN 0 0 %s", sh, id);
			n++;
		}
		if (up)
			rfx_seg_close(&seg);
	}
	rfx_admin_reply_ok(c, "%u session%s", n, n == 1 ? "" : "s");
}

static void admin_request(void *ctx, struct rfx_admin_client *c, const struct rfx_admin_req *r)
{
	(void)ctx;
	unsigned nsess = rfx_worker_conf_nsessions(sup.conf);
	switch (r->verb) {
	case RFX_ADMIN_PING:
		rfx_admin_reply_ok(c, "pong %s instance %s pid %d shards %u sessions %u",
				   RFX_ADMIN_VERSION, rfx_worker_conf_instance(sup.conf), (int)getpid(), sup.nshards,
				   nsess);
		return;
	case RFX_ADMIN_SESSIONS:
		admin_sessions(c);
		return;
	default:
		break;
	}
	int shard = find_session(r->session);
	if (shard < 0) {
		rfx_admin_reply_err(c, "nosession", "no session %s in instance %s (see ringfix "
				    "admin sessions)", r->session, rfx_worker_conf_instance(sup.conf));
		return;
	}
	for (unsigned i = 0; i < ADMIN_MAX_WAIT; i++) {
		struct admin_cmd *cmd = &sup.cmd[i];
		if (cmd->c)
			continue;
		memset(cmd, 0, sizeof(*cmd));
		cmd->c = c;
		cmd->verb = r->verb;
		snprintf(cmd->session, sizeof(cmd->session), "%s", r->session);
		cmd->shard = (unsigned)shard;
		cmd->deadline = mono_ms() + ADMIN_CMD_MS;
		cmd->seq = ++cmd_arrivals; /* arrival order until posted */
		return;
	}
	rfx_admin_reply_err(c, "busy", "too many commands in flight");
}

static void cmd_done(struct admin_cmd *cmd)
{
	if (cmd->posted)
		rfx_seg_close(&cmd->seg);
	cmd->c = NULL;
}

static uint32_t mailbox_op(enum rfx_admin_verb v)
{
	switch (v) {
	case RFX_ADMIN_LOGOUT: return RFX_MAILBOX_LOGOUT;
	case RFX_ADMIN_LOGON: return RFX_MAILBOX_LOGON;
	case RFX_ADMIN_RESET: return RFX_MAILBOX_RESET;
	default: return RFX_MAILBOX_DISCONNECT;
	}
}

/* Post the command (once the shard's segment is up) or collect its answer. */
static void cmd_step(struct admin_cmd *cmd, int64_t now)
{
	struct shard *sh = &sup.sh[cmd->shard];
	const char *verb = rfx_admin_verb_name(cmd->verb);
	if (!cmd->posted) {
		if (sh->pid <= 0) {
			rfx_admin_reply_err(cmd->c, "shard", "%s: shard %u is not running "
					    "(restarting); try again", cmd->session, cmd->shard);
			cmd_done(cmd);
			return;
		}
		struct rfx_seg seg;
		bool ready = rfx_seg_open(&seg, rfx_worker_conf_instance(sup.conf), cmd->shard) == 0;
		if (ready && atomic_load(&seg.hdr->shard_pid) != (uint32_t)sh->pid) {
			rfx_seg_close(&seg); /* the new shard has not taken it over yet */
			ready = false;
		}
		if (!ready) {
			if (now > cmd->deadline) {
				rfx_admin_reply_err(cmd->c, "shard", "%s: shard %u is starting; try "
						    "again", cmd->session, cmd->shard);
				cmd_done(cmd);
			}
			return;
		}
		cmd->seg = seg;
		cmd->pid = sh->pid;
		cmd->generation = atomic_load(&seg.hdr->generation);
		logf_("admin: %s %s -> shard %u", verb, cmd->session, cmd->shard);
		cmd->seq = rfx_mailbox_post(&seg.hdr->mailbox, mailbox_op(cmd->verb), cmd->session);
		cmd->posted = true;
	}
	int32_t result;
	char text[RFX_MAILBOX_TEXT_MAX];
	if (rfx_mailbox_answer(&cmd->seg.hdr->mailbox, cmd->seq, &result, text, sizeof(text))) {
		if (result == 0)
			rfx_admin_reply_ok(cmd->c, "%s: %s", cmd->session, text);
		else
			rfx_admin_reply_err(cmd->c, result == RFX_ENOSESSION ? "nosession" :
					    result == RFX_ESTATE ? "state" : "failed", "%s: %s",
					    cmd->session, text[0] ? text : rfx_strerror(result));
	} else if (sh->pid != cmd->pid ||
		   atomic_load(&cmd->seg.hdr->generation) != cmd->generation) {
		rfx_admin_reply_err(cmd->c, "shard", "%s: shard %u went away before answering; "
				    "the %s may not have happened", cmd->session, cmd->shard, verb);
	} else if (now > cmd->deadline) {
		rfx_admin_reply_err(cmd->c, "timeout", "%s: shard %u did not answer within %d ms "
				    "(busy or hung); the %s may still happen", cmd->session,
				    cmd->shard, ADMIN_CMD_MS, verb);
	} else {
		return;
	}
	cmd_done(cmd);
}

/* One command per shard at a time, the oldest first: the mailbox holds one. */
static bool admin_advance(int64_t now)
{
	bool pending = false;
	for (unsigned sh = 0; sh < sup.nshards; sh++) {
		struct admin_cmd *first = NULL;
		for (unsigned i = 0; i < ADMIN_MAX_WAIT; i++) {
			struct admin_cmd *cmd = &sup.cmd[i];
			if (!cmd->c || cmd->shard != sh)
				continue;
			if (cmd->posted) {
				first = cmd;
				break;
			}
			if (!first || cmd->seq < first->seq)
				first = cmd;
		}
		if (first)
			cmd_step(first, now);
	}
	for (unsigned i = 0; i < ADMIN_MAX_WAIT; i++)
		pending |= sup.cmd[i].c != NULL;
	return pending;
}

/* The loop's one wait: admin connections, signals, or timeout_ms. */
static void wait_events(int timeout_ms)
{
	struct pollfd pfd[1 + RFX_ADMIN_MAX_CLIENTS];
	unsigned n = sup.admin ? rfx_admin_server_pollfds(sup.admin, pfd) : 0;
	bool pending = admin_advance(mono_ms());
	if (pending && timeout_ms > 2)
		timeout_ms = 2; /* a shard answers within a loop turn */
	struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
	int rc = ppoll(pfd, n, &ts, &wait_mask);
	if (rc < 0)
		for (unsigned i = 0; i < n; i++)
			pfd[i].revents = 0;
	if (sup.admin)
		rfx_admin_server_handle(sup.admin, pfd, n, mono_ms());
	admin_advance(mono_ms());
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ringfixd SETTINGS_FILE\n"
		   "Runs a ringfix instance in the foreground: validates the settings, forks one\n"
		   "worker per shard and supervises them. SIGTERM/SIGINT log every session out\n"
		   "and exit 0. The admin socket (AdminSocket, default ringfix.INSTANCE.sock in\n"
		   "/run/ringfix, $XDG_RUNTIME_DIR or /tmp/ringfix-UID) serves ringfix logout,\n"
		   "logon, reset, disconnect and admin. Exit 2: invalid settings; 1: the engine\n"
		   "could not run.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	struct rfx_settings *s = NULL;
	struct rfx_settings_error err = {0};
	int rc = rfx_settings_load(argv[1], &s, &err);
	if (rc < 0) {
		if (err.text[0])
			logf_("invalid settings: %s", err.text);
		else
			logf_("invalid settings: %s: %s", argv[1], rfx_strerror(rc));
		return 2;
	}
	struct rfx_worker_conf *conf = NULL;
	char msg[512] = "";
	rc = rfx_worker_conf_new(s, &conf, msg, sizeof(msg));
	unsigned nsessions = s->nsessions;
	char admin_path[RFX_SETTINGS_PATH_MAX];
	bool admin_group = s->engine.admin_group_access;
	snprintf(admin_path, sizeof(admin_path), "%s", s->engine.admin_socket);
	rfx_settings_free(s);
	if (rc < 0) {
		logf_("invalid settings: %s: %s", argv[1], msg[0] ? msg : rfx_strerror(rc));
		return 2;
	}
	unsigned nshards = rfx_worker_conf_shards(conf);
	logf_("instance %s: %u sessions on %u shards (%s)", rfx_worker_conf_instance(conf),
	      nsessions, nshards, argv[1]);

	unsigned moved = 0;
	rc = rfx_worker_migrate(conf, &moved, msg, sizeof(msg));
	if (rc < 0) {
		logf_("store migration failed: %s", msg[0] ? msg : rfx_strerror(rc));
		rfx_worker_conf_free(conf);
		return 1;
	}
	if (moved)
		logf_("store: moved %u sessions to their new shards", moved);

	if (!admin_path[0] &&
	    (rc = rfx_admin_default_path(rfx_worker_conf_instance(conf), true, admin_path,
					 sizeof(admin_path))) < 0) {
		logf_("admin socket: no usable directory (/run/ringfix, $XDG_RUNTIME_DIR, "
		      "/tmp/ringfix-%u): %s; set AdminSocket in [ENGINE]", (unsigned)getuid(),
		      strerror(-rc));
		rfx_worker_conf_free(conf);
		return 1;
	}
	rc = rfx_admin_server_open(&sup.admin, admin_path, admin_group, admin_request, NULL, msg,
				   sizeof(msg));
	if (rc < 0) {
		logf_("admin socket: %s", msg);
		rfx_worker_conf_free(conf);
		return 1;
	}
	child_closes = sup.admin;
	logf_("admin socket %s (mode %s)", admin_path, admin_group ? "0660" : "0600");

	struct sigaction sa = {.sa_handler = on_term};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Caught signals stay blocked except inside ppoll (wait_events). */
	sigemptyset(&run_mask);
	sigaddset(&run_mask, SIGTERM);
	sigaddset(&run_mask, SIGINT);
	sigaddset(&run_mask, SIGHUP);
	sigaddset(&run_mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &run_mask, &wait_mask);

	struct shard *sh = calloc(nshards, sizeof(*sh));
	if (!sh) {
		rfx_admin_server_free(sup.admin);
		rfx_worker_conf_free(conf);
		return 1;
	}
	sup.settings = argv[1];
	sup.conf = conf;
	sup.sh = sh;
	sup.nshards = nshards;
	int exit_code = 0;
	for (unsigned i = 0; i < nshards; i++) {
		sh[i].pid = spawn(conf, i);
		sh[i].started = mono_ms();
		sh[i].backoff_ms = BACKOFF_MIN_MS;
		if (sh[i].pid > 0)
			logf_("shard %u: started (pid %d)", i, (int)sh[i].pid);
		else
			sh[i].restart_at = mono_ms() + BACKOFF_MIN_MS;
	}

	while (!got_term) {
		if (got_hup) {
			got_hup = 0;
			reload(argv[1], &conf, sh, nshards);
			sup.conf = conf;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (unsigned i = 0; i < nshards; i++) {
				if (sh[i].pid != pid)
					continue;
				sh[i].pid = 0;
				int64_t now = mono_ms();
				if (WIFSIGNALED(status))
					logf_("shard %u: killed by signal %d", i, WTERMSIG(status));
				else
					logf_("shard %u: exited with status %d", i, WEXITSTATUS(status));
				/* A shard that ran a while before dying starts the backoff
				 * afresh; one that dies at once doubles it. */
				if (now - sh[i].started > BACKOFF_MAX_MS)
					sh[i].backoff_ms = BACKOFF_MIN_MS;
				unsigned k = sh[i].ncrash % CRASH_MAX;
				int64_t oldest = sh[i].ncrash >= CRASH_MAX ? sh[i].crashes[k] : -1;
				sh[i].crashes[k] = now;
				sh[i].ncrash++;
				if (oldest >= 0 && now - oldest < CRASH_WINDOW_S * 1000) {
					logf_("shard %u: %d crashes within %d s; giving up", i, CRASH_MAX,
					      CRASH_WINDOW_S);
					exit_code = 1;
					got_term = 1;
					break;
				}
				sh[i].restart_at = now + sh[i].backoff_ms;
				logf_("shard %u: restarting in %u ms", i, sh[i].backoff_ms);
				sh[i].backoff_ms = sh[i].backoff_ms * 2 > BACKOFF_MAX_MS
							   ? BACKOFF_MAX_MS : sh[i].backoff_ms * 2;
			}
		}
		int64_t now = mono_ms();
		for (unsigned i = 0; i < nshards && !got_term; i++) {
			if (sh[i].pid || !sh[i].restart_at || now < sh[i].restart_at)
				continue;
			sh[i].restart_at = 0;
			sh[i].pid = spawn(conf, i);
			sh[i].started = now;
			if (sh[i].pid > 0)
				logf_("shard %u: restarted (pid %d)", i, (int)sh[i].pid);
			else
				sh[i].restart_at = now + sh[i].backoff_ms;
		}
		wait_events(50);
	}

	/* No more commands: connections close, the socket file goes. */
	for (unsigned i = 0; i < ADMIN_MAX_WAIT; i++)
		if (sup.cmd[i].c) {
			rfx_admin_reply_err(sup.cmd[i].c, "shard", "ringfixd is stopping");
			cmd_done(&sup.cmd[i]);
		}
	rfx_admin_server_free(sup.admin);
	sup.admin = NULL;
	child_closes = NULL;
	logf_("stopping: asking %u shards to log out", nshards);
	for (unsigned i = 0; i < nshards; i++)
		if (sh[i].pid > 0)
			kill(sh[i].pid, SIGTERM);
	int64_t deadline = mono_ms() + STOP_WAIT_S * 1000;
	for (;;) {
		unsigned alive = 0;
		for (unsigned i = 0; i < nshards; i++) {
			if (sh[i].pid <= 0)
				continue;
			int status;
			pid_t p = waitpid(sh[i].pid, &status, WNOHANG);
			if (p == sh[i].pid) {
				logf_("shard %u: stopped (%s %d)", i,
				      WIFSIGNALED(status) ? "signal" : "status",
				      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				/* A shard that could not stop cleanly (crash, sanitizer
				 * report) makes the whole stop unclean. */
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					exit_code = 1;
				sh[i].pid = 0;
			} else {
				alive++;
			}
		}
		if (!alive)
			break;
		if (mono_ms() > deadline) {
			for (unsigned i = 0; i < nshards; i++)
				if (sh[i].pid > 0) {
					logf_("shard %u: did not stop in %d s; killing it", i,
					      STOP_WAIT_S);
					kill(sh[i].pid, SIGKILL);
					waitpid(sh[i].pid, NULL, 0);
					sh[i].pid = 0;
				}
			break;
		}
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	logf_("stopped");
	free(sh);
	rfx_worker_conf_free(conf);
	return exit_code;
}
