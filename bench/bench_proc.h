/*
 * Process scaffolding of the bench/ programs that start engines: spawn with
 * PDEATHSIG and a log file, wait for a log line (or for N of them), stop, a
 * free loopback port, a scratch directory, the sort order for medians.
 * Header-only (static functions) so each benchmark stays one executable.
 */
#ifndef RFX_BENCH_PROC_H
#define RFX_BENCH_PROC_H

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

static inline int64_t bench_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void bench_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

/* Start argv[0] with stdout and stderr to `log`; it gets SIGTERM when this
 * process goes away, so a failed benchmark leaves no engine behind. */
static inline pid_t bench_spawn(const char *log, char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		bench_die("bench", "fork failed");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static inline bool bench_log_has(const char *path, const char *what)
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

/* Wait up to 15 s for `what` in the log, else print the log and exit. */
static inline void bench_wait_log(const char *prog, const char *path, const char *what)
{
	int64_t end = bench_mono_ns() + 15000000000LL;
	while (!bench_log_has(path, what)) {
		if (bench_mono_ns() > end) {
			fprintf(stderr, "%s: no '%s' in %s\n", prog, what, path);
			exit(1);
		}
		usleep(20000);
	}
}

static inline void bench_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static inline int bench_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		bench_die("bench", "bind to a loopback port failed");
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

/* Write `text` to DIR/NAME (path returned in `path`). */
static inline void bench_write_file(const char *prog, char *path, size_t cap, const char *dir,
				    const char *name, const char *text)
{
	snprintf(path, cap, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		bench_die(prog, "cannot write a settings file");
	fputs(text, f);
	fclose(f);
}

/* Lines of the log that contain `what`. */
static inline unsigned bench_log_count(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Until `what` is in `times` lines of the log (one per shard...); false
 * after timeout_ns, for the caller to report. */
static inline bool bench_wait_lines(const char *path, const char *what, unsigned times,
				    int64_t timeout_ns)
{
	int64_t end = bench_mono_ns() + timeout_ns;
	while (bench_log_count(path, what) < times) {
		if (bench_mono_ns() > end)
			return false;
		usleep(20000);
	}
	return true;
}

/* A fresh directory $TMPDIR/<prefix>.XXXXXX into dir; false on failure. */
static inline bool bench_tmpdir(char *dir, size_t cap, const char *prefix)
{
	snprintf(dir, cap, "%s/%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
	return mkdtemp(dir) != NULL;
}

static inline void bench_rmdir(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* qsort order of doubles (medians over runs). */
static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#endif
