#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fake_lmtp.py - a stand-in LMTP server for the Postfix lab (stdlib only).

It plays bounced's LMTP side before bounced exists, to prove the lab and to
capture the DSNs a real Postfix sends.  Every message is written to the store
directory as NNN.eml (the bytes after dot-unstuffing) and NNN.json (the LMTP
envelope), each fsync'ed and renamed into place, and only then answered 250
per recipient, as bounced must.  The .json is renamed last: it is the commit
marker, so a SIGKILL at any moment leaves either a complete pair or an
orphan .eml that messages() ignores.

    fake_lmtp.py --socket PATH --store DIR [--data-reply "451 4.3.0 ..."]

--data-reply makes every DATA answer that line for each recipient (nothing is
stored): "451 4.3.0 ..." plays a bounced whose store fails.  --drop-every N
plays a buggy receiver that answers 250 to every Nth message without storing
it (to prove that the crash run's counting catches a lost bounce).  SIGTERM removes
the socket and exits; SIGKILL leaves it behind, as a crashed daemon would.
"""

import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time

MAX_LINE = 4096
MAX_MESSAGE = 20 * 1024 * 1024
MAX_RCPTS = 1000

_seq_lock = threading.Lock()
_seq = [0]


def _next_name():
    # Unique across restarts: start time in ns, then a counter.
    with _seq_lock:
        _seq[0] += 1
        return "%d-%06d" % (time.time_ns(), _seq[0])


def _durable_write(path, data):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _addr(arg):
    # "FROM:<a@b> BODY=8BITMIME" -> ("a@b", ["BODY=8BITMIME"])
    arg = arg.split(":", 1)[1].strip() if ":" in arg else arg
    if arg.startswith("<"):
        end = arg.find(">")
        if end < 0:
            return None, []
        return arg[1:end], arg[end + 1:].split()
    parts = arg.split()
    return (parts[0] if parts else ""), parts[1:]


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 2)
        if not line:
            return None
        return line

    def handle(self):
        srv = self.server
        self.reply("220 fake-lmtp.lab.test LMTP ready")
        mail_from = None
        mail_params = []
        rcpts = []
        while True:
            raw = self.readline()
            if raw is None:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb == "LHLO":
                self.reply("250-fake-lmtp.lab.test")
                self.reply("250-PIPELINING")
                self.reply("250-ENHANCEDSTATUSCODES")
                self.reply("250-8BITMIME")
                self.reply("250 SIZE %d" % MAX_MESSAGE)
            elif verb == "MAIL":
                mail_from, mail_params = _addr(arg)
                rcpts = []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                if mail_from is None:
                    self.reply("503 5.5.1 MAIL first")
                    continue
                addr, _ = _addr(arg)
                if addr is None or len(rcpts) >= MAX_RCPTS:
                    self.reply("452 4.5.3 Too many recipients")
                    continue
                rcpts.append(addr)
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("503 5.5.1 RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                size = 0
                while True:
                    raw = self.rfile.readline(MAX_LINE + 2)
                    if not raw:
                        return  # client left mid-DATA: nothing stored
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    size += len(raw)
                    if size <= MAX_MESSAGE:
                        chunks.append(raw)
                if srv.data_reply:
                    for _ in rcpts:
                        self.reply(srv.data_reply)
                elif srv.drop_every and srv.count_message() % srv.drop_every == 0:
                    for _ in rcpts:
                        self.reply("250 2.0.0 Ok: dropped (a lost bounce)")
                else:
                    name = _next_name()
                    env = {"mail_from": mail_from, "mail_params": mail_params,
                           "rcpt_to": rcpts, "received": time.time(), "size": size}
                    base = os.path.join(srv.store, name)
                    _durable_write(base + ".eml", b"".join(chunks))
                    _durable_write(base + ".json", json.dumps(env).encode())
                    _fsync_dir(srv.store)
                    for _ in rcpts:
                        self.reply("250 2.0.0 Ok: stored %s" % name)
                mail_from, mail_params, rcpts = None, [], []
            elif verb == "RSET":
                mail_from, mail_params, rcpts = None, [], []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognized")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    messages = 0

    def count_message(self):
        with _seq_lock:
            self.messages += 1
            return self.messages


def serve(sock_path, store, data_reply=None, mode=0o666, drop_every=0):
    os.makedirs(store, exist_ok=True)
    try:
        os.unlink(sock_path)  # a stale socket of a killed predecessor
    except FileNotFoundError:
        pass
    srv = Server(sock_path, Handler)
    # Pitfall 3: root's umask 022 leaves the socket unconnectable by postfix.
    os.chmod(sock_path, mode)
    srv.store = store
    srv.data_reply = data_reply
    srv.drop_every = drop_every

    def on_term(signum, frame):
        try:
            os.unlink(sock_path)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    srv.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--data-reply", default=None)
    ap.add_argument("--mode", default="0666")
    ap.add_argument("--drop-every", type=int, default=0)
    a = ap.parse_args()
    serve(a.socket, a.store, a.data_reply, int(a.mode, 8), a.drop_every)


if __name__ == "__main__":
    sys.exit(main())
