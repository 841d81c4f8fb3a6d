/*
 * net_bench: TCP echo round trip over loopback, served by the shard loop
 * (shard/loop.h, spin and block idle) and by a plain blocking-socket echo,
 * side by side in one run; then the same through TLS 1.3 (shard/tls.h,
 * memory BIOs) on the spinning loop, to show what encryption costs; and
 * the cost of an empty spin turn (no I/O: must make no system call).
 *
 *   net_bench [--quick] [--json] [--runs N] [--msgs N] [--size BYTES] [--cpus A,B]
 *
 * The client (this process, pinned to CPU A) sends a message and busy-polls
 * a non-blocking socket for the whole echo, then the next; the server is a
 * child pinned to CPU B. The client is the same for every plaintext server,
 * so their differences are the servers'; for TLS the client also encrypts
 * (OpenSSL on the same non-blocking socket, busy-polling). A throwaway
 * EC P-256 certificate is made at start with the EVP API. Each figure is the median over --runs runs
 * of that run's percentile, with the min and max over runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "engine/error.h"
#include "shard/conn.h"
#include "shard/loop.h"
#include "shard/tls.h"

static int cpu_a = 0, cpu_b = 1;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "net_bench: cannot pin to CPU %d: %s (continuing unpinned)\n",
			cpu, strerror(errno));
}

static void die(const char *what, int err)
{
	fprintf(stderr, "net_bench: %s: %s\n", what, rfx_strerror(err));
	exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, size_t n, double q)
{
	return v[(size_t)(q * (double)(n - 1) + 0.5)];
}

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen", -errno);
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- servers (run in the child) ---------------------------------------- */

static void serve_plain(int lfd)
{
	char buf[65536];
	int fd = accept(lfd, NULL, NULL), one = 1;
	ssize_t n;

	if (fd < 0)
		die("accept", -errno);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w <= 0)
				_exit(1);
			off += w;
		}
	close(fd);
}

static struct rfx_conn srv_conn;
static uint8_t srv_tx[1 << 20];
static struct rfx_loop *srv_loop;

static void echo_data(struct rfx_conn *c, const uint8_t *p, uint32_t n)
{
	int rc = rfx_conn_send(c, p, n);

	if (rc < 0)
		die("echo send", rc);
}

static void echo_closed(struct rfx_conn *c, int reason)
{
	(void)c;
	(void)reason;
	rfx_loop_stop(srv_loop);
}

static const struct rfx_conn_ops echo_ops = {.on_data = echo_data, .on_closed = echo_closed};

static void serve_loop(int lfd, enum rfx_idle idle)
{
	struct rfx_loop_opts o = {.idle = idle, .max_conns = 4, .buf_count = 64};
	int fd, rc;

	rc = rfx_loop_new(&srv_loop, &o);   /* after fork and pinning, as a shard does */
	if (rc < 0)
		die("rfx_loop_new", rc);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", -errno);
	rfx_conn_init(&srv_conn, &echo_ops, NULL, srv_tx, sizeof(srv_tx));
	rc = rfx_conn_adopt(srv_loop, &srv_conn, fd);
	if (rc < 0)
		die("adopt", rc);
	rc = rfx_loop_run(srv_loop);
	if (rc < 0)
		die("loop", rc);
	rfx_loop_free(srv_loop);
}

/* ---- TLS ------------------------------------------------------------------ */

static char pki_dir[64], crt_path[96], key_path[96];
static struct rfx_tls srv_tls;

static void tls_echo_data(struct rfx_tls *t, const uint8_t *p, uint32_t n)
{
	int rc = rfx_tls_send(t, p, n);

	if (rc < 0)
		die("tls echo send", rc);
}

static void tls_echo_closed(struct rfx_tls *t, int reason)
{
	(void)t;
	(void)reason;
	rfx_loop_stop(srv_loop);
}

static const struct rfx_tls_ops tls_echo_ops = {.on_data = tls_echo_data,
						.on_closed = tls_echo_closed};

static void serve_tls(int lfd)
{
	struct rfx_loop_opts o = {.idle = RFX_IDLE_SPIN, .max_conns = 4, .buf_count = 64};
	struct rfx_tls_opts to = {.role = RFX_TLS_SERVER, .cert_file = crt_path, .key_file = key_path};
	struct rfx_tls_ctx *ctx;
	char err[256];
	int fd, rc;

	rc = rfx_tls_ctx_new(&ctx, &to, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "net_bench: %s\n", err);
		_exit(1);
	}
	rc = rfx_loop_new(&srv_loop, &o);
	if (rc < 0)
		die("rfx_loop_new", rc);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", -errno);
	rfx_tls_init(&srv_tls, ctx, &tls_echo_ops, NULL, srv_tx, sizeof(srv_tx));
	rc = rfx_conn_adopt(srv_loop, rfx_tls_accepted(&srv_tls), fd);
	if (rc < 0)
		die("adopt", rc);
	rc = rfx_loop_run(srv_loop);
	if (rc < 0)
		die("loop", rc);
	rfx_loop_free(srv_loop);
	rfx_tls_ctx_free(ctx);
}

/* A self-signed EC P-256 certificate in a temporary directory. */
static void make_cert(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	strcpy(pki_dir, "/tmp/rfx-netbench-XXXXXX");
	if (!k || !x || !mkdtemp(pki_dir))
		die("certificate", -ENOMEM);
	snprintf(crt_path, sizeof(crt_path), "%s/c.crt", pki_dir);
	snprintf(key_path, sizeof(key_path), "%s/c.key", pki_dir);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, k, EVP_sha256()))
		die("certificate signing", -EINVAL);
	if (!(f = fopen(crt_path, "w")) || !PEM_write_X509(f, x) || fclose(f))
		die("write certificate", -errno);
	if (!(f = fopen(key_path, "w")) || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f))
		die("write key", -errno);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void remove_cert(void)
{
	unlink(crt_path);
	unlink(key_path);
	rmdir(pki_dir);
}

/* Client side of TLS: a handshake on the (blocking) socket, then
 * non-blocking busy-polled reads like the plaintext client. */
static SSL *client_tls(SSL_CTX **cctx, int fd)
{
	SSL *ssl;

	*cctx = SSL_CTX_new(TLS_client_method());
	if (!*cctx || !(ssl = SSL_new(*cctx)))
		die("SSL_new", -ENOMEM);
	SSL_CTX_set_min_proto_version(*cctx, TLS1_3_VERSION);
	SSL_set_fd(ssl, fd);   /* benchmark only: the throwaway certificate is not verified */
	if (SSL_connect(ssl) != 1)
		die("TLS handshake", RFX_ETLS);
	return ssl;
}

enum server { S_PLAIN, S_LOOP_SPIN, S_LOOP_BLOCK, S_LOOP_TLS, S_COUNT };
static const char *const sname[S_COUNT] = {"plain", "loop_spin", "loop_block", "loop_spin_tls"};

/* ---- client ---------------------------------------------------------------- */

static void round_trips(enum server s, int msgs, int size, int64_t *rtt)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char *out = malloc((size_t)size), *in = malloc((size_t)size);
	int port, lfd = listen_any(&port), fd, one = 1, st, warm = msgs / 10 + 10;
	pid_t pid;

	if (!out || !in)
		die("malloc", -ENOMEM);
	memset(out, 'F', (size_t)size);
	pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		pin(cpu_b);
		if (s == S_PLAIN)
			serve_plain(lfd);
		else if (s == S_LOOP_TLS)
			serve_tls(lfd);
		else
			serve_loop(lfd, s == S_LOOP_SPIN ? RFX_IDLE_SPIN : RFX_IDLE_BLOCK);
		_exit(0);
	}
	close(lfd);
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect", -errno);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s == S_LOOP_TLS) {
		SSL_CTX *cctx;
		SSL *ssl = client_tls(&cctx, fd);

		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		for (int i = 0; i < warm + msgs; i++) {
			int64_t t0 = now_ns();
			int got = 0, n;

			while ((n = SSL_write(ssl, out, size)) <= 0)
				if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_WRITE)
					die("SSL_write", RFX_ETLS);
			while (got < size) {
				n = SSL_read(ssl, in + got, size - got);
				if (n > 0)
					got += n;
				else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
					die("SSL_read", RFX_ETLS);
			}
			if (i >= warm)
				rtt[i - warm] = now_ns() - t0;
		}
		SSL_free(ssl);
		SSL_CTX_free(cctx);
		goto done;
	}
	for (int i = 0; i < warm + msgs; i++) {
		int64_t t0 = now_ns();
		ssize_t got = 0;

		if (write(fd, out, (size_t)size) != size)
			die("write", -errno);
		while (got < size) {
			ssize_t n = recv(fd, in + got, (size_t)(size - got), MSG_DONTWAIT);

			if (n > 0)
				got += n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				die("recv", n == 0 ? -EPIPE : -errno);
		}
		if (i >= warm)
			rtt[i - warm] = now_ns() - t0;
	}
done:
	close(fd);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("server child", -ECHILD);
	free(out);
	free(in);
}

/* Cost of a turn with nothing to do: two clock reads, a look at the CQ and
 * the taskrun flag, the timer wheel, the end-of-turn passes. */
static double empty_turn_ns(int n)
{
	struct rfx_loop *l;
	int64_t t0;
	int rc = rfx_loop_new(&l, NULL);

	if (rc < 0)
		die("rfx_loop_new", rc);
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		rfx_loop_turn(l, 0);
	t0 = now_ns() - t0;
	rfx_loop_free(l);
	return (double)t0 / n;
}

/* ---- main ---------------------------------------------------------------- */

enum { Q50, Q99, Q999, QN };
static const char *const qname[QN] = {"p50", "p99", "p99.9"};
static const char *const qkey[QN] = {"p50", "p99", "p999"};
static const double qv[QN] = {0.50, 0.99, 0.999};

struct fig {
	double med, min, max;
};

static struct fig summarize(double *v, int n)
{
	struct fig f;

	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	f.min = v[0];
	f.max = v[n - 1];
	f.med = (n & 1) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return f;
}

int main(int argc, char **argv)
{
	int quick = 0, json = 0, runs = 5, msgs = 20000, size = 64;
	static double per_run[S_COUNT][QN][64], idle_turn[64];
	struct fig turn;
	struct fig fig[S_COUNT][QN];
	int64_t *rtt;
	char desc[256] = "";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--msgs") && i + 1 < argc)
			msgs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cpus") && i + 1 < argc)
			sscanf(argv[++i], "%d,%d", &cpu_a, &cpu_b);
		else {
			fprintf(stderr, "usage: net_bench [--quick] [--json] [--runs N] [--msgs N] "
				"[--size BYTES] [--cpus A,B]\n");
			return 2;
		}
	}
	if (quick) {
		runs = 1;
		msgs = 500;
	}
	if (runs < 1 || runs > 64 || msgs < 100 || size < 1 || size > (1 << 20)) {
		fprintf(stderr, "net_bench: runs 1..64, msgs >= 100, size 1..1048576\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	{
		struct rfx_loop *l;
		int rc = rfx_loop_new(&l, NULL);

		if (rc < 0) {
			fprintf(stderr, "net_bench: io_uring unavailable here (%s); nothing to measure\n",
				rfx_strerror(rc));
			return quick ? 0 : 1;
		}
		rfx_loop_describe(l, desc, sizeof(desc));
		rfx_loop_free(l);
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		fprintf(stderr, "net_bench: one CPU only; client and server share it\n");
	pin(cpu_a);
	make_cert();
	rtt = malloc(sizeof(*rtt) * (size_t)msgs);
	if (!rtt)
		die("malloc", -ENOMEM);
	/* Interleave servers within each run so drift in machine load hits
	 * them alike. */
	for (int r = 0; r < runs; r++) {
		idle_turn[r] = empty_turn_ns(quick ? 100000 : 1000000);
		for (int s = 0; s < S_COUNT; s++) {
			round_trips((enum server)s, msgs, size, rtt);
			qsort(rtt, (size_t)msgs, sizeof(*rtt), cmp_i64);
			for (int q = 0; q < QN; q++)
				per_run[s][q][r] = (double)pct(rtt, (size_t)msgs, qv[q]);
		}
	}
	remove_cert();
	turn = summarize(idle_turn, runs);
	for (int s = 0; s < S_COUNT; s++)
		for (int q = 0; q < QN; q++)
			fig[s][q] = summarize(per_run[s][q], runs);

	if (json) {
		printf("{\"bench\":\"net\",\"runs\":%d,\"msgs\":%d,\"size\":%d,\"cpu_client\":%d,"
		       "\"cpu_server\":%d,\"loop\":\"%s\"", runs, msgs, size, cpu_a, cpu_b, desc);
		for (int s = 0; s < S_COUNT; s++)
			for (int q = 0; q < QN; q++)
				printf(",\"%s_%s_ns\":%.0f,\"%s_%s_ns_min\":%.0f,\"%s_%s_ns_max\":%.0f",
				       sname[s], qkey[q], fig[s][q].med, sname[s], qkey[q], fig[s][q].min,
				       sname[s], qkey[q], fig[s][q].max);
		printf(",\"idle_turn_ns\":%.1f,\"idle_turn_ns_min\":%.1f,\"idle_turn_ns_max\":%.1f",
		       turn.med, turn.min, turn.max);
		printf(",\"loop_spin_over_plain_p50\":%.3f,\"loop_block_over_plain_p50\":%.3f,"
		       "\"tls_over_loop_spin_p50\":%.3f}\n",
		       fig[S_LOOP_SPIN][Q50].med / fig[S_PLAIN][Q50].med,
		       fig[S_LOOP_BLOCK][Q50].med / fig[S_PLAIN][Q50].med,
		       fig[S_LOOP_TLS][Q50].med / fig[S_LOOP_SPIN][Q50].med);
		free(rtt);
		return 0;
	}
	printf("net_bench: %d-byte echo round trip over loopback, client on CPU %d, server on CPU %d,\n"
	       "%d run(s) x %d messages; figure = median of per-run percentile [min-max], ns\n"
	       "loop (as probed): %s\n", size, cpu_a, cpu_b, runs, msgs, desc);
	printf("%-14s", "server");
	for (int q = 0; q < QN; q++)
		printf(" %26s", qname[q]);
	printf("\n");
	for (int s = 0; s < S_COUNT; s++) {
		printf("%-14s", sname[s]);
		for (int q = 0; q < QN; q++) {
			char cell[64];

			snprintf(cell, sizeof(cell), "%.0f [%.0f-%.0f]", fig[s][q].med, fig[s][q].min,
				 fig[s][q].max);
			printf(" %26s", cell);
		}
		printf("\n");
	}
	printf("empty spin turn (no I/O, no system call): %.1f ns [%.1f-%.1f]\n", turn.med, turn.min,
	       turn.max);
	printf("p50 ratio vs plain blocking echo: loop_spin %.2f, loop_block %.2f; "
	       "TLS 1.3 over plaintext on the spinning loop: %.2f\n",
	       fig[S_LOOP_SPIN][Q50].med / fig[S_PLAIN][Q50].med,
	       fig[S_LOOP_BLOCK][Q50].med / fig[S_PLAIN][Q50].med,
	       fig[S_LOOP_TLS][Q50].med / fig[S_LOOP_SPIN][Q50].med);
	free(rtt);
	return 0;
}
