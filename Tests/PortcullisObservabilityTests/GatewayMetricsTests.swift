import Testing

@testable import PortcullisObservability

/// Prometheus exposition after recording requests: family names, Istio labels and bucket counts.
struct GatewayMetricsTests {
    static func reviewsRecord(code: Int, durationMs: Int, flags: ResponseFlags = []) -> RequestRecord {
        var record = RequestRecord()
        record.responseCode = code
        record.responseFlags = flags
        record.durationMs = durationMs
        record.bytesReceived = 0
        record.bytesSent = 2_500
        record.destinationService = "reviews.default.svc.cluster.local"
        record.destinationServiceName = "reviews"
        record.destinationServiceNamespace = "default"
        record.destinationVersion = "v1"
        return record
    }

    static let reviewsLabels =
        #"reporter="source",source_workload="portcullis",source_workload_namespace="istio-system","#
        + #"source_app="portcullis",source_version="unknown",source_canonical_service="portcullis","#
        + #"source_canonical_revision="latest",source_principal="unknown",source_cluster="Kubernetes","#
        + #"destination_workload="unknown",destination_workload_namespace="default",destination_app="unknown","#
        + #"destination_version="v1",destination_service="reviews.default.svc.cluster.local","#
        + #"destination_service_name="reviews",destination_service_namespace="default","#
        + #"destination_canonical_service="reviews",destination_canonical_revision="v1","#
        + #"destination_principal="unknown",destination_cluster="unknown",request_protocol="http","#
        + #"response_code="200",grpc_response_status="",response_flags="-",connection_security_policy="unknown""#

    static func makeMetrics(maxLabelSets: Int = 10_000) -> GatewayMetrics {
        GatewayMetrics(
            gatewayName: "portcullis", namespace: "istio-system", clusterID: "Kubernetes", maxLabelSets: maxLabelSets)
    }

    static func lines(_ metrics: GatewayMetrics) -> Set<Substring> {
        Set(metrics.renderPrometheus().split(separator: "\n"))
    }

    @Test func requestCounterAndHistogramsCarryIstioLabels() {
        let metrics = Self.makeMetrics()
        metrics.record(Self.reviewsRecord(code: 200, durationMs: 7))
        metrics.record(Self.reviewsRecord(code: 200, durationMs: 40))
        metrics.record(Self.reviewsRecord(code: 200, durationMs: 40))
        let lines = Self.lines(metrics)
        let labels = Self.reviewsLabels

        #expect(lines.contains("# TYPE istio_requests_total counter"))
        #expect(lines.contains("istio_requests_total{\(labels)} 3"))

        #expect(lines.contains("# TYPE istio_request_duration_milliseconds histogram"))
        let duration = "istio_request_duration_milliseconds"
        #expect(lines.contains(#"\#(duration)_bucket{\#(labels),le="5.0"} 0"#))
        #expect(lines.contains(#"\#(duration)_bucket{\#(labels),le="10.0"} 1"#))
        #expect(lines.contains(#"\#(duration)_bucket{\#(labels),le="25.0"} 1"#))
        #expect(lines.contains(#"\#(duration)_bucket{\#(labels),le="50.0"} 3"#))
        #expect(lines.contains(#"\#(duration)_bucket{\#(labels),le="3600000.0"} 3"#))
        #expect(lines.contains(#"\#(duration)_bucket{\#(labels),le="+Inf"} 3"#))
        #expect(lines.contains("\(duration)_sum{\(labels)} 87.0"))
        #expect(lines.contains("\(duration)_count{\(labels)} 3"))
        let durationBuckets = lines.filter { $0.hasPrefix("\(duration)_bucket{") }
        #expect(durationBuckets.count == 20)

        #expect(lines.contains(#"istio_response_bytes_bucket{\#(labels),le="1000.0"} 0"#))
        #expect(lines.contains(#"istio_response_bytes_bucket{\#(labels),le="10000.0"} 3"#))
        #expect(lines.contains(#"istio_request_bytes_bucket{\#(labels),le="1.0"} 3"#))
        #expect(lines.contains("istio_request_bytes_count{\(labels)} 3"))
    }

    @Test func distinctResponsesGetDistinctSeries() {
        let metrics = Self.makeMetrics()
        metrics.record(Self.reviewsRecord(code: 200, durationMs: 1))
        metrics.record(Self.reviewsRecord(code: 503, durationMs: 1, flags: [.upstreamConnectionFailure,
                                                                           .upstreamRetryLimitExceeded]))
        var noRoute = RequestRecord()
        noRoute.responseCode = 404
        noRoute.responseFlags = .noRouteFound
        metrics.record(noRoute)
        #expect(metrics.requestLabelSetCount == 3)
        let text = metrics.renderPrometheus()
        #expect(text.contains(#"response_code="503",grpc_response_status="",response_flags="UF,URX""#))
        #expect(text.contains(
            #"destination_service="unknown",destination_service_name="unknown",destination_service_namespace="unknown""#
        ))
        #expect(text.contains(#"response_code="404",grpc_response_status="",response_flags="NR""#))
    }

    @Test func grpcRequestsReportProtocolAndStatus() {
        let metrics = Self.makeMetrics()
        var record = Self.reviewsRecord(code: 200, durationMs: 1)
        record.isGRPC = true
        record.grpcStatus = 14
        metrics.record(record)
        let text = metrics.renderPrometheus()
        #expect(text.contains(#"request_protocol="grpc",response_code="200",grpc_response_status="14""#))
    }

    @Test func hostileResponseCodesStayBounded() {
        let metrics = Self.makeMetrics()
        metrics.record(Self.reviewsRecord(code: 123_456, durationMs: 1))
        metrics.record(Self.reviewsRecord(code: -5, durationMs: 1))
        #expect(metrics.requestLabelSetCount == 1)
        #expect(metrics.renderPrometheus().contains(#"response_code="0""#))
    }

    @Test func labelSetCapFoldsDestinationsIntoUnknown() {
        let metrics = Self.makeMetrics(maxLabelSets: 2)
        for index in 0..<5 {
            var record = Self.reviewsRecord(code: 200, durationMs: 1)
            record.destinationService = "svc\(index).default.svc.cluster.local"
            metrics.record(record)
        }
        #expect(metrics.requestLabelSetCount == 3)
        let lines = Self.lines(metrics)
        #expect(lines.contains("portcullis_metrics_label_sets_overflow_total 3"))
        let overflowSeries = lines.first {
            $0.hasPrefix("istio_requests_total{") && $0.contains(#"destination_service="unknown""#)
        }
        #expect(overflowSeries?.hasSuffix(" 3") == true)
    }

    @Test func configAndConnectionGauges() {
        let metrics = Self.makeMetrics()
        metrics.configReloaded(success: true)
        metrics.configReloaded(success: true)
        metrics.configReloaded(success: false)
        metrics.setConfigVersion("sha256:aaaa")
        metrics.setConfigVersion("sha256:bbbb")
        metrics.setActiveConnections(42)
        let lines = Self.lines(metrics)
        #expect(lines.contains(#"portcullis_config_reloads_total{result="success"} 2"#))
        #expect(lines.contains(#"portcullis_config_reloads_total{result="rejected"} 1"#))
        #expect(lines.contains(#"portcullis_config_info{version="sha256:bbbb"} 1.0"#))
        #expect(!lines.contains { $0.contains("sha256:aaaa") })
        #expect(lines.contains("portcullis_downstream_connections_active 42.0"))
    }

    @Test func countersForOtherModules() {
        let metrics = Self.makeMetrics()
        let goaway = metrics.counter("portcullis_h2_goaway_sent_total", help: "GOAWAY frames sent.",
                                     labels: [("reason", "drain")])
        goaway.increment()
        goaway.increment(by: 2)
        metrics.gauge("portcullis_upstream_pools", help: "Pools.").set(3)
        let lines = Self.lines(metrics)
        #expect(lines.contains("# HELP portcullis_h2_goaway_sent_total GOAWAY frames sent."))
        #expect(lines.contains(#"portcullis_h2_goaway_sent_total{reason="drain"} 3"#))
        #expect(lines.contains("portcullis_upstream_pools 3.0"))
    }
}
