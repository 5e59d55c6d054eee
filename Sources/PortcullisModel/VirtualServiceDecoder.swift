/// Decodes and validates a `VirtualService` spec (ISTIO-SEMANTICS §2; Istio `validateVirtualService`).
struct VirtualServiceDecoder {
    let ctx: DecodeContext

    func decode(_ spec: Fields) -> VirtualService {
        let hosts = spec.strings("hosts")
        let gateways = spec.strings("gateways")
        let exportTo = spec.strings("exportTo")
        let isDelegate = hosts.isEmpty && !self.ctx.hasError(at: spec.child("hosts"))
        let appliesToMesh = gateways.isEmpty || gateways.contains("mesh")
        self.checkHosts(hosts, spec.child("hosts"), appliesToMesh: appliesToMesh && !isDelegate)
        self.checkGateways(gateways, spec.child("gateways"))
        self.ctx.checkExportTo(exportTo, spec.child("exportTo"))
        let routeDecoder = HTTPRouteDecoder(ctx: self.ctx, isDelegate: isDelegate)
        let http = spec.objects("http") { routeDecoder.decode($0) }
        let tls = spec.objects("tls") { self.tlsRoute($0, hosts: hosts) }
        let tcp = spec.objects("tcp") { self.tcpRoute($0) }
        let failed = ["http", "tls", "tcp"].contains { self.ctx.hasError(under: spec.child($0)) }
        if http.isEmpty, tls.isEmpty, tcp.isEmpty, !failed {
            self.ctx.error(spec.child("http"), "http, tcp or tls must be provided in virtual service")
        }
        if isDelegate {
            if !gateways.isEmpty {
                self.ctx.error(spec.child("gateways"), "a delegate virtual service (no hosts) must not set gateways")
            }
            if !tls.isEmpty || !tcp.isEmpty {
                self.ctx.error(spec.child(tls.isEmpty ? "tcp" : "tls"),
                               "a delegate virtual service (no hosts) supports http routes only")
            }
        }
        spec.finish()
        return VirtualService(
            meta: ObjectMeta(name: "", namespace: ""), hosts: hosts, gateways: gateways, exportTo: exportTo,
            http: http, tls: tls, tcp: tcp)
    }

    /// Hosts are domains, wildcards or IPs; no duplicates or overlaps; `*` not with `mesh` (§2.1).
    private func checkHosts(_ hosts: [String], _ path: String, appliesToMesh: Bool) {
        var valid = true
        for (i, host) in hosts.enumerated() {
            if let problem = NameSyntax.wildcardDomainProblem(host), !NameSyntax.isIPAddress(host) {
                self.ctx.error("\(path)[\(i)]", problem)
                valid = false
            }
            if host == "*", appliesToMesh {
                self.ctx.error("\(path)[\(i)]", "wildcard host * is not allowed for virtual services bound to "
                    + "the mesh gateway")
            }
        }
        guard valid else { return }
        for i in hosts.indices {
            for j in hosts.indices where j > i && HostName.matches(hosts[i], hosts[j]) {
                self.ctx.error("\(path)[\(j)]", "duplicate hosts in virtual service: \(hosts[i]) & \(hosts[j])")
            }
        }
    }

    /// `mesh`, `name`, `ns/name`, `./name` or a legacy FQDN (§2.1).
    private func checkGateways(_ gateways: [String], _ path: String) {
        for (i, gateway) in gateways.enumerated() where gateway != "mesh" {
            let parts = gateway.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let ok: Bool
            switch parts.count {
            case 1: ok = NameSyntax.isDNS1123Label(gateway) || NameSyntax.wildcardDomainProblem(gateway) == nil
            case 2: ok = (parts[0] == "." || NameSyntax.isDNS1123Label(parts[0])) && NameSyntax.isDNS1123Label(parts[1])
            default: ok = false
            }
            if !ok { self.ctx.error("\(path)[\(i)]", "invalid gateway name \"\(gateway)\"") }
        }
    }

    /// `tls[]`: match with sniHosts is required, each SNI host within the VS hosts (§2.10).
    private func tlsRoute(_ f: Fields, hosts: [String]) -> TLSRoute? {
        let matches: [TLSMatchAttributes] = f.objects("match") { m in
            var match = TLSMatchAttributes(sniHosts: m.strings("sniHosts"), port: m.int("port"))
            match.gateways = m.strings("gateways")
            match.destinationSubnets = m.strings("destinationSubnets")
            match.sourceLabels = m.stringMap("sourceLabels")
            match.sourceNamespace = m.string("sourceNamespace")
            m.finish()
            if match.sniHosts.isEmpty, !self.ctx.hasError(at: m.child("sniHosts")) {
                self.ctx.error(m.child("sniHosts"), "TLS match must have at least one SNI host", line: m.line)
            }
            for (i, sni) in match.sniHosts.enumerated() {
                if let problem = NameSyntax.wildcardDomainProblem(sni) {
                    self.ctx.error("\(m.child("sniHosts"))[\(i)]", problem)
                } else if !hosts.isEmpty, !hosts.contains(where: { self.covers($0, sni) }) {
                    self.ctx.error("\(m.child("sniHosts"))[\(i)]",
                                   "the SNI host \(sni) is not a subset of the virtual service hosts")
                }
            }
            self.checkPort(match.port, m.child("port"))
            return match
        }
        if matches.isEmpty, !self.ctx.hasError(at: f.child("match")) {
            self.ctx.error(f.child("match"), "TLS route must have at least one match condition", line: f.line)
        }
        let routes = self.routeDestinations(f)
        f.finish()
        return TLSRoute(match: matches, route: routes)
    }

    private func tcpRoute(_ f: Fields) -> TCPRoute? {
        let matches: [L4MatchAttributes] = f.objects("match") { m in
            var match = L4MatchAttributes(port: m.int("port"))
            match.gateways = m.strings("gateways")
            match.destinationSubnets = m.strings("destinationSubnets")
            match.sourceLabels = m.stringMap("sourceLabels")
            match.sourceNamespace = m.string("sourceNamespace")
            m.finish()
            self.checkPort(match.port, m.child("port"))
            return match
        }
        let routes = self.routeDestinations(f)
        f.finish()
        return TCPRoute(match: matches, route: routes)
    }

    private func routeDestinations(_ f: Fields) -> [RouteDestination] {
        let routes: [RouteDestination] = f.objects("route") { r in
            let destination = r.require("destination").flatMap { node in
                Fields(node, path: r.child("destination"), ctx: self.ctx).flatMap { self.destination($0) }
            }
            let weight = r.int("weight")
            r.finish()
            return destination.map { RouteDestination(destination: $0, weight: weight) }
        }
        self.checkWeights(routes.map(\.weight), f.child("route"), line: f.line)
        return routes
    }

    /// A `Destination`: host required, subset a DNS label, port 1-65535 (§2.4).
    func destination(_ f: Fields) -> Destination? {
        let host = f.require("host").flatMap { self.ctx.string($0, f.child("host")) }
        let subset = f.string("subset").flatMap { $0.isEmpty ? nil : $0 }
        let port = f.object("port") { p -> Int? in
            defer { p.finish() }
            return p.int("number")
        }
        f.finish()
        if let host {
            if host.isEmpty || host == "*" {
                self.ctx.error(f.child("host"), "destination host must be a service name, not \"\(host)\"")
            } else if let problem = NameSyntax.wildcardDomainProblem(host), !NameSyntax.isIPAddress(host) {
                self.ctx.error(f.child("host"), problem)
            }
        }
        if let subset, !NameSyntax.isDNS1123Label(subset) {
            self.ctx.error(f.child("subset"), "subset name \"\(subset)\" must be a DNS-1123 label")
        }
        self.checkPort(port, f.child("port.number"))
        return host.map { Destination(host: $0, subset: subset, port: port) }
    }

    /// Weights are >= 0 and, with several destinations, not all zero (§2.4).
    func checkWeights(_ weights: [Int?], _ path: String, line: Int) {
        if weights.isEmpty, !self.ctx.hasError(at: path) {
            self.ctx.error(path, "route is required", line: line)
            return
        }
        for (i, weight) in weights.enumerated() {
            if let weight, weight < 0 { self.ctx.error("\(path)[\(i)].weight", "weight must be >= 0, not \(weight)") }
        }
        if weights.count > 1, weights.allSatisfy({ ($0 ?? 0) == 0 }) {
            self.ctx.error(path, "total destination weight = 0 (set a positive weight on at least one destination)")
        }
    }

    func checkPort(_ port: Int?, _ path: String) {
        if let port, port < 1 || port > 65535 {
            self.ctx.error(path, "port number \(port) must be in the range 1..65535")
        }
    }

    /// Whether VS host `host` covers SNI name `sni` (equal, or a wildcard that matches it).
    private func covers(_ host: String, _ sni: String) -> Bool {
        if host == "*" || host == sni { return true }
        guard host.hasPrefix("*") else { return false }
        return sni.hasSuffix(host.dropFirst()) && (!sni.hasPrefix("*") || sni.count >= host.count)
    }
}
