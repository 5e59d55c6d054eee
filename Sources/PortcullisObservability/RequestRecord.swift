import Foundation

/// Everything known about one finished request: the input of the access log and of the request metrics.
///
/// The proxy fills one record per stream and hands it over at stream end (ARCHITECTURE.md, "Life of one request",
/// step 10). Assigning a `String` only retains its storage, so filling a record on the event loop costs no
/// formatting; the access logger formats off the event loop. Optional fields print `-` (text) or `null` (JSON)
/// when nil, as Envoy does for a missing header or an unknown address.
///
/// Field names follow the Envoy command operators used by Istio's default access-log format
/// (`pilot/pkg/model/telemetry_logging.go`, `EnvoyTextLogFormat`); each doc comment names its operator.
/// The `destination*` fields become Prometheus labels, so they must come from configuration (cluster host, subset),
/// never from the wire, to keep metric cardinality bounded (STYLE.md rule 12).
public struct RequestRecord: Sendable {
    /// `%START_TIME%`: wall-clock time the first request byte arrived. Rendered in UTC with milliseconds,
    /// `2024-05-01T12:00:00.123Z`, like Envoy's default.
    public var startTime: Date
    /// `%REQ(:METHOD)%`.
    public var method: String
    /// `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`: the path and query exactly as received, before any rewrite.
    public var path: String
    /// `%PROTOCOL%`: `HTTP/1.1`, `HTTP/2` (Envoy's spelling) or `HTTP/1.0`.
    public var protocolName: String
    /// `%RESPONSE_CODE%`: the status sent downstream, 0 when no response was sent.
    public var responseCode: Int
    /// `%RESPONSE_FLAGS%`.
    public var responseFlags: ResponseFlags
    /// `%RESPONSE_CODE_DETAILS%`, e.g. `via_upstream`, `route_not_found`; empty prints `-`.
    public var responseCodeDetails: String
    /// `%CONNECTION_TERMINATION_DETAILS%`.
    public var connectionTerminationDetails: String?
    /// `%BYTES_RECEIVED%`: request body bytes received from downstream.
    public var bytesReceived: Int
    /// `%BYTES_SENT%`: response body bytes sent downstream.
    public var bytesSent: Int
    /// `%DURATION%`: milliseconds from the first request byte to the last response byte.
    public var durationMs: Int
    /// `%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%`: milliseconds the upstream took, nil for local replies.
    public var upstreamServiceTimeMs: Int?
    /// `%REQ(X-FORWARDED-FOR)%`.
    public var xForwardedFor: String?
    /// `%REQ(USER-AGENT)%`.
    public var userAgent: String?
    /// `%REQ(X-REQUEST-ID)%`.
    public var requestId: String?
    /// `%REQ(:AUTHORITY)%`.
    public var authority: String?
    /// `%UPSTREAM_HOST%`: the endpoint address, `10.0.0.5:9080`.
    public var upstreamHost: String?
    /// `%UPSTREAM_CLUSTER%`: the cluster name, `outbound|9080|v1|reviews.default.svc.cluster.local`.
    public var upstreamCluster: String?
    /// `%UPSTREAM_LOCAL_ADDRESS%`.
    public var upstreamLocalAddress: String?
    /// `%DOWNSTREAM_LOCAL_ADDRESS%`.
    public var downstreamLocalAddress: String?
    /// `%DOWNSTREAM_REMOTE_ADDRESS%`.
    public var downstreamRemoteAddress: String?
    /// `%REQUESTED_SERVER_NAME%`: the TLS SNI, nil for plaintext.
    public var requestedServerName: String?
    /// `%ROUTE_NAME%`: the VirtualService route `name`.
    public var routeName: String?
    /// `%UPSTREAM_TRANSPORT_FAILURE_REASON%`, e.g. a TLS verification error.
    public var upstreamTransportFailureReason: String?

    /// Metric label `destination_service`: the cluster host, `reviews.default.svc.cluster.local`.
    public var destinationService: String?
    /// Metric label `destination_service_name`: `reviews`.
    public var destinationServiceName: String?
    /// Metric label `destination_service_namespace`: `default`.
    public var destinationServiceNamespace: String?
    /// Metric label `destination_version`: the DestinationRule subset, `v1`.
    public var destinationVersion: String?
    /// Egress: `namespace/name` of the ServiceEntry that allowed the attempt (a MESH_EXTERNAL entry at a Gateway,
    /// the allow-list entry at a ForwardProxy); JSON key `service_entry`. Comes from configuration, never the wire.
    public var serviceEntry: String?
    /// Egress: why the attempt was refused (the metric's bounded `reason`); nil when it was not refused as egress.
    public var egressRefusal: EgressRefusal?
    /// True for gRPC requests (`content-type: application/grpc`); sets `request_protocol="grpc"`.
    public var isGRPC: Bool
    /// The `grpc-status` the response ended with; metric label `grpc_response_status`.
    public var grpcStatus: Int?

    /// An empty record: epoch start time, empty method and path, `HTTP/1.1`, code 0, everything else absent.
    public init() {
        self.startTime = Date(timeIntervalSince1970: 0)
        self.method = ""
        self.path = ""
        self.protocolName = "HTTP/1.1"
        self.responseCode = 0
        self.responseFlags = []
        self.responseCodeDetails = ""
        self.connectionTerminationDetails = nil
        self.bytesReceived = 0
        self.bytesSent = 0
        self.durationMs = 0
        self.upstreamServiceTimeMs = nil
        self.xForwardedFor = nil
        self.userAgent = nil
        self.requestId = nil
        self.authority = nil
        self.upstreamHost = nil
        self.upstreamCluster = nil
        self.upstreamLocalAddress = nil
        self.downstreamLocalAddress = nil
        self.downstreamRemoteAddress = nil
        self.requestedServerName = nil
        self.routeName = nil
        self.upstreamTransportFailureReason = nil
        self.destinationService = nil
        self.destinationServiceName = nil
        self.destinationServiceNamespace = nil
        self.destinationVersion = nil
        self.isGRPC = false
        self.grpcStatus = nil
        self.serviceEntry = nil
        self.egressRefusal = nil
    }
}
