"""HTTP and XML-RPC fuzzing against a running daemon: every malformed,
oversized, hostile or ill-typed request gets a 4xx or a proper fault, the
daemon never crashes, never stops answering other clients, and its memory
stays bounded."""

from __future__ import annotations

import socket
import threading
import time
import xmlrpc.client
from html import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor_ng.rpc.faults import Faults

from .conftest import env_int, figures
from .rawhttp import MIB, body_of, call_xml, connect, exchange, rpc_request, rss, status_of

pytestmark = pytest.mark.slow

PROGRAMS = """
[program:cat]
command=cat
startsecs=0
[program:sleeper]
command=sleep 1000
startsecs=0
[group:grp]
programs=member
[program:member]
command=sleep 1000
startsecs=0
"""

FAULT_CODES = {int(f) for f in Faults}


def assert_alive(d) -> None:
    """A normal client still gets a normal answer."""
    assert d.proxy(timeout=10).supervisor.getState()["statename"] == "RUNNING"


def assert_no_crash_logged(d) -> None:
    log = d.read_log()
    assert "unexpected exception" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def nested(depth: int) -> bytes:
    return call_xml("supervisor.getState", "<value><array><data>" * depth + "</data></array></value>" * depth)


def entity_bomb() -> bytes:
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    return (
        f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY lol0 "lol">{lol}]>'
        "<methodCall><methodName>&lol9;</methodName></methodCall>"
    ).encode()


EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<methodCall><methodName>&x;</methodName></methodCall>"
)

# (what, raw bytes) -> must be answered 4xx (or, for a well-formed call, a fault).
MALFORMED_HTTP = [
    ("garbage", b"\x00\xff\xfe garbage\r\n\r\n"),
    ("no version", b"POST /RPC2\r\n\r\n"),
    ("bad method", b"FROB /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bad version", b"POST /RPC2 HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("space in target", b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header without colon", b"POST /RPC2 HTTP/1.1\r\nHost x\r\n\r\n"),
    ("bad content-length", b"POST /RPC2 HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
    ("two content-lengths", b"POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello"),
    ("non-numeric length", b"POST /RPC2 HTTP/1.1\r\nContent-Length: lots\r\n\r\n"),
    ("bad chunk size", b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    ("huge chunk size", b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n"),
    ("unknown transfer-encoding", b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: gzip, foo\r\n\r\n"),
    ("huge header value", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"),
    ("huge request line", b"GET /" + b"a" * (1024 * 1024) + b" HTTP/1.1\r\n\r\n"),
    ("many headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100_000)) + b"\r\n"),
    ("declared huge body", b"POST /RPC2 HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc"),
    ("GET /RPC2", b"GET /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ("empty body", rpc_request(b"")),
    ("not xml", rpc_request(b"this is not xml")),
    ("json body", rpc_request(b'{"method": "supervisor.getState"}', content_type="application/json")),
    ("truncated xml", rpc_request(call_xml("supervisor.getState")[:-20])),
    ("no methodName", rpc_request(b"<?xml version='1.0'?><methodCall><params/></methodCall>")),
    ("wrong root", rpc_request(b"<?xml version='1.0'?><methodResponse><params/></methodResponse>")),
    ("bad utf-8", rpc_request(b"<?xml version='1.0'?><methodCall><methodName>\xff\xfe</methodName></methodCall>")),
    ("unknown encoding", rpc_request(b"<?xml version='1.0' encoding='x-nope'?><methodCall/>")),
    ("utf-16 body", rpc_request(call_xml("supervisor.getState").decode().replace("<?xml version='1.0'?>", "").encode("utf-16"))),
    ("entity bomb", rpc_request(entity_bomb())),
    ("external entity", rpc_request(EXTERNAL_ENTITY)),
    ("undefined entity", rpc_request(b"<methodCall><methodName>&x;</methodName></methodCall>")),
    ("deep nesting 100000", rpc_request(nested(100_000))),
    ("deep nesting 300", rpc_request(nested(300))),
    ("bad int", rpc_request(call_xml("supervisor.readLog", "<value><int>one</int></value>", "<value><int>0</int></value>"))),
    ("int of 10000 digits", rpc_request(call_xml("supervisor.readLog", f"<value><int>{'9' * 10000}</int></value>", "<value><int>0</int></value>"))),
    ("bad base64", rpc_request(call_xml("supervisor.getProcessInfo", "<value><base64>!!!</base64></value>"))),
    ("binary base64", rpc_request(call_xml("supervisor.getProcessInfo", "<value><base64>//79</base64></value>"))),
    ("bad date", rpc_request(call_xml("supervisor.getProcessInfo", "<value><dateTime.iso8601>x</dateTime.iso8601></value>"))),
    ("member without value", rpc_request(call_xml("system.multicall", "<value><struct><member><name>a</name></member></struct></value>"))),
    ("param without value", rpc_request(b"<methodCall><methodName>supervisor.getState</methodName><params><param/></params></methodCall>")),
    ("body over the limit", rpc_request(b"<methodCall>" + b" " * (11 * MIB) + b"</methodCall>")),
]
# Odd but well-formed: a UTF-16 document, base64 whose stray characters are
# skipped (as the stock parser does): answered normally (a value or a fault).
VALID_ANYWAY = {"utf-16 body", "bad base64"}


def test_malformed_http_and_xml_get_4xx_and_the_daemon_keeps_serving(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS)
    d.wait_all(timeout=15)
    path = str(d.sock)
    before = rss(d.pid)
    seen = {}
    for what, raw in MALFORMED_HTTP:
        response = exchange(path, raw, timeout=15)
        status = status_of(response)
        seen[what] = status
        if what in VALID_ANYWAY:
            assert status == 200, f"{what}: {response[:300]!r}"
        else:
            assert status is not None and 400 <= status < 500, f"{what}: {response[:300]!r}"
        assert_alive(d)
    after = rss(d.pid)
    figures(
        "http_malformed",
        inputs=len(MALFORMED_HTTP),
        statuses=sorted(set(seen.values())),
        rss_before_mib=round(before / MIB, 1),
        rss_after_mib=round(after / MIB, 1),
    )
    assert after - before < 50 * MIB
    assert_no_crash_logged(d)


PRIVATE_NAMES = [
    "supervisor.__init__",
    "supervisor._x",
    "supervisor._get",
    "supervisor._sv",
    "supervisor.__class__",
    "supervisor.getState.__globals__",
    "supervisor.getState.__func__.__globals__",
    "supervisor.supervisord.options.execve",
    "supervisor._lookup",
    "system._registry",
    "system.__dict__",
    "system.multicall.__self__",
    "__import__",
    "os.system",
    "supervisor",
    "supervisor.",
    ".getState",
    "..",
    "",
    " supervisor.getState.x",
    "supervisor.getState\x00",
    "SUPERVISOR.GETSTATE",
    "supervisor.getstate",
    "system.listMethods.im_func",
    "supervisor.readLog(0,0)",
    "a" * 100_000,
]


def test_private_and_traversing_method_names_are_unknown_methods(daemon_factory) -> None:
    """CVE-2017-11610 in stock was a method name walking into objects."""
    d = daemon_factory(PROGRAMS)
    proxy = d.proxy(timeout=10)
    plain = [name for name in PRIVATE_NAMES if name.strip() and "\x00" not in name]
    for name in plain:
        with pytest.raises(xmlrpc.client.Fault) as info:
            getattr(proxy, name)()
        assert info.value.faultCode == Faults.UNKNOWN_METHOD, name
    # The same through the raw wire; a NUL (not XML) or no name at all is a 400.
    for name in PRIVATE_NAMES:
        response = exchange(str(d.sock), rpc_request(call_xml(escape(name))))
        if "\x00" in name or not name.strip():
            assert status_of(response) == 400, name
            continue
        assert status_of(response) == 200, name
        assert b"<name>faultCode</name>" in response and b"<int>1</int>" in response, name
    # And hidden inside a multicall.
    calls = [{"methodName": name, "params": []} for name in plain]
    results = proxy.system.multicall(calls)
    assert [r["faultCode"] for r in results] == [Faults.UNKNOWN_METHOD] * len(calls)
    assert_alive(d)
    assert_no_crash_logged(d)
    figures("rpc_private_names", names_tried=len(PRIVATE_NAMES) * 3)


def _hostile_multicalls(d) -> None:
    proxy = d.proxy(timeout=30)
    inner = {"methodName": "system.multicall", "params": [[{"methodName": "supervisor.getState", "params": []}]]}
    assert proxy.system.multicall([inner])[0]["faultCode"] == Faults.INCORRECT_PARAMETERS
    # A multicall nested 200 deep inside one value: refused, not recursed into.
    depth = 200
    head = (
        "<value><array><data><value><struct><member><name>methodName</name>"
        "<value>system.multicall</value></member><member><name>params</name><value><array><data>"
    )
    tail = "</data></array></value></member></struct></value></data></array></value>"
    body = call_xml("system.multicall", head * depth + "<value><array><data/></array></value>" + tail * depth)
    response = exchange(str(d.sock), rpc_request(body))
    assert status_of(response) in (200, 400)
    # Calls with the wrong shape, one per entry.
    odd = [1, "x", [], {"params": []}, {"methodName": 5}, {"methodName": "supervisor.getState", "params": 5}]
    results = proxy.system.multicall(odd)
    assert all(isinstance(r, dict) and r["faultCode"] in FAULT_CODES for r in results), results
    # Huge arrays: 300,000 items as an argument, and a multicall of 20,000 calls.
    with pytest.raises(xmlrpc.client.Fault) as info:
        proxy.supervisor.getProcessInfo(list(range(300_000)))
    assert info.value.faultCode == Faults.INCORRECT_PARAMETERS
    many = proxy.system.multicall([{"methodName": "supervisor.getState", "params": []}] * 20_000)
    assert len(many) == 20_000
    # A body just under the limit: one giant string, then 1.3 million empty values.
    with pytest.raises(xmlrpc.client.Fault):
        proxy.supervisor.getProcessInfo("x" * (9 * MIB))
    values = "<value/>" * ((10 * MIB - 300) // 8)
    response = exchange(str(d.sock), rpc_request(call_xml("supervisor.getState", f"<value><array><data>{values}</data></array></value>")), timeout=60)
    assert status_of(response) == 200


def test_multicall_nesting_and_huge_arrays_are_refused_cleanly(daemon_factory) -> None:
    """Each hostile request is answered; repeating them does not make the
    daemon grow (a high-water mark is fine, a leak is not)."""
    d = daemon_factory(PROGRAMS)
    before = rss(d.pid)
    _hostile_multicalls(d)
    first = rss(d.pid)
    for _ in range(3):
        _hostile_multicalls(d)
    last = rss(d.pid)
    assert_alive(d)
    figures(
        "rpc_multicall_huge",
        bursts=4,
        rss_before_mib=round(before / MIB, 1),
        rss_after_first_mib=round(first / MIB, 1),
        rss_after_last_mib=round(last / MIB, 1),
    )
    assert last - first < 20 * MIB
    assert last - before < 100 * MIB
    assert_no_crash_logged(d)


# -- bad types for every argument of every method --------------------------------------

def _string(text: str) -> str:
    return f"<value><string>{escape(text)}</string></value>"


scalars = st.one_of(
    st.integers(-(2**70), 2**70).map(lambda n: f"<value><int>{n}</int></value>"),
    st.integers(-5, 5).map(lambda n: f"<value><i4>{n}</i4></value>"),
    st.sampled_from(["0", "1", "2", "", "true"]).map(lambda b: f"<value><boolean>{b}</boolean></value>"),
    st.sampled_from(["1.5", "nan", "inf", "-1e308", "x"]).map(lambda f: f"<value><double>{f}</double></value>"),
    st.text(max_size=20).map(_string),
    st.sampled_from(["cat", "sleeper", "grp:member", "grp:*", "grp:", "nope", ":", "*", "cat:cat", "TERM", "9", "HUP"]).map(_string),
    st.text(alphabet="abc:*", max_size=5).map(lambda t: f"<value>{t}</value>"),
    st.just("<value><nil/></value>"),
    st.sampled_from(["aGk=", "//79", "!!"]).map(lambda b: f"<value><base64>{b}</base64></value>"),
    st.just("<value><dateTime.iso8601>20260101T00:00:00</dateTime.iso8601></value>"),
)
values_xml = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "<value><array><data>" + "".join(xs) + "</data></array></value>"),
        st.dictionaries(st.sampled_from(["methodName", "params", "name", "x"]), inner, max_size=3).map(
            lambda d: "<value><struct>"
            + "".join(f"<member><name>{k}</name>{v}</member>" for k, v in d.items())
            + "</struct></value>"
        ),
    ),
    max_leaves=8,
)

# Calls that would end the daemon this test talks to.
NOT_FUZZED = {"supervisor.shutdown", "supervisor.restart"}


def test_every_method_with_ill_typed_arguments_answers_a_fault_or_a_value(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS)
    d.wait_all(timeout=15)
    methods = [m for m in d.proxy().system.listMethods() if m not in NOT_FUZZED]
    path = str(d.sock)
    stats = {"calls": 0, "faults": 0, "values": 0, "rejected_400": 0}
    before = rss(d.pid)

    @settings(
        max_examples=env_int("RPC_FUZZ_EXAMPLES", 300),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(method=st.sampled_from(methods), params=st.lists(values_xml, max_size=4))
    def one(method: str, params: list[str]) -> None:
        response = exchange(path, rpc_request(call_xml(method, *params)), timeout=30)
        status = status_of(response)
        stats["calls"] += 1
        assert status in (200, 400), f"{method}({params}) -> {response[:500]!r}"
        if status == 400:
            stats["rejected_400"] += 1
            return
        body = body_of(response)
        try:
            xmlrpc.client.loads(body)
            stats["values"] += 1
        except xmlrpc.client.Fault as fault:
            assert fault.faultCode in FAULT_CODES, f"{method}({params}) -> {fault}"
            stats["faults"] += 1

    one()
    # Each method once with no argument and with far too many.
    for method in methods:
        for params in ([], [_string("x")] * 12):
            response = exchange(path, rpc_request(call_xml(method, *params)), timeout=30)
            assert status_of(response) == 200, method
            stats["calls"] += 1
    assert_alive(d)
    after = rss(d.pid)
    figures(
        "rpc_fuzz_types",
        methods=len(methods),
        **stats,
        rss_before_mib=round(before / MIB, 1),
        rss_after_mib=round(after / MIB, 1),
    )
    assert after - before < 50 * MIB
    assert_no_crash_logged(d)


# -- slow and half-open clients never block the others --------------------------------


def test_slow_and_truncated_clients_do_not_block_other_clients(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS)
    path = str(d.sock)
    held: list[socket.socket] = []
    try:
        # A body that promises 1000 bytes and sends 10, and stays open.
        s = connect(path)
        s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<methodCal")
        held.append(s)
        # Headers dribbled a byte at a time, never finished.
        s = connect(path)
        s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(s)
        # A connection that says nothing at all.
        held.append(connect(path))
        # A chunked body that never ends.
        s = connect(path)
        s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<meth\r\n")
        held.append(s)
        stop = threading.Event()

        def dribble() -> None:
            while not stop.is_set():
                try:
                    held[1].send(b"a")
                except OSError:
                    return
                time.sleep(0.05)

        t = threading.Thread(target=dribble, daemon=True)
        t.start()
        latencies = []
        for _ in range(20):
            start = time.monotonic()
            assert_alive(d)
            latencies.append(time.monotonic() - start)
        stop.set()
        t.join()
        # A truncated body whose client goes away: the daemon answers the next.
        held[0].close()
        assert_alive(d)
        figures("slow_clients", held_connections=len(held), max_latency_s=round(max(latencies), 3))
        assert max(latencies) < 5
    finally:
        for s in held:
            s.close()
    assert_no_crash_logged(d)


def test_many_idle_connections_do_not_exhaust_the_daemon(daemon_factory) -> None:
    d = daemon_factory(PROGRAMS)
    from .rawhttp import fd_count

    fds_before = fd_count(d.pid)
    conns = [connect(str(d.sock)) for _ in range(300)]
    try:
        assert_alive(d)
    finally:
        for c in conns:
            c.close()
    d.wait_until(lambda: fd_count(d.pid) <= fds_before + 1, timeout=10, what="fds back")
    figures("idle_connections", connections=300, fds_before=fds_before, fds_after=fd_count(d.pid))


def test_idle_keepalive_clients_do_not_pin_their_last_request(daemon_factory) -> None:
    """aiohttp keeps a connection's last request and response alive while it
    idles (30 min here): bodies must not be kept with them.  Ten clients
    that each sent 9 MiB and then idle used to pin ~180 MiB."""
    from .rawhttp import _complete

    d = daemon_factory(PROGRAMS)
    before = rss(d.pid)
    body = call_xml("supervisor.getProcessInfo", "<value><string>" + "x" * (9 * MIB) + "</string></value>")
    request = (
        f"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    idle = []
    try:
        for _ in range(10):
            s = connect(str(d.sock), timeout=30)
            s.sendall(request)
            got = b""
            while not _complete(got):
                chunk = s.recv(1 << 20)
                assert chunk, "closed early"
                got += chunk
            assert status_of(got) == 200 and b"faultCode" in got
            idle.append(s)  # kept open, idle
        after = rss(d.pid)
        assert_alive(d)
    finally:
        for s in idle:
            s.close()
    figures(
        "idle_keepalive_clients",
        clients=10,
        request_mib=9,
        rss_before_mib=round(before / MIB, 1),
        rss_with_idle_clients_mib=round(after / MIB, 1),
    )
    assert after - before < 50 * MIB
