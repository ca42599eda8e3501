"""The bash completion shipped for supervisorctl (completion/supervisorctl.bash),
driven the way bash drives it (COMP_WORDS/COMP_CWORD, then COMPREPLY), with
process names asked from a real daemon."""

from __future__ import annotations

import shlex
import subprocess

from tests.daemon_harness import REPO, bin_path

SCRIPT = REPO / "completion" / "supervisorctl.bash"

PROGRAMS = """
[program:grp]
command=/bin/sleep 1000
process_name=%(program_name)s_%(process_num)d
numprocs=2
startsecs=0

[program:solo]
command=/bin/sleep 1000
startsecs=0
"""


def _bash_words(words: list[str]) -> list[str]:
    # As bash splits a line for completion: a colon (in COMP_WORDBREAKS) is
    # a word of its own, so "grp:grp_0" is three words.
    split: list[str] = []
    for word in words:
        pieces = word.split(":")
        for index, piece in enumerate(pieces):
            if index:
                split.append(":")
            if piece or index == len(pieces) - 1 and not split[-1:] == [":"]:
                split.append(piece)
    return split


def complete(words: list[str]) -> list[str]:
    """COMPREPLY for the command line ``words`` (the last one being completed)."""
    split = _bash_words(words)
    array = " ".join(shlex.quote(w) for w in split)
    script = (
        f"source {shlex.quote(str(SCRIPT))}\n"
        f"COMP_WORDS=({array}); COMP_CWORD={len(split) - 1}\n"
        f"COMP_LINE={shlex.quote(' '.join(words))}; COMP_POINT=${{#COMP_LINE}}\n"
        "_supervisorctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(line for line in done.stdout.splitlines() if line)


def test_registered_for_supervisorctl():
    done = subprocess.run(
        ["bash", "-c", f"source {shlex.quote(str(SCRIPT))}; complete -p supervisorctl"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.stdout.strip() == "complete -F _supervisorctl supervisorctl"


def test_completes_actions_and_options():
    ctl = str(bin_path("ours", "supervisorctl"))
    assert complete([ctl, "st"]) == ["start", "status", "stop"]
    assert complete([ctl, "-c", "/x.conf", "re"]) == ["reload", "remove", "reread", "restart"]
    assert "--serverurl" in complete([ctl, "--s"])


def test_completes_process_and_group_names_from_the_daemon(daemon_factory):
    d = daemon_factory(PROGRAMS)
    d.wait_all(("RUNNING",), 15)
    ctl = str(bin_path("ours", "supervisorctl"))
    conf = str(d.conf)
    assert complete([ctl, "-c", conf, "stop", ""]) == ["all", "grp:*", "grp:grp_0", "grp:grp_1", "solo"]
    # bash puts back only what follows the colon.
    assert complete([ctl, "-c", conf, "restart", "grp:"]) == ["*", "grp_0", "grp_1"]
    assert complete([ctl, "-c", conf, "restart", "grp:grp_1"]) == ["grp_1"]
    assert complete([ctl, "--configuration", conf, "tail", "s"]) == ["solo"]
    assert complete([ctl, "-c", conf, "update", ""]) == ["grp", "solo"]
    assert complete([ctl, "-c", conf, "status", "grp:grp_0", "so"]) == ["solo"]
