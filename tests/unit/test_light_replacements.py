"""What replaced heavier modules in the daemon (issue 19: click, getopt,
email.utils and datetime stay unloaded) gives exactly what they gave."""

from __future__ import annotations

import datetime
import getopt
import itertools
import random
import time
from email.utils import formatdate

import pytest

from supervisor_ng import daemon
from supervisor_ng.http.wire import http_date
from supervisor_ng.rpc.info import describe

_SHORTS = "".join(s + (":" if metavar else "") for s, _, metavar, _ in daemon._OPTIONS if s) + "?"
_LONGS = [long + ("=" if metavar else "") for _, long, metavar, _ in daemon._OPTIONS]
_TAKES_VALUE = {long for _, long, metavar, _ in daemon._OPTIONS if metavar}
_BY_FLAG = {f"-{s}": long for s, long, _, _ in daemon._OPTIONS if s}
_BY_FLAG.update({f"--{long}": long for _, long, _, _ in daemon._OPTIONS})
_BY_FLAG["-?"] = "help"

_TOKENS = [
    "-c", "x", "-cfoo", "-nc", "-nk", "--conf", "--configuration=a", "--log", "--logfile", "--logfile=",
    "--nodaemon", "--nodaemon=1", "-?", "-h", "--", "pos", "-", "-z", "--min", "--minf=3", "--bogus", "-x",
    "--handover-fd", "7", "-e", "debug", "--strip", "-tnk",
]  # fmt: skip


def _with_getopt(args: list[str]) -> object:
    try:
        opts, rest = getopt.getopt(args, _SHORTS, _LONGS)
    except getopt.GetoptError as exc:
        return ("error", str(exc))
    return ([(_BY_FLAG[flag], value if _BY_FLAG[flag] in _TAKES_VALUE else True) for flag, value in opts], rest)


def _ours(args: list[str]) -> object:
    try:
        return daemon._getopt(args)
    except daemon._BadOption as exc:
        return ("error", str(exc))


def test_command_line_is_read_as_getopt_reads_it():
    rng = random.Random(19)
    cases = [list(c) for n in range(3) for c in itertools.product(_TOKENS, repeat=n)]
    cases += [rng.choices(_TOKENS, k=rng.randint(3, 6)) for _ in range(5000)]
    for args in cases:
        assert _ours(args) == _with_getopt(args), args


@pytest.mark.parametrize("timestamp", [0, 1e9, 951782400.5, 2**31 + 5, 4102444799])
def test_http_date_is_formatdate_usegmt(timestamp):
    assert http_date(timestamp) == formatdate(timestamp, usegmt=True)


def test_description_times_are_stock_datetime_texts():
    for seconds in [*range(0, 200_000, 997), 86_400, 86_399, 172_800, 10**8]:
        expected = f"pid 7, uptime {datetime.timedelta(seconds=seconds)}"
        assert describe(20, 1000, 0, 1000 + seconds, 7, "", "x") == expected
    for stop in range(1, 2 * 10**9, 98_765_431):
        expected = datetime.datetime(*time.localtime(stop)[:6]).strftime("%b %d %I:%M %p")
        assert describe(0, 1, stop, stop, 0, "", "x") == expected
