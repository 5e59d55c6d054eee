import PortcullisModel
import PortcullisRouting

/// A minimal request for routing tests.
struct TestRequest: RoutableRequest {
    var method: String = "GET"
    var path: String = "/"
    var query: Substring?
    var scheme: String = "http"
    var authority: String = "example.com"
    var headers: [String: String] = [:]

    init(
        _ path: String = "/", host: String = "example.com", method: String = "GET", scheme: String = "http",
        headers: [String: String] = [:]
    ) {
        if let q = path.firstIndex(of: "?") {
            self.path = String(path[..<q])
            self.query = path[path.index(after: q)...]
        } else {
            self.path = path
        }
        self.authority = host
        self.method = method
        self.scheme = scheme
        self.headers = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
    }

    func headerValue(_ lowercasedName: String) -> String? { self.headers[lowercasedName] }
}

/// Loads inline YAML with the real loader and compiles it; loader errors are returned for the caller to check.
func compile(
    _ yaml: String, labels: [String: String]? = nil, namespace: String = "istio-system"
) -> (result: RouteCompileResult, loadErrors: [ConfigDiagnostic]) {
    let loaded = ConfigLoader().load(yaml: yaml)
    let result = RouteCompiler.compile(
        loaded.config, options: RoutingOptions(gatewayLabels: labels, gatewayNamespace: namespace))
    return (result, loaded.errors)
}

/// The route hit for `request` on `port`, or nil on any miss.
func hit(_ table: RoutingTable, port: Int, _ request: TestRequest) -> RouteMatchResult? {
    table.listener(port: port)?.httpRoutes?.virtualHost(forHost: request.authority[...])?.route(for: request)
}

/// Short description of the first destination of a forward hit, or the action kind.
func target(_ table: RoutingTable, port: Int, _ request: TestRequest) -> String {
    guard let h = hit(table, port: port, request) else { return "404" }
    switch h.route.action {
    case .forward(let f): return f.destinations.map { "\($0.cluster)" }.joined(separator: " ")
    case .redirect(let r): return "redirect \(r.code)"
    case .directResponse(let s, _): return "direct \(s)"
    }
}

/// A gateway on port 80 (hosts `*`) in istio-system, named `gw`.
let gatewayYAML = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: gw, namespace: istio-system}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*"]
    ---

    """

/// `gatewayYAML` plus one VS in `default` bound to it with hosts `*` and the given `http:` body (indented 2).
func withVS(_ http: String, hosts: String = "[\"*\"]") -> String {
    gatewayYAML + """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs, namespace: default}
        spec:
          hosts: \(hosts)
          gateways: [istio-system/gw]
          http:
        \(http)
        """
}
