from __future__ import annotations

import os
import re
import stat

from supervisor_ng.logs.paths import auto_log_path, clean_auto_logs
from supervisor_ng.logs.rotating import RotatingFile


def test_auto_log_path_shape_and_no_clash(tmp_path):
    taken = tmp_path / "web-stdout---supervisor-aaaaaaaa.log"
    taken.write_bytes(b"")
    paths = {auto_log_path(str(tmp_path), "web", "stdout", "supervisor") for _ in range(50)}
    assert len(paths) == 50 and str(taken) not in paths
    for p in paths:
        assert os.path.dirname(p) == str(tmp_path)
        assert re.fullmatch(r"web-stdout---supervisor-[a-z0-9_]{8}\.log", os.path.basename(p))
        assert not os.path.exists(p)  # created by the writer, with the first output
    assert os.listdir(tmp_path) == [taken.name]


def test_lazy_auto_log_appears_with_first_output_mode_0600(tmp_path):
    path = auto_log_path(str(tmp_path), "web", "stdout", "supervisor")
    log = RotatingFile(path, 1024, 1, lazy=True, mode=0o600)
    assert not os.path.exists(path)
    log.write(b"first\n")
    assert open(path, "rb").read() == b"first\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    log.close()


def test_clean_auto_logs(tmp_path):
    names = [
        "web-stdout---supervisor-abc123.log",
        "web-stderr---supervisor-abc123.log.1",
        "web-stderr---supervisor-abc123.log.10",
        "keep-stdout---other-abc123.log",  # another daemon's
        "keep.log",
        "---supervisor-x.log",  # nothing before ---: not an AUTO name
        "keep-stdout---supervisor-abc123.txt",
    ]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    own = auto_log_path(str(tmp_path), "p", "stdout", "supervisor")
    open(own, "wb").close()
    removed = clean_auto_logs(str(tmp_path), "supervisor")
    assert sorted(os.path.basename(p) for p in removed) == sorted(
        names[:3] + [os.path.basename(own)]
    )
    assert sorted(os.listdir(tmp_path)) == sorted(names[3:])


def test_clean_identifier_is_literal(tmp_path):
    (tmp_path / "a-stdout---sup.v1-x.log").write_bytes(b"")
    (tmp_path / "a-stdout---supXv1-x.log").write_bytes(b"")
    clean_auto_logs(str(tmp_path), "sup.v1")
    assert os.listdir(tmp_path) == ["a-stdout---supXv1-x.log"]


def test_clean_warnings(tmp_path):
    warnings: list[str] = []
    assert clean_auto_logs(str(tmp_path / "missing"), "supervisor", warnings.append) == []
    assert warnings == ["Could not clear childlog dir"]
    (tmp_path / "d---supervisor-x.log").mkdir()
    warnings.clear()
    clean_auto_logs(str(tmp_path), "supervisor", warnings.append)
    assert warnings == [f"Failed to clean up {str(tmp_path / 'd---supervisor-x.log')!r}"]
