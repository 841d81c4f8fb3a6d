"""ringfix status against live segments made by cli_seg_fixture (shm/server.h),
then against a shard that died, then a missing instance."""
import glob
import json
import os
import signal
import subprocess
import time

from clitest import Runner, SKIP
import sys

t = Runner()
if not os.path.isdir("/dev/shm"):
    print("# SKIP no /dev/shm on this machine")
    sys.exit(SKIP)
inst = "clit%d" % os.getpid()


def start_fixture():
    p = subprocess.Popen([os.environ["RFX_CLI_FIXTURE"], inst], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        p.wait()
        sys.exit("cli_seg_fixture did not start: %r" % line)
    return p


def cleanup():
    for f in glob.glob("/dev/shm/ringfix.%s.*" % inst):
        os.unlink(f)


try:
    fx = start_fixture()
    r = t.run("status", "--instance", inst)
    t.expect("live instance", r, 0, out_has=(
        "instance %s: 2 shards" % inst, "shard 0: pid %d alive" % fx.pid,
        "FIX.4.4:A->B", "ACTIVE", "12", "34", "shard 1: pid %d alive" % fx.pid,
        "transport", "ACTIVE        tcp", "DISCONNECTED  tls",
        "FIX.4.2:A->C", "DISCONNECTED", "msgs_in=5", "msgs_out=7",
        "client slot 0: pid %d active" % fx.pid))
    code, out, err = r = t.run("status", "--instance", inst, "--json")
    t.expect("live instance --json", r, 0)
    try:
        doc = json.loads(out)
    except ValueError as e:
        doc = None
        t.check("--json is one JSON document", False, "%s\n%s" % (e, out))
    if doc is not None:
        s0, s1 = doc["shards"][0], doc["shards"][1]
        t.check("json: instance and shard count",
                doc["instance"] == inst and doc["shard_count"] == 2, out)
        t.check("json: shard 0 alive with the fixture's pid",
                s0["alive"] is True and s0["pid"] == fx.pid and s0["generation"] >= 1, out)
        t.check("json: heartbeat age measured", 0 <= s0["heartbeat_age_ns"] < 60e9, out)
        t.check("json: session of shard 0", s0["sessions"] == [{
            "id": "FIX.4.4:A->B", "state": "ACTIVE", "tls": False, "next_sender_seq": 12,
            "next_target_seq": 34, "updated_age_ns": s0["sessions"][0]["updated_age_ns"]}], out)
        t.check("json: session of shard 1", s1["sessions"][0]["id"] == "FIX.4.2:A->C" and
                s1["sessions"][0]["state"] == "DISCONNECTED" and
                s1["sessions"][0]["tls"] is True, out)
        t.check("json: counters", s0["counters"]["msgs_in"] == 5 and
                s0["counters"]["msgs_out"] == 7 and s1["counters"]["msgs_in"] == 0, out)
        t.check("json: the fixture's client slot on both shards",
                s0["clients"] == [{"slot": 0, "pid": fx.pid, "state": "active"}] and
                s1["clients"] == s0["clients"], out)

    # The fixture heartbeats once at start, like a shard that stopped turning:
    # a second later status calls it stalled (alive, but no loop turns).
    time.sleep(1.1)
    code, out, err = r = t.run("status", "--instance", inst, "--json")
    t.expect("stalled shard --json", r, 0)
    try:
        t.check("json: stalled shard", json.loads(out)["shards"][0]["stalled"] is True, out)
    except (ValueError, KeyError, IndexError):
        t.check("json: stalled shard parses", False, out)
    t.expect("stalled shard text", t.run("status", "--instance", inst), 0,
             out_has=("pid %d alive but STALLED" % fx.pid,))

    # A shard killed outright leaves its segment behind: status says it is not
    # running (pid and start time no longer match a live process).
    fx.send_signal(signal.SIGKILL)
    fx.wait()
    code, out, err = r = t.run("status", "--instance", inst, "--json")
    t.expect("dead shard", r, 0)
    try:
        t.check("json: dead shard not alive", json.loads(out)["shards"][0]["alive"] is False, out)
    except ValueError:
        t.check("json: dead shard parses", False, out)
    try:
        sess = json.loads(out)["shards"][0]["sessions"][0]
        t.check("json: a dead shard's session is DOWN, its last state kept",
                sess["state"] == "DOWN" and sess["last_state"] == "ACTIVE", out)
    except (ValueError, KeyError, IndexError):
        t.check("json: dead shard sessions parse", False, out)
    t.expect("dead shard text", t.run("status", "--instance", inst), 0,
             out_has=("NOT RUNNING", "DOWN"), out_lacks=("ACTIVE",))

    # One shard's segment missing: the other is still shown, exit 1.
    os.unlink("/dev/shm/ringfix.%s.1" % inst)
    t.expect("missing shard 1", t.run("status", "--instance", inst), 1,
             out_has=("shard 0:",),
             err_has=("instance '%s': shard 1" % inst, "no such segment"))
    code, out, err = r = t.run("status", "--instance", inst, "--json")
    t.expect("missing shard 1 --json", r, 1)
    try:
        t.check("json: shard 1 reported with its error",
                "no such segment" in json.loads(out)["shards"][1]["error"], out)
    except (ValueError, KeyError, IndexError):
        t.check("json: missing shard parses", False, out)
    cleanup()

    # A clean shutdown removes the segments: the instance is gone.
    fx = start_fixture()
    fx.stdin.close()
    fx.wait(timeout=30)
    t.check("fixture exits 0", fx.returncode == 0)
    t.expect("missing instance", t.run("status", "--instance", inst), 1,
             err_has=("ringfix status: instance '%s': shard 0" % inst, "no such segment"))
    t.expect("missing instance --json", t.run("status", "--instance", inst, "--json"), 1)
finally:
    cleanup()
t.done()
