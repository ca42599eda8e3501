"""Our supervisorctl against the stock one: command lines that change nothing.

Each command line runs with both clients against the same settled daemon
(the stock supervisord and ours, in turn); stdout, stderr and the exit
status must be the same, pids and times aside.
"""

from __future__ import annotations

import pytest

COMMANDS = [
    # status, every way of naming things
    "status",
    "status all",
    "status sleeper",
    "status sleeper fatal",
    "status grp:*",
    "status grp:",
    "status grp:grp_0",
    "status grp",
    "status web:*",
    "status web:w1 w1",
    "status nosuch",
    "status nosuch:*",
    "status nosuch:x sleeper",
    "status fatal nosuch",
    "status stopped",
    "status exits0",
    "status sleeper grp:*",
    "status all nosuch",
    # pid
    "pid",
    "pid sleeper",
    "pid all",
    "pid stopped",
    "pid nosuch",
    "pid nosuch sleeper stopped",
    "pid grp:grp_1",
    "pid grp:*",
    # config listing
    "avail",
    "avail x",
    "reread",
    "reread x",
    "update nosuch",
    "update all",
    "update",
    # logs
    "tail sleeper",
    "tail sleeper stderr",
    "tail sleeper STDERR",
    "tail sleeper stdout",
    "tail -3 sleeper",
    "tail -3 sleeper stderr",
    "tail -0 sleeper",
    "tail --2 sleeper",
    "tail nosuch",
    "tail nolog",
    "tail nolog stderr",
    "tail grp:grp_0",
    "tail",
    "tail -f",
    "tail -5",
    "tail a b c d",
    "tail -x sleeper",
    "tail -f- sleeper",
    "tail sleeper foo",
    "tail sleeper stderr extra",
    "tail -1 sleeper stdout",
    "maintail x",
    "maintail -x",
    "maintail 1 2",
    "maintail -0 -1",
    "tail -f nosuch",
    # actions refused without changing anything
    "start",
    "start sleeper",
    "start nosuch",
    "start nosuch:*",
    "start nosuch:x",
    "start sleeper nosuch grp:grp_0",
    "start grp:*",
    "stop",
    "stop stopped",
    "stop nosuch",
    "stop nosuch:*",
    "stop fatal exits0",
    "stop nosuch:x",
    "restart",
    "signal",
    "signal HUP",
    "signal HUP nosuch",
    "signal HUP nosuch:*",
    "signal BOGUS sleeper",
    "signal HUP stopped",
    "signal HUP fatal",
    "signal CONT nosuch:x",
    "clear",
    "clear nosuch",
    "add",
    "add nosuch",
    "add sleeper",
    "add sleeper nosuch grp",
    "remove",
    "remove nosuch",
    "remove sleeper",
    "remove grp nosuch",
    "fg",
    "fg nosuch",
    "fg fatal",
    "fg a b",
    "fg stopped",
    "shutdown x",
    "reload x",
    "version",
    "version x",
    "open foo",
    "open ftp://x",
    # the shell's own commands and the unknown
    "help",
    "help help",
    "help status",
    "help tail",
    "help maintail",
    "help foo",
    "help foo bar",
    "help EOF",
    "?",
    "?start",
    "foo",
    "foo bar",
    "!!",
    "-x",
    "status:x",
    "EOF",
    "quit",
    "exit",
    "",
    "  ",
]
HELP_TOPICS = (
    "add avail clear exit fg maintail open pid quit reload remove reread restart "
    "shutdown signal start status stop tail update version"
).split()


@pytest.mark.parametrize("line", COMMANDS)
def test_one_shot(shared, line):
    shared.same(*line.split(" ") if line.strip() else [line])


@pytest.mark.parametrize("topic", HELP_TOPICS)
def test_help_topic(shared, topic):
    shared.same("help", topic)


def test_command_split_over_arguments(shared):
    # Stock joins all arguments with spaces into one command line.
    shared.same("status", "sleeper  fatal")
    shared.same("status sleeper")


def test_maintail(shared):
    shared.same("maintail")
    shared.same("maintail", "-200")


def test_open_another_server(shared):
    shared.same("open", f"unix://{shared.a.sock}")


def test_interactive_session(shared):
    script = "\n".join(
        [
            "help",
            "status sleeper",
            "",
            "pid nosuch",
            "foo",
            "help start",
            "version",
            "tail sleeper stderr",
            "shutdown",
            "n",
            "reload",
            "no",
            "start nosuch",
            "avail",
            "open foo",
            "status",
            "quit",
            "status",
        ]
    )
    shared.same(input=script + "\n")


def test_interactive_until_end_of_input(shared):
    shared.same(input="status nosuch\npid\n")
    shared.same(input="")


def test_interactive_with_i_and_a_command_runs_it_once(shared):
    # -i with an action runs the action and exits with its status; the
    # shell is only for "no action".  Confirmation questions are asked.
    shared.same("shutdown", options=("-i",), input="n\n")
    shared.same("status", "nosuch", options=("-i",))


def test_prompt_and_credentials_from_config(shared, tmp_path):
    conf = tmp_path / "ctl.conf"
    conf.write_text(
        f"[supervisorctl]\nserverurl=unix://{shared.a.sock}\n"
        "prompt=hey %(ENV_USER_X)s\nusername=%(ENV_USER_X)s\n"
    )
    shared.same(
        input="pid nosuch\n", options=("-c", str(conf)), config=False, env={"USER_X": "there"}
    )
