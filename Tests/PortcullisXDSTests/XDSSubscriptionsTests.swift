import Foundation
import PortcullisXDSProto
import SwiftProtobuf
import Testing

@testable import PortcullisXDS

/// The ADS bookkeeping without a network: first-sync batching, ACK/NACK contents, state of the world.
struct XDSSubscriptionsTests {
    static let kinds = XDSKind.gatewayKinds(.v1)
    static let node = XDSNodeIdentity.fromEnvironment(
        namespace: "istio-system", clusterID: "Kubernetes", labels: ["istio": "ingressgateway"],
        environment: ["POD_NAME": "gw-1", "INSTANCE_IP": "10.0.0.7"])

    static func resource(_ kind: XDSKind, _ name: String, version: String = "1", spec: String) throws -> Google_Protobuf_Any {
        var resource = Istio_Mcp_V1alpha1_Resource()
        resource.metadata.name = name
        resource.metadata.version = version
        resource.metadata.labels = ["team": "shop"]
        switch kind.body {
        case .virtualService:
            resource.body = try Google_Protobuf_Any(message: try Istio_Networking_V1alpha3_VirtualService(jsonString: spec))
        case .gateway:
            resource.body = try Google_Protobuf_Any(message: try Istio_Networking_V1alpha3_Gateway(jsonString: spec))
        default:
            Issue.record("unexpected kind \(kind)")
        }
        return try Google_Protobuf_Any(message: resource)
    }

    static func response(
        _ kind: XDSKind, version: String, nonce: String, _ resources: [Google_Protobuf_Any] = []
    ) -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.typeURL = kind.typeURL
        response.versionInfo = version
        response.nonce = nonce
        response.resources = resources
        return response
    }

    @Test func streamStartSubscribesToEveryKindWithTheNodeOnTheFirstRequestOnly() {
        var state = XDSSubscriptions(kinds: Self.kinds, node: Self.node)
        let requests = state.streamStarted()
        #expect(requests.map(\.typeURL) == Self.kinds.map(\.typeURL))
        #expect(requests[0].hasNode)
        #expect(requests[0].node.id == "router~10.0.0.7~gw-1.istio-system~istio-system.svc.cluster.local")
        #expect(requests[0].node.metadata.fields["GENERATOR"]?.stringValue == "api")
        #expect(requests[0].node.metadata.fields["LABELS"]?.structValue.fields["istio"]?.stringValue == "ingressgateway")
        #expect(requests.dropFirst().allSatisfy { !$0.hasNode && $0.responseNonce.isEmpty })
    }

    @Test func theFirstSyncWaitsForEveryKindThenAppliesThemTogether() throws {
        var state = XDSSubscriptions(kinds: Self.kinds, node: Self.node)
        _ = state.streamStarted()
        let vs = Self.kinds[1]
        let resource = try Self.resource(vs, "shop/reviews", spec: #"{"hosts": ["reviews"], "gateways": ["gw"]}"#)
        for (index, kind) in Self.kinds.enumerated().dropLast() {
            let decision = state.receive(Self.response(kind, version: "v\(index)", nonce: "n\(index)",
                                                       kind == vs ? [resource] : []))
            guard case .wait = decision else { Issue.record("\(kind): \(decision)"); return }
            #expect(!state.synced)
        }
        #expect(state.waitingFor == ["core/v1alpha1/MeshConfig"])
        guard case .apply(let batch) = state.receive(Self.response(Self.kinds.last!, version: "m", nonce: "nm")) else {
            Issue.record("expected apply"); return
        }
        #expect(batch.count == Self.kinds.count)
        let text = state.candidate(batch)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["apiVersion"] as? String == "networking.istio.io/v1")
        #expect(object["kind"] as? String == "VirtualService")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["namespace"] as? String == "shop")
        #expect(metadata["name"] as? String == "reviews")
        #expect((metadata["labels"] as? [String: String]) == ["team": "shop"])
        #expect((object["spec"] as? [String: Any])?["hosts"] as? [String] == ["reviews"])

        let acks = state.applied(batch, accepted: true, reason: "")
        #expect(state.synced)
        #expect(acks.map(\.responseNonce) == ["n0", "n1", "n2", "n3", "n4", "nm"])
        #expect(acks.map(\.versionInfo) == ["v0", "v1", "v2", "v3", "v4", "m"])
        #expect(acks.allSatisfy { !$0.hasErrorDetail })
    }

    /// Synced state: one kind at a time; a rejected push is NACKed with the last accepted version and dropped.
    @Test func aRejectedPushIsNackedWithThePreviousVersionAndNotKept() throws {
        var state = try Self.synced()
        let vs = Self.kinds[1]
        let bad = try Self.resource(vs, "shop/bad", spec: #"{"hosts": ["bad"]}"#)
        guard case .apply(let batch) = state.receive(Self.response(vs, version: "v2", nonce: "x1", [bad])) else {
            Issue.record("expected apply"); return
        }
        #expect(state.candidate(batch).contains("\"bad\""))
        let nacks = state.applied(batch, accepted: false, reason: "VirtualService shop/bad: invalid")
        #expect(nacks.count == 1)
        #expect(nacks[0].versionInfo == "v1")
        #expect(nacks[0].responseNonce == "x1")
        #expect(nacks[0].errorDetail.code == 3)
        #expect(nacks[0].errorDetail.message == "VirtualService shop/bad: invalid")
        #expect(state.acceptedVersions[vs.typeURL] == "v1")
        // The next candidate is built from what was accepted, not from the rejected push.
        guard case .apply(let next) = state.receive(Self.response(Self.kinds[0], version: "g2", nonce: "x2")) else {
            Issue.record("expected apply"); return
        }
        #expect(!state.candidate(next).contains("\"bad\""))
        #expect(state.candidate(next).contains("reviews"))
    }

    @Test func undecodableResourcesAreNackedWithoutApplying() throws {
        var state = try Self.synced()
        var garbage = Google_Protobuf_Any()
        garbage.typeURL = XDSResourceDecoder.envelopeType
        garbage.value = Data([0x0A, 0xFF, 0xFF])
        guard case .nack(let nack) = state.receive(Self.response(Self.kinds[2], version: "d9", nonce: "z", [garbage]))
        else { Issue.record("expected a NACK"); return }
        #expect(nack.responseNonce == "z")
        #expect(nack.versionInfo == "0", "the last accepted DestinationRule version")
        #expect(nack.errorDetail.message.contains("networking.istio.io/v1/DestinationRule resource 0"))
        #expect(state.acceptedVersions["networking.istio.io/v1/DestinationRule"] == "0")
    }

    @Test func aBodyOfTheWrongTypeIsRefused() throws {
        let gateway = Self.kinds[0]
        let resource = try Self.resource(Self.kinds[1], "shop/reviews", spec: #"{"hosts": ["reviews"]}"#)
        #expect(throws: (any Error).self) { try XDSResourceDecoder.decode([resource], kind: gateway) }
    }

    @Test func registryOnlyIsWrittenOutEvenThoughItIsTheProtoDefault() throws {
        var mesh = Istio_Mesh_V1alpha1_MeshConfig()
        mesh.outboundTrafficPolicy.mode = .registryOnly
        let object = try XDSResourceDecoder.decode(try Google_Protobuf_Any(message: mesh), kind: Self.kinds[5])
        #expect(object.json.contains(#"REGISTRY_ONLY"#))
        #expect(object.json.contains(#""kind":"ConfigMap""#))
        let absent = try XDSResourceDecoder.decode(
            try Google_Protobuf_Any(message: Istio_Mesh_V1alpha1_MeshConfig()), kind: Self.kinds[5])
        #expect(!absent.json.contains("REGISTRY_ONLY"))
    }

    @Test func unknownTypesAreIgnored() {
        var state = XDSSubscriptions(kinds: Self.kinds, node: Self.node)
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.typeURL = "networking.istio.io/v1/Sidecar"
        guard case .ignore = state.receive(response) else { Issue.record("expected ignore"); return }
    }

    @Test func targets() {
        #expect(XDSSourceOptions.parseTarget("istiod.istio-system.svc:15012") == .host("istiod.istio-system.svc", port: 15012))
        #expect(XDSSourceOptions.parseTarget("[::1]:15010") == .host("::1", port: 15010))
        #expect(XDSSourceOptions.parseTarget("unix:///etc/istio/proxy/XDS") == .unixDomainSocket("/etc/istio/proxy/XDS"))
        #expect(XDSSourceOptions.parseTarget("istiod") == nil)
        #expect(XDSSourceOptions.parseTarget("istiod:0") == nil)
    }

    /// A state that went through a first sync with one VirtualService (`shop/reviews`, version v1).
    static func synced() throws -> XDSSubscriptions {
        var state = XDSSubscriptions(kinds: Self.kinds, node: Self.node)
        _ = state.streamStarted()
        let vs = Self.kinds[1]
        let resource = try Self.resource(vs, "shop/reviews", spec: #"{"hosts": ["reviews"]}"#)
        var batch: [XDSSubscriptions.Received] = []
        for kind in Self.kinds {
            if case .apply(let all) = state.receive(
                Self.response(kind, version: kind == vs ? "v1" : "0", nonce: "s-\(kind.kind)", kind == vs ? [resource] : []))
            {
                batch = all
            }
        }
        _ = state.applied(batch, accepted: true, reason: "")
        return state
    }
}

extension XDSSubscriptionsTests {
    /// A newer istiod can send fields our definitions lack: they cannot reach the loader, so they are flagged.
    @Test func fieldsUnknownToOurDefinitionsAreFlagged() throws {
        let vs = Self.kinds[1]
        let known = try Self.resource(vs, "shop/reviews", spec: #"{"hosts": ["reviews"]}"#)
        #expect(try XDSResourceDecoder.decode(known, kind: vs).droppedUnknownFields == false)

        var resource = try Istio_Mcp_V1alpha1_Resource(serializedBytes: known.value)
        // Field 999, varint 1: not in VirtualService.
        resource.body.value.append(contentsOf: [0xB8, 0x3E, 0x01])
        let object = try XDSResourceDecoder.decode(try Google_Protobuf_Any(message: resource), kind: vs)
        #expect(object.droppedUnknownFields)
        #expect(object.json.contains("reviews"))
    }
}
