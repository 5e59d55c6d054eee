import Foundation

/// YAML builders for the TLS integration tests: Gateways with several servers, Secrets and VirtualServices.
enum TLSConfigs {
    /// One `spec.servers[]` entry; `tls` is a YAML flow mapping such as `{mode: SIMPLE, ...}` or nil.
    struct Server {
        var port: Int
        var name: String
        var protocolName: String = "HTTPS"
        var hosts: [String]
        var tls: String?
    }

    /// `tls:` for a terminating server whose certificate comes from files.
    static func fileTLS(
        mode: String, _ identity: TestCertificates.Identity, caFile: String? = nil, extra: String = ""
    ) -> String {
        var fields = [
            "mode: \(mode)", "serverCertificate: \(identity.certificatePath)", "privateKey: \(identity.keyPath)",
        ]
        if let caFile { fields.append("caCertificates: \(caFile)") }
        if !extra.isEmpty { fields.append(extra) }
        return "{\(fields.joined(separator: ", "))}"
    }

    static func gateway(name: String = "gw", servers: [Server]) -> String {
        let entries = servers.map { server -> String in
            var lines = [
                "  - port: {number: \(server.port), name: \(server.name), protocol: \(server.protocolName)}",
                "    hosts: [\(server.hosts.map { "\"\($0)\"" }.joined(separator: ", "))]",
            ]
            if let tls = server.tls { lines.append("    tls: \(tls)") }
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
        return """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: \(name)
              namespace: istio-system
            spec:
              selector:
                istio: ingressgateway
              servers:
            \(entries)
            """
    }

    /// A VirtualService bound to `istio-system/gw` that sends every HTTP request for `hosts` to `destination`.
    static func httpRoutes(name: String = "web", hosts: [String], destination: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]
          gateways: [istio-system/gw]
          http:
          - route:
            - destination: {host: \(destination)}
        """
    }

    /// A core v1 Secret with base64 `data`, as `kubectl create secret tls` writes it.
    static func secret(name: String, namespace: String = "istio-system", type: String, data: [String: String]) -> String {
        let entries = data.sorted { $0.key < $1.key }.map { key, value in
            "  \(key): \(Data(value.utf8).base64EncodedString())"
        }.joined(separator: "\n")
        return """
            apiVersion: v1
            kind: Secret
            metadata:
              name: \(name)
              namespace: \(namespace)
            type: \(type)
            data:
            \(entries)
            """
    }

    /// A STATIC ServiceEntry for a TLS backend: port `number` named `tls`, one endpoint 127.0.0.1:`targetPort`.
    static func tlsServiceEntry(name: String, host: String, number: Int, targetPort: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: \(name)
          namespace: default
        spec:
          hosts: [\(host)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: \(number), name: tls, protocol: TLS}
          endpoints:
          - {address: 127.0.0.1, ports: {tls: \(targetPort)}}
        """
    }
}
