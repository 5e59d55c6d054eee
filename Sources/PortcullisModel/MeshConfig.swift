import Yams

/// The parts of Istio's MeshConfig a gateway uses, read the way Istio reads it: the `mesh` key of the `istio`
/// ConfigMap (ISTIO-SEMANTICS §4.2).
public struct MeshSettings: Sendable, Hashable {
    public enum OutboundTrafficPolicy: String, Sendable, Hashable {
        case allowAny = "ALLOW_ANY"
        case registryOnly = "REGISTRY_ONLY"
    }

    /// `outboundTrafficPolicy.mode`; Istio's default is ALLOW_ANY.
    public var outboundTrafficPolicy: OutboundTrafficPolicy
    public var meta: ObjectMeta

    public init(outboundTrafficPolicy: OutboundTrafficPolicy = .allowAny, meta: ObjectMeta) {
        self.outboundTrafficPolicy = outboundTrafficPolicy
        self.meta = meta
    }
}

extension ConfigLoader {
    /// Decodes `ConfigMap/istio`'s `data.mesh` (a YAML document in a string). Other ConfigMaps are skipped.
    static func decodeMeshConfigMap(
        _ top: Fields, _ ctx: DecodeContext, _ state: inout LoadState, _ meta: () -> ObjectMeta
    ) {
        let object = meta()
        guard object.name == "istio" else {
            ctx.warning("", "ConfigMap \(object.name) is not the mesh config (ConfigMap/istio); skipped")
            return
        }
        guard let text = top.stringMap("data")["mesh"] else {
            ctx.warning("data", "ConfigMap/istio has no `mesh` key; mesh defaults apply")
            return
        }
        var settings = MeshSettings(meta: object)
        do {
            let parsed = try Yams.load(yaml: text) as? [String: Any] ?? [:]
            if let policy = parsed["outboundTrafficPolicy"] as? [String: Any], let mode = policy["mode"] as? String {
                guard let value = MeshSettings.OutboundTrafficPolicy(rawValue: mode) else {
                    ctx.error("data.mesh", "outboundTrafficPolicy.mode \"\(mode)\" must be ALLOW_ANY or REGISTRY_ONLY")
                    return
                }
                settings.outboundTrafficPolicy = value
            }
        } catch {
            ctx.error("data.mesh", "mesh config is not valid YAML: \(error)")
            return
        }
        if settings.outboundTrafficPolicy == .allowAny {
            ctx.warning(
                "data.mesh", "outboundTrafficPolicy ALLOW_ANY does not apply at a gateway: undeclared hosts get 404")
        }
        if ctx.errorCount == 0 { state.config.mesh = settings }
    }
}
