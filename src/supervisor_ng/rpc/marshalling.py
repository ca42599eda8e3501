"""Writing XML-RPC: responses and faults for the daemon, calls for supervisorctl.

One marshaller for both ends, imported by supervisorctl too, so it uses
nothing heavier than ``re`` (see ``ctl/wire.py``).

Responses are written in one pass, and characters XML 1.0 cannot carry
(control characters, e.g. the ESC of coloured program output) become U+FFFD:
otherwise the client's XML parser would reject the whole response and an
entire log tail would be lost for one byte.
"""

from __future__ import annotations

import re
from typing import Any, Optional

# Characters XML 1.0 cannot contain, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("\ufffd", text)
    return text


class EncodedStruct(dict):
    """A struct whose members are already marshalled (``members_xml``: pieces
    made by :func:`dump_members`, written one after the other as they are).
    It is still the dict it encodes, for callers in the daemon that read it
    rather than send it.  getAllProcessInfo keeps most of each process's
    members encoded between state changes instead of marshalling them anew
    on every call."""

    __slots__ = ("members_xml",)

    def __init__(self, items: dict[str, Any], members_xml: tuple[str, ...]) -> None:
        super().__init__(items)
        self.members_xml: Optional[tuple[str, ...]] = members_xml

    # Changed after it was made, it is marshalled as the plain dict it now is.
    def __setitem__(self, key: str, value: Any) -> None:
        self.members_xml = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.members_xml = None
        super().__delitem__(key)

    def _changed(name: str) -> Any:  # builds the methods below (not one itself)
        def method(self: EncodedStruct, *args: Any, **kwargs: Any) -> Any:
            self.members_xml = None
            return getattr(dict, name)(self, *args, **kwargs)

        return method

    update = _changed("update")
    setdefault = _changed("setdefault")
    pop = _changed("pop")
    popitem = _changed("popitem")
    clear = _changed("clear")
    __ior__ = _changed("__ior__")
    del _changed


def dump_members(items: dict[str, Any]) -> str:
    """The ``<member>`` elements of a struct with ``items``, as :func:`_dump` writes them."""
    out: list[str] = []
    for key, item in items.items():
        out.append(f"<member>\n<name>{_escape(str(key))}</name>\n")
        _dump(item, out)
        out.append("</member>\n")
    return "".join(out)


def _dump(value: Any, out: list[str]) -> None:
    if type(value) is EncodedStruct and value.members_xml is not None:
        out.append("<value><struct>\n")
        out.extend(value.members_xml)
        out.append("</struct></value>\n")
    # bool before int: True is an int too.
    elif value is True or value is False:
        out.append(f"<value><boolean>{int(value)}</boolean></value>\n")
    elif isinstance(value, str):
        out.append(f"<value><string>{_escape(value)}</string></value>\n")
    elif isinstance(value, int):
        out.append(f"<value><int>{int(value)}</int></value>\n")
    elif isinstance(value, dict):
        out.append("<value><struct>\n")
        for key, item in value.items():
            out.append(f"<member>\n<name>{_escape(str(key))}</name>\n")
            _dump(item, out)
            out.append("</member>\n")
        out.append("</struct></value>\n")
    elif isinstance(value, (list, tuple)):
        out.append("<value><array><data>\n")
        for item in value:
            _dump(item, out)
        out.append("</data></array></value>\n")
    elif isinstance(value, float):
        out.append(f"<value><double>{value!r}</double></value>\n")
    elif isinstance(value, (bytes, bytearray)):
        import base64  # rare: the daemon sends text, supervisorctl never bytes

        out.append(f"<value><base64>\n{base64.b64encode(value).decode()}</base64></value>\n")
    else:
        import datetime  # rare, and supervisorctl never sends one

        if not isinstance(value, datetime.datetime):
            raise TypeError(f"cannot marshal {type(value).__name__} objects")
        stamp = value.strftime("%Y%m%dT%H:%M:%S")
        out.append(f"<value><dateTime.iso8601>{stamp}</dateTime.iso8601></value>\n")


def dump_response(value: Any) -> bytes:
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"]
    _dump(value, out)
    out.append("</param>\n</params>\n</methodResponse>\n")
    return "".join(out).encode("utf-8")


def dump_fault(code: int, text: str) -> bytes:
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"]
    _dump({"faultCode": code, "faultString": text}, out)
    out.append("</fault>\n</methodResponse>\n")
    return "".join(out).encode("utf-8")


def dump_call(method: str, params: tuple[Any, ...] | list[Any]) -> bytes:
    out = ["<?xml version='1.0'?>\n<methodCall>\n<methodName>", _escape(method), "</methodName>\n<params>\n"]
    for param in params:
        out.append("<param>\n")
        _dump(param, out)
        out.append("</param>\n")
    out.append("</params>\n</methodCall>\n")
    return "".join(out).encode("utf-8")
