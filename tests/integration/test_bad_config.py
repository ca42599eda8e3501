"""A config the daemon refuses: exit 2, one clear ``Error:`` line naming the
file, section and option, no program started, nothing left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.log_daemon import SUPERVISORD

# (case id, program sections appended to a good config, section, option or None)
CASES = [
    ("integer", "[program:bad]\ncommand=sleep 1\nstartsecs=abc\n", "program:bad", "startsecs"),
    ("boolean", "[program:bad]\ncommand=sleep 1\nautostart=maybe\n", "program:bad", "autostart"),
    ("byte-size", "[program:bad]\ncommand=sleep 1\nstdout_logfile_maxbytes=1G\n", "program:bad", "stdout_logfile_maxbytes"),
    ("signal", "[program:bad]\ncommand=sleep 1\nstopsignal=NOPE\n", "program:bad", "stopsignal"),
    ("exitcodes", "[program:bad]\ncommand=sleep 1\nexitcodes=0,300\n", "program:bad", "exitcodes"),
    ("autorestart", "[program:bad]\ncommand=sleep 1\nautorestart=sometimes\n", "program:bad", "autorestart"),
    ("octal", "[program:bad]\ncommand=sleep 1\numask=999\n", "program:bad", "umask"),
    ("process-name", "[program:bad]\ncommand=sleep 1\nprocess_name=a:b\n", "program:bad", "process_name"),
    ("expansion", "[program:bad]\ncommand=sleep %(nosuchname)s\n", "program:bad", "command"),
    ("numprocs", "[program:bad]\ncommand=sleep 1\nnumprocs=2\n", "program:bad", "process_name"),
    ("missing-command", "[program:bad]\nautostart=true\n", "program:bad", "command"),
    ("logfile-dir", "[program:bad]\ncommand=sleep 1\nstdout_logfile=/nonexistent/dir/x.log\n", "program:bad", "stdout_logfile"),
    ("user", "[program:bad]\ncommand=sleep 1\nuser=no-such-user-here\n", "program:bad", "user"),
    ("stopasgroup", "[program:bad]\ncommand=sleep 1\nstopasgroup=true\nkillasgroup=false\n", "program:bad", "killasgroup"),
    ("group-member", "[group:g]\nprograms=good,missing\n", "group:g", "programs"),
    ("listener-events", "[eventlistener:bad]\ncommand=sleep 1\n", "eventlistener:bad", "events"),
    ("fcgi-socket", "[fcgi-program:bad]\ncommand=sleep 1\nsocket=ftp://x\n", "fcgi-program:bad", "socket"),
    ("inet-port", "[inet_http_server]\nport=notaport\n", "inet_http_server", "port"),
    ("include-files", "[include]\n", "include", "files"),
]


def good_config(tmp_path: Path) -> str:
    return (
        "[supervisord]\n"
        f"logfile={tmp_path}/supervisord.log\npidfile={tmp_path}/supervisord.pid\n"
        f"childlogdir={tmp_path}\nnodaemon=true\n"
        f"[program:good]\ncommand=touch {tmp_path}/started\nautorestart=false\nstartsecs=0\n"
    )


def run(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SUPERVISORD, "-c", str(conf)], capture_output=True, text=True, timeout=30)


def assert_nothing_happened(tmp_path: Path, conf: Path) -> None:
    left = sorted(p.name for p in tmp_path.iterdir() if p != conf)
    assert left == [], f"left behind: {left}"


@pytest.mark.parametrize("case, programs, section, option", CASES, ids=[c[0] for c in CASES])
def test_bad_config_exits_2_naming_file_section_and_option(tmp_path, case, programs, section, option):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(good_config(tmp_path) + programs)
    result = run(conf)
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: "), result.stderr
    assert lines[-1] == "For help, use supervisord -h"
    assert str(conf) in lines[0]
    assert section in lines[0]
    assert f"'{option}'" in lines[0] or option in lines[0]
    assert_nothing_happened(tmp_path, conf)


def test_error_in_included_file_names_that_file_and_line(tmp_path):
    confd = tmp_path / "conf.d"
    confd.mkdir()
    (confd / "web.conf").write_text("[program:web]\ncommand=sleep 1\n\nstartretries=lots\n")
    conf = tmp_path / "supervisord.conf"
    conf.write_text(good_config(tmp_path) + "[include]\nfiles=conf.d/*.conf\n")
    result = run(conf)
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert str(confd / "web.conf") in first and "program:web" in first and "startretries" in first
    assert "line 4" in first
    (tmp_path / "supervisord.conf").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.d"]


def test_missing_config_file(tmp_path):
    result = run(tmp_path / "nope.conf")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ")
    assert str(tmp_path / "nope.conf") in result.stderr


def test_syntax_error_without_section_header(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text("command=sleep 1\n" + good_config(tmp_path))
    result = run(conf)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and str(conf) in result.stderr
    assert_nothing_happened(tmp_path, conf)


def test_no_config_found_at_default_paths(tmp_path):
    # argv0 in an empty directory and cwd empty: nothing in the search path
    # exists unless the machine has /etc/supervisord.conf.
    if Path("/etc/supervisord.conf").exists() or Path("/etc/supervisor/supervisord.conf").exists():
        pytest.skip("this machine has a system-wide supervisord.conf")
    result = subprocess.run(
        [SUPERVISORD], capture_output=True, text=True, cwd=tmp_path, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: No config file found at default paths (")


def test_unknown_command_line_flag(tmp_path):
    result = subprocess.run([SUPERVISORD, "--bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and "--bogus" in result.stderr
    assert result.stderr.endswith("For help, use supervisord -h\n")


def test_bad_command_line_value_names_the_option(tmp_path):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(good_config(tmp_path))
    result = subprocess.run(
        [SUPERVISORD, "-c", str(conf), "--loglevel", "chatty"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "loglevel" in result.stderr.splitlines()[0]
    assert_nothing_happened(tmp_path, conf)


def test_version_and_help():
    out = subprocess.run([SUPERVISORD, "-v"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == "4.3.0\n"
    for flag in ("-h", "-?", "--help"):
        out = subprocess.run([SUPERVISORD, flag], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "--configuration" in out.stdout
