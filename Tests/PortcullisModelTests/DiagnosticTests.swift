import Foundation
import Testing

@testable import PortcullisModel

/// Loads `yaml` and returns each diagnostic as text, for exact-message assertions.
private func diagnostics(_ yaml: String) -> [String] {
    ConfigLoader().load(yaml: yaml, file: "t.yaml").diagnostics.map(\.description)
}

private func vs(_ http: String) -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: v, namespace: ns}
    spec:
      hosts: [a.example.com]
      gateways: [gw]
      http:
    \(http)
    """
}

@Suite struct DiagnosticTests {
    @Test func syntaxErrorHasLineAndKeepsEarlierDocuments() {
        let yaml = """
            apiVersion: v1
            kind: Secret
            metadata: {name: s}
            stringData: {a: b}
            ---
            a: [1, 2
            b: c
            """
        let result = ConfigLoader().load(yaml: yaml, file: "bad.yaml")
        #expect(result.config.secrets.count == 1)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.description.hasPrefix("bad.yaml:") == true)
        #expect(result.errors.first?.message.contains("YAML syntax error") == true)
    }

    @Test func wrongTypeNamesFileLineAndField() {
        let out = diagnostics("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: ns}
            spec:
              servers:
              - port: {number: "8080s", name: http, protocol: HTTP}
                hosts: ["*"]
            """)
        #expect(out == [
            "t.yaml:6: Gateway ns/gw: spec.servers[0].port.number: must be an integer, not the string \"8080s\""
        ])
    }

    @Test func everyProblemIsReportedAndBadObjectsAreDropped() {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: my.gw}
            spec:
              servers:
              - port: {number: 70000, name: http, protocol: FTP, targetPort: 1}
                hosts: []
              - port: {number: 443, name: http, protocol: HTTPS}
                hosts: [ns/a.com]
                tls: {mode: MUTUAL, caCrl: x}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: good}
            spec: {host: good}
            """
        let result = ConfigLoader().load(yaml: yaml, file: "g.yaml")
        #expect(result.config.gateways.isEmpty)
        #expect(result.config.destinationRules.count == 1)
        let out = result.errors.map { "\($0.line) \($0.fieldPath)" }
        #expect(out == [
            "3 metadata.name", "6 spec.servers[0].port.protocol", "6 spec.servers[0].port.targetPort",
            "6 spec.servers[0].port.number", "6 spec.servers[0].hosts",
            "10 spec.servers[1].tls.serverCertificate", "10 spec.servers[1].tls.privateKey",
            "10 spec.servers[1].tls.caCertificates",
        ])
    }

    @Test func virtualServiceRouteRules() {
        let out = ConfigLoader().load(yaml: vs("""
              - route: [{destination: {host: a}}]
                redirect: {uri: /x}
              - redirect: {uri: /x, prefixRewrite: /y, scheme: ftp, redirectCode: 200}
                rewrite: {uri: /z}
              - directResponse: {status: 600}
              - match: [{uri: {regex: "(?=x)"}}, {headers: {x: {prefix: ""}}}]
                route: [{destination: {host: a}, weight: 0}, {destination: {host: b, subset: V1}, weight: 0}]
              - route: [{destination: {host: a}}]
                retries: {attempts: 0, retryOn: 5xx}
                fault: {}
                timeout: 0.1ms
              - route: [{destination: {host: a}}]
                headers: {request: {set: {":path": /}}, response: {set: {host: h}}}
                mirror: {host: m}
                mirrors: [{destination: {host: n}}]
            """), file: "t.yaml").errors.map { "\($0.line) \($0.fieldPath): \($0.message)" }
        #expect(out == [
            "9 spec.http[0].redirect: HTTP route cannot contain both route and redirect",
            "10 spec.http[1].redirect.prefixRewrite: only one of uri and prefixRewrite may be set",
            "10 spec.http[1].redirect.scheme: scheme must be http or https, not \"ftp\"",
            "10 spec.http[1].redirect.redirectCode: redirect code 200 must be a 3xx code",
            "11 spec.http[1].rewrite: HTTP route cannot contain both redirect and rewrite",
            "12 spec.http[2].directResponse.status: status 600 must be in the range 200..599",
            "13 spec.http[3].match[0].uri.regex: look-ahead (?= is not supported by RE2",
            "13 spec.http[3].match[1].headers.x.prefix: prefix string match should not be empty",
            "14 spec.http[3].route[1].destination.subset: subset name \"V1\" must be a DNS-1123 label",
            "14 spec.http[3].route: total destination weight = 0 (set a positive weight on at least one "
                + "destination)",
            "16 spec.http[4].retries.attempts: http retry policy configured when attempts are set to 0 (disabled)",
            "17 spec.http[4].fault: fault must have at least one of delay or abort",
            "18 spec.http[4].timeout: duration must be at least 1ms",
            "20 spec.http[5].headers.request.set.:path: pseudo header \":path\" cannot be modified (only :authority)",
            "20 spec.http[5].headers.response.set.host: response headers cannot modify \"host\"",
            "22 spec.http[5].mirrors: only one of mirror and mirrors may be set",
        ])
    }

    @Test func virtualServiceTopLevelRules() {
        let out = diagnostics("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: v}
            spec:
              hosts: ["*", "*.foo.com", a.foo.com]
              exportTo: ["*", "."]
              tls:
              - match: [{sniHosts: [b.bar.com]}]
                route: [{destination: {host: x}}]
              - route: [{destination: {host: x}}]
            """)
        #expect(out == [
            "t.yaml:5: VirtualService default/v: spec.hosts[0]: wildcard host * is not allowed for virtual "
                + "services bound to the mesh gateway",
            "t.yaml:5: VirtualService default/v: spec.hosts[1]: duplicate hosts in virtual service: * & *.foo.com",
            "t.yaml:5: VirtualService default/v: spec.hosts[2]: duplicate hosts in virtual service: * & a.foo.com",
            "t.yaml:6: VirtualService default/v: spec.exportTo: exportTo cannot combine \"*\" or \"~\" with other "
                + "values",
            "t.yaml:10: VirtualService default/v: spec.tls[1].match: TLS route must have at least one match "
                + "condition",
        ])
    }

    @Test func destinationRuleAndServiceEntryRules() {
        let out = ConfigLoader().load(yaml: """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: d}
            spec:
              host: r
              trafficPolicy:
                loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}
                outlierDetection: {consecutiveLocalOriginFailures: 3}
                tls: {mode: MUTUAL, credentialName: c, caCrl: x}
              subsets: [{name: v1}, {name: v1}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: s}
            spec:
              hosts: ["*.wild.com"]
              addresses: [10.0.0.0/8]
              ports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: http, protocol: TCP}]
              resolution: DNS
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: t}
            spec:
              hosts: [t.com]
              ports: [{number: 80, name: http, protocol: HTTP}]
              resolution: STATIC
              endpoints: [{address: t.com, ports: {grpc: 9000}}]
            """, file: "t.yaml").errors.map { "\($0.line) \($0.kind) \($0.fieldPath)" }
        #expect(out == [
            "7 DestinationRule spec.trafficPolicy.loadBalancer.consistentHash",
            "8 DestinationRule spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
            "9 DestinationRule spec.trafficPolicy.tls.caCrl",
            "10 DestinationRule spec.subsets[1].name",
            "16 ServiceEntry spec.hosts[0]",
            "17 ServiceEntry spec.addresses[0]",
            "18 ServiceEntry spec.ports[1].number",
            "18 ServiceEntry spec.ports[1].name",
            "28 ServiceEntry spec.endpoints[0].ports.grpc",
            "28 ServiceEntry spec.endpoints[0].address",
        ])
    }
}

@Suite struct DecodeRuleTests {
    @Test func duplicatePortNamesInOneGateway() {
        let errors = ConfigLoader().load(yaml: """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              servers:
              - {port: {number: 80, name: web, protocol: HTTP}, hosts: ["*"]}
              - {port: {number: 81, name: web, protocol: HTTP}, hosts: ["*"]}
              - {port: {number: 0, name: u, protocol: HTTP}, hosts: ["*"], bind: "unix:///tmp/s"}
            """).errors
        #expect(errors.map { "\($0.line) \($0.fieldPath)" } == ["7 spec.servers[1].port.name"])
    }

    @Test func listsAreExpandedAndUnknownKindsWarn() {
        let result = ConfigLoader(defaultNamespace: "edge").load(yaml: """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: a}
              spec: {host: a, trafficPolicy: {tls: {mode: SIMPLE, sni: x.com}}}
            - apiVersion: security.istio.io/v1
              kind: PeerAuthentication
              metadata: {name: p}
            - apiVersion: security.istio.io/v1
              kind: AuthorizationPolicy
              metadata: {name: ap}
            """)
        #expect(result.errors.isEmpty)
        #expect(result.config.destinationRules.first?.meta.namespace == "edge")
        #expect(result.config.destinationRules.first?.trafficPolicy?.tls?.sni == "x.com")
        #expect(result.diagnostics.map(\.kind) == ["PeerAuthentication"])
        #expect(result.config.authorizationPolicies.map(\.meta.namespace) == ["edge"])
    }

    @Test func secretDataIsDecodedAndStringDataMerged() throws {
        let result = ConfigLoader().load(yaml: """
            apiVersion: v1
            kind: Secret
            metadata: {name: cert, namespace: istio-system}
            type: kubernetes.io/tls
            data: {tls.crt: Y2VydA==, tls.key: a2V5}
            stringData: {tls.key: override}
            """)
        let secret = try #require(result.config.secrets.first)
        #expect(secret.type == "kubernetes.io/tls")
        #expect(secret.data["tls.crt"] == Array("cert".utf8))
        #expect(secret.data["tls.key"] == Array("override".utf8))
        let bad = ConfigLoader().load(yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '!!'}\n")
        #expect(bad.config.secrets.isEmpty)
        #expect(bad.errors.map(\.fieldPath) == ["data.k"])
    }

    @Test func jsonAndProtocolCaseAndDirectResponseString() throws {
        let result = ConfigLoader().load(yaml: """
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "j"},
             "spec": {"hosts": ["j.com"], "gateways": ["gw"], "http": [{"directResponse": {"status": 200,
             "body": {"string": "ok"}}, "headers": {"response": {"set": {"content-type": "text/plain"}}}}]}}
            """)
        #expect(result.errors.isEmpty, "\(result.errors)")
        let route = try #require(result.config.virtualServices.first?.http.first)
        #expect(route.directResponse == HTTPDirectResponse(status: 200, body: Array("ok".utf8)))
        #expect(route.headers?.response?.set == [HeaderValue(name: "content-type", value: "text/plain")])
    }

    @Test func unknownFieldsWarnAndEmptyDocumentsAreSilent() {
        let result = ConfigLoader().load(yaml: """
            ---
            # only a comment
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: d}
            spec: {host: d, colour: blue}
            ---
            """)
        #expect(result.errors.isEmpty)
        #expect(result.config.destinationRules.count == 1)
        #expect(result.diagnostics.map(\.description) == [
            "<inline>:7: DestinationRule default/d: spec.colour: warning: unknown field \"colour\" ignored"
        ])
    }

    @Test func directoryLoadingIsRecursiveAndSorted() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub/.hidden"),
                                                withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dr = { (name: String) in
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: \(name)}\nspec: {host: h}\n"
        }
        try dr("b").write(to: dir.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        try dr("a").write(to: dir.appendingPathComponent("sub/a.yml"), atomically: true, encoding: .utf8)
        try dr("x").write(to: dir.appendingPathComponent("sub/.hidden/x.yaml"), atomically: true, encoding: .utf8)
        try "not config".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try "kind: [".write(to: dir.appendingPathComponent("c.json"), atomically: true, encoding: .utf8)
        let result = ConfigLoader().load(paths: [dir.path, dir.path + "/missing.yaml"])
        #expect(result.files == [dir.path + "/b.yaml", dir.path + "/c.json", dir.path + "/sub/a.yml"])
        #expect(result.config.destinationRules.map(\.meta.name) == ["b", "a"])
        #expect(result.errors.map(\.file) == [dir.path + "/c.json", dir.path + "/missing.yaml"])
        #expect(result.config.destinationRules.last?.meta.position.file == dir.path + "/sub/a.yml")
    }
}
