import PortcullisModel
import Testing

@testable import PortcullisRouting

/// Route actions: weights, port defaulting, headers, retries, faults, mirrors (ISTIO-SEMANTICS §2.2, §2.4, §2.7).
@Suite struct ActionTests {
    static func forward(_ yaml: String, _ request: TestRequest = TestRequest()) -> ForwardAction? {
        guard case .forward(let f)? = hit(compile(yaml).result.table, port: 80, request)?.route.action else {
            return nil
        }
        return f
    }

    @Test func singleDestinationIgnoresWeight() {
        let f = Self.forward(withVS("  - route: [{destination: {host: a, port: {number: 80}}, weight: 5}]"))
        #expect(f?.destinations.map(\.weight) == [100])
    }

    @Test func weightZeroDestinationsAreDropped() {
        let f = Self.forward(withVS("""
              - route:
                - {destination: {host: a, port: {number: 80}}, weight: 3}
                - {destination: {host: b, port: {number: 80}}, weight: 0}
                - {destination: {host: c, port: {number: 80}}, weight: 1}
            """))
        #expect(f?.destinations.map(\.cluster.host) == ["a.default.svc.cluster.local", "c.default.svc.cluster.local"])
        #expect(f?.totalWeight == 4)
    }

    @Test func pickHonoursRelativeWeights() throws {
        let f = try #require(Self.forward(withVS("""
              - route:
                - {destination: {host: a, port: {number: 80}}, weight: 3}
                - {destination: {host: c, port: {number: 80}}, weight: 1}
            """)))
        let picks = (0..<400).map { f.pick(UInt64($0)).cluster.host }
        #expect(picks.filter { $0.hasPrefix("a.") }.count == 300)
    }

    @Test func portDefaultsToOnlyServiceEntryPort() {
        let se = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ext, namespace: default}
            spec:
              hosts: [api.example.org]
              ports: [{number: 443, name: https, protocol: HTTPS}]
              resolution: DNS
            ---

            """
        let f = Self.forward(se + withVS("  - route: [{destination: {host: api.example.org}}]"))
        #expect(f?.destinations.first?.cluster.description == "outbound|443||api.example.org")
    }

    @Test func portDefaultsToServerPortOtherwise() {
        let f = Self.forward(withVS("  - route: [{destination: {host: reviews, subset: v1}}]"))
        #expect(f?.destinations.first?.cluster.description == "outbound|80|v1|reviews.default.svc.cluster.local")
    }

    @Test func clusterKeyDescription() {
        #expect(ClusterKey(host: "h", subset: nil, port: 9080).description == "outbound|9080||h")
        #expect(ClusterKey(host: "h", subset: "v1", port: 1).description == "outbound|1|v1|h")
    }

    @Test func tableCollectsForwardAndMirrorClusters() {
        let (r, _) = compile(withVS("""
              - route: [{destination: {host: a, port: {number: 80}}}]
                mirror: {host: b, port: {number: 81}}
            """))
        #expect(r.table.clusterKeys.map(\.description).sorted()
            == ["outbound|80||a.default.svc.cluster.local", "outbound|81||b.default.svc.cluster.local"])
    }

    @Test func hostHeaderWritesBecomeAuthorityRewrite() {
        let f = Self.forward(withVS("""
              - route:
                - destination: {host: a, port: {number: 80}}
                  headers: {request: {set: {host: dest.example}}}
                headers:
                  request: {set: {Host: route.example, x-a: "1"}, remove: [X-B]}
            """))
        #expect(f?.rewrite?.authority == "route.example")
        #expect(f?.destinations.first?.authority == "dest.example")
        #expect(f?.destinations.first?.requestHeaders.isEmpty == true)
    }

    @Test func routeHeaderOperationsKeepOtherNames() {
        let (r, _) = compile(withVS("""
              - route: [{destination: {host: a, port: {number: 80}}}]
                headers:
                  request: {set: {x-a: "1"}, add: {x-c: "2"}, remove: [X-B]}
                  response: {set: {content-type: text/plain}}
            """))
        let route = hit(r.table, port: 80, TestRequest())?.route
        #expect(route?.requestHeaders.set.map(\.name) == ["x-a"])
        #expect(route?.requestHeaders.add.map(\.value) == ["2"])
        #expect(route?.requestHeaders.remove == ["x-b"])
        #expect(route?.responseHeaders.set.map(\.value) == ["text/plain"])
    }

    @Test func defaultRetryPolicyIsIstios() {
        let (r, _) = compile(withVS("  - route: [{destination: {host: a, port: {number: 80}}}]"))
        let p = hit(r.table, port: 80, TestRequest())?.route.retry
        #expect(p?.attempts == 2)
        #expect(p?.retryOnConnectFailure == true)
        #expect(p?.retryOnRefusedStream == true)
        #expect(p?.retryOn5xx == false)
        #expect(p?.retriableStatusCodes.isEmpty == true)
        #expect(p?.retryOnGRPC == ["cancelled", "unavailable"])
    }

    @Test func explicitRetriesParseCodes() {
        let (r, _) = compile(withVS("""
              - route: [{destination: {host: a, port: {number: 80}}}]
                retries: {attempts: 3, perTryTimeout: 2s, retryOn: "503,reset,gateway-error"}
                timeout: 5s
            """))
        let route = hit(r.table, port: 80, TestRequest())?.route
        #expect(route?.retry.attempts == 3)
        #expect(route?.retry.retriableStatusCodes == [503])
        #expect(route?.retry.retryOnReset == true)
        #expect(route?.retry.retryOnGatewayError == true)
        #expect(route?.retry.retryOnConnectFailure == false)
        #expect(route?.retry.perTryTimeout == .seconds(2))
        #expect(route?.timeout == .seconds(5))
    }

    @Test func zeroAttemptsDisablesRetriesAndTimeoutDefaultsToNone() {
        var config = ConfigLoader().load(yaml: withVS("  - route: [{destination: {host: a, port: {number: 80}}}]"))
            .config
        config.virtualServices[0].http[0].retries = HTTPRetry(attempts: 0)
        let r = RouteCompiler.compile(config, options: RoutingOptions())
        let route = hit(r.table, port: 80, TestRequest())?.route
        #expect(route?.retry.attempts == 0)
        #expect(route?.timeout == nil)
    }

    @Test func faultPercentagesPerMillion() {
        let (r, _) = compile(withVS("""
              - route: [{destination: {host: a, port: {number: 80}}}]
                fault:
                  delay: {fixedDelay: 7s, percentage: {value: 0.5}}
                  abort: {httpStatus: 555}
            """))
        let fault = hit(r.table, port: 80, TestRequest())?.route.fault
        #expect(fault?.delay == .seconds(7))
        #expect(fault?.delayPerMillion == 5_000)
        #expect(fault?.abortStatus == 555)
        #expect(fault?.abortPerMillion == 0)
    }

    @Test func mirrorPercentageDefaultsToAll() {
        let (r, _) = compile(withVS("""
              - route: [{destination: {host: a, port: {number: 80}}}]
                mirrors:
                - {destination: {host: b}}
                - {destination: {host: c}, percentage: {value: 25}}
                - {destination: {host: d}, percentage: {value: 0}}
            """))
        let mirrors = hit(r.table, port: 80, TestRequest())?.route.mirrors
        #expect(mirrors?.map(\.perMillion) == [1_000_000, 250_000])
    }

    @Test func directResponse() {
        let (r, _) = compile(withVS("  - directResponse: {status: 503, body: {string: down}}"))
        guard case .directResponse(let status, let body)? = hit(r.table, port: 80, TestRequest())?.route.action
        else {
            Issue.record("expected a direct response")
            return
        }
        #expect(status == 503)
        #expect(body == Array("down".utf8))
    }

    @Test func allZeroWeightsIsAnError() {
        var config = ConfigLoader().load(yaml: withVS("""
              - route:
                - {destination: {host: a}, weight: 1}
                - {destination: {host: b}, weight: 1}
            """)).config
        config.virtualServices[0].http[0].route[0].weight = 0
        config.virtualServices[0].http[0].route[1].weight = 0
        let r = RouteCompiler.compile(config, options: RoutingOptions())
        #expect(r.diagnostics.map(\.fieldPath) == ["spec.http[0].route"])
    }
}
