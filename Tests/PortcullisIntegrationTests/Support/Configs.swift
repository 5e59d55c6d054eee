/// YAML builders for integration tests: a Gateway on `port` and ServiceEntries that point at local backends.
enum Configs {
    static func gateway(port: Int, hosts: [String] = ["*"], name: String = "gw", extra: String = "") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata:
          name: \(name)
          namespace: istio-system
        spec:
          selector:
            istio: ingressgateway
          servers:
          - port: {number: \(port), name: http, protocol: HTTP}
            hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]
        \(extra)
        """
    }

    /// A MESH_INTERNAL STATIC ServiceEntry for `host` with one endpoint per (port, labels).
    static func serviceEntry(
        name: String, host: String, port: Int = 80, endpoints: [(port: Int, labels: [String: String])],
        namespace: String = "default"
    ) -> String {
        let eps = endpoints.map { ep -> String in
            let labels = ep.labels.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            return "  - {address: 127.0.0.1, ports: {http: \(ep.port)}, labels: {\(labels)}}"
        }.joined(separator: "\n")
        return """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: \(name)
              namespace: \(namespace)
            spec:
              hosts: [\(host)]
              location: MESH_INTERNAL
              resolution: STATIC
              ports:
              - {number: \(port), name: http, protocol: HTTP}
              endpoints:
            \(eps)
            """
    }
}
