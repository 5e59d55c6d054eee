import Foundation
import Yams

/// The Kubernetes envelope: `apiVersion`, `kind`, `metadata`, `spec` (ISTIO-SEMANTICS §6).
extension ConfigLoader {
    /// Istio networking kinds we decode, by `kind`; all share the same schema across these versions (§6).
    static let networkingVersions: Set<String> = [
        "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
    ]
    static let metadataKnown: Set<String> = [
        "uid", "resourceVersion", "generation", "managedFields", "ownerReferences", "finalizers", "generateName",
        "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
    ]

    func loadDocument(_ node: Node, file: String, into state: inout LoadState, depth: Int = 0) {
        if node.isNull { return }  // empty or comment-only document
        let ctx = DecodeContext(file: file, kind: "", namespace: "", name: "", objectLine: node.line)
        guard let top = Fields(node, path: "", ctx: ctx) else {
            state.diagnostics += ctx.diagnostics
            return
        }
        let apiVersion = top.take("apiVersion").flatMap { ctx.string($0, "apiVersion") } ?? ""
        let kind = top.take("kind").flatMap { ctx.string($0, "kind") } ?? ""
        if kind.hasSuffix("List"), let items = top.take("items"), depth < 2 {
            // `kubectl get -o yaml` output: a List whose items are ordinary objects.
            for item in ctx.list(items, "items") {
                self.loadDocument(item.node, file: file, into: &state, depth: depth + 1)
            }
            state.diagnostics += ctx.diagnostics
            return
        }
        ctx.kind = kind
        ctx.namespace = self.defaultNamespace
        let metadata = top.take("metadata").flatMap { Fields($0, path: "metadata", ctx: ctx) }
        if let metadata {
            if let name = metadata.require("name").flatMap({ ctx.string($0, "metadata.name") }) { ctx.name = name }
            if let ns = metadata.string("namespace"), !ns.isEmpty { ctx.namespace = ns }
        } else if ctx.errorCount == 0 {
            ctx.error("metadata.name", "missing required field \"metadata\"")
        }
        guard let decoder = self.decoder(apiVersion: apiVersion, kind: kind) else {
            let what = kind.isEmpty ? "document without a kind" : "\(apiVersion) \(kind)"
            ctx.warning("", "\(what) is not supported; skipped")
            state.diagnostics += ctx.diagnostics.filter { $0.severity == .warning }
            return
        }
        let creationTimestamp = metadata?.string("creationTimestamp")
        let labels = metadata?.stringMap("labels") ?? [:]
        let annotations = metadata?.stringMap("annotations") ?? [:]
        metadata?.finish(known: Self.metadataKnown)
        if !ctx.name.isEmpty, !NameSyntax.isDNS1123Subdomain(ctx.name) {
            ctx.error("metadata.name", "\"\(ctx.name)\" is not a valid DNS-1123 subdomain name")
        }
        if !NameSyntax.isDNS1123Label(ctx.namespace) {
            ctx.error("metadata.namespace", "\"\(ctx.namespace)\" is not a valid DNS-1123 label")
        }
        decoder(top, ctx, &state) { ctx.meta(creationTimestamp: creationTimestamp, labels: labels,
                                             annotations: annotations) }
        top.finish(known: ["status", "immutable"])
        state.diagnostics += ctx.diagnostics
    }

    typealias ObjectDecoder = (Fields, DecodeContext, inout LoadState, () -> ObjectMeta) -> Void

    /// The decoder for a kind, or nil for kinds we skip with a warning.
    private func decoder(apiVersion: String, kind: String) -> ObjectDecoder? {
        if apiVersion == "v1", kind == "Secret" {
            return { top, ctx, state, meta in
                let secret = Self.decodeSecret(top, ctx)
                if ctx.errorCount == 0 { state.config.secrets.append(Secret(meta: meta(), type: secret.0,
                                                                            data: secret.1)) }
            }
        }
        if apiVersion == ForwardProxy.apiVersion, kind == "ForwardProxy" { return Self.decodeForwardProxy }
        if apiVersion == "v1", kind == "ConfigMap" { return Self.decodeMeshConfigMap }
        if Self.securityVersions.contains(apiVersion), kind == "AuthorizationPolicy" {
            return Self.decodeAuthorizationPolicy
        }
        guard Self.networkingVersions.contains(apiVersion) else { return nil }
        switch kind {
        case "Gateway":
            return { top, ctx, state, meta in
                let spec = Self.spec(top, ctx)
                let value = GatewayDecoder(ctx: ctx).decode(spec)
                if ctx.errorCount == 0 { state.config.gateways.append(Gateway(meta: meta(), selector: value.0,
                                                                              servers: value.1)) }
            }
        case "VirtualService":
            return { top, ctx, state, meta in
                var value = VirtualServiceDecoder(ctx: ctx).decode(Self.spec(top, ctx))
                if ctx.errorCount == 0 {
                    value.meta = meta()
                    state.config.virtualServices.append(value)
                }
            }
        case "DestinationRule":
            return { top, ctx, state, meta in
                var value = DestinationRuleDecoder(ctx: ctx).decode(Self.spec(top, ctx))
                if ctx.errorCount == 0 {
                    value.meta = meta()
                    state.config.destinationRules.append(value)
                }
            }
        case "ServiceEntry":
            return { top, ctx, state, meta in
                var value = ServiceEntryDecoder(ctx: ctx).decode(Self.spec(top, ctx))
                if ctx.errorCount == 0 {
                    value.meta = meta()
                    state.config.serviceEntries.append(value)
                }
            }
        default:
            return nil
        }
    }

    /// `spec`; a missing spec decodes as an empty one so validation names the missing fields.
    private static func spec(_ top: Fields, _ ctx: DecodeContext) -> Fields {
        if let node = top.take("spec"), let fields = Fields(node, path: "spec", ctx: ctx) { return fields }
        return Fields(.mapping(Node.Mapping([])), path: "spec", ctx: ctx)!
    }

    /// Core `v1` Secret: `data` is base64, `stringData` is merged over it (as the API server does).
    private static func decodeSecret(_ top: Fields, _ ctx: DecodeContext) -> (String?, [String: [UInt8]]) {
        let type = top.string("type")
        var data: [String: [UInt8]] = [:]
        for (key, encoded) in top.stringMap("data") {
            let compact = encoded.filter { !$0.isWhitespace }
            guard let bytes = Data(base64Encoded: compact) else {
                ctx.error("data.\(key)", "value is not valid base64")
                continue
            }
            data[key] = Array(bytes)
        }
        for (key, text) in top.stringMap("stringData") { data[key] = Array(text.utf8) }
        return (type, data)
    }
}
