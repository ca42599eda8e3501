"""Our supervisorctl against the stock one with a password-protected daemon,
over the unix socket and over TCP: right, wrong and missing credentials, in
one-shot mode and in the shell (which asks for a username and password)."""

from __future__ import annotations

import pytest

from tests.interop.conftest import DAEMON_KINDS, PROGRAMS, Pair, settle

AUTH = ("user", "s3cret")


@pytest.fixture(scope="module", params=DAEMON_KINDS)
def guarded(request, tmp_path_factory):
    from tests.daemon_harness import Daemon, short_workdir

    if request.param == "stock":
        from tests.daemon_harness import require_stock

        require_stock()
    tmp = tmp_path_factory.mktemp("auth")
    daemon = Daemon(
        short_workdir(tmp, request.param), PROGRAMS, kind=request.param, inet=True, auth=AUTH
    )
    daemon.start()
    try:
        settle(daemon)
        yield Pair(daemon, daemon)
    finally:
        daemon.stop()


def urls(pair):
    return {"unix": f"unix://{pair.a.sock}", "inet": f"http://127.0.0.1:{pair.a.port}"}


@pytest.mark.parametrize("where", ["unix", "inet"])
@pytest.mark.parametrize(
    "credentials",
    [
        (),
        ("-u", "user", "-p", "s3cret"),
        ("-u", "user", "-p", "wrong"),
        ("-u", "user"),
        ("-p", "s3cret"),
        ("-u", "", "-p", ""),
    ],
    ids=["none", "right", "wrong", "user_only", "password_only", "empty"],
)
@pytest.mark.parametrize(
    "line",
    ["status", "pid", "avail", "reread", "shutdown x", "tail sleeper", "version", "maintail -10"],
)
def test_one_shot(guarded, where, credentials, line):
    options = ("-s", urls(guarded)[where], *credentials)
    guarded.same(*line.split(), options=options, config=False)


def test_credentials_from_config(guarded, tmp_path):
    for user, password in (AUTH, ("user", "nope")):
        conf = tmp_path / "ctl.conf"
        conf.write_text(
            f"[supervisorctl]\nserverurl=http://127.0.0.1:{guarded.a.port}\nusername={user}\npassword={password}\n"
        )
        guarded.same("status", options=("-c", str(conf)), config=False)
        # The command line wins over the config file.
        guarded.same("pid", options=("-c", str(conf), "-p", AUTH[1]), config=False)


@pytest.mark.parametrize("where", ["unix", "inet"])
def test_shell_asks_for_credentials(guarded, where):
    options = ("-s", urls(guarded)[where])
    guarded.same(input="user\ns3cret\npid\nstatus sleeper\n", options=options, config=False)


def test_shell_asks_again_until_input_ends(guarded):
    options = ("-s", urls(guarded)["inet"])
    guarded.same(input="user\nwrong\nuser\nalso-wrong\n", options=options, config=False)


def test_shell_with_wrong_credentials_given(guarded):
    options = ("-s", urls(guarded)["unix"], "-u", "user", "-p", "wrong")
    guarded.same(input="user\ns3cret\nversion\n", options=options, config=False)
