import Foundation
import PortcullisXDSProto
import SwiftProtobuf

/// Turns the resources of a `DiscoveryResponse` into the Kubernetes-style objects the config loader reads:
/// the MCP envelope (`istio.mcp.v1alpha1.Resource`) gives name, namespace, labels, annotations and version; the
/// body (`istio.networking.v1alpha3.*`, `istio.security.v1beta1.AuthorizationPolicy`) becomes `spec` through
/// proto3 JSON, whose lowerCamelCase names are exactly the YAML field names users write.
enum XDSResourceDecoder {
    static let envelopeType = "type.googleapis.com/istio.mcp.v1alpha1.Resource"

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func decode(_ resources: [Google_Protobuf_Any], kind: XDSKind) throws -> [XDSObject] {
        try resources.enumerated().map { index, any in
            do {
                return try Self.decode(any, kind: kind)
            } catch let failure as Failure {
                throw Failure(description: "\(kind.typeURL) resource \(index): \(failure.description)")
            } catch {
                throw Failure(description: "\(kind.typeURL) resource \(index): \(error)")
            }
        }
    }

    static func decode(_ any: Google_Protobuf_Any, kind: XDSKind) throws -> XDSObject {
        if kind.body == .meshConfig { return try Self.meshConfig(any) }
        guard any.typeURL == Self.envelopeType else {
            throw Failure(description: "expected \(Self.envelopeType), got \(any.typeURL)")
        }
        let resource = try Istio_Mcp_V1alpha1_Resource(serializedBytes: any.value)
        let parts = resource.metadata.name.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw Failure(description: "metadata.name \"\(resource.metadata.name)\" is not NAMESPACE/NAME")
        }
        var unknownFields = false
        let spec = try Self.specJSON(resource.body, kind: kind, name: resource.metadata.name, unknownFields: &unknownFields)
        var metadata: [String: Any] = ["namespace": parts[0], "name": parts[1]]
        if !resource.metadata.labels.isEmpty { metadata["labels"] = resource.metadata.labels }
        if !resource.metadata.annotations.isEmpty { metadata["annotations"] = resource.metadata.annotations }
        if !resource.metadata.version.isEmpty { metadata["resourceVersion"] = resource.metadata.version }
        let json = "{\"apiVersion\":\(Self.quote(kind.apiVersion)),\"kind\":\(Self.quote(kind.kind)),"
            + "\"metadata\":\(try Self.serialize(metadata)),\"spec\":\(spec)}"
        return XDSObject(
            name: resource.metadata.name, version: resource.metadata.version, json: json, droppedUnknownFields: unknownFields)
    }

    /// The body as proto3 JSON, after checking it is the message the kind expects.
    private static func specJSON(
        _ body: Google_Protobuf_Any, kind: XDSKind, name: String, unknownFields: inout Bool
    ) throws -> String {
        var options = JSONEncodingOptions()
        options.alwaysPrintInt64sAsNumbers = true  // YAML writes minimumRingSize and the like as numbers
        func unpack<M: SwiftProtobuf.Message>(_ type: M.Type) throws -> String {
            let expected = "type.googleapis.com/\(M.protoMessageName)"
            guard body.typeURL == expected else {
                throw Failure(description: "\(name): body is \(body.typeURL), expected \(expected)")
            }
            let message = try M(serializedBytes: body.value)
            let json = try message.jsonString(options: options)
            // proto3 JSON drops fields our .proto definitions do not know (a newer istiod's additions): if the
            // JSON no longer carries everything the bytes did, say so rather than lose config silently.
            let original: [UInt8] = try message.serializedBytes()
            let reencoded: [UInt8] = try M(jsonString: json).serializedBytes()
            if reencoded.count != original.count { unknownFields = true }
            return json
        }
        switch kind.body {
        case .gateway: return try unpack(Istio_Networking_V1alpha3_Gateway.self)
        case .virtualService: return try unpack(Istio_Networking_V1alpha3_VirtualService.self)
        case .destinationRule: return try unpack(Istio_Networking_V1alpha3_DestinationRule.self)
        case .serviceEntry: return try unpack(Istio_Networking_V1alpha3_ServiceEntry.self)
        case .authorizationPolicy: return try unpack(Istio_Security_V1beta1_AuthorizationPolicy.self)
        case .meshConfig: return try unpack(Istio_Mesh_V1alpha1_MeshConfig.self)
        }
    }

    /// istiod's mesh config as `ConfigMap/istio` with the config under `data.mesh`, the way Istio stores it.
    /// proto3 JSON leaves out zero enum values, and REGISTRY_ONLY is the zero of `outboundTrafficPolicy.mode`, so
    /// the mode is written explicitly whenever the policy is present (absent, Istio's default ALLOW_ANY applies).
    private static func meshConfig(_ any: Google_Protobuf_Any) throws -> XDSObject {
        let expected = "type.googleapis.com/\(Istio_Mesh_V1alpha1_MeshConfig.protoMessageName)"
        guard any.typeURL == expected else { throw Failure(description: "expected \(expected), got \(any.typeURL)") }
        let mesh = try Istio_Mesh_V1alpha1_MeshConfig(serializedBytes: any.value)
        var fields = (try JSONSerialization.jsonObject(with: Data(try mesh.jsonString().utf8))) as? [String: Any] ?? [:]
        if mesh.hasOutboundTrafficPolicy {
            let mode: String
            switch mesh.outboundTrafficPolicy.mode {
            case .registryOnly: mode = "REGISTRY_ONLY"
            case .allowAny: mode = "ALLOW_ANY"
            case .UNRECOGNIZED(let value): mode = "\(value)"
            }
            fields["outboundTrafficPolicy"] = ["mode": mode]
        }
        let namespace = mesh.rootNamespace.isEmpty ? "istio-system" : mesh.rootNamespace
        let object: [String: Any] = [
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "istio", "namespace": namespace],
            "data": ["mesh": try Self.serialize(fields)],
        ]
        return XDSObject(name: "\(namespace)/istio", version: "", json: try Self.serialize(object))
    }

    private static func serialize(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    private static func quote(_ text: String) -> String {
        (try? Self.serialize([text])).map { String($0.dropFirst().dropLast()) } ?? "\"\""
    }
}
