#!/usr/bin/env python3
"""An HTTP/2 test origin (h2c, or h2 over TLS with --cert/--key) built on the `h2` package.

Prints "listening PORT" once bound to 127.0.0.1, then "request METHOD PATH" for every request head received.
Every request is answered after its body has been read:
  /bytes/N          N bytes of "x" (sent as the peer's flow-control window allows)
  /stream/N         N bytes of "s" without content-length, in DATA frames of at most 1000 bytes
  /status/NNN       that status, empty body
  anything else     200 with a JSON echo: protocol, method, path, authority, scheme, headers, body length
A HEAD request gets the head the GET would get (content-length included) and no body.
Request header `x-want-trailers: yes` adds response trailers `x-trailer-one: 1` and `x-trailer-two: 2`;
request trailers are echoed in the JSON as "trailers". Every response carries `x-backend: NAME`.
`x-reset: before` resets the stream instead of answering (REFUSED_STREAM with `x-reset-code: 7`).
`expect: 100-continue` gets a 100 informational head as soon as the request head arrives.
`x-misbehave: VALUE` makes the answer break HTTP (HARDENING §B8), for the gateway to contain:
  body              a body even for HEAD, 204 and 304 ("unexpected body")
  connection        a `connection: close` response header (connection-specific, malformed in HTTP/2)
  crlf              a header value carrying CR LF and a second header
  uppercase         an upper-case response header name
  cl-mismatch       `content-length: 10` and 20 bytes of body
  informational     20 `103` informational heads before the final one
"""
import argparse
import asyncio
import json
import ssl

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class Stream:
    def __init__(self, headers):
        self.headers = headers
        self.body = bytearray()
        self.trailers = []


class Origin(asyncio.Protocol):
    def __init__(self, name):
        self.name = name
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.streams = {}
        self.pending = {}  # stream id -> bytes still to send
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.transport.write(data)

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = Stream(event.headers)
                fields = dict(event.headers)
                print("request", fields.get(":method"), fields.get(":path"), flush=True)
                if fields.get("expect", "").lower() == "100-continue":
                    self.conn.send_headers(event.stream_id, [(":status", "100")])
                if event.stream_ended:
                    self.answer(event.stream_id)
            elif isinstance(event, h2.events.DataReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.stream_ended:
                    self.answer(event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.trailers = event.headers
                self.answer(event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                pass
            elif isinstance(event, h2.events.WindowUpdated):
                self.send_pending()
            elif isinstance(event, h2.events.StreamReset):
                self.streams.pop(event.stream_id, None)
                self.pending.pop(event.stream_id, None)
        self.flush()

    def answer(self, stream_id):
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        headers = dict()
        for name, value in stream.headers:
            headers.setdefault(name, []).append(value)
        path = headers.get(":path", ["/"])[0]
        if headers.get("x-reset", [""])[0] == "before":
            code = int(headers.get("x-reset-code", ["7"])[0])
            self.conn.reset_stream(stream_id, error_code=code)
            return
        status = 200
        body = b""
        content_type = "application/json"
        open_ended = False
        if path.startswith("/bytes/"):
            body = b"x" * int(path[len("/bytes/"):].split("?")[0])
            content_type = "application/octet-stream"
        elif path.startswith("/stream/"):
            body = b"s" * int(path[len("/stream/"):].split("?")[0])
            content_type = "application/octet-stream"
            open_ended = True
        elif path.startswith("/status/"):
            status = int(path[len("/status/"):].split("?")[0])
        else:
            body = json.dumps({
                "protocol": "h2",
                "method": headers.get(":method", [""])[0],
                "path": path,
                "authority": headers.get(":authority", [""])[0],
                "scheme": headers.get(":scheme", [""])[0],
                "headers": {k: v for k, v in headers.items() if not k.startswith(":")},
                "bodyLength": len(stream.body),
                "trailers": dict(stream.trailers),
            }).encode()
        want_trailers = headers.get("x-want-trailers", [""])[0] == "yes"
        misbehave = headers.get("x-misbehave", [""])[0]
        response = [(":status", str(status)), ("x-backend", self.name), ("content-type", content_type)]
        if not want_trailers and not open_ended:
            response.append(("content-length", "10" if misbehave == "cl-mismatch" else str(len(body))))
        if misbehave == "cl-mismatch":
            body = b"m" * 20
        elif misbehave == "connection":
            response.append(("connection", "close"))
        elif misbehave == "crlf":
            response.append(("x-split", "a\r\nx-injected: 1"))
        elif misbehave == "uppercase":
            response.append(("X-Upper", "1"))
        elif misbehave == "informational":
            for _ in range(20):
                self.conn.send_headers(stream_id, [(":status", "103"), ("link", "</a>; rel=preload")])
        if misbehave == "body" and status in (204, 304):
            body = b"unexpected body"
        if headers.get(":method", [""])[0] == "HEAD" and misbehave != "body":
            body = b""
        self.send_head(stream_id, response, raw=misbehave in ("connection", "crlf", "uppercase"))
        self.pending[stream_id] = (bytearray(body), want_trailers, 1000 if open_ended else None)
        self.send_pending()

    def send_head(self, stream_id, response, raw):
        """Sends a response head; `raw` turns off h2's own header validation and normalisation for it."""
        config = self.conn.config
        saved = (config.validate_outbound_headers, config.normalize_outbound_headers)
        if raw:
            config.validate_outbound_headers = False
            config.normalize_outbound_headers = False
        try:
            self.conn.send_headers(stream_id, response, end_stream=False)
        finally:
            config.validate_outbound_headers, config.normalize_outbound_headers = saved

    def send_pending(self):
        for stream_id in list(self.pending):
            body, want_trailers, frame_limit = self.pending[stream_id]
            while body:
                window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
                if frame_limit is not None:
                    window = min(window, frame_limit)
                if window <= 0:
                    break
                chunk = bytes(body[:window])
                del body[:window]
                self.conn.send_data(stream_id, chunk)
            if body:
                continue
            del self.pending[stream_id]
            if want_trailers:
                self.conn.send_headers(stream_id, [("x-trailer-one", "1"), ("x-trailer-two", "2")], end_stream=True)
            else:
                self.conn.end_stream(stream_id)
        self.flush()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="h2")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        context.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Origin(args.name), "127.0.0.1", 0, ssl=context)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
