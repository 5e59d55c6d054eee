import PortcullisModel
import PortcullisRouting
import Testing

/// The forward-proxy allow-list (issue 5; HARDENING §B7 rows 1, 6, 9): host **and** port, wildcards, exportTo,
/// IP literals only through `addresses`, and refusal of non-canonical numeric hosts.
struct EgressAllowListTests {
    static let yaml = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: api, namespace: default}
        spec:
          hosts: [api.allowed.example]
          ports: [{number: 443, name: tls, protocol: TLS}]
          resolution: DNS
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: google, namespace: default}
        spec:
          hosts: ["*.googleapis.com"]
          ports: [{number: 443, name: tls, protocol: TLS}, {number: 80, name: http, protocol: HTTP}]
          resolution: NONE
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: private, namespace: other}
        spec:
          hosts: [private.example]
          exportTo: ["."]
          ports: [{number: 80, name: http, protocol: HTTP}]
          resolution: DNS
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: to-gateway, namespace: other}
        spec:
          hosts: [shared.example]
          exportTo: [istio-system]
          ports: [{number: 8080, name: http, protocol: HTTP}]
          resolution: DNS
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: nets, namespace: default}
        spec:
          hosts: [nets.internal]
          addresses: [203.0.113.0/24, 127.0.0.1, "2001:db8::/32"]
          ports: [{number: 9000, name: tcp, protocol: TCP}]
          resolution: STATIC
          endpoints: [{address: 203.0.113.5}]
        """

    static func allowList(namespace: String = "istio-system") throws -> EgressAllowList {
        let loaded = ConfigLoader().load(yaml: Self.yaml)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        return EgressAllowList.compile(loaded.config, gatewayNamespace: namespace)
    }

    @Test func exactHostAndPortMatch() throws {
        let list = try Self.allowList()
        #expect(list.decide(host: "api.allowed.example", port: 443) == .allowed(serviceEntry: "default/api"))
        #expect(list.decide(host: "API.Allowed.Example.", port: 443) == .allowed(serviceEntry: "default/api"))
        guard case .denied(let reason) = list.decide(host: "api.allowed.example", port: 22) else {
            Issue.record("wrong port allowed")
            return
        }
        #expect(reason.contains("port 22"), "\(reason)")
        guard case .denied(let other) = list.decide(host: "api.evil.example", port: 443) else {
            Issue.record("unknown host allowed")
            return
        }
        #expect(other == "api.evil.example:443 is not in any ServiceEntry")
    }

    @Test func wildcardCoversSubdomainsOnly() throws {
        let list = try Self.allowList()
        #expect(list.decide(host: "storage.googleapis.com", port: 443) == .allowed(serviceEntry: "default/google"))
        #expect(list.decide(host: "a.b.googleapis.com", port: 80) == .allowed(serviceEntry: "default/google"))
        #expect(list.decide(host: "googleapis.com", port: 443) != .allowed(serviceEntry: "default/google"))
        #expect(list.decide(host: "evilgoogleapis.com", port: 443) != .allowed(serviceEntry: "default/google"))
        #expect(list.decide(host: "storage.googleapis.com", port: 8443) != .allowed(serviceEntry: "default/google"))
    }

    @Test func exportToDecidesVisibility() throws {
        let list = try Self.allowList()
        #expect(list.decide(host: "private.example", port: 80) != .allowed(serviceEntry: "other/private"))
        #expect(list.decide(host: "shared.example", port: 8080) == .allowed(serviceEntry: "other/to-gateway"))
        let fromOther = try Self.allowList(namespace: "other")
        #expect(fromOther.decide(host: "private.example", port: 80) == .allowed(serviceEntry: "other/private"))
        #expect(fromOther.decide(host: "shared.example", port: 8080) != .allowed(serviceEntry: "other/to-gateway"))
    }

    @Test func ipLiteralsOnlyThroughAddresses() throws {
        let list = try Self.allowList()
        #expect(list.decide(host: "203.0.113.77", port: 9000) == .allowed(serviceEntry: "default/nets"))
        #expect(list.decide(host: "127.0.0.1", port: 9000) == .allowed(serviceEntry: "default/nets"))
        #expect(list.decide(host: "[2001:db8::1]", port: 9000) == .allowed(serviceEntry: "default/nets"))
        #expect(list.decide(host: "2001:db8:0:0::1", port: 9000) == .allowed(serviceEntry: "default/nets"))
        #expect(list.decide(host: "[::ffff:127.0.0.1]", port: 9000) == .allowed(serviceEntry: "default/nets"))
        #expect(list.decide(host: "[::ffff:7f00:1]", port: 9000) == .allowed(serviceEntry: "default/nets"))
        // Wrong port, other addresses, and the B7 row 1 list.
        for (host, port) in [
            ("203.0.113.77", 80), ("198.51.100.1", 9000), ("169.254.169.254", 80), ("127.0.0.1", 15000),
            ("[::ffff:127.0.0.1]", 9001), ("127.0.0.2", 9000),
        ] {
            guard case .denied = list.decide(host: host, port: port) else {
                Issue.record("\(host):\(port) allowed")
                continue
            }
        }
        #expect(list.listsExactly(EgressIPAddress(ipv4: "127.0.0.1")!))
        #expect(!list.listsExactly(EgressIPAddress(ipv4: "203.0.113.77")!))
    }

    @Test func nonCanonicalNumericHostsAreRefused() throws {
        let list = try Self.allowList()
        for host in [
            "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "127.1", "127.0.0.01", "127.000.0.1",
            "[fe80::1%eth0]", "[::ffff:127.0.0.01]", "[1::2::3]", "[127.0.0.1]", "", "a..b", "bad host",
        ] {
            guard case .denied(let reason) = list.decide(host: host, port: 9000) else {
                Issue.record("\(host) allowed")
                continue
            }
            #expect(!reason.isEmpty)
        }
        if case .success = EgressHost.parse("2130706433") { Issue.record("integer form accepted") }
        #expect(try EgressHost.parse("[::ffff:10.1.2.3]").get() == .address(EgressIPAddress(ipv4: "10.1.2.3")!))
        #expect(try EgressHost.parse("Example.COM.").get() == .name("example.com"))
        #expect(try EgressHost.parse("1e100.net").get() == .name("1e100.net"))
    }

    @Test func nonPublicRanges() {
        for text in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0",
            "100.64.0.1", "224.0.0.1", "255.255.255.255",
        ] {
            #expect(EgressIPAddress(ipv4: text)!.isNonPublic, "\(text)")
        }
        for text in ["::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"] {
            #expect(EgressIPAddress(ipv6: text)!.isNonPublic, "\(text)")
        }
        for text in ["8.8.8.8", "172.32.0.1", "192.169.0.1", "203.0.113.1"] {
            #expect(!EgressIPAddress(ipv4: text)!.isNonPublic, "\(text)")
        }
        #expect(!EgressIPAddress(ipv6: "2606:4700::1111")!.isNonPublic)
    }

    @Test func ranges() {
        let loopback = EgressIPRange("127.0.0.0/8")!
        #expect(loopback.contains(EgressIPAddress(ipv4: "127.9.8.7")!))
        #expect(!loopback.contains(EgressIPAddress(ipv4: "128.0.0.1")!))
        #expect(!loopback.contains(EgressIPAddress(ipv6: "::1")!))
        #expect(EgressIPRange("::1/128")!.contains(EgressIPAddress(ipv6: "0:0::1")!))
        #expect(EgressIPRange("::ffff:10.0.0.0/104")!.contains(EgressIPAddress(ipv4: "10.2.3.4")!))
        #expect(EgressIPRange("10.0.0.0/33") == nil)
        #expect(EgressIPRange("10.0.0.0/") == nil)
        #expect(EgressIPRange("host.example") == nil)
        #expect(EgressIPRange("1.2.3.4")!.isSingleAddress)
        #expect(EgressIPAddress(ipv6: "2001:db8::1")!.description == "[2001:db8:0:0:0:0:0:1]")
    }

    @Test func forwardProxyDecodes() {
        let loaded = ConfigLoader().load(yaml: """
            apiVersion: portcullis.dev/v1alpha1
            kind: ForwardProxy
            metadata: {name: egress, namespace: istio-system}
            spec:
              port: 3128
              bind: 127.0.0.1
              allowedPrivateCIDRs: [127.0.0.0/8, "::1"]
            """)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        #expect(loaded.config.forwardProxies.count == 1)
        let proxy = loaded.config.forwardProxies.first
        #expect(proxy?.port == 3128)
        #expect(proxy?.bind == "127.0.0.1")
        #expect(proxy?.allowedPrivateCIDRs == ["127.0.0.0/8", "::1"])
        #expect(proxy?.meta.name == "egress")
    }

    @Test func forwardProxyValidation() {
        let loaded = ConfigLoader().load(yaml: """
            apiVersion: portcullis.dev/v1alpha1
            kind: ForwardProxy
            metadata: {name: bad, namespace: istio-system}
            spec:
              port: 70000
              bind: localhost
              allowedPrivateCIDRs: [10.0.0.0/99]
              extra: 1
            ---
            apiVersion: portcullis.dev/v1alpha1
            kind: ForwardProxy
            metadata: {name: noport}
            spec: {}
            """)
        #expect(loaded.config.forwardProxies.isEmpty)
        let text = loaded.diagnostics.map(\.description).joined(separator: "\n")
        #expect(text.contains("spec.port: port 70000 must be in the range 1..65535"), "\(text)")
        #expect(text.contains("spec.bind: bind \"localhost\" must be an IP address"), "\(text)")
        #expect(text.contains("spec.allowedPrivateCIDRs[0]"), "\(text)")
        #expect(text.contains("unknown field \"extra\""), "\(text)")
        #expect(text.contains("ForwardProxy default/noport: spec.port: missing required field"), "\(text)")
        #expect(loaded.diagnostics.first { $0.fieldPath == "spec.port" }?.line == 5)
    }
}
