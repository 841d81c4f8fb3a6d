"""deploy/demo.sh end to end in a small mode: two ringfixd instances, ringfix venue and
examples/strategy. Every order must be acked, the fills must be exactly the venue's seeded
outcome (ringfix venue --expect), the rest canceled, and everything must stop cleanly.
Usage: test_demo.py DEMO_SH BUILD_DIR RINGFIX"""
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


def run_demo(name, orders, ratio, seed, flow):
    p = subprocess.run(["bash", demo, build, "--orders", str(orders), "--fill-ratio", str(ratio),
                        "--seed", str(seed)] + flow, capture_output=True, text=True, timeout=150)
    log = "exit %d\n--- stdout\n%s--- stderr\n%s" % (p.returncode, p.stdout, p.stderr)
    check("%s: demo exits 0" % name, p.returncode == 0, log)
    want = int(subprocess.run([ringfix, "venue", "--expect", str(orders), "--fill-ratio",
                               str(ratio), "--seed", str(seed)], capture_output=True, text=True,
                              check=True).stdout)
    m = re.search(r"orders sent (\d+), acks (\d+), fills (\d+) \(partial fills \d+\), "
                  r"canceled (\d+), rejects (\d+), send failures (\d+)", p.stdout)
    check("%s: strategy report printed" % name, m is not None, log)
    if m:
        sent, acks, fills, canceled, rejects, failed = map(int, m.groups())
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


run_demo("closed-loop", 500, 0.8, 3, ["--window", "4"])
run_demo("fixed rate", 300, 0.5, 11, ["--rate", "2000"])
r = subprocess.run(["bash", demo], capture_output=True, text=True, timeout=30)
check("demo without BUILD_DIR: exit 2 with usage", r.returncode == 2 and "usage" in r.stderr,
      r.stderr)
print("1..%d" % checks)
sys.exit(1 if failures else 0)
