/// Decodes and validates a `DestinationRule` spec (ISTIO-SEMANTICS §3; Istio `validateDestinationRule`).
struct DestinationRuleDecoder {
    let ctx: DecodeContext

    func decode(_ spec: Fields) -> DestinationRule {
        let host = spec.require("host").flatMap { self.ctx.string($0, spec.child("host")) } ?? ""
        if host.isEmpty {
            self.ctx.error(spec.child("host"), "host must be set")
        } else if let problem = NameSyntax.wildcardDomainProblem(host), !NameSyntax.isIPAddress(host) {
            self.ctx.error(spec.child("host"), problem)
        }
        let exportTo = spec.strings("exportTo")
        self.ctx.checkExportTo(exportTo, spec.child("exportTo"))
        let trafficPolicy = spec.object("trafficPolicy") { self.trafficPolicy($0) }
        var names: Set<String> = []
        let subsets: [Subset] = spec.objects("subsets") { f in
            let name = f.require("name").flatMap { self.ctx.string($0, f.child("name")) } ?? ""
            if !name.isEmpty, !NameSyntax.isDNS1123Label(name) {
                self.ctx.error(f.child("name"), "subset name \"\(name)\" must be a DNS-1123 label")
            } else if !name.isEmpty, !names.insert(name).inserted {
                self.ctx.error(f.child("name"), "duplicate subset name \"\(name)\"")
            }
            let labels = f.stringMap("labels")
            let policy = f.object("trafficPolicy") { self.trafficPolicy($0) }
            f.finish()
            return Subset(name: name, labels: labels, trafficPolicy: policy)
        }
        let selector = spec.object("workloadSelector") { f -> [String: String]? in
            defer { f.finish() }
            return f.stringMap("matchLabels")
        }
        spec.finish()
        return DestinationRule(
            meta: ObjectMeta(name: "", namespace: ""), host: host, exportTo: exportTo, trafficPolicy: trafficPolicy,
            subsets: subsets, workloadSelector: selector)
    }

    private func trafficPolicy(_ f: Fields) -> TrafficPolicy {
        var policy = TrafficPolicy()
        policy.loadBalancer = f.object("loadBalancer") { self.loadBalancer($0) }
        policy.connectionPool = f.object("connectionPool") { self.connectionPool($0) }
        policy.outlierDetection = f.object("outlierDetection") { self.outlierDetection($0) }
        policy.tls = f.object("tls") { ClientTLSDecoder(ctx: self.ctx).decode($0) }
        policy.portLevelSettings = f.objects("portLevelSettings") { p in
            let number = p.require("port").flatMap { node in
                Fields(node, path: p.child("port"), ctx: self.ctx).flatMap { port in
                    defer { port.finish() }
                    return port.require("number").flatMap { self.ctx.int($0, port.child("number")) }
                }
            }
            if let number, number < 1 || number > 65535 {
                self.ctx.error(p.child("port.number"), "port number \(number) must be in the range 1..65535")
            }
            var settings = PortTrafficPolicy(port: number ?? 0)
            settings.loadBalancer = p.object("loadBalancer") { self.loadBalancer($0) }
            settings.connectionPool = p.object("connectionPool") { self.connectionPool($0) }
            settings.outlierDetection = p.object("outlierDetection") { self.outlierDetection($0) }
            settings.tls = p.object("tls") { ClientTLSDecoder(ctx: self.ctx).decode($0) }
            p.finish()
            return settings
        }
        f.finish(known: ["tunnel", "proxyProtocol", "retryBudget"])
        return policy
    }

    /// §3.2; `LEAST_CONN` is the deprecated alias of `LEAST_REQUEST`.
    private func loadBalancer(_ f: Fields) -> LoadBalancerSettings {
        let simple = f.enumValue("simple", SimpleLoadBalancer.self, aliases: ["LEAST_CONN": .leastRequest])
        let hash = f.object("consistentHash") { self.consistentHash($0) }
        if simple != nil, hash != nil {
            self.ctx.error(f.child("consistentHash"), "only one of simple and consistentHash may be set")
        }
        f.finish(known: ["localityLbSetting", "warmupDurationSecs", "warmup"])
        return LoadBalancerSettings(simple: simple, consistentHash: hash)
    }

    private func consistentHash(_ f: Fields) -> ConsistentHash {
        var hash = ConsistentHash()
        var keys: [String] = []
        if let name = f.string("httpHeaderName") {
            hash.httpHeaderName = name.lowercased()
            keys.append("httpHeaderName")
        }
        if let cookie = f.object("httpCookie", { c -> (String, String?, Duration?)? in
            defer { c.finish(known: ["attributes"]) }
            let name = c.require("name").flatMap { self.ctx.string($0, c.child("name")) }
            let ttl = c.duration("ttl")
            if let ttl, ttl < .zero { self.ctx.error(c.child("ttl"), "ttl must not be negative") }
            return name.map { ($0, c.string("path"), ttl) }
        }) {
            (hash.httpCookieName, hash.httpCookiePath, hash.httpCookieTTL) = cookie
            keys.append("httpCookie")
        }
        if let useSourceIp = f.bool("useSourceIp"), useSourceIp {
            hash.useSourceIp = true
            keys.append("useSourceIp")
        }
        if let name = f.string("httpQueryParameterName") {
            hash.httpQueryParameterName = name
            keys.append("httpQueryParameterName")
        }
        if keys.count > 1 {
            self.ctx.error(f.child(keys[1]), "only one consistent hash key may be set (also \(keys[0]))")
        }
        hash.minimumRingSize = f.int("minimumRingSize")
        if let ring = f.object("ringHash", { r -> Int? in
            defer { r.finish() }
            return r.int("minimumRingSize")
        }) {
            hash.minimumRingSize = ring
        }
        self.ctx.checkNonNegative(hash.minimumRingSize, f.child("minimumRingSize"))
        f.finish(known: ["maglev"])
        return hash
    }

    private func connectionPool(_ f: Fields) -> ConnectionPoolSettings {
        let tcp = f.object("tcp") { t -> ConnectionPoolSettings.TCP in
            var tcp = ConnectionPoolSettings.TCP()
            tcp.maxConnections = t.int("maxConnections")
            tcp.connectTimeout = t.duration("connectTimeout")
            tcp.maxConnectionDuration = t.duration("maxConnectionDuration")
            tcp.idleTimeout = t.duration("idleTimeout")
            self.ctx.checkNonNegative(tcp.maxConnections, t.child("maxConnections"))
            self.ctx.checkDuration(tcp.connectTimeout, t.child("connectTimeout"))
            self.ctx.checkDuration(tcp.maxConnectionDuration, t.child("maxConnectionDuration"))
            self.ctx.checkDuration(tcp.idleTimeout, t.child("idleTimeout"), allowZero: true)
            t.finish(known: ["tcpKeepalive"])
            return tcp
        }
        let http = f.object("http") { h -> ConnectionPoolSettings.HTTP in
            var http = ConnectionPoolSettings.HTTP()
            let counters: [(String, WritableKeyPath<ConnectionPoolSettings.HTTP, Int?>)] = [
                ("http1MaxPendingRequests", \.http1MaxPendingRequests),
                ("http2MaxRequests", \.http2MaxRequests), ("maxRequestsPerConnection", \.maxRequestsPerConnection),
                ("maxRetries", \.maxRetries), ("maxConcurrentStreams", \.maxConcurrentStreams),
            ]
            for (key, path) in counters {
                http[keyPath: path] = h.int(key)
                self.ctx.checkNonNegative(http[keyPath: path], h.child(key))
            }
            http.idleTimeout = h.duration("idleTimeout")
            self.ctx.checkDuration(http.idleTimeout, h.child("idleTimeout"), allowZero: true)
            if let policy = h.string("h2UpgradePolicy") {
                if ["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"].contains(policy) {
                    http.h2UpgradePolicy = policy
                } else {
                    self.ctx.error(h.child("h2UpgradePolicy"), "invalid value \"\(policy)\"")
                }
            }
            http.useClientProtocol = h.bool("useClientProtocol") ?? false
            if http.useClientProtocol, http.h2UpgradePolicy == "UPGRADE" {
                self.ctx.error(h.child("useClientProtocol"), "useClientProtocol cannot be combined with UPGRADE")
            }
            h.finish(known: ["http2KeepAlive"])
            return http
        }
        f.finish()
        return ConnectionPoolSettings(tcp: tcp, http: http)
    }

    /// §3.4; `consecutiveLocalOriginFailures` needs `splitExternalLocalOriginErrors`.
    private func outlierDetection(_ f: Fields) -> OutlierDetection {
        var od = OutlierDetection()
        od.consecutive5xxErrors = f.int("consecutive5xxErrors")
        od.consecutiveGatewayErrors = f.int("consecutiveGatewayErrors")
        od.interval = f.duration("interval")
        od.baseEjectionTime = f.duration("baseEjectionTime")
        od.maxEjectionPercent = f.int("maxEjectionPercent")
        od.minHealthPercent = f.int("minHealthPercent")
        od.splitExternalLocalOriginErrors = f.bool("splitExternalLocalOriginErrors") ?? false
        od.consecutiveLocalOriginFailures = f.int("consecutiveLocalOriginFailures")
        if f.take("consecutiveErrors") != nil {
            self.ctx.warning(f.child("consecutiveErrors"), "consecutiveErrors is deprecated and ignored; "
                + "use consecutive5xxErrors")
        }
        self.ctx.checkNonNegative(od.consecutive5xxErrors, f.child("consecutive5xxErrors"))
        self.ctx.checkNonNegative(od.consecutiveGatewayErrors, f.child("consecutiveGatewayErrors"))
        self.ctx.checkNonNegative(od.consecutiveLocalOriginFailures, f.child("consecutiveLocalOriginFailures"))
        self.ctx.checkDuration(od.interval, f.child("interval"))
        self.ctx.checkDuration(od.baseEjectionTime, f.child("baseEjectionTime"))
        self.ctx.checkPercent(od.maxEjectionPercent.map(Double.init), f.child("maxEjectionPercent"))
        self.ctx.checkPercent(od.minHealthPercent.map(Double.init), f.child("minHealthPercent"))
        if od.consecutiveLocalOriginFailures != nil, !od.splitExternalLocalOriginErrors {
            self.ctx.error(f.child("consecutiveLocalOriginFailures"),
                           "consecutiveLocalOriginFailures requires splitExternalLocalOriginErrors: true")
        }
        f.finish(known: ["outlierDetectionHttpErrorCodes"])
        return od
    }
}

/// `ClientTLSSettings` (§3.5).
struct ClientTLSDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> ClientTLSSettings {
        var tls = ClientTLSSettings()
        tls.mode = f.enumValue("mode", ClientTLSMode.self) ?? .disable
        tls.clientCertificate = f.string("clientCertificate").flatMap { $0.isEmpty ? nil : $0 }
        tls.privateKey = f.string("privateKey").flatMap { $0.isEmpty ? nil : $0 }
        tls.caCertificates = f.string("caCertificates").flatMap { $0.isEmpty ? nil : $0 }
        tls.caCrl = f.string("caCrl").flatMap { $0.isEmpty ? nil : $0 }
        tls.credentialName = f.string("credentialName").flatMap { $0.isEmpty ? nil : $0 }
        tls.subjectAltNames = f.strings("subjectAltNames")
        tls.sni = f.string("sni").flatMap { $0.isEmpty ? nil : $0 }
        tls.insecureSkipVerify = f.bool("insecureSkipVerify") ?? false
        f.finish()
        if tls.mode == .mutual, tls.credentialName == nil {
            if tls.clientCertificate == nil {
                self.ctx.error(f.child("clientCertificate"), "client certificate required for mutual tls")
            }
            if tls.privateKey == nil { self.ctx.error(f.child("privateKey"), "private key required for mutual tls") }
        }
        if tls.mode == .istioMutual, tls.clientCertificate != nil || tls.privateKey != nil
            || tls.caCertificates != nil || tls.credentialName != nil || !tls.subjectAltNames.isEmpty {
            self.ctx.error(f.child("mode"), "ISTIO_MUTUAL cannot have associated certificates or credentialName")
        }
        if tls.credentialName != nil, tls.caCrl != nil {
            self.ctx.error(f.child("caCrl"), "caCrl cannot be used with credentialName (put the CRL in the secret)")
        }
        return tls
    }
}
