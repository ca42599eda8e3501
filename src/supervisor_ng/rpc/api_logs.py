"""``supervisor.*``, process logs: read, tail and clear a program's
stdout/stderr, kept in a file or in the journal."""

from __future__ import annotations

from typing import Any

from .api_common import ApiPart, as_int, decode


class LogMethods(ApiPart):
    """Reading and clearing process logs."""

    async def _read_process_log(self, name: Any, offset: Any, length: Any, channel: str) -> str:
        control = self._control()
        proc = control.process(name)
        return decode(await control.read_log(proc, channel, as_int(offset), as_int(length)))

    async def readProcessStdoutLog(self, name: str, offset: int, length: int) -> str:
        """Read part of a process's stdout log; offset and length work as in readLog.

        @param string name    process name or 'group:name'
        @param int offset     where to start, or how far from the end if negative
        @param int length     how many bytes, 0 for all
        @return string log    the bytes read, as text
        """
        return await self._read_process_log(name, offset, length, "stdout")

    readProcessLog = readProcessStdoutLog

    async def readProcessStderrLog(self, name: str, offset: int, length: int) -> str:
        """Read part of a process's stderr log; offset and length work as in readLog.

        @param string name    process name or 'group:name'
        @param int offset     where to start, or how far from the end if negative
        @param int length     how many bytes, 0 for all
        @return string log    the bytes read, as text
        """
        return await self._read_process_log(name, offset, length, "stderr")

    async def _tail_process_log(self, name: Any, offset: Any, length: Any, channel: str) -> list[Any]:
        control = self._control()
        proc = control.process(name)
        data, new_offset, overflow = await control.tail_log(proc, channel, as_int(offset), as_int(length))
        return [decode(data), new_offset, overflow]

    async def tailProcessStdoutLog(self, name: str, offset: int, length: int) -> list[Any]:
        """Follow a process's stdout log: ask for up to length bytes from
        offset.  If the log has grown past offset + length, only its last
        length bytes come back and overflow is true.  The offset returned is
        the log's size: pass it in the next call.

        @param string name    process name or 'group:name'
        @param int offset     where the previous call ended
        @param int length     the most bytes wanted
        @return array result  [string bytes, int offset, boolean overflow]
        """
        return await self._tail_process_log(name, offset, length, "stdout")

    tailProcessLog = tailProcessStdoutLog

    async def tailProcessStderrLog(self, name: str, offset: int, length: int) -> list[Any]:
        """tailProcessStdoutLog for the stderr log.

        @param string name    process name or 'group:name'
        @param int offset     where the previous call ended
        @param int length     the most bytes wanted
        @return array result  [string bytes, int offset, boolean overflow]
        """
        return await self._tail_process_log(name, offset, length, "stderr")

    def clearProcessLogs(self, name: str) -> bool:
        """Empty both log files of a process (removed and opened anew).

        @param string name      process name or 'group:name'
        @return boolean result  True, or a fault
        """
        control = self._control()
        control.clear_logs(control.process(name), name)
        return True

    clearProcessLog = clearProcessLogs

    async def clearAllProcessLogs(self) -> list[dict[str, Any]]:
        """clearProcessLogs for every process.

        @return array result  one {name, group, status, description} per process
        """
        control = self._control()
        return await control.clear_many(control.by_priority())
