"""A program that speaks sd_notify to $NOTIFY_SOCKET, for the readiness tests.

    notify_prog.py [--ready-after S] [--never-ready] [--status TEXT]
                   [--pings N] [--fork-mainpid] [--touch PATH]

--pings N: after READY=1, send WATCHDOG=1 N times (every quarter of
$WATCHDOG_USEC), then hang without pinging.  --fork-mainpid: fork, have the
parent name the child with MAINPID= and exit, the child carries on.
--touch PATH: append this process's pid to PATH once ready (the test reads
who is ready, and in which order).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import time


def notify(message: str) -> None:
    address = os.environ["NOTIFY_SOCKET"]
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-after", type=float, default=0.0)
    parser.add_argument("--never-ready", action="store_true")
    parser.add_argument("--status", default="")
    parser.add_argument("--pings", type=int, default=-1)
    parser.add_argument("--fork-mainpid", action="store_true")
    parser.add_argument("--touch", default="")
    args = parser.parse_args()
    if args.fork_mainpid:
        # As a forking daemon should: the parent names its child, then exits;
        # only then does the child go on (its READY=1 comes after MAINPID=).
        go_r, go_w = os.pipe()
        child = os.fork()
        if child:
            notify(f"MAINPID={child}")
            os._exit(0)
        os.close(go_w)
        os.read(go_r, 1)  # EOF once the parent has exited
        os.close(go_r)
    if args.ready_after:
        time.sleep(args.ready_after)
    if args.never_ready:
        while True:
            time.sleep(3600)
    if args.status:
        notify(f"STATUS={args.status}")
    if args.touch:
        with open(args.touch, "a") as f:
            f.write(f"{os.getpid()}\n")
    notify("READY=1")
    if args.pings >= 0:
        period = int(os.environ["WATCHDOG_USEC"]) / 1e6 / 4
        for _ in range(args.pings):
            time.sleep(period)
            notify("WATCHDOG=1")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
