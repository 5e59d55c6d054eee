#!/usr/bin/env python3
"""Control-plane latency benchmark over xDS, against the test control plane (Tests/Fixtures/xds_control_plane.py).

Measures, with `portcullis run --xds-address`:
  1. a VirtualService push (one new host) until the new host answers 200, with 1 VirtualService;
  2. 1,000 VirtualServices pushed at once until the last one routes;
  3. one VirtualService changed among 1,001 (a full reload: decode, load, validate, compile) until it routes;
  4. the time from that push until the gateway's ACK reaches the control plane.
Each step is repeated REPS times (default 5); medians are printed.

Usage: loadtest/xds-reload.py   (PORTCULLIS_BINARY defaults to .build/release/portcullis)
"""
import http.client, http.server, json, os, socket, socketserver, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get('PORTCULLIS_BINARY', os.path.join(ROOT, '.build/release/portcullis'))
REPS = int(os.environ.get('REPS', '5'))
WORK = tempfile.mkdtemp(prefix='portcullis-xds-bench-')
VS_TYPE = 'networking.istio.io/v1/VirtualService'


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('content-length', '2'); self.end_headers(); self.wfile.write(b'ok')

    def log_message(self, *args):
        pass


backend = socketserver.ThreadingTCPServer(('127.0.0.1', 0), Backend)
threading.Thread(target=backend.serve_forever, daemon=True).start()
plane = subprocess.Popen([sys.executable, os.path.join(ROOT, 'Tests/Fixtures/xds_control_plane.py')],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(WORK, 'plane.log'), 'w'), text=True)
ports = json.loads(plane.stdout.readline())
CONTROL = ports['control_port']


def control(method, path, body=None):
    c = http.client.HTTPConnection('127.0.0.1', CONTROL, timeout=60)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={'content-type': 'application/json'})
    r = c.getresponse(); data = json.loads(r.read() or b'null'); c.close()
    if r.status != 200:
        raise SystemExit(f'{method} {path}: {r.status} {data}')
    return data


def obj(kind, ns, name, spec):
    return {'apiVersion': 'networking.istio.io/v1', 'kind': kind, 'metadata': {'name': name, 'namespace': ns}, 'spec': spec}


def vs(name, host):
    return obj('VirtualService', 'app', name, {'hosts': [host], 'gateways': ['istio-system/gw'],
                                               'http': [{'route': [{'destination': {'host': 'app.internal'}}]}]})


P, ADMIN = free_port(), free_port()
control('PUT', '/resources?type=networking.istio.io/v1/Gateway', [obj('Gateway', 'istio-system', 'gw', {
    'servers': [{'port': {'number': P, 'name': 'http', 'protocol': 'HTTP'}, 'hosts': ['*']}]})])
control('PUT', '/resources?type=networking.istio.io/v1/ServiceEntry', [obj('ServiceEntry', 'app', 'app', {
    'hosts': ['app.internal'], 'location': 'MESH_INTERNAL', 'resolution': 'STATIC',
    'ports': [{'number': 80, 'name': 'http', 'protocol': 'HTTP'}],
    'endpoints': [{'address': '127.0.0.1', 'ports': {'http': backend.server_address[1]}}]})])
control('PUT', f'/resources?type={VS_TYPE}', [vs('probe', 'h0.example.com')])
gateway = subprocess.Popen([BINARY, 'run', '--xds-address', f'127.0.0.1:{ports["xds_port"]}', '--admin', f'127.0.0.1:{ADMIN}',
                            '--listen-address', '127.0.0.1', '--access-log', 'off', '--concurrency', '2'],
                           stderr=open(os.path.join(WORK, 'gateway.log'), 'w'))


def status(host):
    try:
        c = http.client.HTTPConnection('127.0.0.1', P, timeout=5); c.request('GET', '/', headers={'Host': host})
        r = c.getresponse(); r.read(); c.close(); return r.status
    except Exception:
        return 0


def until_routes(host, started):
    while status(host) != 200:
        if time.monotonic() - started > 120:
            raise SystemExit(f'{host} never routed; see {WORK}')
        time.sleep(0.002)
    return (time.monotonic() - started) * 1000


def until_acked(version, started):
    while True:
        acks = [r for r in control('GET', '/requests') if r['type_url'] == VS_TYPE and r['kind'] == 'ack'
                and r['version_info'] == version]
        if acks:
            return (acks[0]['time'] - started) * 1000
        time.sleep(0.01)


try:
    until_routes('h0.example.com', time.monotonic())
    small, burst, full, ack = [], [], [], []
    for rep in range(REPS):
        started = time.monotonic()
        control('PUT', f'/resources?type={VS_TYPE}', [vs('probe', f'one-{rep}.example.com')])
        small.append(until_routes(f'one-{rep}.example.com', started))
    many = [vs(f'vs-{i}', f'h{i}.example.com') for i in range(1, 1001)]
    for rep in range(REPS):
        control('PUT', f'/resources?type={VS_TYPE}', [vs('probe', 'h0.example.com')])
        until_routes('h0.example.com', time.monotonic())
        host = f'h1000-{rep}.example.com'
        started = time.monotonic()
        control('PUT', f'/resources?type={VS_TYPE}', [vs('probe', 'h0.example.com')] + many[:-1] + [vs('vs-1000', host)])
        burst.append(until_routes(host, started))
    for rep in range(REPS):
        host = f'edit-{rep}.example.com'
        wall = time.time()
        started = time.monotonic()
        version = control('PUT', f'/resources?type={VS_TYPE}', [vs('probe', host)] + many)['version']
        full.append(until_routes(host, started))
        ack.append(until_acked(version, wall))
    print(f'xDS push -> route, 1 VirtualService:              median {statistics.median(small):7.1f} ms  {[round(x) for x in small]}')
    print(f'1,000 VirtualServices pushed -> last one routes:   median {statistics.median(burst):7.1f} ms  {[round(x) for x in burst]}')
    print(f'1 change among 1,001 VirtualServices -> route:     median {statistics.median(full):7.1f} ms  {[round(x) for x in full]}')
    print(f'that push -> ACK recorded by the control plane:    median {statistics.median(ack):7.1f} ms  {[round(x) for x in ack]}')
finally:
    gateway.terminate(); plane.terminate()
    gateway.wait(); plane.wait()
