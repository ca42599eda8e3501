"""Our supervisorctl against the stock one without a running daemon: the
command line, the config file, and servers that are down."""

from __future__ import annotations

import socket

import pytest

from tests.daemon_harness import free_port
from tests.interop.conftest import same_without_daemon

USAGE_ERRORS = [
    ["-x"],
    ["-c"],
    ["-s"],
    ["--configuration"],
    ["--serv=foo", "status"],
    ["--s", "x"],
    ["-s", "foo"],
    ["-s", "http://", "status"],
    ["-s", "a", "-s", "b"],
    ["-s", "http://a", "-s", "http://b"],
    ["-s", "http://a", "--serverurl=http://b"],
    ["-u", "a", "-u", "b"],
    ["--username=a", "--user", "b"],
    ["-p", "a", "--password", "b"],
    ["-i", "-i"],
    ["-ii"],
    ["-ix"],
    ["--interactive", "-i"],
    ["--help=3"],
    ["--interactive=yes"],
    ["--h"],
    ["--history-file=x"],
    ["--foo"],
    ["-c", "/nonexistent/supervisord.conf", "status"],
    ["-c", "/nonexistent/x.conf", "-c", "/nonexistent/y.conf"],
    ["-s", "foo", "-h"],
]

HELP = [
    ["-h"],
    ["-?"],
    ["--help"],
    ["--he"],
    ["-h", "-s", "foo"],
    ["-ih"],
    ["-h", "status"],
    ["-h", "-x"],
]


@pytest.mark.parametrize("argv", USAGE_ERRORS + HELP, ids=" ".join)
def test_usage(argv, tmp_path):
    same_without_daemon(argv, tmp_path)


@pytest.fixture
def unix_down(tmp_path):
    return f"unix://{tmp_path}/nothing.sock"


@pytest.fixture
def unix_stale(tmp_path):
    """A socket file nobody listens on: connecting is refused."""
    path = tmp_path / "stale.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return f"unix://{path}"


@pytest.fixture
def tcp_down():
    return f"http://127.0.0.1:{free_port()}"


DOWN_COMMANDS = [
    "status",
    "status sleeper",
    "pid",
    "pid all",
    "start sleeper",
    "start",
    "stop sleeper",
    "restart sleeper",
    "signal HUP sleeper",
    "version",
    "reread",
    "avail",
    "update",
    "add x",
    "remove x",
    "shutdown",
    "reload",
    "tail sleeper",
    "tail -f sleeper",
    "maintail",
    "maintail -f",
    "clear all",
    "fg sleeper",
    "help",
    "help status",
    "foo",
    "open foo",
]


@pytest.mark.parametrize("line", DOWN_COMMANDS)
@pytest.mark.parametrize("server", ["unix_down", "unix_stale", "tcp_down"])
def test_server_down(line, server, request, tmp_path):
    url = request.getfixturevalue(server)
    same_without_daemon(["-s", url, *line.split()], tmp_path)


def test_server_down_interactive(unix_down, tcp_down, tmp_path):
    script = f"status\nversion\nopen {tcp_down}\npid\nshutdown\ny\nreread\nopen {unix_down}\n"
    same_without_daemon(["-s", unix_down], tmp_path, input=script)


def test_unknown_protocol_and_bad_port(tmp_path):
    # https:// is ours only (issue 20: TLS listeners), so no longer compared.
    for url in ("ftp://host/x", "gopher://host", "http://localhost:notaport"):
        for line in ("status", "pid", "reread", "shutdown", "help"):
            same_without_daemon(["-s", url, *line.split()], tmp_path)


def test_unresolvable_host(tmp_path):
    same_without_daemon(["-s", "http://nonexistent.invalid:9001", "status"], tmp_path)


CONFIGS = {
    "no_section": "[supervisord]\nlogfile=/dev/null\n",
    "empty_section": "[supervisorctl]\n",
    "unix_relative": "[supervisorctl]\nserverurl=unix://sub/../nothing.sock\n",
    "here": "[supervisorctl]\nserverurl=unix://%(here)s/nothing.sock\n",
    "env": "[supervisorctl]\nserverurl=unix://%(ENV_CTL_TEST_DIR)s/nothing.sock\n",
    "bad_name": "[supervisorctl]\nserverurl=unix://%(nope)s/x.sock\n",
    "bad_format": "[supervisorctl]\nusername=50%\n",
    "here_not_for_username": "[supervisorctl]\nusername=%(here)s\n",
    "defaults": "[DEFAULT]\nserverurl=unix:///nonexistent/d.sock\n[supervisorctl]\n",
    "inline_comment": "[supervisorctl]\nserverurl=unix:///nonexistent/c.sock ; a comment\n",
    "plugin_without_factory": "[supervisorctl]\n[ctlplugin:x]\nfoo=bar\n",
    "tcp_url": "[supervisorctl]\nserverurl=http://127.0.0.1:1\n",
    "bad_url": "[supervisorctl]\nserverurl=nonsense\n",
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_file(name, tmp_path):
    conf = tmp_path / "ctl.conf"
    conf.write_text(CONFIGS[name])
    env = {"CTL_TEST_DIR": str(tmp_path)}
    same_without_daemon(["-c", str(conf), "status"], tmp_path, env=env)
    same_without_daemon(["-c", str(conf), "pid"], tmp_path, env=env)
    same_without_daemon(["-c", str(conf)], tmp_path, env=env, input="help\n")


def test_config_file_given_options_win(tmp_path):
    conf = tmp_path / "ctl.conf"
    conf.write_text("[supervisorctl]\nserverurl=http://127.0.0.1:1\n")
    same_without_daemon(["-c", str(conf), "-s", f"unix://{tmp_path}/x.sock", "status"], tmp_path)


def test_config_found_in_working_directory(tmp_path):
    (tmp_path / "supervisord.conf").write_text(
        f"[supervisorctl]\nserverurl=unix://{tmp_path}/cwd.sock\n"
    )
    same_without_daemon(["status"], tmp_path)
    (tmp_path / "supervisord.conf").write_text("[supervisord]\n")
    same_without_daemon(["status"], tmp_path)


def test_config_with_a_syntax_error_fails_alike(tmp_path):
    # Stock dies with a traceback here; ours reports the parser's message.
    # Same exit status, and the last line of stderr is the same.
    from tests.interop.conftest import run_client

    conf = tmp_path / "ctl.conf"
    conf.write_text("serverurl=nothing\n")
    stock = run_client("stock", ["-c", str(conf), "status"], cwd=tmp_path)
    ours = run_client("ours", ["-c", str(conf), "status"], cwd=tmp_path)
    assert ours.returncode == stock.returncode
    assert ours.stdout == stock.stdout
    assert ours.stderr.strip().splitlines()[-1] == stock.stderr.strip().splitlines()[-1]
