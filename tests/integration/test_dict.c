/*
 * Integration: validation by ApplVerID in a real shard.
 *
 * One ringfixd with a FIXT.1.1 acceptor whose DefaultApplVerID is FIX.5.0SP2
 * and which has a second application dictionary for FIX.5.0SP1
 * (AppDataDictionary.FIX.5.0SP1). The dictionaries are written by the test
 * and differ on purpose: SP2's NewOrderSingle requires Account(1) and knows
 * no Symbol(55); SP1's allows Symbol and knows no Account. This test is the
 * counterparty on a raw socket: its Logon says DefaultApplVerID(1137) = SP1,
 * then it sends orders that are valid for one dictionary and not the other,
 * and checks which ones the shard rejects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/proc.h"

static const char fixt_xml[] =
	"<fix type='FIXT' major='1' minor='1' servicepack='0'>\n"
	" <header>\n"
	"  <field name='BeginString' required='Y'/><field name='BodyLength' required='Y'/>\n"
	"  <field name='MsgType' required='Y'/><field name='SenderCompID' required='Y'/>\n"
	"  <field name='TargetCompID' required='Y'/><field name='MsgSeqNum' required='Y'/>\n"
	"  <field name='PossDupFlag' required='N'/><field name='SendingTime' required='Y'/>\n"
	"  <field name='OrigSendingTime' required='N'/><field name='ApplVerID' required='N'/>\n"
	" </header>\n"
	" <messages>\n"
	"  <message name='Heartbeat' msgtype='0' msgcat='admin'>\n"
	"   <field name='TestReqID' required='N'/></message>\n"
	"  <message name='TestRequest' msgtype='1' msgcat='admin'>\n"
	"   <field name='TestReqID' required='Y'/></message>\n"
	"  <message name='Reject' msgtype='3' msgcat='admin'>\n"
	"   <field name='RefSeqNum' required='Y'/><field name='Text' required='N'/></message>\n"
	"  <message name='Logout' msgtype='5' msgcat='admin'>\n"
	"   <field name='Text' required='N'/></message>\n"
	"  <message name='Logon' msgtype='A' msgcat='admin'>\n"
	"   <field name='EncryptMethod' required='Y'/><field name='HeartBtInt' required='Y'/>\n"
	"   <field name='ResetSeqNumFlag' required='N'/>\n"
	"   <field name='DefaultApplVerID' required='Y'/></message>\n"
	" </messages>\n"
	" <trailer><field name='CheckSum' required='Y'/></trailer>\n"
	" <components/>\n"
	" <fields>\n"
	"  <field number='8' name='BeginString' type='STRING'/>\n"
	"  <field number='9' name='BodyLength' type='LENGTH'/>\n"
	"  <field number='10' name='CheckSum' type='STRING'/>\n"
	"  <field number='34' name='MsgSeqNum' type='SEQNUM'/>\n"
	"  <field number='35' name='MsgType' type='STRING'/>\n"
	"  <field number='43' name='PossDupFlag' type='BOOLEAN'/>\n"
	"  <field number='45' name='RefSeqNum' type='SEQNUM'/>\n"
	"  <field number='49' name='SenderCompID' type='STRING'/>\n"
	"  <field number='52' name='SendingTime' type='UTCTIMESTAMP'/>\n"
	"  <field number='56' name='TargetCompID' type='STRING'/>\n"
	"  <field number='58' name='Text' type='STRING'/>\n"
	"  <field number='98' name='EncryptMethod' type='INT'/>\n"
	"  <field number='108' name='HeartBtInt' type='INT'/>\n"
	"  <field number='112' name='TestReqID' type='STRING'/>\n"
	"  <field number='122' name='OrigSendingTime' type='UTCTIMESTAMP'/>\n"
	"  <field number='141' name='ResetSeqNumFlag' type='BOOLEAN'/>\n"
	"  <field number='1128' name='ApplVerID' type='STRING'/>\n"
	"  <field number='1137' name='DefaultApplVerID' type='STRING'/>\n"
	" </fields>\n"
	"</fix>\n";

/* FIX.5.0 SP1 or SP2 with a NewOrderSingle: ClOrdID, plus Symbol (SP1) or a
 * required Account (SP2). */
static void app_xml(char *out, size_t n, int sp)
{
	snprintf(out, n,
		 "<fix type='FIX' major='5' minor='0' servicepack='%d'>\n <header/>\n <messages>\n"
		 "  <message name='NewOrderSingle' msgtype='D' msgcat='app'>\n"
		 "   <field name='ClOrdID' required='Y'/>%s\n"
		 "  </message>\n </messages>\n <trailer/>\n <components/>\n <fields>\n"
		 "  <field number='11' name='ClOrdID' type='STRING'/>\n%s"
		 " </fields>\n</fix>\n",
		 sp, sp == 1 ? "<field name='Symbol' required='N'/>"
			     : "<field name='Account' required='Y'/>",
		 sp == 1 ? "  <field number='55' name='Symbol' type='STRING'/>\n"
			 : "  <field number='1' name='Account' type='STRING'/>\n");
}

static int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
		  strerror(errno));
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Frames body (| for SOH) as a FIXT.1.1 message with seq and SendingTime. */
static void send_msg(int fd, unsigned seq, const char *type, const char *rest)
{
	char body[512], msg[700], ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d-%H:%M:%S", &tm);
	int bl = snprintf(body, sizeof(body), "35=%s|34=%u|49=RAW|52=%s|56=VENUE|%s", type, seq, ts,
			  rest);
	cr_assert_lt((size_t)bl, sizeof(body));
	int n = snprintf(msg, sizeof(msg), "8=FIXT.1.1|9=%d|%s", bl, body);
	unsigned sum = 0;
	for (int i = 0; i < n; i++) {
		if (msg[i] == '|')
			msg[i] = '\001';
		sum += (unsigned char)msg[i];
	}
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "10=%03u\001", sum % 256);
	cr_assert_eq(write(fd, msg, (size_t)n), n);
}

/* Everything the shard sends until `until` (| for SOH) has arrived. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until)
{
	size_t len = 0;
	int64_t end = now_ms() + 10000;
	while (!memmem(buf, len, until, strlen(until))) {
		cr_assert(now_ms() < end, "no '%s' within 10 s; got: %.*s", until, (int)len, buf);
		cr_assert_lt(len, cap - 1);
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		cr_assert_gt(r, 0, "connection closed while waiting for '%s'", until);
		for (ssize_t i = 0; i < r; i++)
			if (buf[len + i] == '\001')
				buf[len + i] = '|';
		len += (size_t)r;
	}
	buf[len] = '\0';
	return len;
}

/* The Reject (35=3) of RefSeqNum ref in buf, its end cut at the CheckSum;
 * NULL when there is none. */
static const char *reject_of(const char *buf, unsigned ref, char *out, size_t n)
{
	char want[32];
	snprintf(want, sizeof(want), "|45=%u|", ref);
	for (const char *p = strstr(buf, "|35=3|"); p; p = strstr(p + 1, "|35=3|")) {
		const char *end = strstr(p, "|10=");
		if (!end)
			return NULL;
		snprintf(out, n, "%.*s|", (int)(end - p), p);
		if (strstr(out, want))
			return out;
	}
	return NULL;
}

/* A temporary directory holding FIXT11.xml and FIX50SP<sp>.xml for each sp
 * from first_sp to 2. */
static void dict_dir(char *dir, size_t n, int first_sp)
{
	char path[512], xml[2048];
	snprintf(dir, n, "%s/rfx-dict.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/FIXT11.xml", dir);
	write_text(path, fixt_xml);
	for (int sp = first_sp; sp <= 2; sp++) {
		app_xml(xml, sizeof(xml), sp);
		snprintf(path, sizeof(path), "%s/FIX50SP%d.xml", dir, sp);
		write_text(path, xml);
	}
}

Test(dict, fixt_message_validated_by_its_appl_ver_id, .timeout = 60)
{
	const char *rd = bin("RINGFIXD");
	char dir[256], path[512], cfg[2048], log[512];
	dict_dir(dir, sizeof(dir), 1);
	int port = free_port();
	unsigned tag = ((unsigned)getpid() * 7919u + (unsigned)now_ms()) % 1000000u;
	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIXT.1.1\nSenderCompID=VENUE\n"
		 "TargetCompID=RAW\nSocketAcceptPort=%d\nDefaultApplVerID=FIX.5.0SP2\n"
		 "UseDataDictionary=Y\nTransportDataDictionary=FIXT11.xml\n"
		 "AppDataDictionary=FIX50SP2.xml\nAppDataDictionary.FIX.5.0SP1=FIX50SP1.xml\n"
		 "[ENGINE]\nInstanceName=itd%u\nStorePath=%s/store\nIdleStrategy=block\n",
		 port, tag, dir);
	snprintf(path, sizeof(path), "%s/venue.cfg", dir);
	write_text(path, cfg);
	snprintf(log, sizeof(log), "%s/venue.log", dir);
	pid_t pid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "serving", 10000);

	int fd = connect_port(port);
	char in[16384], rej[1024];
	/* The counterparty's default application version is SP1 (ours is SP2). */
	send_msg(fd, 1, "A", "98=0|108=30|1137=8|");
	read_until(fd, in, sizeof(in), "|35=A|");
	send_msg(fd, 2, "D", "1128=8|11=a|55=IBM|");       /* SP1: valid */
	send_msg(fd, 3, "D", "1128=9|11=b|1=ACC|55=IBM|"); /* SP2: no Symbol there */
	send_msg(fd, 4, "D", "1128=9|11=c|1=ACC|");        /* SP2: valid */
	send_msg(fd, 5, "D", "11=d|55=IBM|");              /* peer's default SP1: valid */
	send_msg(fd, 6, "D", "11=e|1=ACC|");               /* SP1: no Account there */
	/* FIX.5.0 has no dictionary here: QuickFIX checks the body against an
	 * empty one, so unknown tags pass. */
	send_msg(fd, 7, "D", "1128=7|11=f|1=ACC|55=IBM|9999=x|");
	send_msg(fd, 8, "1", "112=END|");
	read_until(fd, in, sizeof(in), "|112=END|");
	close(fd);

	cr_expect(reject_of(in, 3, rej, sizeof(rej)), "seq 3 (SP2 with Symbol) not rejected: %s",
		  in);
	if (reject_of(in, 3, rej, sizeof(rej)))
		cr_expect(strstr(rej, "|371=55|") && strstr(rej, "|373=0|"), "seq 3: %s", rej);
	cr_expect(reject_of(in, 6, rej, sizeof(rej)), "seq 6 (SP1 with Account) not rejected: %s",
		  in);
	if (reject_of(in, 6, rej, sizeof(rej)))
		cr_expect(strstr(rej, "|371=1|") && strstr(rej, "|373=0|"), "seq 6: %s", rej);
	static const unsigned valid[] = {2, 4, 5, 7};
	for (unsigned i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		cr_expect_null(reject_of(in, valid[i], rej, sizeof(rej)), "seq %u rejected: %s",
			       valid[i], rej);
	cr_expect(!log_has(log, "restarted"), "the shard restarted");
	cr_expect_eq(stop(pid), 0, "ringfixd exit status");
	remove_dir(dir);
}

/* A keyed dictionary that does not load stops the engine with the session
 * and the file named, before it serves anything. */
Test(dict, bad_keyed_dictionary_is_named, .timeout = 60)
{
	const char *rd = bin("RINGFIXD");
	char dir[256], path[512], cfg[2048], log[512];
	dict_dir(dir, sizeof(dir), 2);
	unsigned tag = ((unsigned)getpid() * 7919u + (unsigned)now_ms()) % 1000000u;
	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIXT.1.1\nSenderCompID=VENUE\n"
		 "TargetCompID=RAW\nSocketAcceptPort=%d\nDefaultApplVerID=9\n"
		 "UseDataDictionary=Y\nTransportDataDictionary=FIXT11.xml\n"
		 "AppDataDictionary=FIX50SP2.xml\nAppDataDictionary.FIX.5.0SP1=nowhere.xml\n"
		 "[ENGINE]\nInstanceName=itd%u\nStorePath=%s/store\nIdleStrategy=block\n",
		 free_port(), tag, dir);
	snprintf(path, sizeof(path), "%s/venue.cfg", dir);
	write_text(path, cfg);
	snprintf(log, sizeof(log), "%s/venue.log", dir);
	pid_t pid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "nowhere.xml", 10000);
	cr_expect(log_has(log, "FIXT.1.1:VENUE->RAW"), "the session is not named, see %s", log);
	stop(pid);
	remove_dir(dir);
}
