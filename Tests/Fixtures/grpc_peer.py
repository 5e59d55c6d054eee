#!/usr/bin/env python3
"""gRPC test peer with raw-bytes messages (no generated code), service `test.Echo`.

  grpc_peer.py server [--name NAME]     prints "listening PORT"; serves until killed
  grpc_peer.py client TARGET [--authority A] [--only CALL]
                                        runs the calls and prints one JSON object with what each returned

Methods: Unary (echo), ServerStream (request "N": N messages "msg-i"), ClientStream (joins the messages with
"+"), Bidi (each message upper-cased), BidiAbort (answers the first message, then
fails UNAVAILABLE while the client still streams), Fail (NOT_FOUND "no such thing"), Sleep (waits 5 s, then echoes).
Every call's response carries trailing metadata x-served-by: NAME.
"""
import argparse
import json
import sys
import time
from concurrent import futures

import grpc

SERVICE = "test.Echo"


def serve(name):
    trailer = (("x-served-by", name),)

    def unary(request, context):
        context.set_trailing_metadata(trailer)
        return request

    def server_stream(request, context):
        context.set_trailing_metadata(trailer)
        for i in range(int(request.decode())):
            yield f"msg-{i}".encode()

    def client_stream(requests, context):
        context.set_trailing_metadata(trailer)
        return b"+".join(requests)

    def bidi(requests, context):
        context.set_trailing_metadata(trailer)
        for message in requests:
            yield message.upper()

    def bidi_abort(requests, context):
        context.set_trailing_metadata(trailer)
        yield next(requests).upper()
        context.abort(grpc.StatusCode.UNAVAILABLE, "going away")

    def fail(request, context):
        context.set_trailing_metadata(trailer)
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def sleep(request, context):
        time.sleep(5)
        return request

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "BidiAbort": grpc.stream_stream_rpc_method_handler(bidi_abort),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("listening", port, flush=True)
    server.wait_for_termination()


def trailers_of(call):
    return {key: value for key, value in (call.trailing_metadata() or ())}


def error_of(error):
    return {"code": error.code().name, "details": error.details()}


def client(target, authority, only):
    options = [("grpc.default_authority", authority)] if authority else []
    channel = grpc.insecure_channel(target, options=options)
    method = lambda kind, name: getattr(channel, kind)(f"/{SERVICE}/{name}")
    results = {}
    calls = only.split(",") if only else ["unary", "server_stream", "client_stream", "bidi", "fail"]
    for call in calls:
        try:
            if call == "unary":
                response, info = method("unary_unary", "Unary").with_call(b"hello", timeout=10)
                results[call] = {"response": response.decode(), "trailers": trailers_of(info)}
            elif call == "server_stream":
                stream = method("unary_stream", "ServerStream")(b"3", timeout=10)
                messages = [m.decode() for m in stream]
                results[call] = {"response": messages, "trailers": trailers_of(stream)}
            elif call == "client_stream":
                response, info = method("stream_unary", "ClientStream").with_call(
                    iter([b"a", b"b", b"c"]), timeout=10)
                results[call] = {"response": response.decode(), "trailers": trailers_of(info)}
            elif call == "bidi":
                stream = method("stream_stream", "Bidi")(iter([b"x", b"y"]), timeout=10)
                messages = [m.decode() for m in stream]
                results[call] = {"response": messages, "trailers": trailers_of(stream)}
            elif call == "fail":
                method("unary_unary", "Fail")(b"", timeout=10)
                results[call] = {"code": "OK"}
        except grpc.RpcError as error:
            results[call] = error_of(error)
    print(json.dumps(results), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("target", nargs="?")
    parser.add_argument("--name", default="grpc")
    parser.add_argument("--authority")
    parser.add_argument("--only")
    args = parser.parse_args()
    if args.mode == "server":
        serve(args.name)
    else:
        client(args.target, args.authority, args.only)


if __name__ == "__main__":
    sys.exit(main())
