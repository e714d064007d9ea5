#!/usr/bin/env python3
"""The storm bench's probe: when each guest of a storm reaches the sandbox server.

    storm-probe.py ADDRESS PORT TIMEOUT_S PID...

One process for every guest of a storm, so that watching a hundred guests
does not load the machine whose storm it times. It enters each guest's network
namespace (setns, which node cannot do) only to open sockets there: a socket
stays in the namespace it was made in.

It prints "ready" once it holds every guest's netns, and starts trying a guest
when its PID arrives on stdin: when the command that attached it returned, as
a runtime starts a container's process only once its CNI ADD returned. Trying
earlier would change what it times: a first packet sent before the host end
answers ARP makes the guest's kernel wait a second before it asks again. Per
guest it prints "PID NS ANSWER" when a TCP connection from the guest got the
server's answer (the address the server saw): NS is CLOCK_MONOTONIC in
nanoseconds, the clock of node's process.hrtime. Last it prints "cpu SECONDS",
its own CPU time. Exits 1 naming the guests still offline after TIMEOUT_S.

A guest is tried every 10 ms, each try a new connection: a SYN sent before
the host's NAT rule was in place keeps its un-NATed conntrack entry, and
retransmitting it would never get through. A try still connecting is given up
after a second, while newer tries go on.
"""
import ctypes
import errno
import os
import resource
import selectors
import socket
import sys
import time

CLONE_NEWNET = 0x40000000
RETRY_NS = 10_000_000
GIVE_UP_NS = 1_000_000_000

libc = ctypes.CDLL(None, use_errno=True)


def enter(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class Guest:
    def __init__(self, pid, own):
        self.pid = pid
        self.netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        self.started = False
        self.next_try = 0
        self.tries = {}

    def inside(self, own, make):
        enter(self.netns)
        try:
            return make()
        finally:
            enter(own)

    def close(self, selector):
        for s in self.tries:
            selector.unregister(s)
            s.close()
        self.tries.clear()
        os.close(self.netns)


def main():
    address, port, timeout_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    # Tries still connecting hold a socket each: up to a hundred per guest.
    _, most = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    selector = selectors.DefaultSelector()
    guests = {}
    for pid in sys.argv[4:]:
        guests[pid] = Guest(pid, own)
    os.set_blocking(0, False)
    selector.register(0, selectors.EVENT_READ, (None, "started"))
    print("ready", flush=True)
    said = b""
    deadline = time.monotonic_ns() + int(timeout_s * 1e9)
    answers = {}

    def drop(guest, s):
        selector.unregister(s)
        s.close()
        del guest.tries[s]
        answers.pop(s, None)

    while guests:
        now = time.monotonic_ns()
        if now > deadline:
            print(f"offline after {timeout_s} s: {' '.join(guests)}", file=sys.stderr)
            sys.exit(1)
        for guest in guests.values():
            for s, started in list(guest.tries.items()):
                if started is not None and now - started > GIVE_UP_NS:
                    drop(guest, s)
            if guest.started and now >= guest.next_try:
                guest.next_try = now + RETRY_NS
                s = guest.inside(own, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK))
                code = s.connect_ex((address, port))
                if code in (0, errno.EINPROGRESS):
                    guest.tries[s] = now
                    selector.register(s, selectors.EVENT_WRITE, (guest, "connect"))
                else:
                    s.close()
        trying = any(g.started for g in guests.values())
        for key, _ in selector.select(0.002 if trying else 0.05):
            guest, what = key.data
            s = key.fileobj
            if what == "started":
                chunk = os.read(0, 65536)
                if not chunk:
                    selector.unregister(0)
                said += chunk
                *lines, said = said.split(b"\n")
                for pid in lines:
                    if pid.decode() in guests:
                        guests[pid.decode()].started = True
                continue
            if guest.pid not in guests or s not in guest.tries:
                continue
            if what == "connect":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    drop(guest, s)
                    continue
                # Connected: the NAT worked. Wait for the answer without giving up.
                guest.tries[s] = None
                answers[s] = b""
                selector.modify(s, selectors.EVENT_READ, (guest, "answer"))
            else:
                try:
                    chunk = s.recv(256)
                except OSError:
                    chunk = None
                if chunk:
                    answers[s] += chunk
                    continue
                answer = answers.pop(s).decode(errors="replace").strip()
                if chunk is None or not answer:
                    drop(guest, s)
                    continue
                print(f"{guest.pid} {time.monotonic_ns()} {answer}", flush=True)
                for other in guest.tries:
                    answers.pop(other, None)
                guest.close(selector)
                del guests[guest.pid]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"cpu {usage.ru_utime + usage.ru_stime:.3f}", flush=True)


main()
