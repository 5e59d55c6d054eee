import Foundation
import Testing

@testable import PortcullisModel

/// Bookinfo gateway, VS, DR and SE (ISTIO-SEMANTICS §7.2) in one multi-document stream.
let bookinfo = """
    # comment-only documents and empty documents are skipped
    ---
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata:
      name: bookinfo-gateway
      namespace: bookinfo
    spec:
      selector:
        istio: ingressgateway
      servers:
      - port:
          number: 8080
          name: http
          protocol: http
        hosts:
        - "*"
    ---
    apiVersion: networking.istio.io/v1beta1
    kind: VirtualService
    metadata:
      name: bookinfo
      namespace: bookinfo
      creationTimestamp: "2024-01-01T00:00:00Z"
    spec:
      hosts: ["*"]
      gateways: [bookinfo-gateway]
      http:
      - match:
        - uri:
            exact: /productpage
        - uri:
            prefix: /static
        - headers:
            End-User: {exact: jason}
            x-any: {}
            x-star: {regex: "*"}
        route:
        - destination:
            host: productpage
            port:
              number: 9080
          weight: 80
        - destination: {host: productpage, subset: v2}
          weight: 20
        timeout: 1.5s
        retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,503"}
        mirror: {host: mirror}
        mirrorPercent: 25
      - redirect:
          prefix_rewrite: /new
          redirectCode: 302
      - fault:
          delay: {fixedDelay: 7s, percent: 50}
          abort: {httpStatus: 555, percentage: {value: 12.5}}
        route:
        - destination: {host: ratings}
      - directResponse:
          status: 503
          body: {bytes: aGVsbG8=}
    ---
    apiVersion: networking.istio.io/v1alpha3
    kind: DestinationRule
    metadata: {name: reviews, namespace: bookinfo}
    spec:
      host: reviews
      trafficPolicy:
        loadBalancer: {simple: LEAST_CONN}
        connectionPool: {tcp: {maxConnections: 100, connectTimeout: 30ms}}
        outlierDetection: {consecutive_5xx_errors: 7, interval: 5m}
      subsets:
      - name: v1
        labels: {version: v1}
      - name: v2
        labels: {version: v2}
        trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: googleapis}
    spec:
      hosts: [www.googleapis.com]
      ports:
      - {number: 80, name: http, protocol: HTTP}
      - {number: 443, name: https, protocol: HTTPS}
      resolution: DNS
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: productpage}
    ---
    """

@Suite struct BookinfoLoadTests {
    let result = ConfigLoader().load(yaml: bookinfo, file: "bookinfo.yaml")

    @Test func loadsEveryObjectWithoutErrors() {
        #expect(self.result.errors.isEmpty, "\(self.result.errors)")
        #expect(self.result.config.gateways.count == 1)
        #expect(self.result.config.virtualServices.count == 1)
        #expect(self.result.config.destinationRules.count == 1)
        #expect(self.result.config.serviceEntries.count == 1)
        // The Service is skipped with a warning that names its line.
        let warnings = self.result.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.kind == "Service")
        #expect(warnings.first?.line == 88)
    }

    @Test func gateway() throws {
        let gw = try #require(self.result.config.gateways.first)
        #expect(gw.meta.name == "bookinfo-gateway")
        #expect(gw.meta.namespace == "bookinfo")
        #expect(gw.selector == ["istio": "ingressgateway"])
        #expect(gw.servers.first?.port == Port(number: 8080, name: "http", protocol: .http))
        #expect(gw.servers.first?.hosts == ["*"])
        #expect(gw.meta.position == SourcePosition(file: "bookinfo.yaml", line: 3))
        #expect(gw.meta.fieldLines["spec.servers[0].port.number"] == 13)
    }

    @Test func virtualServiceRoutes() throws {
        let vs = try #require(self.result.config.virtualServices.first)
        #expect(vs.meta.creationTimestamp == "2024-01-01T00:00:00Z")
        #expect(vs.gateways == ["bookinfo-gateway"])
        let first = vs.http[0]
        #expect(first.match[0].uri == .exact("/productpage"))
        #expect(first.match[1].uri == .prefix("/static"))
        #expect(first.match[2].headers == [
            NamedMatch(name: "end-user", match: .exact("jason")), NamedMatch(name: "x-any", match: .present),
            NamedMatch(name: "x-star", match: .present),
        ])
        #expect(first.route[0].destination == Destination(host: "productpage", port: 9080))
        #expect(first.route[1].destination.subset == "v2")
        #expect(first.route.map(\.weight) == [80, 20])
        #expect(first.timeout == .milliseconds(1500))
        #expect(first.retries?.attempts == 3)
        #expect(first.retries?.perTryTimeout == .milliseconds(500))
        #expect(first.mirror?.host == "mirror")
        #expect(first.mirrorPercentage == 25)
        #expect(vs.meta.fieldLines["spec.http[0].route[1].weight"] == 45)
        // No port on this destination: the lookup falls back to the nearest recorded parent.
        #expect(vs.meta.line(of: "spec.http[0].route[1].destination.port") == 44)
    }

    @Test func redirectFaultDirectResponse() throws {
        let vs = try #require(self.result.config.virtualServices.first)
        #expect(vs.http[1].redirect?.prefixRewrite == "/new")
        #expect(vs.http[1].redirect?.redirectCode == 302)
        #expect(vs.http[2].fault?.delay == .init(fixedDelay: .seconds(7), percentage: 50))
        #expect(vs.http[2].fault?.abort == .init(httpStatus: 555, percentage: 12.5))
        #expect(vs.http[3].directResponse == HTTPDirectResponse(status: 503, body: Array("hello".utf8)))
    }

    @Test func destinationRuleAndServiceEntry() throws {
        let dr = try #require(self.result.config.destinationRules.first)
        #expect(dr.host == "reviews")
        #expect(dr.trafficPolicy?.loadBalancer?.simple == .leastRequest)
        #expect(dr.trafficPolicy?.connectionPool?.tcp?.connectTimeout == .milliseconds(30))
        #expect(dr.trafficPolicy?.outlierDetection?.consecutive5xxErrors == 7)
        #expect(dr.trafficPolicy?.outlierDetection?.interval == .seconds(300))
        #expect(dr.subsets.map(\.name) == ["v1", "v2"])
        #expect(dr.subsets[1].trafficPolicy?.loadBalancer?.simple == .roundRobin)
        let se = try #require(self.result.config.serviceEntries.first)
        #expect(se.meta.namespace == "default")
        #expect(se.resolution == .dns)
        #expect(se.location == .meshExternal)
        #expect(se.ports.map(\.protocol) == [.http, .https])
    }
}
