"""ringfix decode: separators, log prefixes, several messages, bad messages,
with and without a dictionary.

RFX_CLI_PART=plain (default) runs the cases without a dictionary and the damaged
input runs; RFX_CLI_PART=dict the dictionary cases, which read
../shared/conformance/spec and skip (exit 77) when it is absent."""
import os
import random
import sys
import tempfile

from clitest import SKIP, Runner, fix, shared_dir

t = Runner()
shared = shared_dir()
spec = shared and os.path.join(shared, "conformance", "spec")
fix44_path = spec and os.path.join(spec, "FIX44.xml")
if fix44_path and not os.path.isfile(fix44_path):
    fix44_path = None
part = os.environ.get("RFX_CLI_PART", "plain")
order = fix("35=D|34=2|49=A|52=20240101-12:00:00|56=B|11=X1|21=1|55=IBM|54=1|"
            "60=20240101-12:00:00|40=2|38=100|44=1.5|")
mdreq = fix("35=V|34=3|49=A|52=20240101-12:00:00|56=B|262=R1|263=1|264=0|267=2|269=0|"
            "269=1|146=1|55=IBM|")
logon = fix("35=A|34=1|49=A|52=20240101-12:00:00|56=B|98=0|108=30|")

if part == "dict" and not fix44_path:
    print("SKIP: ../shared/conformance/spec/FIX44.xml not found (conformance data absent)")
    sys.exit(SKIP)

if part == "plain":
    # Without a dictionary: header names only, body tags unnamed.
    r = t.run("decode", stdin=order)
    t.expect("SOH from stdin", r, 0,
             out_has=("35    MsgType", "49    SenderCompID", "D", "54    ?", "10    CheckSum",
                      "message 1 at offset 0"))

    # '|' separators, log prefixes, one message per line, "10=nnn" without a final '|'.
    text = "12:00:00.1 IN  %s\n12:00:00.2 OUT %s\n" % (
        order.replace("\x01", "|"), logon.replace("\x01", "|")[:-1])
    r = t.run("decode", stdin=text)
    t.expect("pipes with log prefixes", r, 0,
             out_has=("message 1 at offset 15", "message 2 at offset",
                      "A Logon", "108   ?"))

    # ^A separators in a file given as an argument.
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(mdreq.replace("\x01", "^A") + "\n")
        path = f.name
    try:
        t.expect("^A separators from a file", t.run("decode", path), 0,
                 out_has=("262   ?", "R1", "V ?"))
    finally:
        os.unlink(path)

    # A bad message between two good ones: reported with its error and offset; the
    # next message is still decoded; exit 1.
    garbled = "8=FIX.4.4\x019=xx\x0135=0\x0110=000\x01"
    bad_cs = order[:-4] + "000\x01"
    inp = logon + garbled + logon + bad_cs
    code, out, err = r = t.run("decode", stdin=inp)
    t.expect("bad messages", r, 1, out_has=(
        "error: message at offset %d: " % len(logon),
        "message 2 at offset %d" % (len(logon) + len(garbled)),
        "error: message at offset %d: CheckSum" % (2 * len(logon) + len(garbled))))
    t.check("bad messages: both good logons decoded", out.count("A Logon") == 2, out)

    # A data field holding SOH (RawDataLength/RawData): one field, SOH shown escaped.
    raw = fix("35=B|34=4|49=A|52=20240101-12:00:00|56=B|148=Hi|95=3|96=a\x01b|")
    t.expect("data field with SOH", t.run("decode", stdin=raw), 0,
             out_has=("96    ?                            a\\x01b", "148   ?"))

    # Truncated input: the codec's partial answer, with the offset.
    r = t.run("decode", stdin=order[:40])
    t.expect("truncated", r, 1, out_has=("error: message at offset 0", "input ends inside it"))

    # Nothing that looks like FIX: bad input.
    t.expect("no message", t.run("decode", stdin="hello\n"), 2, err_has=("no FIX message found",))
    t.expect("missing file", t.run("decode", "/nonexistent/x.log"), 1,
             err_has=("/nonexistent/x.log: No such file",))


    # Damaged input never crashes the decoder (the sanitizer build checks every
    # read): each run gets messages with random bytes cut, changed or inserted.
    # RFX_CLI_FUZZ_RUNS sets how many runs (default 20).
    rng = random.Random(int(os.environ.get("RFX_CLI_FUZZ_SEED", "1")))
    runs = int(os.environ.get("RFX_CLI_FUZZ_RUNS", "20"))
    alphabet = "0123456789=|\x01^A8FIX.;\n "
    bad_runs = []
    for run in range(runs):
        parts = []
        for _ in range(20):
            m = list(rng.choice((order, mdreq, logon)).replace("\x01", rng.choice("\x01|")))
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(m))
                op = rng.randrange(3)
                if op == 0:
                    del m[i]
                elif op == 1:
                    m[i] = rng.choice(alphabet)
                else:
                    m.insert(i, rng.choice(alphabet))
            parts.append("".join(m))
        cut = "".join(parts)
        cut = cut[:rng.randint(len(cut) // 2, len(cut))]
        args = ["decode"]
        if fix44_path and run % 2:
            args += ["--dict", fix44_path]
        code, out, err = t.run(*args, stdin=cut)
        if code not in (0, 1, 2) or "Sanitizer" in err or "runtime error" in err:
            bad_runs.append("run %d: exit %d\n%s" % (run, code, err[-2000:]))
    t.check("%d runs of damaged input: exit 0, 1 or 2, no sanitizer report" % runs, not bad_runs,
            "\n".join(bad_runs[:3]))

if part == "dict":
    fix44 = fix44_path
    r = t.run("decode", "--dict", fix44, stdin=order + mdreq)
    t.expect("--dict FIX44.xml", r, 0, out_has=(
        "D NewOrderSingle", "54    Side                         1  (BUY)",
        "40    OrdType                      2  (LIMIT)", "V MarketDataRequest",
        "267   NoMDEntryTypes", "  - 269   MDEntryType                  0  (BID)",
        "  - 269   MDEntryType                  1  (OFFER)", "  - 55    Symbol"))
    # --dict-dir picks by BeginString; FIX.4.2 and FIXT.1.1 messages too.
    fix42 = fix("35=D|34=2|49=A|52=20240101-12:00:00|56=B|11=X1|21=1|55=IBM|54=2|"
                "60=20240101-12:00:00|40=1|", begin="FIX.4.2")
    fixt = fix("35=A|34=1|49=A|52=20240101-12:00:00|56=B|98=0|108=30|1137=9|",
               begin="FIXT.1.1")
    r = t.run("decode", "--dict-dir", spec, stdin=fix42 + fixt + logon)
    t.expect("--dict-dir", r, 0, out_has=(
        "dictionary FIX.4.2", "54    Side                         2  (SELL)",
        "dictionary FIXT.1.1", "1137  DefaultApplVerID",
        "dictionary FIX.4.4", "98    EncryptMethod                0  (NONE)"))
    # A group count that does not match its entries: the codec's group error,
    # fields still shown.
    badgrp = fix("35=V|34=3|49=A|52=20240101-12:00:00|56=B|262=R1|263=1|264=0|267=3|269=0|"
                 "269=1|146=1|55=IBM|")
    r = t.run("decode", "--dict", fix44, stdin=badgrp + logon)
    t.expect("bad group count", r, 1, out_has=("error: message at offset 0", "fields shown flat",
                                               "A Logon"))
    t.expect("bad dictionary path", t.run("decode", "--dict", "/nonexistent.xml", stdin=logon),
             1, err_has=("dictionary /nonexistent.xml",))
t.done()
