"""The XML-RPC codec on its own (no daemon): what it accepts, what it refuses,
and that stdlib clients read what it writes."""

from __future__ import annotations

import asyncio
import datetime
import xmlrpc.client

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor_ng.rpc.codec import (
    ParseError,
    dump_fault,
    dump_response,
    parse_request,
    parse_request_async,
)


def call(params_xml: str, method: str = "ns.m") -> bytes:
    return (
        f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
        f"<params>{params_xml}</params></methodCall>"
    ).encode()


def param(value_xml: str) -> str:
    return f"<param><value>{value_xml}</value></param>"


@pytest.mark.parametrize(
    "value_xml, expected",
    [
        ("<int>42</int>", 42),
        ("<i4>-7</i4>", -7),
        ("<boolean>1</boolean>", True),
        ("<boolean>0</boolean>", False),
        ("<string>a &amp; b</string>", "a & b"),
        ("<string></string>", ""),
        ("<double>1.5</double>", 1.5),
        ("<dateTime.iso8601>20261121T11:10:00</dateTime.iso8601>", datetime.datetime(2026, 11, 21, 11, 10)),
        ("<base64>aGVsbG8=</base64>", "hello"),
        ("untyped text", "untyped text"),
        ("", ""),
        ("<array><data><value><int>1</int></value><value>x</value></data></array>", [1, "x"]),
        ("<array><data></data></array>", []),
        (
            "<struct><member><name>a</name><value><int>1</int></value></member>"
            "<member><name>b</name><value><array><data><value>z</value></data></array></value></member></struct>",
            {"a": 1, "b": ["z"]},
        ),
        ("<nil/>", None),  # not a type here: passed on as nothing, as stock does
        ("<i8>5</i8>", "5"),
    ],
)
def test_value_types(value_xml, expected):
    assert parse_request(call(param(value_xml))) == ("ns.m", (expected,))


def test_params_optional_and_several():
    body = b"<methodCall><methodName>supervisor.getState</methodName></methodCall>"
    assert parse_request(body) == ("supervisor.getState", ())
    assert parse_request(call("")) == ("ns.m", ())
    assert parse_request(call(param("<int>1</int>") + param("<string>two</string>"))) == ("ns.m", (1, "two"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<methodCall><params/></methodCall>",
        b"<methodCall><methodName></methodName></methodCall>",
        call(param("<int>x</int>")),
        call(param("<double>nan?</double>")),
        call(param("<struct><member><name>a</name></member></struct>")),
        call(param("<int>1</int>"))[:-5],  # truncated
        b"<?xml version='1.0'?><!DOCTYPE m><methodCall><methodName>a.b</methodName></methodCall>",
        b'<!DOCTYPE m [<!ENTITY e "x">]><methodCall><methodName>&e;</methodName></methodCall>',
        b'<!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall><methodName>&e;</methodName></methodCall>',
        b"<methodCall><methodName>&undefined;</methodName></methodCall>",
        b"<methodCall><methodName>a.b</methodName>" + b"<x>" * 300 + b"</x>" * 300 + b"</methodCall>",
    ],
)
def test_refused(body):
    with pytest.raises(ParseError):
        parse_request(body)


def test_async_parser_handles_large_bodies():
    items = "".join(f"<value><string>{i}</string></value>" for i in range(20000))
    body = call(param(f"<array><data>{items}</data></array>"))
    assert len(body) > 200_000
    method, params = asyncio.run(parse_request_async(body))
    assert method == "ns.m" and params[0][-1] == "19999"


def test_responses_read_by_the_stdlib():
    value = {
        "int": 2**31 - 1,
        "neg": -5,
        "bool": True,
        "str": "<tag> & ünïcode",
        "float": 2.5,
        "list": [1, "two", [False], {}],
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
    }
    (decoded,), method = xmlrpc.client.loads(dump_response(value))
    assert method is None
    assert decoded == {**value, "when": xmlrpc.client.DateTime(value["when"])}
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(dump_fault(10, "BAD_NAME: x"))
    assert (info.value.faultCode, info.value.faultString) == (10, "BAD_NAME: x")


def test_characters_xml_cannot_carry_are_replaced():
    (decoded,), _ = xmlrpc.client.loads(dump_response("a\x1b[31mb\x00c\tok\n"))
    assert decoded == "a\ufffd[31mb\ufffdc\tok\n"


_scalars = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))),
    st.floats(allow_nan=False, allow_infinity=False),
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet="abcxyz_", min_size=1, max_size=5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_values, max_size=4))
def test_stdlib_requests_round_trip(params):
    body = xmlrpc.client.dumps(tuple(params), "supervisor.anything").encode()
    assert parse_request(body) == ("supervisor.anything", tuple(params))


@settings(max_examples=200, deadline=None)
@given(_values)
def test_responses_round_trip(value):
    (decoded,), _ = xmlrpc.client.loads(dump_response(value))
    assert decoded == value
