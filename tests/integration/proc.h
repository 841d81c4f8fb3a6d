/*
 * Helpers of the integration tests (Criterion, real processes on loopback):
 * free ports, child processes with their output in a log file, waiting for a
 * log line, stopping with SIGTERM. Header-only, static inline, so each test
 * executable stays one file plus this.
 */
#ifndef RFX_TESTS_INTEGRATION_PROC_H
#define RFX_TESTS_INTEGRATION_PROC_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A loopback TCP port nobody listens on right now. */
static inline int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static inline int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts argv[0] with stdout and stderr in log. */
static inline pid_t spawn(const char *log, char *const argv[])
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* A failed test must not leave engines behind: they get SIGTERM
		 * when the process that started them goes away. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static inline bool log_has(const char *path, const char *what)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, what) != NULL;
}

/* Fails the test unless what appears in the log within ms. */
static inline void wait_log(const char *path, const char *what, int ms)
{
	int64_t end = now_ms() + ms;
	while (!log_has(path, what)) {
		cr_assert(now_ms() < end, "no '%s' in %s within %d ms", what, path, ms);
		usleep(20000);
	}
}

/* SIGTERM, then the exit status (128 + signal when killed by one); -1 when
 * the process had to be killed after 20 s. pid <= 0: nothing to stop, 0. */
static inline int stop(pid_t pid)
{
	int st = 0;
	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	int64_t end = now_ms() + 20000;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(20000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* rm -rf a test's temporary directory (a failure is only reported). */
static inline void remove_dir(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Settings of the two instances most tests run: a FIX.4.4 VENUE acceptor on
 * port and a BANK initiator connecting to it (ReconnectInterval=1), both with
 * the block idle strategy and a store under dir; engine_extra ends [ENGINE]. */
static inline void venue_settings(char *cfg, size_t n, int port, const char *instance,
				  const char *dir, const char *engine_extra)
{
	snprintf(cfg, n,
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=5\n"
		 "UseDataDictionary=N\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		 "TargetCompID=BANK\nSocketAcceptPort=%d\n"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/venue-store\nIdleStrategy=block\n%s",
		 port, instance, dir, engine_extra);
}

static inline void bank_settings(char *cfg, size_t n, int port, const char *instance,
				 const char *dir, const char *engine_extra)
{
	snprintf(cfg, n,
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=5\n"
		 "UseDataDictionary=N\n"
		 "[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.4\nSenderCompID=BANK\n"
		 "TargetCompID=VENUE\nSocketConnectHost=127.0.0.1\nSocketConnectPort=%d\n"
		 "ReconnectInterval=1\n"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/bank-store\nIdleStrategy=block\n%s",
		 port, instance, dir, engine_extra);
}

static inline void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* The executable an environment variable names (set by meson), or a skip. */
static inline const char *bin(const char *var)
{
	const char *b = getenv(var);
	if (!b || access(b, X_OK) != 0)
		cr_skip_test("%s not set or not executable (run through meson)", var);
	return b;
}

#endif
