"""Shared helpers of the ringfix CLI integration tests (Python 3 stdlib only)."""
import os
import subprocess
import sys

SKIP = 77  # meson: the test was skipped


class Runner:
    def __init__(self):
        if len(sys.argv) < 2:
            sys.exit("usage: %s PATH_TO_RINGFIX" % sys.argv[0])
        self.ringfix = sys.argv[1]
        self.failures = 0
        self.checks = 0

    def run(self, *args, stdin=None, env=None):
        """Runs ringfix ARGS; returns (exit code, stdout, stderr) as text."""
        p = subprocess.run([self.ringfix] + list(args), input=stdin, capture_output=True,
                           text=True, timeout=30, env=env)
        return p.returncode, p.stdout, p.stderr

    def check(self, what, ok, detail=""):
        self.checks += 1
        if ok:
            print("ok %d - %s" % (self.checks, what))
        else:
            self.failures += 1
            print("not ok %d - %s" % (self.checks, what))
            for line in str(detail).splitlines()[:40]:
                print("#   " + line)

    def expect(self, what, result, rc, out_has=(), err_has=(), out_lacks=()):
        code, out, err = result
        detail = "exit %d\n--- stdout\n%s--- stderr\n%s" % (code, out, err)
        self.check("%s: exit %d" % (what, rc), code == rc, detail)
        for s in out_has:
            self.check("%s: stdout has %r" % (what, s), s in out, detail)
        for s in err_has:
            self.check("%s: stderr has %r" % (what, s), s in err, detail)
        for s in out_lacks:
            self.check("%s: stdout lacks %r" % (what, s), s not in out and s not in err,
                       detail)

    def done(self):
        print("1..%d" % self.checks)
        sys.exit(1 if self.failures else 0)


def shared_dir():
    """../shared next to the source tree, or None."""
    root = os.environ.get("RFX_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
    d = os.path.normpath(os.path.join(root, "..", "shared"))
    return d if os.path.isdir(d) else None


def fix(body, begin="FIX.4.4", sep="\x01"):
    """A framed message with correct BodyLength and CheckSum; body uses '|'."""
    b = body.replace("|", "\x01")
    m = "8=%s\x019=%d\x01%s" % (begin, len(b), b)
    m += "10=%03d\x01" % (sum(m.encode()) % 256)
    return m.replace("\x01", sep)
