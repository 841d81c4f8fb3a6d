"""deploy/demo.sh end to end in a small mode: two ringfixd instances, ringfix venue and
examples/strategy. Every order must be acked, the fills must be exactly the venue's seeded
outcome (ringfix venue --expect), the rest canceled, and everything must stop cleanly.
Usage: test_demo.py DEMO_SH BUILD_DIR RINGFIX"""
import os
import re
import subprocess
import sys

demo, build, ringfix = sys.argv[1:4]
checks = failures = 0


def check(what, ok, detail=""):
    global checks, failures
    checks += 1
    print("%sok %d - %s" % ("" if ok else "not ", checks, what))
    if not ok:
        failures += 1
        for line in str(detail).splitlines()[-60:]:
            print("#   " + line)


def run_demo(name, orders, ratio, seed, flow, partials=0, latency_us=0, extra=()):
    p = subprocess.run(["bash", demo, build, "--orders", str(orders), "--fill-ratio", str(ratio),
                        "--seed", str(seed), "--partials", str(partials),
                        "--latency-us", str(latency_us)] + flow + list(extra), capture_output=True, text=True, timeout=150)
    log = "exit %d\n--- stdout\n%s--- stderr\n%s" % (p.returncode, p.stdout, p.stderr)
    check("%s: demo exits 0" % name, p.returncode == 0, log)
    want = int(subprocess.run([ringfix, "venue", "--expect", str(orders), "--fill-ratio",
                               str(ratio), "--seed", str(seed)], capture_output=True, text=True,
                              check=True).stdout)
    m = re.search(r"orders sent (\d+), acks (\d+), fills (\d+) \(partial fills (\d+)\), "
                  r"canceled (\d+), rejects (\d+), send failures (\d+)", p.stdout)
    check("%s: strategy report printed" % name, m is not None, log)
    if m:
        sent, acks, fills, parts, canceled, rejects, failed = map(int, m.groups())
        check("%s: %d partial fills before each fill" % (name, partials),
              parts == partials * fills, log)
        check("%s: %d orders sent" % (name, orders), sent == orders, log)
        check("%s: every order acked" % name, acks == orders, log)
        check("%s: fills = seeded outcome %d" % (name, want), fills == want, log)
        check("%s: the rest canceled" % name, canceled == orders - want, log)
        check("%s: no rejects, no send failures" % name, rejects == 0 and failed == 0, log)
    check("%s: latency percentiles printed" % name, "order->ack   p50" in p.stdout, log)
    check("%s: status of both instances" % name, p.stdout.count("FIX.4.4:") >= 3, log)
    check("%s: venue saw the same orders" % name,
          re.search(r"venue: %d orders, %d acks, %d fills" % (orders, orders, want), p.stdout)
          is not None, log)
    check("%s: stopped cleanly" % name, "stopped cleanly" in p.stdout, log)
    if latency_us:
        # A lower bound, not a timing: no answer may come before the venue's delay.
        mins = re.search(r"order->ack   p50 ([\d.]+)", p.stdout)
        check("%s: acks not before %d us" % (name, latency_us),
              mins is not None and float(mins.group(1)) >= latency_us, log)


run_demo("closed-loop", 500, 0.8, 3, ["--window", "4"])
run_demo("fixed rate, partials, delayed", 300, 0.5, 11, ["--rate", "2000"], partials=2,
         latency_us=1000)
# With FIX.4.4 dictionary validation on both sides the venue's ExecutionReports and the
# strategy's orders and cancels must carry every required field (no rejects).
spec = os.path.normpath(os.path.join(os.path.dirname(demo), "..", "..", "shared", "conformance",
                                     "spec", "FIX44.xml"))
if os.path.isfile(spec):
    run_demo("validated FIX.4.4", 200, 0.5, 5, ["--window", "4"], partials=1,
             extra=("--dictionary", spec))
else:
    checks += 1
    print("ok %d - validated FIX.4.4 # SKIP ../shared/conformance/spec/FIX44.xml not found" % checks)
r = subprocess.run(["bash", demo], capture_output=True, text=True, timeout=30)
check("demo without BUILD_DIR: exit 2 with usage", r.returncode == 2 and "usage" in r.stderr,
      r.stderr)
print("1..%d" % checks)
sys.exit(1 if failures else 0)
