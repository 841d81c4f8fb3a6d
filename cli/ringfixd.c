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
 */
#include <errno.h>
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

#include "engine/error.h"
#include "engine/settings.h"
#include "shard/worker.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define CRASH_WINDOW_S 60      /* crash-loop cap: this many restarts ... */
#define CRASH_MAX 5            /* ... within this window ends the supervisor */
#define STOP_WAIT_S 15         /* shards get this long to log out */

struct shard {
	pid_t pid;
	int64_t restart_at;     /* ms, monotonic; 0 = none due */
	unsigned backoff_ms;
	int64_t crashes[CRASH_MAX];
	unsigned ncrash;
	int64_t started;
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

static void usage(FILE *f)
{
	fprintf(f, "usage: ringfixd SETTINGS_FILE\n"
		   "Runs a ringfix instance in the foreground: validates the settings, forks one\n"
		   "worker per shard and supervises them. SIGTERM/SIGINT log every session out\n"
		   "and exit 0. Exit 2: invalid settings; 1: the engine could not run.\n");
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

	struct sigaction sa = {.sa_handler = on_term};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct shard *sh = calloc(nshards, sizeof(*sh));
	if (!sh) {
		rfx_worker_conf_free(conf);
		return 1;
	}
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
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}

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
