"""ringfix venue: --help, usage errors (exit 2, one line), a missing instance (exit 1),
and --expect, the seeded fill outcome tests compare a demo run against."""
from clitest import Runner

t = Runner()
t.expect("venue --help", t.run("venue", "--help"), 0,
         out_has=("usage: ringfix venue", "--fill-ratio", "--partials", "--latency-us"))
t.expect("help venue", t.run("help", "venue"), 0, out_has=("usage: ringfix venue",))
t.expect("listed in ringfix --help", t.run("--help"), 0, out_has=("venue",))
t.expect("no instance", t.run("venue"), 2, err_has=("--instance NAME is required",))
t.expect("unknown option", t.run("venue", "--bogus"), 2,
         err_has=("ringfix venue: unexpected argument '--bogus'",))
t.expect("stray argument", t.run("venue", "--instance", "x", "extra"), 2,
         err_has=("unexpected argument 'extra'",))
for bad in ("1.5", "-0.1", "abc", ""):
    t.expect("fill ratio %r" % bad, t.run("venue", "--instance", "x", "--fill-ratio", bad), 2,
             err_has=("--fill-ratio",))
t.expect("partials too many", t.run("venue", "--instance", "x", "--partials", "101"), 2,
         err_has=("--partials",))
t.expect("negative latency", t.run("venue", "--instance", "x", "--latency-us", "-5"), 2,
         err_has=("--latency-us",))
t.expect("bad seed", t.run("venue", "--instance", "x", "--seed", "1x"), 2, err_has=("--seed",))
t.expect("missing instance", t.run("venue", "--instance", "no_such_rfx_venue"), 1,
         err_has=("ringfix venue: instance no_such_rfx_venue",))
for args in (("venue", "--bogus"), ("venue", "--instance", "no_such_rfx_venue")):
    code, out, err = t.run(*args)
    t.check("%s: one error line" % " ".join(args), err.count("\n") == 1, err)

# --expect: deterministic, bounded by the ratio's extremes, and monotone in N.
def expect(n, ratio, seed=1):
    code, out, err = t.run("venue", "--expect", str(n), "--fill-ratio", str(ratio),
                           "--seed", str(seed))
    return int(out) if code == 0 else -1

t.check("expect ratio 1 fills all", expect(500, 1) == 500)
t.check("expect ratio 0 fills none", expect(500, 0) == 0)
a, b = expect(1000, 0.8), expect(1000, 0.8)
t.check("expect is deterministic", a == b and a > 0, (a, b))
t.check("expect near the ratio", 700 <= a <= 900, a)
t.check("expect depends on the seed", expect(1000, 0.8, 2) != a or expect(1000, 0.8, 3) != a)
t.check("expect monotone in N", expect(100, 0.8) <= expect(200, 0.8) <= a)
t.done()
