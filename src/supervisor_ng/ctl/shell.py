"""The controller: runs one command line, or the interactive shell.

Built on the standard library's ``cmd.Cmd`` for line parsing, the prompt
loop and readline completion.  Every command goes through :meth:`onecmd`,
which is where stock's observable rules live: an unexpected exception
becomes one ``error: <class ...>, <message>: file: <f> line: <n>`` line and
exit status 1, and an HTTP 401 asks for credentials (shell) or says so
(one-shot).
"""

from __future__ import annotations

import cmd
import errno
import sys
from _thread import get_ident
from typing import Any, Callable, Optional

from ..rpc.faults import Faults
from . import codes, wire
from .actions import COMMANDS
from .helptext import NG_TOPICS, TOPICS, TOPICS_HEADER
from .settings import Settings
from .transport import Connection, ServerProxy


def describe_exception(exc: BaseException) -> str:
    """Stock's one-line report of an unexpected error: class, message and
    where the innermost frame of the traceback was."""
    tb = exc.__traceback__
    filename, lineno = "?", "?"
    while tb is not None:
        filename, lineno = tb.tb_frame.f_code.co_filename, str(tb.tb_lineno)
        tb = tb.tb_next
    display = wire.DISPLAY_NAMES.get(type(exc))
    cls = f"<class '{display}'>" if display else str(type(exc))
    return f"error: {cls}, {exc}: file: {filename} line: {lineno}"


class Controller(cmd.Cmd):
    def __init__(self, settings: Settings, stdin: Any = None, stdout: Any = None) -> None:
        super().__init__("tab", stdin, stdout)
        self.settings = settings
        self.prompt = settings.prompt + "> "
        self.exitstatus = codes.SUCCESS
        # One connection per thread: plugins run commands from threads.
        self._connections: dict[int, Connection] = {}
        self._complete_info: Optional[list[dict[str, Any]]] = None
        self.plugins: list[Any] = []
        self.plugin_commands: dict[str, Callable[[str], Any]] = {}
        if settings.plugin_specs:
            self._load_plugins()

    def _load_plugins(self) -> None:
        from .plugins import commands_of, load_plugins

        self.plugins = load_plugins(self, self.settings.plugin_specs)
        self.settings.plugins = self.plugins
        for plugin in self.plugins:
            for name in commands_of(plugin):
                self.plugin_commands.setdefault(name, getattr(plugin, "do_" + name))

    # -- output and exit status -------------------------------------------

    def output(self, message: str) -> None:
        self.stdout.write(message + "\n")

    def set_exitstatus_from_fault(self, code: int, ignored: Optional[int] = None) -> None:
        if code in (ignored, Faults.SUCCESS):
            return
        if code in codes.DEAD_PROGRAM_FAULTS:
            self.exitstatus = codes.NOT_RUNNING
        else:
            self.exitstatus = codes.GENERIC

    # -- the server ---------------------------------------------------------

    def connection(self) -> Connection:
        connection = self._connections.get(get_ident())
        if connection is None:
            s = self.settings
            connection = Connection(s.serverurl, s.username, s.password, s.cafile)
            self._connections[get_ident()] = connection
        return connection

    def supervisor(self, namespace: str = "supervisor") -> ServerProxy:
        return ServerProxy(self.connection(), namespace)

    def disconnect(self) -> None:
        connection = self._connections.pop(get_ident(), None)
        if connection is not None:
            connection.close()

    # -- what [ctlplugin:x] plugins call (stock's names) ---------------------

    @property
    def options(self) -> Settings:
        return self.settings

    def get_server_proxy(self, namespace: Optional[str] = None) -> Any:
        from .plugins import PluginProxy

        return PluginProxy(self.connection, namespace)

    def get_supervisor(self) -> Any:
        return self.get_server_proxy("supervisor")

    def set_exitstatus_from_xmlrpc_fault(self, code: int, ignored: Optional[int] = None) -> None:
        self.set_exitstatus_from_fault(code, ignored)

    def upcheck(self) -> bool:
        """Is a compatible supervisord answering?  Says why not, and sets the
        exit status, when it is not."""
        try:
            api = self.supervisor().getVersion()
            if api != codes.API_VERSION:
                self.output(
                    "Sorry, this version of supervisorctl expects to talk to a server "
                    f"with API version {codes.API_VERSION}, but the remote version is {api}."
                )
                self.exitstatus = codes.NOT_INSTALLED
                return False
        except wire.Fault as exc:
            if exc.faultCode == Faults.UNKNOWN_METHOD:
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor "
                    "namespace commands that supervisorctl uses to control it.  Please "
                    "check that the [rpcinterface:supervisor] section is enabled in the "
                    "configuration file (see sample.conf)."
                )
                self.exitstatus = codes.UNIMPLEMENTED_FEATURE
                return False
            self.exitstatus = codes.GENERIC
            raise
        except OSError as exc:
            if exc.args and exc.args[0] == errno.ECONNREFUSED:
                self.output(f"{self.settings.serverurl} refused connection")
                self.exitstatus = codes.INSUFFICIENT_PRIVILEGES
                return False
            if exc.args and exc.args[0] == errno.ENOENT:
                self.output(f"{self.settings.serverurl} no such file")
                self.exitstatus = codes.NOT_RUNNING
                return False
            self.exitstatus = codes.GENERIC
            raise
        return True

    # -- dispatch -----------------------------------------------------------

    def _handler(self, name: str) -> Optional[Callable[[str], Any]]:
        if name == "help":
            return self.do_help
        if name == "EOF":
            return self.do_EOF
        action = COMMANDS.get(name)
        if action is None:
            return self.plugin_commands.get(name)
        return lambda arg: action(self, arg)

    def emptyline(self) -> bool:
        # cmd.Cmd would repeat the previous command; stock does nothing.
        return False

    def default(self, line: str) -> None:
        self.output(f"*** Unknown syntax: {line}")
        self.exitstatus = codes.GENERIC

    def onecmd(self, line: str) -> Any:
        name, arg, line = self.parseline(line)
        if not line:
            return self.emptyline()
        if not name:
            return self.default(line)
        self._complete_info = None
        self.lastcmd = line
        handler = self._handler(name)
        if handler is None:
            return self.default(line)
        try:
            try:
                return handler(arg)
            except wire.ProtocolError as exc:
                if exc.errcode != 401:
                    self.exitstatus = codes.GENERIC
                    raise
                self.output("Server requires authentication")
                if self.settings.interactive:
                    return self._login_and_retry(line)
                self.exitstatus = codes.GENERIC
            # Stock runs the command once more after a 401; without new
            # credentials it fails the same way and reports the error.
            handler(arg)
        except Exception as exc:
            self.output(describe_exception(exc))
            self.exitstatus = codes.GENERIC
        finally:
            self.disconnect()
        return None

    def _login_and_retry(self, line: str) -> Any:
        import getpass

        username = input("Username:")
        password = getpass.getpass(prompt="Password:")
        self.output("")
        self.settings.username = username
        self.settings.password = password
        self.disconnect()
        return self.onecmd(line)

    # -- built-in commands --------------------------------------------------

    def do_help(self, arg: str) -> None:
        # As stock: every plugin answers after the built-in commands, so
        # "help mstop" starts with the built-ins' "*** No help on mstop".
        if arg:
            text = TOPICS.get(arg, NG_TOPICS.get(arg))
            self.output(text if text is not None else self.nohelp % (arg,))
            if arg.strip() == "help":
                return
        else:
            self.output("")
            topics = sorted(name for name in TOPICS if name != "help")
            self.print_topics(TOPICS_HEADER, topics, 15, 80)
        for plugin in self.plugins:
            plugin.do_help(arg)

    def do_EOF(self, arg: str) -> bool:
        self.output("")
        return True

    # -- the interactive shell ----------------------------------------------

    def run_shell(self) -> None:
        try:
            import readline
        except ImportError:
            readline = None  # type: ignore[assignment]
        if readline is not None:
            # Keep "group:process", "group:*" and names with dashes one word.
            delims = readline.get_completer_delims()
            for char in ":*-":
                delims = delims.replace(char, "")
            readline.set_completer_delims(delims)
            history = self.settings.history_file
            if history:
                try:
                    readline.read_history_file(history)
                except OSError:
                    pass
                import atexit

                atexit.register(_save_history, readline, history)
        try:
            self.cmdqueue.append("status")
            self.cmdloop()
        except KeyboardInterrupt:
            self.output("")

    # -- completion ---------------------------------------------------------

    def complete(self, text: str, state: int, line: Optional[str] = None) -> Optional[str]:
        if line is None:
            import readline

            line = readline.get_line_buffer()
        matches = self._completions(text, line)
        return matches[state] if state < len(matches) else None

    def _completions(self, text: str, line: str) -> list[str]:
        words = line.split()
        if not words or (len(words) == 1 and not line.endswith(" ")):
            return self._complete_actions(text)
        action = words[0]
        if action == "help":
            return self._complete_actions(text)
        if action in ("add", "remove", "update"):
            return self._complete_groups(text)
        if action in ("clear", "fg", "pid", "restart", "signal", "start", "status", "stop", "tail"):
            return self._complete_processes(text)
        return []

    def _complete_actions(self, text: str) -> list[str]:
        vocab = sorted(set(COMMANDS) | {"help"} | set(self.plugin_commands))
        return [name + " " for name in vocab if name.startswith(text)]

    def _process_infos(self) -> list[dict[str, Any]]:
        # readline asks many times per <tab>; one fetch per command line.
        if self._complete_info is None:
            try:
                self._complete_info = self.supervisor().getAllProcessInfo()
            finally:
                self.disconnect()
        return self._complete_info

    def _complete_groups(self, text: str) -> list[str]:
        groups: list[str] = []
        for info in self._process_infos():
            if info["group"] not in groups:
                groups.append(info["group"])
        return [g + " " for g in groups if g.startswith(text)]

    def _complete_processes(self, text: str) -> list[str]:
        names: list[str] = []
        for info in self._process_infos():
            if ":" in text or info["name"] != info["group"]:
                names.append(f"{info['group']}:{info['name']}")
                if f"{info['group']}:*" not in names:
                    names.append(f"{info['group']}:*")
            else:
                names.append(info["name"])
        return [n + " " for n in names if n.startswith(text)]


def _save_history(readline: Any, path: str) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass


def check_encoding(ctl: Controller) -> None:
    """Warn when stdout cannot take every character a log may contain."""
    encoding = getattr(sys.stdout, "encoding", None) or ""
    if not encoding.lower().startswith("utf"):
        ctl.output(
            f"Warning: sys.stdout.encoding is set to {sys.stdout.encoding}, so Unicode output "
            "may fail. Check your LANG and PYTHONIOENCODING environment settings."
        )
