import PortcullisXDSProto
import SwiftProtobuf

/// The state-of-the-world bookkeeping of one ADS client over its whole life (across streams): what each kind
/// last accepted, which kinds still owe their first response, and the ACK/NACK to send for each response.
///
/// Responses of the first sync are held until every kind has answered, then applied as one config, so the
/// gateway never serves a partial first config (VirtualServices without their Gateways). Later responses are
/// applied one at a time against the other kinds' accepted state. A response that cannot be decoded, or whose
/// config the gateway rejects, is NACKed with the previous accepted version and the reason; nothing of it is kept.
struct XDSSubscriptions {
    /// One response waiting to be applied.
    struct Received: Sendable {
        let kind: XDSKind
        let version: String
        let nonce: String
        let objects: [XDSObject]
    }

    /// What to do with a response.
    enum Decision {
        /// Held until every kind has answered once.
        case wait
        /// Apply this candidate config; then call ``applied(_:accepted:reason:)`` with the batch.
        case apply([Received])
        /// The response is bad on its own: send this NACK.
        case nack(Envoy_Service_Discovery_V3_DiscoveryRequest)
        /// A response for a kind not subscribed (ignored).
        case ignore
    }

    let kinds: [XDSKind]
    let node: XDSNodeIdentity
    private(set) var accepted: [String: [XDSObject]] = [:]
    private(set) var acceptedVersions: [String: String] = [:]
    private var held: [String: Received] = [:]
    /// Whether every kind has been applied at least once (readiness).
    private(set) var synced = false

    init(kinds: [XDSKind], node: XDSNodeIdentity) {
        self.kinds = kinds
        self.node = node
    }

    /// Kinds that have not answered yet during the first sync.
    var waitingFor: [String] {
        self.synced ? [] : self.kinds.map(\.typeURL).filter { self.held[$0] == nil }
    }

    /// The subscriptions that open a stream: one wildcard request per kind, the node on the first only, the
    /// last accepted version as a hint on reconnects.
    mutating func streamStarted() -> [Envoy_Service_Discovery_V3_DiscoveryRequest] {
        self.held = [:]
        return self.kinds.enumerated().map { index, kind in
            var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
            request.typeURL = kind.typeURL
            request.versionInfo = self.acceptedVersions[kind.typeURL] ?? ""
            if index == 0 { request.node = Self.node(self.node) }
            return request
        }
    }

    mutating func receive(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse) -> Decision {
        guard let kind = self.kinds.first(where: { $0.typeURL == response.typeURL }) else { return .ignore }
        let objects: [XDSObject]
        do {
            objects = try XDSResourceDecoder.decode(response.resources, kind: kind)
        } catch {
            return .nack(self.reply(kind: kind, nonce: response.nonce, error: "\(error)"))
        }
        let received = Received(kind: kind, version: response.versionInfo, nonce: response.nonce, objects: objects)
        guard self.synced else {
            self.held[kind.typeURL] = received
            guard self.held.count == self.kinds.count else { return .wait }
            let batch = self.kinds.compactMap { self.held[$0.typeURL] }
            return .apply(batch)
        }
        return .apply([received])
    }

    /// The candidate config: the accepted objects of every kind with the batch's kinds replaced.
    func candidate(_ batch: [Received]) -> String {
        var objects = self.accepted
        for received in batch { objects[received.kind.typeURL] = received.objects }
        return self.kinds.flatMap { objects[$0.typeURL] ?? [] }.map(\.json).joined(separator: "\n---\n")
    }

    /// Records the outcome of applying a batch and returns the ACKs (accepted) or NACKs (rejected).
    mutating func applied(_ batch: [Received], accepted: Bool, reason: String) -> [Envoy_Service_Discovery_V3_DiscoveryRequest] {
        if accepted {
            for received in batch {
                self.accepted[received.kind.typeURL] = received.objects
                self.acceptedVersions[received.kind.typeURL] = received.version
            }
            if !self.synced { self.synced = true }
        }
        // A rejected first sync keeps what it holds: the next response of any kind retries the whole batch.
        return batch.map { self.reply(kind: $0.kind, nonce: $0.nonce, error: accepted ? nil : reason, version: $0.version) }
    }

    /// An ACK (no error: the response's version) or a NACK (the previous accepted version and the reason).
    private func reply(
        kind: XDSKind, nonce: String, error: String?, version: String? = nil
    ) -> Envoy_Service_Discovery_V3_DiscoveryRequest {
        var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
        request.typeURL = kind.typeURL
        request.responseNonce = nonce
        if let error {
            request.versionInfo = self.acceptedVersions[kind.typeURL] ?? ""
            var status = Google_Rpc_Status()
            status.code = 3  // INVALID_ARGUMENT, as Envoy reports rejected config
            status.message = error
            request.errorDetail = status
        } else {
            request.versionInfo = version ?? ""
        }
        return request
    }

    static func node(_ identity: XDSNodeIdentity) -> Envoy_Config_Core_V3_Node {
        var node = Envoy_Config_Core_V3_Node()
        node.id = identity.id
        node.cluster = identity.cluster
        node.userAgentName = "portcullis"
        node.userAgentVersion = "0.1"
        var fields: [String: Google_Protobuf_Value] = [:]
        for (key, value) in identity.metadata { fields[key] = Google_Protobuf_Value(stringValue: value) }
        if !identity.labels.isEmpty {
            var labels = Google_Protobuf_Struct()
            for (key, value) in identity.labels { labels.fields[key] = Google_Protobuf_Value(stringValue: value) }
            fields["LABELS"] = Google_Protobuf_Value(structValue: labels)
        }
        node.metadata = Google_Protobuf_Struct(fields: fields)
        return node
    }
}
