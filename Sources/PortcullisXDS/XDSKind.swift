/// One Istio resource kind subscribed over ADS from istiod's `api` generator ("MCP over xDS").
public struct XDSKind: Sendable, Hashable, CustomStringConvertible {
    /// The protobuf message a resource's body carries.
    public enum Body: Sendable, Hashable {
        case gateway, virtualService, destinationRule, serviceEntry, authorizationPolicy
        /// `core/v1alpha1/MeshConfig`: the resource is the MeshConfig itself, without an MCP envelope.
        case meshConfig
    }

    /// The type URL asked for: `group/version/Kind`, no `type.googleapis.com/` prefix.
    public let typeURL: String
    /// The `apiVersion` the objects get when handed to the config loader.
    public let apiVersion: String
    public let kind: String
    public let body: Body

    public var description: String { self.typeURL }

    /// Which API versions istiod serves its kinds under: `v1` from Istio 1.24 (asking for another version
    /// silently returns nothing), `v1alpha3`/`v1beta1` before.
    public enum APIVersions: String, Sendable, CaseIterable {
        case v1
        case legacy
    }

    /// The kinds a gateway reads, in the order the loader sees them.
    public static func gatewayKinds(_ versions: APIVersions) -> [XDSKind] {
        let networking = versions == .v1 ? "networking.istio.io/v1" : "networking.istio.io/v1alpha3"
        let security = versions == .v1 ? "security.istio.io/v1" : "security.istio.io/v1beta1"
        func kind(_ group: String, _ name: String, _ body: Body) -> XDSKind {
            XDSKind(typeURL: "\(group)/\(name)", apiVersion: group, kind: name, body: body)
        }
        return [
            kind(networking, "Gateway", .gateway),
            kind(networking, "VirtualService", .virtualService),
            kind(networking, "DestinationRule", .destinationRule),
            kind(networking, "ServiceEntry", .serviceEntry),
            kind(security, "AuthorizationPolicy", .authorizationPolicy),
            XDSKind(typeURL: "core/v1alpha1/MeshConfig", apiVersion: "v1", kind: "ConfigMap", body: .meshConfig),
        ]
    }
}

/// One decoded resource, rendered as the Kubernetes-style object the config loader reads (JSON is YAML).
public struct XDSObject: Sendable, Hashable {
    /// `NAMESPACE/NAME` as istiod names it.
    public var name: String
    /// The resource's version (the Kubernetes resourceVersion at istiod).
    public var version: String
    /// One JSON object: apiVersion, kind, metadata, spec.
    public var json: String
    /// The spec carried fields our `.proto` definitions do not know; they are not in `json`.
    public var droppedUnknownFields: Bool

    public init(name: String, version: String, json: String, droppedUnknownFields: Bool = false) {
        self.name = name
        self.version = version
        self.json = json
        self.droppedUnknownFields = droppedUnknownFields
    }
}
