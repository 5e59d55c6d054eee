#!/usr/bin/env python3
"""Control-plane latency benchmark against a real kube-apiserver (../shared/tools/kube-test-cluster.sh).

Measures, with `portcullis run --kubeconfig`:
  1. a VirtualService change (PATCH of its hosts) until the new host answers 200, with 1 VirtualService;
  2. 1,000 VirtualServices created in a burst until the last one routes;
  3. the same VirtualService change with 1,001 VirtualServices (a full reload: load, validate, compile);
  4. an EndpointSlice change (the endpoint moves to another backend) until requests reach the new backend:
     the endpoint-only path, with 1,001 VirtualServices.

Usage: loadtest/kube-reload.py   (PORTCULLIS_BINARY defaults to .build/release/portcullis;
                                  KUBE_TEST_CLUSTER_SCRIPT to ../shared/tools/kube-test-cluster.sh)
"""
import json, os, socket, ssl, subprocess, sys, tempfile, time, urllib.request, http.client, threading, http.server, socketserver
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get('PORTCULLIS_BINARY', os.path.join(ROOT, '.build/release/portcullis'))
SCRIPT = os.environ.get('KUBE_TEST_CLUSTER_SCRIPT', os.path.join(os.path.dirname(ROOT), 'shared/tools/kube-test-cluster.sh'))
WORK = tempfile.mkdtemp(prefix='portcullis-kube-bench-')
D = os.path.join(WORK, 'cluster')
subprocess.run(['bash', '-c', f'{SCRIPT} start {D} > {D}.log 2>&1'], check=True)
server = open(D + '/server-url').read().strip(); token = open(D + '/admin-token').read().strip()
ctx = ssl.create_default_context(cafile=D + '/ca.crt')
def req(method, path, body=None, ct='application/json'):
    r = urllib.request.Request(server + path, method=method, data=body.encode() if body else None,
                               headers={'Authorization': 'Bearer ' + token, 'Content-Type': ct})
    try:
        with urllib.request.urlopen(r, context=ctx) as f: return f.status
    except urllib.error.HTTPError as e: return e.code, e.read()[:300]
try:
    for d in open(os.path.join(ROOT, 'config/kubernetes/00-crds.yaml')).read().split('\n---\n'):
        if 'kind: CustomResourceDefinition' in d: req('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', d, 'application/yaml')
    while req('GET', '/apis/networking.istio.io/v1/virtualservices') != 200: time.sleep(0.2)
    for ns in ['istio-system', 'app']: req('POST', '/api/v1/namespaces', json.dumps({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}}))
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header('content-length', '2')
            self.send_header('x-backend-port', str(self.server.server_address[1])); self.end_headers(); self.wfile.write(b'ok')
        def log_message(self, *a): pass
    backends = []
    for _ in range(2):
        s = socketserver.ThreadingTCPServer(('127.0.0.1', 0), H); threading.Thread(target=s.serve_forever, daemon=True).start(); backends.append(s.server_address[1])
    def free_port():
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            return probe.getsockname()[1]
    P, ADMIN = free_port(), free_port()
    req('POST', '/apis/networking.istio.io/v1/namespaces/istio-system/gateways', json.dumps({'apiVersion': 'networking.istio.io/v1', 'kind': 'Gateway', 'metadata': {'name': 'gw'}, 'spec': {'servers': [{'port': {'number': P, 'name': 'http', 'protocol': 'HTTP'}, 'hosts': ['*']}]}}))
    req('POST', '/api/v1/namespaces/app/services', json.dumps({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'app'}, 'spec': {'ports': [{'name': 'http', 'port': 80}]}}))
    def slice_body(port): return json.dumps({'apiVersion': 'discovery.k8s.io/v1beta1', 'kind': 'EndpointSlice', 'metadata': {'name': 'app-1', 'labels': {'kubernetes.io/service-name': 'app'}}, 'addressType': 'IPv4', 'ports': [{'name': 'http', 'port': port}], 'endpoints': [{'addresses': ['127.0.0.1']}]})
    req('POST', '/apis/discovery.k8s.io/v1beta1/namespaces/app/endpointslices', slice_body(backends[0]))
    def vs(name, host): return json.dumps({'apiVersion': 'networking.istio.io/v1', 'kind': 'VirtualService', 'metadata': {'name': name}, 'spec': {'hosts': [host], 'gateways': ['istio-system/gw'], 'http': [{'route': [{'destination': {'host': 'app'}}]}]}})
    req('POST', '/apis/networking.istio.io/v1/namespaces/app/virtualservices', vs('probe', 'h0.example.com'))
    gw = subprocess.Popen([BINARY, 'run', '--kubeconfig', D + '/kubeconfig', '--admin', f'127.0.0.1:{ADMIN}', '--listen-address', '127.0.0.1', '--access-log', 'off', '--concurrency', '2'], stderr=open(os.path.join(WORK, 'gateway.log'), 'w'))
    def status(host):
        try:
            c = http.client.HTTPConnection('127.0.0.1', P, timeout=5); c.request('GET', '/', headers={'Host': host}); r = c.getresponse(); r.read(); c.close(); return r.status
        except Exception: return 0
    while status('h0.example.com') != 200: time.sleep(0.05)
    def backend_port(host):
        try:
            c = http.client.HTTPConnection('127.0.0.1', P, timeout=5); c.request('GET', '/', headers={'Host': host}); r = c.getresponse(); r.read(); c.close(); return r.getheader('x-backend-port')
        except Exception: return None
    def change_latency(n, label):
        out = []
        for i in range(1, n + 1):
            host = f'{label}{i}.example.com'
            t0 = time.monotonic()
            req('PATCH', '/apis/networking.istio.io/v1/namespaces/app/virtualservices/probe', json.dumps({'spec': {'hosts': [host]}}), 'application/merge-patch+json')
            while status(host) != 200: time.sleep(0.002)
            out.append((time.monotonic() - t0) * 1000)
        out.sort(); return out[len(out)//2], out[-1]
    print('VS change -> route, 1 VS: median %.0f ms, max %.0f ms' % change_latency(15, 'a'))
    t0 = time.monotonic()
    for i in range(1000):
        req('POST', '/apis/networking.istio.io/v1/namespaces/app/virtualservices', vs(f'vs{i}', f'bulk{i}.example.com'))
    print('created 1000 VS in %.1f s' % (time.monotonic() - t0))
    while status('bulk999.example.com') != 200: time.sleep(0.1)
    print('1000 VS routable %.1f s after the first create' % (time.monotonic() - t0))
    print('VS change -> route, 1001 VS: median %.0f ms, max %.0f ms' % change_latency(10, 'b'))
    req('PATCH', '/apis/networking.istio.io/v1/namespaces/app/virtualservices/probe', json.dumps({'spec': {'hosts': ['probe-host.example.com']}}), 'application/merge-patch+json')
    while status('probe-host.example.com') != 200: time.sleep(0.01)
    # endpoint-only change with 1001 VS: move the endpoint to backend 2 and wait until the old backend is gone
    lat = []
    for i in range(6):
        port = backends[(i + 1) % 2]
        t0 = time.monotonic()
        req('PATCH', '/apis/discovery.k8s.io/v1beta1/namespaces/app/endpointslices/app-1', json.dumps({'ports': [{'name': 'http', 'port': port}]}), 'application/merge-patch+json')
        while backend_port('probe-host.example.com') != str(port): time.sleep(0.002)
        lat.append((time.monotonic() - t0) * 1000)
    lat.sort(); print('EndpointSlice change -> traffic on the new endpoint, 1001 VS: median %.0f ms, max %.0f ms' % (lat[len(lat)//2], lat[-1]))
    print(subprocess.run(['grep', '-c', 'endpoints updated', os.path.join(WORK, 'gateway.log')], capture_output=True, text=True).stdout.strip(), 'endpoint-only updates logged')
    gw.terminate(); gw.wait()
finally:
    subprocess.run(['bash', '-c', f'{SCRIPT} stop {D} >> {D}.log 2>&1'])
