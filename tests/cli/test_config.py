"""ringfix config check / encrypt: good and bad files, secrets never printed,
and what `config encrypt` writes is what engine/settings decrypts."""
import os
import secrets
import subprocess
import tempfile

from clitest import Runner

t = Runner()
tmp = tempfile.mkdtemp(prefix="rfx_cli_config_")

GOOD = """# two sessions, one pinned to shard 1
[ENGINE]
InstanceName=clicfg
Shards=2
{engine_extra}
[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=5001
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
[SESSION]
BeginString=FIX.4.4
SenderCompID=A
TargetCompID=B
Password={password}
[SESSION]
BeginString=FIX.4.2
SenderCompID=A
TargetCompID=C
Shard=1
HeartBtInt=45
"""


def write(name, text, mode=0o644):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


try:
    good = write("good.cfg", GOOD.format(engine_extra="", password="plain-pw-123"))
    r = t.run("config", "check", good)
    t.expect("good file", r, 0, out_has=(
        "[SESSION] FIX.4.4:A->B", "[SESSION] FIX.4.2:A->C", "(shard)",
        "1 of 2 (Shard= in the file)", "hash of the session ID", "HeartBtInt", "45",
        "ok: 2 sessions on 2 shards", "******** (secret, not shown)"),
        out_lacks=("plain-pw-123",))

    # Errors name file, line and key; exit 2.
    bad = write("bad.cfg", "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=A\n"
                           "TargetCompID=B\nHeartBtInt=abc\n")
    t.expect("bad value", t.run("config", "check", bad), 2,
             err_has=("bad.cfg:5: HeartBtInt: 'abc' is not a whole number",))
    typo = write("typo.cfg", GOOD.format(engine_extra="", password="x").replace(
        "HeartBtInt=45", "HeartbtInt=45"))
    t.expect("misspelt key", t.run("config", "check", typo), 2,
             err_has=("typo.cfg:23: HeartbtInt:",))
    # An ENC() value that cannot be decrypted: the error names line and key,
    # never the value.
    secret_err = write("secret.cfg", GOOD.format(engine_extra="", password="ENC(hunter2xyz)"))
    code, out, err = r = t.run("config", "check", secret_err)
    t.expect("undecryptable secret", r, 2, err_has=("secret.cfg:17: Password:",))
    t.check("undecryptable secret: value never in the error", "hunter2xyz" not in err, err)
    t.expect("missing file", t.run("config", "check", os.path.join(tmp, "none.cfg")), 1,
             err_has=("none.cfg",))

    # Dictionaries are loaded too: one that is missing or broken fails the check.
    nodict = write("nodict.cfg", GOOD.format(engine_extra="", password="x").replace(
        "UseDataDictionary=N", "UseDataDictionary=Y\nDataDictionary=missing44.xml"))
    t.expect("missing dictionary", t.run("config", "check", nodict), 2,
             out_has=("FAILED: 1 dictionary cannot be loaded",),
             err_has=("session FIX.4.4:A->B (line 14): DataDictionary: ", "missing44.xml",
                      "No such file"))
    write("broken.xml", "<fix major='4' minor='4'><header>\n<field name='Nope'/>\n")
    brokendict = write("brokendict.cfg", GOOD.format(engine_extra="", password="x").replace(
        "UseDataDictionary=N", "UseDataDictionary=Y\nDataDictionary=broken.xml"))
    t.expect("broken dictionary", t.run("config", "check", brokendict), 2,
             err_has=("DataDictionary: ", "broken.xml"))

    # FIXT.1.1: every AppDataDictionary.<version> is loaded as well, and a bad
    # one is reported with its own line and key.
    write("fixt.xml", "<fix type='FIXT' major='1' minor='1'><header>"
          "<field name='MsgType' required='Y'/></header><messages/><trailer/>"
          "<components/><fields><field number='35' name='MsgType' type='STRING'/>"
          "</fields></fix>\n")
    for sp in ("1", "2"):
        write("sp%s.xml" % sp, "<fix type='FIX' major='5' minor='0' servicepack='%s'>"
              "<header/><messages><message name='NewOrderSingle' msgtype='D' msgcat='app'>"
              "<field name='ClOrdID' required='Y'/></message></messages><trailer/>"
              "<components/><fields><field number='11' name='ClOrdID' type='STRING'/>"
              "</fields></fix>\n" % sp)
    FIXT = ("[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=5001\nHeartBtInt=30\n"
            "StartTime=00:00:00\nEndTime=00:00:00\n[SESSION]\nBeginString=FIXT.1.1\n"
            "SenderCompID=A\nTargetCompID=B\nDefaultApplVerID=FIX.5.0SP2\n"
            "UseDataDictionary=Y\nTransportDataDictionary=fixt.xml\n"
            "AppDataDictionary=sp2.xml\nAppDataDictionary.FIX.5.0SP1=%s\n")
    t.expect("keyed app dictionaries", t.run("config", "check", write("fixt.cfg", FIXT % "sp1.xml")),
             0, out_has=("AppDataDictionary.FIX.5.0SP1: FIX.5.0SP1, 1 fields, 1 messages",
                         "AppDataDictionary: FIX.5.0SP2"))
    t.expect("missing keyed app dictionary",
             t.run("config", "check", write("fixt-missing.cfg", FIXT % "nosp1.xml")), 2,
             out_has=("FAILED: 1 dictionary cannot be loaded",),
             err_has=("session FIXT.1.1:A->B (line 15): AppDataDictionary.FIX.5.0SP1: ",
                      "nosp1.xml", "No such file"))
    t.expect("broken keyed app dictionary",
             t.run("config", "check", write("fixt-broken.cfg", FIXT % "broken.xml")), 2,
             err_has=("(line 15): AppDataDictionary.FIX.5.0SP1: ", "broken.xml"))

    # encrypt -> settings decrypts it (key file, owner-only).
    key_hex = secrets.token_hex(32)
    key = write("secret.key", key_hex + "\n", 0o600)
    plain = "s3cr#t=pass word"
    code, enc, err = r = t.run("config", "encrypt", "--key-file", key, stdin=plain + "\n")
    t.expect("encrypt with key file", r, 0, out_has=("ENC(",), out_lacks=(plain,))
    enc = enc.strip()
    encfile = write("enc.cfg", GOOD.format(engine_extra="SecretKeyFile=secret.key",
                                           password=enc))
    probe = subprocess.run([os.environ["RFX_CLI_PROBE"], encfile], capture_output=True,
                           text=True, timeout=30)
    t.check("settings decrypts what encrypt wrote", probe.returncode == 0 and
            probe.stdout.strip() == plain, probe.stdout + probe.stderr)
    t.expect("check of an ENC() file", t.run("config", "check", encfile), 0,
             out_has=("Password", "******** (secret, not shown)"),
             out_lacks=(plain, enc))

    # Same through --key-env; a wrong key is reported, not printed.
    env = dict(os.environ, RFX_TEST_KEY=key_hex)
    code, enc2, err = r = t.run("config", "encrypt", "--key-env", "RFX_TEST_KEY", stdin=plain,
                                env=env)
    t.expect("encrypt with key env", r, 0, out_has=("ENC(",))
    t.check("fresh nonce per secret", enc2.strip() != enc, enc2)
    wrong = write("wrong.key", secrets.token_hex(32), 0o600)
    wrongfile = write("wrong.cfg", GOOD.format(engine_extra="SecretKeyFile=wrong.key",
                                               password=enc))
    code, out, err = r = t.run("config", "check", wrongfile)
    t.expect("wrong key", r, 2, err_has=("wrong.cfg:", "Password"), out_lacks=(plain,))

    open_key = write("open.key", key_hex, 0o644)
    t.expect("group-readable key file", t.run("config", "encrypt", "--key-file", open_key,
                                              stdin="x"), 1, err_has=("open.key",))
    t.expect("empty secret", t.run("config", "encrypt", "--key-file", key, stdin=""), 2,
             err_has=("no secret on stdin",))
    t.expect("unset key env", t.run("config", "encrypt", "--key-env", "RFX_NO_SUCH_VAR_X",
                                    stdin="x"), 1,
             err_has=("RFX_NO_SUCH_VAR_X is not set",))
finally:
    for n in os.listdir(tmp):
        os.unlink(os.path.join(tmp, n))
    os.rmdir(tmp)
t.done()
