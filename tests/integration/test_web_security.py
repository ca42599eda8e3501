"""The HTTP listener against browser-borne attacks (issue 20), with real
requests against real daemons: cross-site actions, cross-site forms to
/RPC2 and the log tails, DNS rebinding, {SCRYPT} passwords, failed logins,
TLS; and every ordinary client still served as before."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import xmlrpc.client
from pathlib import Path
from typing import Optional

import pytest

from tests.daemon_harness import Daemon, bin_path, http_request

SLEEPER = """
[program:sleeper]
command=sleep 1000
startsecs=0
"""

STOP_CALL = (
    b"<?xml version='1.0'?><methodCall><methodName>supervisor.stopProcess</methodName>"
    b"<params><param><value><string>sleeper</string></value></param></params></methodCall>"
)

CREDENTIALS = [None, ("admin", "s3cret")]


def _headers(
    d: Daemon, extra: Optional[dict[str, str]] = None, host: Optional[str] = None
) -> dict[str, str]:
    headers = {"Host": host or f"127.0.0.1:{d.port}"}
    if d.login is not None:
        token = base64.b64encode(f"{d.login[0]}:{d.login[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    headers.update(extra or {})
    return headers


def _get(d: Daemon, path: str, extra: Optional[dict[str, str]] = None, host: Optional[str] = None):
    return http_request(path, port=d.port, headers=_headers(d, extra, host))


def _post(d: Daemon, path: str, body: bytes, extra: dict[str, str], host: Optional[str] = None):
    return http_request(
        path, port=d.port, method="POST", body=body, headers=_headers(d, extra, host)
    )


def _no_cors(headers: dict[str, str]) -> None:
    assert not any(name.startswith("access-control-") for name in headers), headers


@pytest.mark.parametrize("auth", CREDENTIALS, ids=["no-auth", "auth"])
def test_cross_site_actions_are_refused(daemon_factory, auth):
    d = daemon_factory(SLEEPER, inet=True, auth=auth)
    d.wait_state("sleeper", "RUNNING")
    other = f"http://127.0.0.1:{d.port + 1}"
    attacks = [
        # an <img> on another site
        (
            "/index.html?processname=sleeper&action=stop",
            {"Sec-Fetch-Site": "cross-site", "Referer": "http://evil.example/"},
        ),
        ("/index.html?action=stopall", {"Sec-Fetch-Site": "cross-site"}),
        # another port on 127.0.0.1 is same-site, not same-origin
        ("/?action=restartall", {"Sec-Fetch-Site": "same-site", "Referer": f"{other}/"}),
        # an old browser without Sec-Fetch-*: the Referer alone gives it away
        ("/index.html?processname=sleeper&action=stop", {"Referer": "http://evil.example/page"}),
    ]
    for path, extra in attacks:
        status, headers, body = _get(d, path, extra)
        assert status == 403, (path, extra, status, body)
        assert body.decode().startswith("refused:") and body.count(b"\n") == 1
        _no_cors(headers)
    # The text/plain form posted to /RPC2, with and without a foreign Origin.
    status, headers, body = _post(
        d, "/RPC2", STOP_CALL, {"Content-Type": "text/plain", "Origin": "http://evil.example"}
    )
    assert status == 403, body
    for form_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        status, headers, body = _post(d, "/RPC2", STOP_CALL, {"Content-Type": form_type})
        assert status == 415 and b"text/xml" in body, (form_type, status, body)
        _no_cors(headers)
    # The page's JSON action from another origin (fetch with mode no-cors sends text/plain).
    action = json.dumps({"action": "stop", "target": "sleeper"}).encode()
    for extra in (
        {"Content-Type": "application/json", "Origin": other},
        {"Content-Type": "text/plain", "Sec-Fetch-Site": "same-site"},
    ):
        status, headers, body = _post(d, "/api/action", action, extra)
        assert status == 403, (extra, status, body)
    # Log tails are reads, but not for other origins.
    for path in ("/logtail/sleeper", "/mainlogtail"):
        status, headers, _body = _get(
            d, path, {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        )
        assert status == 403
        _no_cors(headers)
    assert d.state("sleeper") == "RUNNING"

    # Same-origin use of the page, and a bookmark opened from the address bar.
    status, _h, _b = _get(
        d, "/index.html?processname=sleeper&action=stop", {"Sec-Fetch-Site": "none"}
    )
    assert status == 301
    assert d.state("sleeper") == "STOPPED"
    own = f"http://127.0.0.1:{d.port}"
    status, _h, body = _post(
        d,
        "/api/action",
        json.dumps({"action": "start", "target": "sleeper"}).encode(),
        {
            "Content-Type": "application/json",
            "Origin": own,
            "Sec-Fetch-Site": "same-origin",
            "Referer": f"{own}/",
        },
    )
    assert status == 200 and json.loads(body)["ok"], body
    assert d.state("sleeper") == "RUNNING"
    # A script or curl: no browser headers at all, served as today.
    status, _h, _b = _get(d, "/index.html?processname=sleeper&action=stop")
    assert status == 301
    assert d.state("sleeper") == "STOPPED"
    status, _h, body = _post(
        d, "/RPC2", STOP_CALL.replace(b"stopProcess", b"startProcess"), {"Content-Type": "text/xml"}
    )
    assert status == 200 and b"<boolean>1</boolean>" in body
    status, _h, _b = _get(d, "/index.html?action=refresh", {"Sec-Fetch-Site": "cross-site"})
    assert status == 301  # refresh only redirects


def test_dns_rebinding_without_credentials(daemon_factory):
    d = daemon_factory(SLEEPER, inet=True)
    d.wait_state("sleeper", "RUNNING")
    rebound = f"evil.example:{d.port}"
    for path in ("/api/status", "/", "/logtail/sleeper"):
        status, headers, body = _get(d, path, host=rebound)
        assert status == 421, (path, status)
        assert b"allowed_hosts" in body and b"[inet_http_server]" in body
        _no_cors(headers)
    status, _h, body = _post(
        d,
        "/api/action",
        json.dumps({"action": "stop", "target": "sleeper"}).encode(),
        {"Content-Type": "application/json", "Origin": f"http://{rebound}"},
        host=rebound,
    )
    assert status == 421
    status, _h, _b = _post(d, "/RPC2", STOP_CALL, {"Content-Type": "text/xml"}, host=rebound)
    assert status == 421
    assert d.state("sleeper") == "RUNNING"
    for host in (f"localhost:{d.port}", f"127.0.0.1:{d.port}", "localhost"):
        assert _get(d, "/api/status", host=host)[0] == 200


def test_allowed_hosts_opt_in_and_credentials_lift_the_host_check(daemon_factory):
    d = daemon_factory(SLEEPER, inet=True, start=False)
    text = d.conf.read_text().replace(
        f"port=127.0.0.1:{d.port}\n",
        f"port=127.0.0.1:{d.port}\nallowed_hosts = proxied.example, other.example\n",
    )
    d.conf.write_text(text)
    d.start()
    assert _get(d, "/api/status", host=f"proxied.example:{d.port}")[0] == 200
    assert _get(d, "/api/status", host="OTHER.example")[0] == 200
    assert _get(d, "/api/status", host="evil.example")[0] == 421

    secured = daemon_factory(SLEEPER, inet=True, auth=("u", "p"))
    # With credentials a rebound page has none to send; a client that has them is served.
    assert _get(secured, "/api/status", host="evil.example")[0] == 200
    status, _h, _b = http_request(
        "/api/status", port=secured.port, headers={"Host": "evil.example"}
    )
    assert status == 401


def test_stock_config_with_our_options_still_loads_in_stock(daemon_factory, tmp_path):
    d = daemon_factory(SLEEPER, kind="stock", inet=True, start=False)
    text = d.conf.read_text().replace(
        f"port=127.0.0.1:{d.port}\n", f"port=127.0.0.1:{d.port}\nallowed_hosts=a.example\n"
    )
    d.conf.write_text(text)
    d.start()
    assert d.state("sleeper") == "RUNNING"


def test_open_listener_without_credentials_warns_once(daemon_factory):
    d = daemon_factory(SLEEPER, inet=True, start=False)
    d.conf.write_text(
        d.conf.read_text().replace(f"port=127.0.0.1:{d.port}", f"port=0.0.0.0:{d.port}")
    )
    d.start()
    d.wait_state("sleeper", "RUNNING")
    assert d.read_log().count("not only on loopback") == 1
    loopback = daemon_factory(SLEEPER, inet=True)
    assert "not only on loopback" not in loopback.read_log()


def _hash(password: str) -> str:
    done = subprocess.run(
        # The module behind the supervisor-ng-passwd entry point.
        [str(bin_path("ours", "python")), "-m", "supervisor_ng.http.passwd"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("{SCRYPT}") and password not in line
    return line


def test_scrypt_password_and_failed_logins(daemon_factory):
    hashed = _hash("correct horse")
    d = daemon_factory(SLEEPER, inet=True, auth=("admin", hashed), login=("admin", "correct horse"))
    d.wait_state("sleeper", "RUNNING")
    assert d.inet_proxy().supervisor.getState()["statename"] == "RUNNING"
    # The stock supervisorctl over the unix socket and over TCP with the clear password.
    r = d.ctl("status")
    assert r.returncode == 0 and "sleeper" in r.stdout, r
    r = d.ctl("-s", f"http://127.0.0.1:{d.port}", "status")
    assert r.returncode == 0 and "sleeper" in r.stdout, r
    r = d.ctl("status", client="ours", options=("-s", f"http://127.0.0.1:{d.port}"))
    assert r.returncode == 0 and "sleeper" in r.stdout, r
    # Wrong passwords: refused, logged, and later ones answered more slowly (not timed here).
    for _ in range(5):
        with pytest.raises(xmlrpc.client.ProtocolError) as info:
            d.inet_proxy(auth=("admin", "wrong")).supervisor.getState()
        assert info.value.errcode == 401
    d.wait_until(
        lambda: "(5 in a row); answering after" in d.read_log(), 30, "the failed logins in the log"
    )
    assert "failed login from 127.0.0.1" in d.read_log()
    # The right password still works from the same client, and resets its record.
    assert d.inet_proxy().supervisor.getState()["statename"] == "RUNNING"


@pytest.mark.parametrize("auth", CREDENTIALS, ids=["no-auth", "auth"])
def test_clients_over_tcp_unchanged(daemon_factory, auth):
    d = daemon_factory(SLEEPER, inet=True, auth=auth)
    d.wait_state("sleeper", "RUNNING")
    assert d.inet_proxy().supervisor.getProcessInfo("sleeper")["statename"] == "RUNNING"
    for client in ("stock", "ours"):
        r = d.ctl("stop", "sleeper", client=client, options=("-s", f"http://127.0.0.1:{d.port}"))
        assert r.returncode == 0 and "sleeper: stopped" in r.stdout, (client, r)
        r = d.ctl("start", "sleeper", client=client, options=("-s", f"http://127.0.0.1:{d.port}"))
        assert r.returncode == 0 and "sleeper: started" in r.stdout, (client, r)
    # curl-like and node_exporter-like plain GETs
    for path in ("/", "/ok.html", "/metrics", "/index.html?processname=sleeper&action=stop"):
        status, _h, _b = http_request(path, port=d.port, headers=_headers(d))
        assert status in (200, 301), (path, status)
    assert d.state("sleeper") == "STOPPED"


def _self_signed(where: Path) -> tuple[Path, Path]:
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_tls_listener_and_our_supervisorctl_over_https(daemon_factory, tmp_path):
    cert, key = _self_signed(tmp_path)
    d = daemon_factory(SLEEPER, inet=True, auth=("u", "p"), start=False)
    text = (
        d.conf.read_text()
        .replace(
            f"port=127.0.0.1:{d.port}\n",
            f"port=127.0.0.1:{d.port}\ncertfile={cert}\nkeyfile={key}\n",
        )
        .replace("[supervisorctl]\n", f"[supervisorctl]\ncafile={cert}\n")
    )
    d.conf.write_text(text)
    d.start()
    d.wait_state("sleeper", "RUNNING")
    url = f"https://127.0.0.1:{d.port}"
    r = d.ctl("status", client="ours", options=("-s", url))
    assert r.returncode == 0 and "sleeper" in r.stdout and "RUNNING" in r.stdout, r
    r = d.ctl("stop", "sleeper", client="ours", options=("-s", url))
    assert r.returncode == 0 and "sleeper: stopped" in r.stdout, r
    # Python's xmlrpc.client with the CA.
    import ssl

    context = ssl.create_default_context(cafile=str(cert))
    proxy = xmlrpc.client.ServerProxy(f"https://u:p@127.0.0.1:{d.port}/RPC2", context=context)
    assert proxy.supervisor.getState()["statename"] == "RUNNING"
    # Without the CA the certificate is not trusted: a clear failure, no call made.
    d.conf.write_text(d.conf.read_text().replace(f"cafile={cert}\n", ""))
    r = d.ctl("start", "sleeper", client="ours", options=("-s", url))
    assert r.returncode != 0
    assert d.state("sleeper") == "STOPPED"
    # Plain HTTP on the TLS port gets nothing served.
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        http_request(
            "/RPC2",
            port=d.port,
            method="POST",
            body=STOP_CALL,
            headers={"Content-Type": "text/xml"},
            timeout=5,
        )
