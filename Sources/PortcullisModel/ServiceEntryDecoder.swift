/// Decodes and validates a `ServiceEntry` spec (ISTIO-SEMANTICS §4; Istio `validateServiceEntry`).
struct ServiceEntryDecoder {
    let ctx: DecodeContext

    func decode(_ spec: Fields) -> ServiceEntry {
        let hosts = spec.strings("hosts")
        let hostsPath = spec.child("hosts")
        if hosts.isEmpty, !self.ctx.hasError(at: hostsPath) {
            self.ctx.error(hostsPath, "service entry must have at least one host")
        }
        for (i, host) in hosts.enumerated() {
            if host == "*" {
                self.ctx.error("\(hostsPath)[\(i)]", "invalid host *")
            } else if let problem = NameSyntax.wildcardDomainProblem(host) {
                self.ctx.error("\(hostsPath)[\(i)]", problem)
            }
        }
        let location = spec.enumValue("location", ServiceEntry.Location.self) ?? .meshExternal
        let resolution = spec.enumValue("resolution", ServiceEntry.Resolution.self) ?? .none
        let addresses = spec.strings("addresses")
        for (i, address) in addresses.enumerated() {
            let path = "\(spec.child("addresses"))[\(i)]"
            if NameSyntax.isCIDR(address) {
                if resolution != .none, resolution != .static {
                    self.ctx.error(path, "CIDR addresses are allowed only for NONE/STATIC resolution types")
                }
            } else if !NameSyntax.isIPAddress(address) {
                self.ctx.error(path, "address \"\(address)\" must be an IP address or CIDR range")
            }
        }
        let ports = self.ports(spec)
        let endpoints = self.endpoints(spec, resolution: resolution, ports: ports, hosts: hosts)
        let exportTo = spec.strings("exportTo")
        self.ctx.checkExportTo(exportTo, spec.child("exportTo"))
        let subjectAltNames = spec.strings("subjectAltNames")
        if spec.take("workloadSelector") != nil, !endpoints.isEmpty {
            self.ctx.error(spec.child("workloadSelector"), "only one of endpoints or workloadSelector can be set")
        }
        spec.finish()
        return ServiceEntry(
            meta: ObjectMeta(name: "", namespace: ""), hosts: hosts, addresses: addresses, ports: ports,
            location: location, resolution: resolution, endpoints: endpoints, exportTo: exportTo,
            subjectAltNames: subjectAltNames)
    }

    /// Ports: unique numbers and names (§4.1).
    private func ports(_ spec: Fields) -> [Port] {
        var numbers: Set<Int> = []
        var names: Set<String> = []
        return spec.objects("ports") { f in
            let number = f.require("number").flatMap { self.ctx.int($0, f.child("number")) }
            let name = f.require("name").flatMap { self.ctx.string($0, f.child("name")) }
            let proto = f.require("protocol").flatMap {
                self.ctx.enumValue($0, f.child("protocol"), PortProtocol.self, caseInsensitive: true, aliases: [:])
            }
            let target = f.int("targetPort")
            f.finish()
            if let number {
                if number < 1 || number > 65535 {
                    self.ctx.error(f.child("number"), "port number \(number) must be in the range 1..65535")
                } else if !numbers.insert(number).inserted {
                    self.ctx.error(f.child("number"), "duplicate port number \(number)")
                }
            }
            if let name {
                if name.isEmpty {
                    self.ctx.error(f.child("name"), "port name must be set")
                } else if !names.insert(name).inserted {
                    self.ctx.error(f.child("name"), "duplicate port name \"\(name)\"")
                }
            }
            if let target, target < 1 || target > 65535 {
                self.ctx.error(f.child("targetPort"), "targetPort \(target) must be in the range 1..65535")
            }
            guard let number, let name, let proto else { return nil }
            return Port(number: number, name: name, protocol: proto, targetPort: target)
        }
    }

    /// Endpoints, checked against the resolution mode (§4.1).
    private func endpoints(
        _ spec: Fields, resolution: ServiceEntry.Resolution, ports: [Port], hosts: [String]
    ) -> [WorkloadEntry] {
        let portNames = Set(ports.map(\.name))
        let endpoints: [WorkloadEntry] = spec.objects("endpoints") { f in
            let address = f.require("address").flatMap { self.ctx.string($0, f.child("address")) } ?? ""
            var endpointPorts: [String: Int] = [:]
            if let node = f.take("ports"), let map = Fields(node, path: f.child("ports"), ctx: self.ctx) {
                for entry in map.allEntries() {
                    guard let port = self.ctx.int(entry.value, entry.path) else { continue }
                    if port < 1 || port > 65535 {
                        self.ctx.error(entry.path, "port \(port) must be in the range 1..65535")
                    }
                    if !portNames.contains(entry.key) {
                        self.ctx.error(entry.path, "endpoint port \"\(entry.key)\" is not a declared port name")
                    }
                    endpointPorts[entry.key] = port
                }
            }
            let labels = f.stringMap("labels")
            let weight = f.int("weight")
            self.ctx.checkNonNegative(weight, f.child("weight"))
            let locality = f.string("locality")
            let network = f.string("network")
            f.finish(known: ["serviceAccount"])
            self.checkAddress(address, f.child("address"), resolution: resolution, portCount: ports.count)
            return WorkloadEntry(
                address: address, ports: endpointPorts, labels: labels, weight: weight, locality: locality,
                network: network)
        }
        let path = spec.child("endpoints")
        switch resolution {
        case .none:
            if !endpoints.isEmpty { self.ctx.error(path, "no endpoints should be provided for resolution type NONE") }
        case .static:
            if endpoints.isEmpty, !self.ctx.hasError(at: path) {
                self.ctx.warning(path, "no endpoints provided for resolution type STATIC")
            }
        case .dns, .dnsRoundRobin:
            if endpoints.isEmpty {
                for (i, host) in hosts.enumerated() where host.hasPrefix("*") {
                    self.ctx.error("\(spec.child("hosts"))[\(i)]", "hosts cannot be wildcards with DNS "
                        + "resolution when no endpoints are given")
                }
            }
            if resolution == .dnsRoundRobin, endpoints.count > 1 {
                self.ctx.error(path, "DNS_ROUND_ROBIN allows at most one endpoint")
            }
        case .dynamicDNS:
            if !endpoints.isEmpty { self.ctx.error(path, "no endpoints should be provided for DYNAMIC_DNS") }
        }
        return endpoints
    }

    private func checkAddress(_ address: String, _ path: String, resolution: ServiceEntry.Resolution, portCount: Int) {
        if address.isEmpty {
            self.ctx.error(path, "endpoint address must be set")
            return
        }
        if address.hasPrefix("unix://") {
            if !address.hasPrefix("unix:///") { self.ctx.error(path, "unix address must be an absolute path") }
            if resolution != .static { self.ctx.error(path, "unix endpoints require resolution STATIC") }
            if portCount != 1 { self.ctx.error(path, "a unix endpoint requires exactly one service port") }
            return
        }
        switch resolution {
        case .static:
            if !NameSyntax.isIPAddress(address) {
                self.ctx.error(path, "endpoint address \"\(address)\" must be an IP address or unix:// path "
                    + "for resolution STATIC")
            }
        case .dns, .dnsRoundRobin:
            if !NameSyntax.isIPAddress(address), address.hasPrefix("*") || NameSyntax.wildcardDomainProblem(address)
                != nil {
                self.ctx.error(path, "endpoint address \"\(address)\" must be a host name or an IP address")
            }
        case .none, .dynamicDNS:
            break
        }
    }
}
