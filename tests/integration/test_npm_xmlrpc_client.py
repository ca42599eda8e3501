"""The npm `xmlrpc` package (what Node.js tools use to drive Supervisor)
against our daemon over TCP, with and without credentials: it sends no
browser headers, so the cross-site defences of the HTTP listener leave it
alone (issue 20)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = Path(os.environ.get("NPM_CLIENTS", REPO / ".venv-npm" / "node_modules"))

SCRIPT = r"""
// node -e: process.argv is [node, ...arguments]
const xmlrpc = require(process.argv[1]);
const [port, user, pass] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const options = { host: "127.0.0.1", port, path: "/RPC2" };
if (user) options.basic_auth = { user, pass };
const client = xmlrpc.createClient(options);
const call = (method, params) => new Promise((resolve, reject) =>
  client.methodCall(method, params, (err, value) => (err ? reject(err) : resolve(value))));
(async () => {
  const state = await call("supervisor.getState", []);
  const stopped = await call("supervisor.stopProcess", ["sleeper", true]);
  const info = await call("supervisor.getProcessInfo", ["sleeper"]);
  console.log(JSON.stringify({ state: state.statename, stopped, after: info.statename }));
})().catch((err) => { console.log(JSON.stringify({ error: String(err) })); process.exit(1); });
"""


def _node_client() -> list[str]:
    node = shutil.which("node")
    if node is None or not (MODULES / "xmlrpc").is_dir():
        pytest.skip(f"node or the npm xmlrpc package missing (scripts/test.sh installs them into {MODULES})")
    return [node, "-e", SCRIPT, str(MODULES / "xmlrpc")]


@pytest.mark.parametrize("auth", [None, ("alice", "s3cret")], ids=["no-auth", "auth"])
def test_npm_xmlrpc_client_drives_the_daemon(daemon_factory, auth):
    command = _node_client()
    d = daemon_factory("[program:sleeper]\ncommand=sleep 1000\nstartsecs=0\n", inet=True, auth=auth)
    d.wait_all()
    user, password = auth or ("", "")
    done = subprocess.run([*command, str(d.port), user, password], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"state": "RUNNING", "stopped": True, "after": "STOPPED"}
