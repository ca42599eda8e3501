"""depends_on: what a name means (targets) and the loader's checks
(unknown names, cycles)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from supervisor_ng.config import dependencies
from supervisor_ng.config.loader import load
from supervisor_ng.config.model import (
    Config,
    ConfigError,
    GroupConfig,
    ProcessConfig,
    SupervisordConfig,
)


def load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "supervisord.conf"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load(str(path), env={})


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    return str(info.value)


def groups_of(cfg: Config) -> dict[str, list[ProcessConfig]]:
    return {g.name: list(g.processes) for g in cfg.groups}


LAYOUT = """
[supervisord]
[program:db]
command = /bin/db
[program:web]
command = /bin/web
process_name = web_%(process_num)d
numprocs = 2
[program:api]
command = /bin/api
[program:cron]
command = /bin/cron
[group:backend]
programs = api, cron
[fcgi-program:php]
command = /bin/php
socket = tcp://127.0.0.1:9000
[eventlistener:mon]
command = /bin/mon
events = TICK_5
"""


@pytest.mark.parametrize(
    "name, expected",
    [
        ("db", [("db", "db")]),
        ("web", [("web", "web_0"), ("web", "web_1")]),  # a program: all its processes
        ("web:web_1", [("web", "web_1")]),
        ("web:*", [("web", "web_0"), ("web", "web_1")]),
        ("backend", [("backend", "api"), ("backend", "cron")]),  # a group
        ("api", [("backend", "api")]),  # a program in a [group:x]
        ("backend:cron", [("backend", "cron")]),
        ("php", [("php", "php")]),
        ("mon", [("mon", "mon")]),
        ("nope", []),
        ("web:web_9", []),
        ("api:api", []),  # api is no group: it lives in backend
        ("nope:*", []),
    ],
)
def test_targets(tmp_path, name, expected):
    groups = groups_of(load_text(tmp_path, LAYOUT))
    assert dependencies.targets(name, groups) == expected


def test_targets_of_a_program_in_two_groups(tmp_path):
    cfg = load_text(
        tmp_path,
        LAYOUT + "[group:other]\nprograms = api\n",
    )
    assert dependencies.targets("api", groups_of(cfg)) == [("backend", "api"), ("other", "api")]


def test_targets_without_a_section_fall_back_to_the_group():
    # Records built by hand (tests, the runtime's own) may carry no section.
    groups = {"a": [ProcessConfig(name="a", group="a", command="x")]}
    assert dependencies.targets("a", groups) == [("a", "a")]


def test_a_good_graph_loads(tmp_path):
    cfg = load_text(
        tmp_path,
        LAYOUT
        + textwrap.dedent(
            """
        [program:migrate]
        command = /bin/migrate
        depends_on = db
        [program:front]
        command = /bin/front
        depends_on = web, backend:api, migrate, php, mon
        """
        ),
    )
    assert cfg.group("front").processes[0].depends_on == ("web", "backend:api", "migrate", "php", "mon")
    dependencies.check(cfg)  # the runtime may call it again on its own


def test_unknown_name(tmp_path):
    message = error_of(tmp_path, LAYOUT + "[program:x]\ncommand=/bin/x\ndepends_on = db, dbx\n")
    assert message == (
        f"bad value for option 'depends_on' in section [program:x] "
        f"(file: '{tmp_path}/supervisord.conf', line 22): 'dbx' is not a program, a group or a group:process"
    )


def test_unknown_process_of_a_known_group(tmp_path):
    message = error_of(tmp_path, LAYOUT + "[program:x]\ncommand=/bin/x\ndepends_on = web:web_7\n")
    assert "section [program:x]" in message and "'web:web_7' is not a program" in message


def test_unknown_name_in_an_included_file_names_that_file(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "x.conf").write_text("[program:x]\ncommand=/bin/x\n\ndepends_on=ghost\n")
    message = error_of(tmp_path, "[supervisord]\n[include]\nfiles = conf.d/*.conf\n")
    assert f"(file: '{tmp_path}/conf.d/x.conf', line 4)" in message and "'ghost'" in message


def test_cycle_spelled_out(tmp_path):
    message = error_of(
        tmp_path,
        """
        [supervisord]
        [program:web]
        command = /bin/web
        depends_on = migrate
        [program:migrate]
        command = /bin/migrate
        depends_on = db
        [program:db]
        command = /bin/db
        depends_on = cache, web
        [program:cache]
        command = /bin/cache
        """,
    )
    # Spelled from the first of its processes in start order (priority, name).
    assert message == (
        f"bad value for option 'depends_on' in section [program:db] "
        f"(file: '{tmp_path}/supervisord.conf', line 10): a dependency cycle: db -> web -> migrate -> db"
    )


def test_depending_on_itself_is_a_cycle(tmp_path):
    message = error_of(tmp_path, "[supervisord]\n[program:a]\ncommand=/bin/a\ndepends_on=a\n")
    assert "section [program:a]" in message and message.endswith("a dependency cycle: a -> a")


def test_depending_on_its_own_group_is_a_cycle(tmp_path):
    message = error_of(
        tmp_path,
        """
        [supervisord]
        [program:a]
        command = /bin/a
        [program:b]
        command = /bin/b
        depends_on = g
        [group:g]
        programs = a, b
        """,
    )
    assert "section [program:b]" in message
    assert message.endswith("a dependency cycle: g:b -> g:b")


def test_processes_of_one_program_in_a_cycle(tmp_path):
    # web depends on its own web_1: web_1 depends on itself.
    message = error_of(
        tmp_path,
        "[supervisord]\n[program:web]\ncommand=/bin/web\nprocess_name=web_%(process_num)d\n"
        "numprocs=2\ndepends_on=web:web_1\n",
    )
    assert message.endswith("a dependency cycle: web:web_1 -> web:web_1")


def test_cycle_through_a_group_and_a_listener(tmp_path):
    message = error_of(
        tmp_path,
        LAYOUT.replace("events = TICK_5", "events = TICK_5\ndepends_on = backend:cron").replace(
            "command = /bin/cron", "command = /bin/cron\ndepends_on = mon"
        ),
    )
    assert "a dependency cycle:" in message
    assert "backend:cron -> mon -> backend:cron" in message or "mon -> backend:cron -> mon" in message


def test_check_without_the_document_names_the_main_file(tmp_path):
    proc = ProcessConfig(name="a", group="a", command="x", section="program:a", depends_on=("zz",))
    cfg = Config(
        path="/etc/sv.conf",
        here="/etc",
        supervisord=SupervisordConfig(),
        groups=(GroupConfig("a", "program", 999, (proc,)),),
    )
    with pytest.raises(ConfigError) as info:
        dependencies.check(cfg)
    assert str(info.value) == (
        "bad value for option 'depends_on' in section [program:a] (file: '/etc/sv.conf'): "
        "'zz' is not a program, a group or a group:process"
    )


def test_find_cycle():
    a, b, c, d = ("a", "a"), ("b", "b"), ("c", "c"), ("d", "d")
    assert dependencies.find_cycle({a: [b], b: [c], c: []}) == []
    assert dependencies.find_cycle({a: [b, c], b: [d], c: [d], d: []}) == []  # a diamond
    assert dependencies.find_cycle({a: [b], b: [c], c: [b]}) == [b, c, b]
    assert dependencies.find_cycle({a: [a]}) == [a, a]


def test_a_long_chain_needs_no_recursion():
    keys = [(f"p{i}", f"p{i}") for i in range(20_000)]
    edges = {k: [keys[i + 1]] if i + 1 < len(keys) else [] for i, k in enumerate(keys)}
    assert dependencies.find_cycle(edges) == []
    edges[keys[-1]] = [keys[0]]
    assert len(dependencies.find_cycle(edges)) == len(keys) + 1


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dependencies.conf"
STOCK_PYTHON = Path(__file__).resolve().parents[2] / ".venv-stock" / "bin" / "python"


def test_the_example_loads_here():
    cfg = load(str(EXAMPLE), env={})
    groups = groups_of(cfg)
    web = cfg.group("web").processes
    assert [dependencies.targets(name, groups) for name in web[1].depends_on] == [
        [("db", "db")],
        [("migrate", "migrate")],
    ]
    assert cfg.group("migrate").processes[0].depends_on == ("db",)
    assert [p.healthcheck.port for p in web] == [18000, 18001]
    assert {p.ready for p in web} == {"notify"} and web[0].watchdog_secs == 10.0


@pytest.mark.skipif(not STOCK_PYTHON.exists(), reason="stock supervisor venv missing")
def test_the_example_loads_in_stock_supervisor():
    script = (
        "import sys\nfrom supervisor.options import ServerOptions\n"
        "o = ServerOptions()\no.realize(['-c', sys.argv[1]])\n"
        "print(' '.join(p.name for g in o.process_group_configs for p in g.process_configs))\n"
    )
    out = subprocess.run(
        [str(STOCK_PYTHON), "-c", script, str(EXAMPLE)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["db", "migrate", "web_0", "web_1"]
