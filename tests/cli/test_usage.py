"""ringfix usage: --help everywhere, usage errors exit 2 with one clear line."""
from clitest import Runner

t = Runner()
t.expect("--help", t.run("--help"), 0, out_has=("decode", "config", "status", "logout", "reset"))
for cmd in ("decode", "config", "status", "logout", "logon", "reset", "disconnect", "admin"):
    t.expect("%s --help" % cmd, t.run(cmd, "--help"), 0, out_has=("usage: ringfix " + cmd,))
    t.expect("help %s" % cmd, t.run("help", cmd), 0, out_has=("usage: ringfix " + cmd,))
t.expect("no command", t.run(), 2, err_has=("usage:",))
t.expect("unknown command", t.run("frobnicate"), 2,
         err_has=("unknown command 'frobnicate'",))
t.expect("help of unknown command", t.run("help", "frobnicate"), 2,
         err_has=("unknown command 'frobnicate'",))
t.expect("decode bad option", t.run("decode", "--bogus"), 2,
         err_has=("ringfix decode: unexpected argument '--bogus'",))
t.expect("decode --dict and --dict-dir", t.run("decode", "--dict", "a", "--dict-dir", "b"), 2,
         err_has=("not both",))
t.expect("status bad option", t.run("status", "--bogus"), 2,
         err_has=("ringfix status: unexpected argument '--bogus'",))
t.expect("status bad instance name", t.run("status", "--instance", "a/b"), 2,
         err_has=("instance name 'a/b'",))
t.expect("config without subcommand", t.run("config"), 2, err_has=("usage: ringfix config",))
t.expect("config unknown subcommand", t.run("config", "frob"), 2,
         err_has=("unknown subcommand 'frob'",))
t.expect("config check without file", t.run("config", "check"), 2,
         err_has=("exactly one settings FILE",))
t.expect("config encrypt without key", t.run("config", "encrypt"), 2,
         err_has=("--key-file FILE and --key-env VAR",))
t.expect("config explain unknown key", t.run("config", "explain", "NoSuchKey"), 2,
         err_has=("unknown key 'NoSuchKey'",))
t.expect("config explain wrong case", t.run("config", "explain", "heartbtint"), 2,
         err_has=("did you mean HeartBtInt",))
t.expect("config explain one key", t.run("config", "explain", "HeartBtInt"), 0,
         out_has=("HeartBtInt", "default: 30"))
t.expect("config explain all", t.run("config", "explain"), 0,
         out_has=("InstanceName  [ENGINE]", "Password  [SESSION]  secret"))
for cmd in ("logout", "logon", "reset", "disconnect"):
    t.expect("%s without SESSION" % cmd, t.run(cmd), 2, err_has=("missing SESSION",))
    t.expect("%s bad SESSION" % cmd, t.run(cmd, "a b"), 2, err_has=("is not a session ID",))
    t.expect("%s bad option" % cmd, t.run(cmd, "FIX.4.4:A->B", "--bogus"), 2,
             err_has=("ringfix %s: unexpected argument '--bogus'" % cmd,))
    t.expect("%s bad instance name" % cmd, t.run(cmd, "FIX.4.4:A->B", "--instance", "a/b"), 2,
             err_has=("instance name 'a/b'",))
    t.expect("%s engine not running" % cmd,
             t.run(cmd, "FIX.4.4:A->B", "--instance", "no_such_rfx"), 1,
             err_has=("instance 'no_such_rfx' is not running",))
t.expect("admin without request", t.run("admin"), 2, err_has=("missing request",))
t.expect("admin unknown request", t.run("admin", "frob"), 2, err_has=("unknown request 'frob'",))
for args in (("--help",), ("decode", "--bogus"), ("status", "--instance", "no_such_rfx"),
             ("logout", "FIX.4.4:A->B", "--instance", "no_such_rfx")):
    code, out, err = t.run(*args)
    t.check("%s: at most one error line" % " ".join(args), err.count("\n") <= 1, err)
t.done()
