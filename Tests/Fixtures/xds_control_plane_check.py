#!/usr/bin/env python3
"""Self-check of xds_control_plane.py with a Python grpcio ADS client (not used by the Swift tests).

  xds_control_plane_check.py [--proto-dir DIR]

Starts the control plane three times (plaintext; TLS with a bearer token; mutual TLS; throwaway certificates made with
openssl), drives it through subscribe / push / ACK / NACK / stale / garbage / disconnect / resubscribe / auth, checks
the responses and the recorded requests, and prints "ok" (exit 0) or the first failed check (exit 1).
"""
import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import xds_control_plane as fake  # noqa: E402  (schema loading and the default proto dir)

from google.protobuf import json_format  # noqa: E402

VS = "networking.istio.io/v1/VirtualService"
AP = "security.istio.io/v1/AuthorizationPolicy"
MESH = "core/v1alpha1/MeshConfig"
METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"


def check(condition, what):
    if not condition:
        raise AssertionError(what)


class ControlPlane:
    def __init__(self, args):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "xds_control_plane.py"), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"control plane did not start: {self.process.stderr.read()}")
        ports = json.loads(line)
        self.xds_port, self.control_port = ports["xds_port"], ports["control_port"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}", data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def requests(self):
        return self.call("GET", "/requests")[1]

    def wait_for(self, condition, timeout=5):
        """Waits until condition(recorded requests) holds: a sent request is not yet received by the server."""
        deadline = time.monotonic() + timeout
        while not condition(self.requests()):
            check(time.monotonic() < deadline, "timed out waiting for a request to be recorded")
            time.sleep(0.02)

    def stop(self):
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        check(code == 0, f"exit status on SIGTERM {code}: {self.process.stderr.read()}")
        return time.monotonic() - started


class Client:
    """One ADS stream: send() queues requests, receive() waits for the next response."""

    def __init__(self, channel, schema, metadata=None, control=None):
        self.schema = schema
        self.control = control      # when set, send() of an ACK/NACK returns once the server has recorded it
        self.outgoing = queue.Queue()
        self.call = channel.stream_stream(
            METHOD, request_serializer=schema.request.SerializeToString,
            response_deserializer=schema.response.FromString)(iter(self.outgoing.get, None), metadata=metadata)
        self.incoming = queue.Queue()
        threading.Thread(target=self.pump, daemon=True).start()

    def send(self, **fields):
        node = fields.pop("node", None)
        error = fields.pop("error_detail", None)
        request = self.schema.request(**fields)
        if node:
            json_format.ParseDict(node, request.node)
        if error:
            request.error_detail.code, request.error_detail.message = error
        self.outgoing.put(request)
        if self.control and request.response_nonce:
            self.control.wait_for(lambda records: any(r["response_nonce"] == request.response_nonce and
                                                      r["version_info"] == request.version_info for r in records))

    def receive(self, timeout=5):
        item = self.incoming.get(timeout=timeout)
        if isinstance(item, BaseException):
            self.incoming.put(item)     # the call is over: every later receive sees the same end
            raise item
        return item

    def pump(self):
        try:
            for response in self.call:
                self.incoming.put(response)
            self.incoming.put(StopIteration())
        except grpc.RpcError as error:
            self.incoming.put(error)

    def nothing_within(self, seconds):
        try:
            response = self.receive(seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected response {response}")

    def close(self):
        self.outgoing.put(None)


def decode_mcp(schema, any_message):
    check(any_message.type_url == "type.googleapis.com/istio.mcp.v1alpha1.Resource", f"envelope {any_message.type_url}")
    resource = schema.resource.FromString(any_message.value)
    body_class = fake.message_class(resource.body.type_url.split("/", 1)[1])
    return resource, body_class.FromString(resource.body.value)


VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "reviews", "namespace": "bookinfo", "labels": {"app": "reviews"},
                 "annotations": {"note": "x"}, "creationTimestamp": "2024-05-01T10:00:00Z"},
    "spec": {"hosts": ["reviews.example.com"], "gateways": ["istio-system/gw"],
             "http": [{"name": "r1", "match": [{"uri": {"prefix": "/v2"}}],
                       "route": [{"destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080}},
                                  "weight": 100}]}]},
}


def plaintext_checks(proto_dir):
    cp = ControlPlane(["--proto-dir", proto_dir])
    schema = fake.Schema()
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{cp.xds_port}")
        a = Client(channel, schema, control=cp)
        node = {"id": "router~10.0.0.1~gw.istio-system~istio-system.svc.cluster.local", "cluster": "gw",
                "metadata": {"GENERATOR": "api", "NAMESPACE": "istio-system"}, "user_agent_name": "portcullis"}
        a.send(type_url=VS, node=node)
        r = a.receive()
        check(r.type_url == VS and r.version_info == "0" and len(r.resources) == 0, f"empty initial state: {r}")
        check(r.control_plane.identifier == "xds-fake" and r.nonce, "control_plane / nonce")
        a.send(type_url=VS, version_info=r.version_info, response_nonce=r.nonce)          # ACK
        a.nothing_within(0.3)

        status, body = cp.call("PUT", f"/resources?type={VS}", [VIRTUAL_SERVICE])
        check(status == 200 and body == {"version": "1", "pushed": 1}, f"PUT: {status} {body}")
        p = a.receive()
        check(p.version_info == "1" and len(p.resources) == 1 and p.nonce != r.nonce, f"push: {p}")
        resource, vs = decode_mcp(schema, p.resources[0])
        check(resource.metadata.name == "bookinfo/reviews", resource.metadata.name)
        check(dict(resource.metadata.labels) == {"app": "reviews"}, "labels")
        check(dict(resource.metadata.annotations) == {"note": "x"}, "annotations")
        check(resource.metadata.create_time.seconds == 1714557600, f"create_time {resource.metadata.create_time}")
        check(resource.metadata.version, "metadata.version")
        check(resource.body.type_url == "type.googleapis.com/istio.networking.v1alpha3.VirtualService", "body type")
        check(list(vs.hosts) == ["reviews.example.com"] and vs.http[0].route[0].destination.port.number == 9080,
              f"body {vs}")
        first_object_version = resource.metadata.version

        a.send(type_url=VS, version_info="0", response_nonce=r.nonce)                      # stale
        a.send(type_url=VS, version_info="0", response_nonce=p.nonce, error_detail=(3, "rejected"))  # NACK
        a.nothing_within(0.3)

        # Same object again: its version stays; changed spec: new version.
        cp.call("PUT", f"/resources?type={VS}", [VIRTUAL_SERVICE])
        same = a.receive()
        check(decode_mcp(schema, same.resources[0])[0].metadata.version == first_object_version, "stable version")
        a.send(type_url=VS, version_info=same.version_info, response_nonce=same.nonce)
        changed = json.loads(json.dumps(VIRTUAL_SERVICE))
        changed["spec"]["hosts"] = ["other.example.com"]
        cp.call("PUT", f"/resources?type={VS}", [changed])
        moved = a.receive()
        check(decode_mcp(schema, moved.resources[0])[0].metadata.version != first_object_version, "version moves")
        a.send(type_url=VS, version_info=moved.version_info, response_nonce=moved.nonce)

        # A second type on the same stream; deletion (state of the world) and a bad spec.
        a.send(type_url=AP)
        ap0 = a.receive()
        check(ap0.type_url == AP and not ap0.resources and ap0.version_info == "0", f"AP initial {ap0}")
        a.send(type_url=AP, version_info=ap0.version_info, response_nonce=ap0.nonce)
        status, body = cp.call("PUT", f"/resources?type={AP}", [
            {"metadata": {"name": "deny", "namespace": "istio-system"},
             "spec": {"action": "DENY", "selector": {"matchLabels": {"istio": "ingressgateway"}}}}])
        check(status == 200, f"AP PUT {body}")
        ap1 = a.receive()
        _, policy = decode_mcp(schema, ap1.resources[0])
        check(policy.action == 1 and dict(policy.selector.match_labels) == {"istio": "ingressgateway"}, f"AP {policy}")
        a.send(type_url=AP, version_info=ap1.version_info, response_nonce=ap1.nonce)
        status, body = cp.call("PUT", f"/resources?type={VS}", [{"metadata": {"name": "x"}, "spec": {"hostz": []}}])
        check(status == 400 and "hostz" in body["error"], f"bad spec: {status} {body}")
        check(cp.call("GET", "/state")[1]["versions"][VS] == "3", "bad PUT changed the version")
        status, body = cp.call("PUT", f"/resources?type={VS}", [])
        deleted = a.receive()
        check(deleted.type_url == VS and deleted.version_info == "4" and not deleted.resources, f"deletion {deleted}")
        a.send(type_url=VS, version_info=deleted.version_info, response_nonce=deleted.nonce)

        # Garbage: the body does not decode.
        status, body = cp.call("POST", f"/garbage?type={VS}")
        g = a.receive()
        check(g.version_info == "5" and len(g.resources) == 1, f"garbage {g}")
        resource = schema.resource.FromString(g.resources[0].value)
        check(resource.body.type_url.endswith("istio.networking.v1alpha3.VirtualService"), "garbage type")
        try:
            fake.message_class("istio.networking.v1alpha3.VirtualService").FromString(resource.body.value)
            raise AssertionError("garbage decoded")
        except Exception as error:  # noqa: BLE001
            check("garbage decoded" not in str(error), str(error))
        a.send(type_url=VS, version_info="4", response_nonce=g.nonce, error_detail=(3, "cannot decode"))

        # MeshConfig, bare and as spec.
        a.send(type_url=MESH)
        m0 = a.receive()
        check(m0.type_url == MESH and not m0.resources, "mesh initial")
        a.send(type_url=MESH, version_info=m0.version_info, response_nonce=m0.nonce)
        status, body = cp.call("PUT", f"/resources?type={MESH}", [{"spec": {"rootNamespace": "istio-system",
                                                                             "trustDomain": "example.org"}}])
        check(status == 200, f"mesh PUT {body}")
        m1 = a.receive()
        check(m1.resources[0].type_url == "type.googleapis.com/istio.mesh.v1alpha1.MeshConfig", "mesh any")
        mesh = fake.message_class("istio.mesh.v1alpha1.MeshConfig").FromString(m1.resources[0].value)
        check(mesh.root_namespace == "istio-system" and mesh.trust_domain == "example.org", f"mesh {mesh}")
        a.send(type_url=MESH, version_info=m1.version_info, response_nonce=m1.nonce)

        records = cp.requests()
        kinds = [(x["type_url"], x["kind"]) for x in records if x["stream"] == 1]
        check(kinds[:6] == [(VS, "subscribe"), (VS, "ack"), (VS, "stale"), (VS, "nack"), (VS, "ack"), (VS, "ack")],
              f"kinds {kinds}")
        check(records[0]["node"]["id"].startswith("router~") and records[0]["node"]["metadata"]["GENERATOR"] == "api"
              and records[0]["node"]["user_agent_name"] == "portcullis", f"node {records[0]['node']}")
        check(records[1]["node"] is None and records[0]["authorization"] is None, "node only on first / no auth")
        check(records[3]["error_detail"] == {"code": 3, "message": "rejected"}, f"nack {records[3]}")
        check(records[1]["response_nonce"] == r.nonce and records[1]["version_info"] == "0", "ack fields")

        # A second stream sees the current state at once; disconnect ends both with UNAVAILABLE.
        b = Client(channel, schema)
        b.send(type_url=AP, node={"id": "second"})
        b1 = b.receive()
        check(b1.version_info == ap1.version_info and len(b1.resources) == 1, "second stream state")
        state = cp.call("GET", "/state")[1]
        check(state["open_streams"] == 2 and state["subscribers"] == {VS: 1, AP: 2, MESH: 1}, f"state {state}")
        check(state["last_nonce"][AP] == b1.nonce, "last_nonce")
        check(cp.call("POST", "/disconnect")[1] == {"disconnected": 2}, "disconnect count")
        for client in (a, b):
            try:
                client.receive()
                raise AssertionError("stream survived disconnect")
            except grpc.RpcError as error:
                check(error.code() == grpc.StatusCode.UNAVAILABLE, f"disconnect code {error.code()}")
        time.sleep(0.2)
        check(cp.call("GET", "/state")[1]["open_streams"] == 0, "streams closed")

        # Reconnect carrying the old nonce: a subscribe, answered with the current state.
        c = Client(channel, schema)
        c.send(type_url=AP, version_info=ap1.version_info, response_nonce=ap1.nonce, node={"id": "again"})
        c1 = c.receive()
        check(len(c1.resources) == 1 and c1.version_info == ap1.version_info, "resubscribe state")
        check(cp.requests()[-1]["kind"] == "subscribe", "old-stream nonce is a subscribe")
        # Client half-close ends the call with OK.
        c.close()
        try:
            c.receive()
            raise AssertionError("response after half-close")
        except StopIteration:
            pass
        state = cp.call("GET", "/state")[1]
        check(state["streams_total"] == 3 and state["open_streams"] == 0, f"state after close {state}")
        check(cp.call("GET", "/nope")[0] == 404, "404")
        check(cp.call("PUT", "/resources?type=foo/bar", [])[0] == 400, "unknown type")
        channel.close()
    finally:
        elapsed = cp.stop()
    check(elapsed < 3, f"SIGTERM took {elapsed:.1f}s")


KINDS = {  # type URL (older API versions, as istiod <= 1.23 serves them) -> (spec, field checked after decoding)
    "networking.istio.io/v1alpha3/Gateway": (
        {"selector": {"istio": "ingressgateway"},
         "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]},
        lambda m: m.servers[0].port.number == 80),
    "networking.istio.io/v1alpha3/DestinationRule": (
        {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]},
        lambda m: m.subsets[0].labels["version"] == "v1"),
    "networking.istio.io/v1beta1/ServiceEntry": (
        {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "https", "protocol": "TLS"}]},
        lambda m: m.ports[0].number == 443),
    "networking.istio.io/v1/WorkloadEntry": (
        {"address": "10.0.0.7", "ports": {"http": 8080}, "labels": {"app": "x"}},
        lambda m: m.ports["http"] == 8080),
    "security.istio.io/v1beta1/AuthorizationPolicy": ({"action": "AUDIT"}, lambda m: m.action == 2),
}


def kinds_checks(proto_dir):
    """Every kind the gateway consumes, under older API versions; a bare MeshConfig; garbage in the envelope."""
    cp = ControlPlane(["--proto-dir", proto_dir])
    schema = fake.Schema()
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{cp.xds_port}")
        client = Client(channel, schema, control=cp)
        for type_url, (spec, test) in KINDS.items():
            if fake.kind_of(type_url) is None or fake.message_class(fake.kind_of(type_url)[1]) is None:
                print(f"note: no schema for {type_url}, skipped", file=sys.stderr)
                continue
            client.send(type_url=type_url)
            first = client.receive()
            client.send(type_url=type_url, version_info=first.version_info, response_nonce=first.nonce)
            status, body = cp.call("PUT", f"/resources?type={type_url}",
                                   [{"metadata": {"name": "one", "namespace": "ns"}, "spec": spec},
                                    {"metadata": {"name": "two"}, "spec": {}}])
            check(status == 200, f"{type_url}: {body}")
            pushed = client.receive()
            check(pushed.type_url == type_url and len(pushed.resources) == 2, f"{type_url} push")
            (meta1, body1), (meta2, _) = (decode_mcp(schema, r) for r in pushed.resources)
            check(meta1.metadata.name == "ns/one" and meta2.metadata.name == "default/two", "names")
            check(test(body1), f"{type_url} body {body1}")
            client.send(type_url=type_url, version_info=pushed.version_info, response_nonce=pushed.nonce)
        status, body = cp.call("PUT", f"/resources?type={MESH}", [{"rootNamespace": "istio-config"}])
        check(status == 200, f"bare mesh {body}")
        client.send(type_url=MESH)
        mesh = client.receive()
        decoded = fake.message_class("istio.mesh.v1alpha1.MeshConfig").FromString(mesh.resources[0].value)
        check(decoded.root_namespace == "istio-config", "bare mesh value")
        client.send(type_url=MESH, version_info=mesh.version_info, response_nonce=mesh.nonce)
        cp.call("POST", f"/garbage?type={VS}&part=envelope")    # nobody subscribed: nothing pushed
        client.send(type_url=VS)
        client.receive()
        status, body = cp.call("POST", f"/garbage?type={VS}&part=envelope")
        check(body == {"version": "2", "pushed": 1}, f"garbage {body}")
        garbage = client.receive().resources[0]
        check(garbage.type_url.endswith("istio.mcp.v1alpha1.Resource"), "envelope garbage type")
        try:
            schema.resource.FromString(garbage.value)
            raise AssertionError("envelope garbage decoded")
        except Exception as error:  # noqa: BLE001
            check("garbage decoded" not in str(error), str(error))
        check(not [r for r in cp.requests() if r["kind"] in ("nack", "stale")], "only subscribes and ACKs")
        client.close()
        channel.close()
    finally:
        cp.stop()


def tls_checks(proto_dir):
    with tempfile.TemporaryDirectory() as directory:
        cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=istiod",
                        "-addext", "subjectAltName=DNS:istiod.istio-system.svc,IP:127.0.0.1"],
                       check=True, capture_output=True)
        cp = ControlPlane(["--proto-dir", proto_dir, "--tls-cert", cert, "--tls-key", key,
                           "--require-token", "s3cret"])
        schema = fake.Schema()
        try:
            with open(cert, "rb") as file:
                credentials = grpc.ssl_channel_credentials(root_certificates=file.read())
            channel = grpc.secure_channel(f"127.0.0.1:{cp.xds_port}", credentials,
                                          options=[("grpc.ssl_target_name_override", "istiod.istio-system.svc")])
            for metadata, expected in ((None, "missing"), ((("authorization", "Bearer wrong"),), "bad")):
                client = Client(channel, schema, metadata)
                client.send(type_url=VS)
                try:
                    client.receive()
                    raise AssertionError("unauthenticated stream answered")
                except grpc.RpcError as error:
                    check(error.code() == grpc.StatusCode.UNAUTHENTICATED and expected in error.details(),
                          f"auth error {error.code()} {error.details()}")
            client = Client(channel, schema, (("authorization", "Bearer s3cret"),))
            client.send(type_url=VS, node={"id": "tls"})
            response = client.receive()
            check(response.type_url == VS, "TLS response")
            records = cp.requests()
            check(len(records) == 1 and records[0]["authorization"] == "Bearer s3cret", f"TLS records {records}")
            check(cp.call("GET", "/state")[1]["streams_rejected"] == 2, "rejected count")
            plain = Client(grpc.insecure_channel(f"127.0.0.1:{cp.xds_port}"), schema)
            plain.send(type_url=VS)
            try:
                plain.receive()
                raise AssertionError("plaintext accepted by TLS server")
            except grpc.RpcError as error:
                check(error.code() == grpc.StatusCode.UNAVAILABLE, f"plaintext to TLS {error.code()}")
            client.close()
            channel.close()
        finally:
            cp.stop()


def mtls_checks(proto_dir):
    with tempfile.TemporaryDirectory() as directory:
        path = lambda name: os.path.join(directory, name)  # noqa: E731

        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                path("ca.key"), "-out", path("ca.pem"), "-days", "1", "-subj", "/CN=test root")
        for name, san in (("server", "DNS:istiod.istio-system.svc"),
                          ("client", "URI:spiffe://cluster.local/ns/istio-system/sa/gateway")):
            openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    path(f"{name}.key"), "-out", path(f"{name}.csr"), "-subj", f"/CN={name}")
            with open(path(f"{name}.ext"), "w") as file:
                file.write(f"subjectAltName={san}\n")
            openssl("x509", "-req", "-in", path(f"{name}.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                    "-CAcreateserial", "-days", "1", "-extfile", path(f"{name}.ext"), "-out", path(f"{name}.pem"))
        cp = ControlPlane(["--proto-dir", proto_dir, "--tls-cert", path("server.pem"), "--tls-key",
                           path("server.key"), "--tls-client-ca", path("ca.pem")])
        schema = fake.Schema()
        try:
            def read(name):
                with open(path(name), "rb") as file:
                    return file.read()
            options = [("grpc.ssl_target_name_override", "istiod.istio-system.svc")]
            anonymous = Client(grpc.secure_channel(
                f"127.0.0.1:{cp.xds_port}", grpc.ssl_channel_credentials(read("ca.pem")), options=options), schema)
            anonymous.send(type_url=VS)
            try:
                anonymous.receive()
                raise AssertionError("client without certificate answered")
            except grpc.RpcError as error:
                check(error.code() == grpc.StatusCode.UNAVAILABLE, f"no client cert {error.code()}")
            credentials = grpc.ssl_channel_credentials(read("ca.pem"), read("client.key"), read("client.pem"))
            client = Client(grpc.secure_channel(f"127.0.0.1:{cp.xds_port}", credentials, options=options), schema)
            client.send(type_url=VS, node={"id": "mtls"})
            check(client.receive().type_url == VS, "mTLS response")
            sans = cp.requests()[0]["peer_sans"]
            check(sans == ["spiffe://cluster.local/ns/istio-system/sa/gateway"], f"peer SANs {sans}")
            client.close()
        finally:
            cp.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto-dir", default=fake.default_proto_dir())
    args = parser.parse_args()
    fake.load_schema(args.proto_dir)
    try:
        plaintext_checks(args.proto_dir)
        kinds_checks(args.proto_dir)
        tls_checks(args.proto_dir)
        mtls_checks(args.proto_dir)
    except AssertionError as error:
        print(f"FAILED: {error}", flush=True)
        return 1
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
