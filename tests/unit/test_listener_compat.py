"""supervisor-ng's ``supervisor`` package: what listener tools import from it."""

from __future__ import annotations

import io

from supervisor import childutils, datatypes, options, states, xmlrpc


def test_listener_protocol_on_given_streams() -> None:
    out = io.StringIO()
    stdin = io.StringIO("ver:3.0 len:12\nprocessname:x tail")
    headers, payload = childutils.listener.wait(stdin, out)
    assert headers == {"ver": "3.0", "len": "12"} and payload == "processname:"
    childutils.listener.ok(out)
    childutils.listener.send("FAIL!", out)
    assert out.getvalue() == "READY\nRESULT 2\nOKRESULT 5\nFAIL!"
    assert childutils.eventdata("a:1 b:2\nbody\nmore") == ({"a": "1", "b": "2"}, "body\nmore")
    assert childutils.get_asctime(0.25).endswith(",250")


def test_names_and_numbers_as_tools_compare_them() -> None:
    # httpok compares with `is`: plain ints, not enum members.
    assert type(states.ProcessStates.RUNNING) is int and states.ProcessStates.RUNNING == 20
    assert states.getProcessStateDescription(200) == "FATAL"
    assert states.EventListenerStates.ACKNOWLEDGED == 30
    assert options.make_namespec("g", "g") == "g" and options.split_namespec("g:*") == ("g", None)
    assert datatypes.byte_size("40MB") == 40 * 1024 * 1024
    assert datatypes.SuffixMultiplier({"s": 1, "m": 60})("2m") == 120
    assert xmlrpc.Faults.BAD_NAME == 10


def test_transport_sends_basic_auth_and_knows_its_schemes() -> None:
    transport = xmlrpc.SupervisorTransport("user", "pw", "unix:///tmp/x.sock")
    conn = transport.make_connection("127.0.0.1")
    assert isinstance(conn, xmlrpc.UnixStreamHTTPConnection) and conn.socket_path == "/tmp/x.sock"
    assert transport._extra_headers == [("Authorization", "Basic dXNlcjpwdw==")]
    assert transport.make_connection("127.0.0.1") is conn
    http_conn = xmlrpc.SupervisorTransport(None, None, "http://127.0.0.1:9001").make_connection("x")
    assert (http_conn.host, http_conn.port) == ("127.0.0.1", 9001)
    try:
        xmlrpc.SupervisorTransport("", "", "ftp://x")
    except ValueError as exc:
        assert "ftp://x" in str(exc)
    else:
        raise AssertionError("an unknown scheme must be refused")
