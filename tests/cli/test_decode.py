"""ringfix decode: separators, log prefixes, several messages, bad messages,
with and without a dictionary (../shared/conformance/spec, skipped when absent)."""
import os
import tempfile

from clitest import Runner, fix, shared_dir

t = Runner()
order = fix("35=D|34=2|49=A|52=20240101-12:00:00|56=B|11=X1|21=1|55=IBM|54=1|"
            "60=20240101-12:00:00|40=2|38=100|44=1.5|")
mdreq = fix("35=V|34=3|49=A|52=20240101-12:00:00|56=B|262=R1|263=1|264=0|267=2|269=0|"
            "269=1|146=1|55=IBM|")
logon = fix("35=A|34=1|49=A|52=20240101-12:00:00|56=B|98=0|108=30|")

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

# Truncated input: the codec's partial answer, with the offset.
r = t.run("decode", stdin=order[:40])
t.expect("truncated", r, 1, out_has=("error: message at offset 0", "input ends inside it"))

# Nothing that looks like FIX: bad input.
t.expect("no message", t.run("decode", stdin="hello\n"), 2, err_has=("no FIX message found",))
t.expect("missing file", t.run("decode", "/nonexistent/x.log"), 1,
         err_has=("/nonexistent/x.log: No such file",))

shared = shared_dir()
spec = shared and os.path.join(shared, "conformance", "spec")
if not spec or not os.path.isfile(os.path.join(spec, "FIX44.xml")):
    print("# SKIP dictionary cases: ../shared/conformance/spec/FIX44.xml not found")
else:
    fix44 = os.path.join(spec, "FIX44.xml")
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
