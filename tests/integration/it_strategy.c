/*
 * A strategy for the integration tests, written only against <ringfix.h>.
 * Everything it receives or sends that matters goes into a journal file
 * (write(2) per line, O_APPEND) that the test reads afterwards; it must
 * survive SIGKILL at any instruction.
 *
 *   it_strategy strat INSTANCE SESSION JOURNAL ORDERS
 *       Replays from one past the highest MsgSeqNum in JOURNAL, then sends up
 *       to ORDERS NewOrderSingles (one every 500 us while logged on) and
 *       appends "F <seq> <ExecID> <flags>" for every ExecutionReport.
 *   it_strategy venue INSTANCE SESSION JOURNAL 0
 *       Answers every NewOrderSingle with a fill and appends "E <ExecID>" for
 *       each fill it handed to ringfix, "X <tag> <reason>" for each send
 *       failure.
 *
 * Both print "bound" once the shard accepted the bind, "bind failed: ..." if
 * it refused, and exit 0 on SIGTERM, 2 when the instance goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ringfix.h>

struct app {
	struct rfx_client *c;
	int session;
	int journal;
	bool venue;
	bool bound, logged_on;
	uint64_t fills_sent;
	char exec_prefix[32];
};

static volatile sig_atomic_t stop_now;

static void on_term(int sig)
{
	(void)sig;
	stop_now = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void journal(struct app *a, const char *line, int len)
{
	if (write(a->journal, line, (size_t)len) != len) {
		perror("journal");
		exit(3);
	}
}

/* Venue: one fill per order, ExecIDs unique across restarts of the venue
 * (pid in the prefix). */
static void fill(struct app *a, const struct rfx_message *m)
{
	const char *clordid;
	uint32_t len;
	char body[512], line[96];

	if (rfx_message_str(m, 11, &clordid, &len) < 0 || len > 64)
		return;
	uint64_t n = ++a->fills_sent;
	int bl = snprintf(body, sizeof(body),
			  "35=8\00137=O%" PRIu64 "\00117=%s%" PRIu64 "\00111=%.*s\001150=F\00139=2\001"
			  "55=ABC\00154=1\00138=100\00132=100\00131=1\00114=100\001151=0\0016=1\001",
			  n, a->exec_prefix, n, (int)len, clordid);
	int rc;
	while ((rc = rfx_send(a->c, m->session, body, (uint32_t)bl, n, 0)) == RFX_EFULL)
		usleep(100);
	if (rc < 0) {
		fprintf(stderr, "venue send: %s\n", rfx_strerror(rc));
		exit(2);
	}
	journal(a, line, snprintf(line, sizeof(line), "E %s%" PRIu64 "\n", a->exec_prefix, n));
}

static void on_message(void *ctx, const struct rfx_message *m)
{
	struct app *a = ctx;
	char line[128];
	const char *id;
	uint32_t len;

	if (m->msg_type_len != 1)
		return;
	if (a->venue) {
		if (m->msg_type[0] == 'D')
			fill(a, m);
		return;
	}
	if (m->msg_type[0] != '8')
		return;
	if (rfx_message_str(m, 17, &id, &len) < 0 || len > 64)
		id = "?", len = 1;
	/* Journal first, then ack: a kill in between only means the message is
	 * replayed and the journal (not the ack) decides where replay starts. */
	journal(a, line, snprintf(line, sizeof(line), "F %" PRIu64 " %.*s %u\n", m->seq,
				  (int)len, id, m->flags));
	rfx_ack(a->c, m->session, m->seq);
}

static void on_event(void *ctx, const struct rfx_event *e)
{
	struct app *a = ctx;

	switch (e->type) {
	case RFX_EV_BOUND:
		a->bound = true;
		printf("bound\n");
		fflush(stdout);
		break;
	case RFX_EV_BIND_FAILED:
		printf("bind failed: %s\n", rfx_strerror(e->code));
		fflush(stdout);
		exit(4);
	case RFX_EV_LOGON:
		a->logged_on = true;
		break;
	case RFX_EV_LOGOUT:
	case RFX_EV_DISCONNECT:
		a->logged_on = false;
		break;
	default:
		break;
	}
}

static void on_send_failed(void *ctx, const struct rfx_send_failure *f)
{
	struct app *a = ctx;
	char line[96];

	journal(a, line, snprintf(line, sizeof(line), "X %" PRIu64 " %d\n", f->tag, f->reason));
}

/* Highest MsgSeqNum in the journal's "F" lines (0: none). */
static uint64_t journal_last_seq(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	uint64_t last = 0, seq;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "F %" SCNu64, &seq) == 1 && seq > last)
			last = seq;
	fclose(f);
	return last;
}

int main(int argc, char **argv)
{
	struct app a = {0};
	const struct rfx_handler h = {on_message, on_event, on_send_failed};
	int rc;

	if (argc != 6 || (strcmp(argv[1], "strat") && strcmp(argv[1], "venue"))) {
		fprintf(stderr, "usage: it_strategy strat|venue INSTANCE SESSION JOURNAL ORDERS\n");
		return 64;
	}
	signal(SIGTERM, on_term);
	a.venue = !strcmp(argv[1], "venue");
	uint64_t orders = strtoull(argv[5], NULL, 10), sent = 0;
	uint64_t from = a.venue ? 0 : journal_last_seq(argv[4]) + 1;
	snprintf(a.exec_prefix, sizeof(a.exec_prefix), "X%d-", (int)getpid());
	a.journal = open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (a.journal < 0) {
		perror(argv[4]);
		return 3;
	}
	rc = rfx_client_attach(&a.c, argv[2], NULL);
	if (rc < 0) {
		fprintf(stderr, "attach %s: %s\n", argv[2], rfx_strerror(rc));
		return 2;
	}
	a.session = rfx_bind(a.c, argv[3], from);
	if (a.session < 0) {
		fprintf(stderr, "bind %s: %s\n", argv[3], rfx_strerror(a.session));
		return 2;
	}
	struct rfx_session_status st;
	if (rfx_session_status(a.c, a.session, &st) == 0)
		a.logged_on = st.state == RFX_SESSION_ACTIVE;
	int64_t next_order = mono_ns();
	while (!stop_now) {
		rc = rfx_poll(a.c, &h, &a, 64);
		if (rc < 0) {
			fprintf(stderr, "poll: %s\n", rfx_strerror(rc));
			return 2;
		}
		if (!a.venue && a.bound && a.logged_on && sent < orders && mono_ns() >= next_order) {
			char body[256];
			int len = snprintf(body, sizeof(body),
					   "35=D\00111=C%d-%" PRIu64 "\00121=1\00155=ABC\00154=1\001"
					   "60=20260101-00:00:00\00140=1\00138=100\001",
					   (int)getpid(), sent);
			if (rfx_send(a.c, a.session, body, (uint32_t)len, sent, 0) == 0)
				sent++;
			next_order += 500000;
		}
		if (rc == 0)
			usleep(50);
	}
	rfx_client_detach(a.c);
	close(a.journal);
	return 0;
}
