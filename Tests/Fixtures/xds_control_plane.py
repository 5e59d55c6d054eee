#!/usr/bin/env python3
"""Test control plane (an istiod stand-in) serving Istio config over ADS ("MCP over xDS", istiod's `api` generator).

  xds_control_plane.py [--proto-dir DIR] [--port N] [--control-port N]
                       [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--require-token T]
                       [--unix-socket PATH]

First stdout line (flushed): {"xds_port": N, "control_port": M}. Both listen on 127.0.0.1 (port 0 = pick one).

Schema: every .proto under --proto-dir (default <repo>/Sources/PortcullisXDSProto/proto) is compiled at startup with
`python3 -m grpc_tools.protoc` (plus grpc_tools' own include dir for the well-known types) into a temporary directory
that is put on sys.path; the generated modules are imported and messages are looked up by their full proto names, so
the encoder is Python protobuf, independent of the Swift code under test.

xDS (gRPC, plaintext or TLS): /envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources,
state-of-the-world. Every DiscoveryRequest is recorded and classified:
  subscribe  no response_nonce, or one this stream never sent for that type (e.g. from a previous stream):
             subscribes the stream to the type and answers at once with the type's current state (possibly empty)
  ack / nack response_nonce = the latest nonce this stream got for the type, without / with error_detail: no answer
  stale      an older nonce of this stream for the type: recorded, ignored
A response carries all resources of its type, version_info = the type's version (a decimal counter per type, "0"
until the first change, bumped by every PUT and garbage push), a nonce unique in the process, the type_url as
requested and control_plane.identifier "xds-fake". A DeltaAggregatedResources call is answered UNIMPLEMENTED.
--require-token T: a stream whose `authorization` metadata is not "Bearer T" ends with UNAUTHENTICATED before any
request is read (counted in /state as streams_rejected). --tls-client-ca: client certificates are required and
verified against that CA; their SANs are reported with each request (peer_sans).

Resources by type URL:
  GROUP/VERSION/KIND with GROUP networking.istio.io, security.istio.io, telemetry.istio.io, extensions.istio.io (any
    version: v1, v1beta1, v1alpha3...): each resource is Any(type.googleapis.com/istio.mcp.v1alpha1.Resource) with
    metadata {name "NAMESPACE/NAME", version = metadata.resourceVersion or, when absent, a counter that moves only when
    the object changes, create_time = metadata.creationTimestamp or when the object was first PUT, labels,
    annotations} and body = Any(istio.networking.v1alpha3.KIND | istio.security.v1beta1.KIND |
    istio.telemetry.v1alpha1.KIND | istio.extensions.v1alpha1.KIND) parsed from the object's `spec` with
    json_format.ParseDict (unknown fields rejected). Namespace defaults to "default".
  core/v1alpha1/MeshConfig: each resource is Any(istio.mesh.v1alpha1.MeshConfig) directly (no envelope), parsed from
    the object's `spec` when it has one, otherwise from the whole array element (a bare MeshConfig JSON object).
  type.googleapis.com/MESSAGE (e.g. an Envoy type present in --proto-dir): each array element is that message's JSON.
  Anything else: accepted as a subscription (empty state); a PUT for it is a 400.

Control API (HTTP/1.1, JSON, 127.0.0.1:control_port):
  PUT  /resources?type=T   body: JSON array of {apiVersion, kind, metadata{name, namespace, labels, annotations,
                           resourceVersion, creationTimestamp}, spec}; replaces the state of T, bumps its version,
                           pushes to every stream subscribed to T. -> {"version": V, "pushed": streams}. A body or spec
                           that does not parse -> 400 {"error": message}, nothing changes.
  POST /garbage?type=T[&part=body|envelope]  bumps T's version and pushes to the subscribers one response whose single
                           resource cannot be decoded: by default the mcp Resource is fine and its body Any has the
                           right type_url but truncated bytes (part=envelope: the outer Any's bytes are truncated; for
                           MeshConfig and type.googleapis.com types the outer Any always). The stored state is not
                           changed: a later subscribe gets the previous resources under the new version.
                           -> {"version": V, "pushed": streams}
  GET  /requests           every recorded request, in order: {seq, stream, type_url, version_info, response_nonce,
                           resource_names, error_detail: {code, message} | null, kind: subscribe|ack|nack|stale,
                           node: {id, cluster, metadata, user_agent_name, ...} | null (as sent, proto field names),
                           authorization: header | null, peer_sans: [..] | null, time (unix seconds)}
  GET  /state              {open_streams, streams_total, streams_rejected, versions: {T: V}, last_nonce: {T: nonce},
                           subscribers: {T: open streams subscribed}}
  POST /disconnect         ends every open stream with UNAVAILABLE -> {"disconnected": n}
  POST /reset-requests     forgets the recorded requests -> {"cleared": n}
SIGTERM / SIGINT: both servers stop and the process exits 0.
"""
import argparse
import datetime
import importlib
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.protobuf import any_pb2, descriptor_pool, json_format, message_factory

ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"
MCP_RESOURCE = "istio.mcp.v1alpha1.Resource"
MESH_CONFIG_TYPE = "core/v1alpha1/MeshConfig"
TYPE_PREFIX = "type.googleapis.com/"
# API group -> proto package of the body (the same proto for every API version, as in istio's collections.gen.go).
BODY_PACKAGES = {
    "networking.istio.io": "istio.networking.v1alpha3",
    "security.istio.io": "istio.security.v1beta1",
    "telemetry.istio.io": "istio.telemetry.v1alpha1",
    "extensions.istio.io": "istio.extensions.v1alpha1",
}
IDENTIFIER = "xds-fake"
# A length-delimited field 1 announcing 127 bytes and carrying two: no protobuf parser accepts it.
GARBAGE = b"\x0a\x7f\x01\x02"


class BadRequest(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------- schema

def default_proto_dir():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(repo, "Sources", "PortcullisXDSProto", "proto")


def load_schema(proto_dir):
    """Compiles every .proto under proto_dir and imports the generated modules (they register in the default pool)."""
    import grpc_tools
    protos = sorted(
        os.path.relpath(os.path.join(root, name), proto_dir)
        for root, _, names in os.walk(proto_dir) for name in names if name.endswith(".proto"))
    if not protos:
        raise SystemExit(f"xds_control_plane: no .proto files under {proto_dir}")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    out = tempfile.mkdtemp(prefix="xds-fake-proto-")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out}",
             *protos], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"xds_control_plane: protoc failed:\n{result.stderr}")
        sys.path.insert(0, out)
        try:
            for proto in protos:
                importlib.import_module(proto[:-len(".proto")].replace(os.sep, ".").replace("-", "_") + "_pb2")
        finally:
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return len(protos)


def message_class(full_name):
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    except KeyError:
        return None
    return message_factory.GetMessageClass(descriptor)


def required_class(full_name):
    cls = message_class(full_name)
    if cls is None:
        raise SystemExit(f"xds_control_plane: message {full_name} is not defined by the .proto files")
    return cls


# ---------------------------------------------------------------------------------------------------------- kinds

def kind_of(type_url):
    """('mcp', body message name) | ('mesh', name) | ('plain', name) | None for a type URL."""
    if type_url == MESH_CONFIG_TYPE:
        return ("mesh", "istio.mesh.v1alpha1.MeshConfig")
    if type_url.startswith(TYPE_PREFIX):
        return ("plain", type_url[len(TYPE_PREFIX):])
    parts = type_url.split("/")
    if len(parts) == 3 and parts[0] in BODY_PACKAGES and parts[2]:
        return ("mcp", f"{BODY_PACKAGES[parts[0]]}.{parts[2]}")
    return None


def parse_message(full_name, value, what):
    cls = message_class(full_name)
    if cls is None:
        raise BadRequest(f"{full_name} is not defined by the .proto files")
    if not isinstance(value, dict):
        raise BadRequest(f"{what}: expected a JSON object, got {type(value).__name__}")
    try:
        return json_format.ParseDict(value, cls())
    except json_format.ParseError as error:
        raise BadRequest(f"{what}: {error}") from None


def timestamp_of(text):
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


class Schema:
    def __init__(self):
        self.request = required_class("envoy.service.discovery.v3.DiscoveryRequest")
        self.response = required_class("envoy.service.discovery.v3.DiscoveryResponse")
        self.resource = message_class(MCP_RESOURCE)


# ---------------------------------------------------------------------------------------------------------- state

class Stream:
    def __init__(self, ident, authorization, peer_sans):
        self.id = ident
        self.authorization = authorization
        self.peer_sans = peer_sans
        self.queue = queue.Queue()
        self.subscribed = set()
        self.sent = {}          # type_url -> nonces sent on this stream, oldest first
        self.open = True


END, DISCONNECT = object(), object()


class ControlPlane:
    def __init__(self, schema):
        self.schema = schema
        self.lock = threading.Lock()
        self.streams = {}                   # id -> open Stream
        self.stream_ids = itertools.count(1)
        self.streams_total = 0
        self.streams_rejected = 0
        self.nonces = itertools.count(1)
        self.object_versions = itertools.count(1)
        self.versions = {}                  # type_url -> int
        self.resources = {}                 # type_url -> [Any]
        self.last_nonce = {}                # type_url -> nonce
        self.objects = {}                   # (type_url, "ns/name") -> (fingerprint, version, create_time)
        self.requests = []

    # -- streams

    def open_stream(self, authorization, peer_sans):
        with self.lock:
            stream = Stream(next(self.stream_ids), authorization, peer_sans)
            self.streams[stream.id] = stream
            self.streams_total += 1
            return stream

    def close_stream(self, stream):
        with self.lock:
            stream.open = False
            self.streams.pop(stream.id, None)
        stream.queue.put(END)

    def reject(self):
        with self.lock:
            self.streams_rejected += 1

    def disconnect_all(self):
        with self.lock:
            streams = list(self.streams.values())
            for stream in streams:
                stream.open = False
            self.streams.clear()
        for stream in streams:
            stream.queue.put(DISCONNECT)
        return len(streams)

    # -- requests

    def handle_request(self, stream, request):
        type_url = request.type_url
        nonce = request.response_nonce
        with self.lock:
            sent = stream.sent.get(type_url, [])
            if not nonce or nonce not in sent:
                kind = "subscribe"
            elif nonce != sent[-1]:
                kind = "stale"
            else:
                kind = "nack" if request.HasField("error_detail") else "ack"
            self.requests.append({
                "seq": len(self.requests) + 1,
                "stream": stream.id,
                "type_url": type_url,
                "version_info": request.version_info,
                "response_nonce": nonce,
                "resource_names": list(request.resource_names),
                "error_detail": ({"code": request.error_detail.code, "message": request.error_detail.message}
                                 if request.HasField("error_detail") else None),
                "kind": kind,
                "node": (json_format.MessageToDict(request.node, preserving_proto_field_name=True)
                         if request.HasField("node") else None),
                "authorization": stream.authorization,
                "peer_sans": stream.peer_sans,
                "time": time.time(),
            })
            if kind == "subscribe" and stream.open:
                stream.subscribed.add(type_url)
                self._send(stream, type_url, self.resources.get(type_url, []))

    def _send(self, stream, type_url, resources):
        """Queues a response on a stream; the caller holds the lock."""
        nonce = f"n{next(self.nonces)}"
        response = self.schema.response(
            version_info=str(self.versions.get(type_url, 0)), type_url=type_url, nonce=nonce, resources=resources)
        response.control_plane.identifier = IDENTIFIER
        stream.sent.setdefault(type_url, []).append(nonce)
        self.last_nonce[type_url] = nonce
        stream.queue.put(response)

    def _push(self, type_url, resources):
        pushed = 0
        for stream in self.streams.values():
            if type_url in stream.subscribed:
                self._send(stream, type_url, resources)
                pushed += 1
        return pushed

    # -- control API

    def put(self, type_url, objects):
        kind = kind_of(type_url)
        if kind is None:
            raise BadRequest(f"unsupported type {type_url!r}: expected GROUP/VERSION/KIND with an istio.io group, "
                             f"{MESH_CONFIG_TYPE} or {TYPE_PREFIX}MESSAGE")
        if not isinstance(objects, list):
            raise BadRequest("body must be a JSON array of objects")
        mode, message = kind
        for needed in ([MCP_RESOURCE] if mode == "mcp" else []) + [message]:
            if message_class(needed) is None:
                raise BadRequest(f"{needed} is not defined by the .proto files")
        now = time.time()
        with self.lock:
            resources, seen = [], {}
            for index, obj in enumerate(objects):
                what = f"item {index}"
                if mode == "mcp":
                    resource, key, entry = self._mcp_resource(type_url, message, obj, what, now)
                    if key in seen:
                        raise BadRequest(f"{what}: duplicate {key}")
                    seen[key] = entry
                else:
                    spec = obj.get("spec", obj) if mode == "mesh" and isinstance(obj, dict) else obj
                    resource = any_pb2.Any()
                    resource.Pack(parse_message(message, spec, what))
                resources.append(resource)
            for key in [key for key in self.objects if key[0] == type_url]:
                del self.objects[key]
            for key, entry in seen.items():
                self.objects[(type_url, key)] = entry
            self.versions[type_url] = self.versions.get(type_url, 0) + 1
            self.resources[type_url] = resources
            pushed = self._push(type_url, resources)
            return {"version": str(self.versions[type_url]), "pushed": pushed}

    def _mcp_resource(self, type_url, body_name, obj, what, now):
        if not isinstance(obj, dict):
            raise BadRequest(f"{what}: expected a Kubernetes-style object")
        meta = obj.get("metadata") or {}
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{what}: metadata.name is required")
        namespace = meta.get("namespace") or "default"
        key = f"{namespace}/{name}"
        body = parse_message(body_name, obj.get("spec") or {}, f"{what} ({key}) spec")
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        for field, values in (("labels", labels), ("annotations", annotations)):
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise BadRequest(f"{what}: metadata.{field} must map strings to strings")
        fingerprint = json.dumps([obj.get("spec"), labels, annotations], sort_keys=True)
        previous = self.objects.get((type_url, key))
        if "creationTimestamp" in meta:
            try:
                created = timestamp_of(meta["creationTimestamp"]).timestamp()
            except (TypeError, ValueError) as error:
                raise BadRequest(f"{what}: metadata.creationTimestamp: {error}") from None
        else:
            created = previous[2] if previous else now
        if meta.get("resourceVersion") is not None:
            version = str(meta["resourceVersion"])
        elif previous and previous[0] == fingerprint:
            version = previous[1]
        else:
            version = str(next(self.object_versions))
        resource = self.schema.resource()
        resource.metadata.name = key
        resource.metadata.version = version
        resource.metadata.create_time.FromNanoseconds(int(created * 1e9))
        resource.metadata.labels.update(labels)
        resource.metadata.annotations.update(annotations)
        resource.body.Pack(body)
        packed = any_pb2.Any()
        packed.Pack(resource)
        return packed, key, (fingerprint, version, created)

    def garbage(self, type_url, part):
        kind = kind_of(type_url)
        if kind is None:
            raise BadRequest(f"unsupported type {type_url!r}")
        mode, message = kind
        if mode == "mcp" and part == "body":
            if self.schema.resource is None:
                raise BadRequest(f"{MCP_RESOURCE} is not defined by the .proto files")
            resource = self.schema.resource()
            resource.metadata.name = "garbage/garbage"
            resource.metadata.version = "garbage"
            resource.body.type_url = TYPE_PREFIX + message
            resource.body.value = GARBAGE
            packed = any_pb2.Any()
            packed.Pack(resource)
        else:
            packed = any_pb2.Any(type_url=TYPE_PREFIX + (MCP_RESOURCE if mode == "mcp" else message), value=GARBAGE)
        with self.lock:
            self.versions[type_url] = self.versions.get(type_url, 0) + 1
            pushed = self._push(type_url, [packed])
            return {"version": str(self.versions[type_url]), "pushed": pushed}

    def snapshot_requests(self):
        with self.lock:
            return list(self.requests)

    def reset_requests(self):
        with self.lock:
            cleared = len(self.requests)
            self.requests = []
            return cleared

    def state(self):
        with self.lock:
            subscribers = {}
            for stream in self.streams.values():
                for type_url in stream.subscribed:
                    subscribers[type_url] = subscribers.get(type_url, 0) + 1
            return {
                "open_streams": len(self.streams),
                "streams_total": self.streams_total,
                "streams_rejected": self.streams_rejected,
                "versions": {type_url: str(version) for type_url, version in self.versions.items()},
                "last_nonce": dict(self.last_nonce),
                "subscribers": subscribers,
            }


# ---------------------------------------------------------------------------------------------------------- gRPC

def peer_sans(context):
    sans = [value.decode(errors="replace")
            for key in ("x509_subject_alternative_name",)
            for value in (context.auth_context() or {}).get(key, [])]
    return sans or None


def ads_handler(plane, token):
    def stream_aggregated_resources(request_iterator, context):
        metadata = {key: value for key, value in (context.invocation_metadata() or ())}
        authorization = metadata.get("authorization")
        if token is not None and authorization != f"Bearer {token}":
            plane.reject()
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing authorization" if authorization is None else "bad authorization token")
        stream = plane.open_stream(authorization, peer_sans(context))
        context.add_callback(lambda: plane.close_stream(stream))

        def read():
            try:
                for request in request_iterator:
                    plane.handle_request(stream, request)
            except Exception:           # cancelled or broken: the done callback ends the generator
                pass
            else:                       # the client half-closed: end the call with OK
                plane.close_stream(stream)

        threading.Thread(target=read, name=f"ads-reader-{stream.id}", daemon=True).start()
        while True:
            item = stream.queue.get()
            if item is END:
                return
            if item is DISCONNECT:
                context.abort(grpc.StatusCode.UNAVAILABLE, "disconnected by the test control plane")
            yield item

    def delta_aggregated_resources(request_iterator, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the test control plane speaks state-of-the-world only")

    schema = plane.schema
    handlers = {
        "StreamAggregatedResources": grpc.stream_stream_rpc_method_handler(
            stream_aggregated_resources, request_deserializer=schema.request.FromString,
            response_serializer=schema.response.SerializeToString),
        "DeltaAggregatedResources": grpc.stream_stream_rpc_method_handler(
            delta_aggregated_resources, request_deserializer=lambda data: data,
            response_serializer=lambda data: data),
    }
    return grpc.method_handlers_generic_handler(ADS_SERVICE, handlers)


# ---------------------------------------------------------------------------------------------------------- HTTP

def control_handler(plane):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def route(self, method):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                if method == "PUT" and url.path == "/resources":
                    try:
                        objects = json.loads(body or b"null")
                    except ValueError as error:
                        raise BadRequest(f"body is not JSON: {error}") from None
                    return self.reply(200, plane.put(self.type_param(query), objects))
                if method == "POST" and url.path == "/garbage":
                    part = query.get("part", "body")
                    if part not in ("body", "envelope"):
                        raise BadRequest("part must be body or envelope")
                    return self.reply(200, plane.garbage(self.type_param(query), part))
                if method == "GET" and url.path == "/requests":
                    return self.reply(200, plane.snapshot_requests())
                if method == "GET" and url.path == "/state":
                    return self.reply(200, plane.state())
                if method == "POST" and url.path == "/disconnect":
                    return self.reply(200, {"disconnected": plane.disconnect_all()})
                if method == "POST" and url.path == "/reset-requests":
                    return self.reply(200, {"cleared": plane.reset_requests()})
                return self.reply(404, {"error": f"no route {method} {url.path}"})
            except BadRequest as error:
                return self.reply(400, {"error": str(error)})
            except Exception as error:  # a fixture bug: say so instead of hanging the test
                return self.reply(500, {"error": f"{type(error).__name__}: {error}"})

        @staticmethod
        def type_param(query):
            type_url = query.get("type")
            if not type_url:
                raise BadRequest("query parameter type is required")
            return type_url

        def do_GET(self):
            self.route("GET")

        def do_PUT(self):
            self.route("PUT")

        def do_POST(self):
            self.route("POST")

    return Handler


# ---------------------------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", default=default_proto_dir())
    parser.add_argument("--port", type=int, default=0, help="xDS gRPC port (0 = pick)")
    parser.add_argument("--control-port", type=int, default=0, help="HTTP control API port (0 = pick)")
    parser.add_argument("--tls-cert", help="server certificate chain (PEM); with --tls-key serves TLS")
    parser.add_argument("--tls-key", help="server private key (PEM)")
    parser.add_argument("--tls-client-ca", help="require client certificates signed by this CA (PEM)")
    parser.add_argument("--unix-socket", help="also serve plaintext xDS on this Unix socket path")
    parser.add_argument("--require-token", help="streams must send authorization: Bearer TOKEN")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")

    load_schema(args.proto_dir)
    plane = ControlPlane(Schema())

    # Client keepalive pings are welcome at any rate (grpcio's default answers pings more often than every 5 minutes
    # without data with GOAWAY ENHANCE_YOUR_CALM, which would fail a client that keeps its ADS stream alive).
    options = [("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.min_ping_interval_without_data_ms", 1000),
               ("grpc.http2.max_ping_strikes", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), maximum_concurrent_rpcs=60, options=options)
    server.add_generic_rpc_handlers((ads_handler(plane, args.require_token),))
    address = f"127.0.0.1:{args.port}"
    if args.tls_cert:
        def read(path):
            with open(path, "rb") as file:
                return file.read()
        credentials = grpc.ssl_server_credentials(
            [(read(args.tls_key), read(args.tls_cert))],
            root_certificates=read(args.tls_client_ca) if args.tls_client_ca else None,
            require_client_auth=bool(args.tls_client_ca))
        xds_port = server.add_secure_port(address, credentials)
    else:
        xds_port = server.add_insecure_port(address)
    if xds_port == 0:
        raise SystemExit(f"xds_control_plane: cannot listen on {address}")
    if args.unix_socket:  # also plaintext on a Unix socket, as a local istio-agent serves its XDS proxy
        if not server.add_insecure_port(f"unix:{args.unix_socket}"):
            raise SystemExit(f"xds_control_plane: cannot listen on unix:{args.unix_socket}")
    server.start()

    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), control_handler(plane))
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, name="control-api", daemon=True).start()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"xds_port": xds_port, "control_port": control.server_address[1]}), flush=True)
    stop.wait()
    plane.disconnect_all()
    server.stop(grace=0.5).wait()
    control.shutdown()
    control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
