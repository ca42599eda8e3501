"""``supervisor.*``, talking to processes: stdin, and events for listeners."""

from __future__ import annotations

from .api_common import ApiPart
from .faults import Faults, RPCError


class TalkMethods(ApiPart):
    """Sending data to processes and event listeners."""

    def sendProcessStdin(self, name: str, chars: str) -> bool:
        """Write to a process's stdin (text is sent as UTF-8).

        @param string name      process name or 'group:name'
        @param string chars     what to write
        @return boolean result  True; NOT_RUNNING, or NO_FILE if its stdin is closed
        """
        control = self._control()
        if isinstance(chars, str):
            data = chars.encode("utf-8")
        elif isinstance(chars, (bytes, bytearray)):
            data = bytes(chars)
        else:
            raise RPCError(Faults.INCORRECT_PARAMETERS, chars)
        control.write_stdin(control.process(name), name, data)
        return True

    def sendRemoteCommEvent(self, type: str, data: str) -> bool:
        """Send a REMOTE_COMMUNICATION event to the event listeners that
        subscribe to it.

        @param string type      the 'type' header of the event
        @param string data      the event body
        @return boolean result  True
        """
        self._any_control().emit_remote_communication(str(type), str(data))
        return True
