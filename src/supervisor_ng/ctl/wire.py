"""XML-RPC on the wire: encode a call, decode a response.

``xmlrpc.client`` alone costs ~40 ms to import (it pulls in ``http.client``
and the email package) and decodes a 500-process ``getAllProcessInfo`` in
~30 ms with Python callbacks.  ElementTree's C parser builds the response
tree in a fraction of that, so responses are decoded here against
ElementTree; calls are written by the daemon's own marshaller
(:mod:`..rpc.marshalling`), which imports nothing heavy either.
"""

from __future__ import annotations

from typing import Any

from ..rpc.marshalling import dump_call

# Our exceptions print like xmlrpc.client's: stock supervisorctl's error
# lines show ``<class 'xmlrpc.client.Fault'>`` and the exception's repr, and
# scripts may grep for them.
DISPLAY_NAMES: dict[type, str] = {}


class Fault(Exception):
    """An XML-RPC fault answered by the server."""

    def __init__(self, faultCode: int, faultString: str) -> None:
        super().__init__(faultCode, faultString)
        self.faultCode = faultCode
        self.faultString = faultString

    def __repr__(self) -> str:
        return f"<Fault {self.faultCode}: {self.faultString!r}>"

    __str__ = __repr__


class ProtocolError(Exception):
    """The HTTP exchange failed (any status but 200)."""

    def __init__(self, url: str, errcode: int, errmsg: str) -> None:
        super().__init__(url, errcode, errmsg)
        self.url = url
        self.errcode = errcode
        self.errmsg = errmsg

    def __repr__(self) -> str:
        return f"<ProtocolError for {self.url}: {self.errcode} {self.errmsg}>"

    __str__ = __repr__


DISPLAY_NAMES[Fault] = "xmlrpc.client.Fault"
DISPLAY_NAMES[ProtocolError] = "xmlrpc.client.ProtocolError"


def encode_call(method: str, params: tuple[Any, ...]) -> bytes:
    return dump_call(method, params)


def _boolean(text: str) -> bool:
    text = text.strip()
    if text == "1":
        return True
    if text == "0":
        return False
    raise TypeError("bad boolean value")


def _base64(text: str) -> bytes:
    import base64

    return base64.decodebytes(text.encode("ascii"))


_SCALARS = {
    "string": str,
    "int": int,
    "i4": int,
    "i8": int,
    "boolean": _boolean,
    "double": float,
    "dateTime.iso8601": str.strip,
    "base64": _base64,
}


def _decode_value(elem: Any) -> Any:
    """The Python value of a ``<value>`` element."""
    if len(elem) == 0:
        return elem.text or ""  # an untyped value is a string
    typed = elem[0]
    tag = typed.tag
    if tag == "struct":
        result = {}
        for member in typed:
            name = member.find("name")
            value = member.find("value")
            if name is not None and value is not None:
                result[name.text or ""] = _decode_value(value)
        return result
    if tag == "array":
        data = typed.find("data")
        return [] if data is None else [_decode_value(v) for v in data]
    if tag == "nil":
        return None
    convert = _SCALARS.get(tag)
    if convert is None:
        raise ValueError(f"unknown XML-RPC type {tag!r}")
    return convert(typed.text or "")


def decode_response(data: bytes) -> Any:
    """The value a ``<methodResponse>`` carries; raises :class:`Fault` for a fault."""
    from xml.etree.ElementTree import fromstring

    root = fromstring(data)
    fault = root.find("fault")
    if fault is not None:
        info = _decode_value(fault.find("value"))
        raise Fault(info.get("faultCode"), info.get("faultString"))
    values = [_decode_value(param.find("value")) for param in root.iterfind("params/param")]
    if len(values) == 1:
        return values[0]
    return tuple(values)
