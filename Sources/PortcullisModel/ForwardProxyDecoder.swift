import Yams

/// `portcullis.dev/v1alpha1` `ForwardProxy`: an explicit forward-proxy listener (issue 5, "Forward-proxy mode";
/// HARDENING §B7). Clients configured with `HTTP_PROXY`/`HTTPS_PROXY` send absolute-form requests and `CONNECT`
/// tunnels to it; only destinations declared by a ServiceEntry visible to the gateway pass.
///
/// ```yaml
/// apiVersion: portcullis.dev/v1alpha1
/// kind: ForwardProxy
/// metadata: {name: egress, namespace: istio-system}
/// spec:
///   port: 3128                 # required
///   bind: 127.0.0.1            # optional; default: the --listen-address
///   allowedPrivateCIDRs: []    # loopback/link-local/private destinations are refused unless listed here
/// ```
public struct ForwardProxy: Sendable, Hashable {
    /// The `apiVersion` of Portcullis's own kinds.
    public static let apiVersion = "portcullis.dev/v1alpha1"

    public var meta: ObjectMeta
    /// Listening port, 1...65535.
    public var port: Int
    /// Listening address; nil = the gateway's `--listen-address`.
    public var bind: String?
    /// IPs or CIDRs in non-public ranges (loopback, link-local, private, ...) that destinations may resolve to
    /// (HARDENING §B7 rows 1 and 7). Empty = every non-public destination is refused.
    public var allowedPrivateCIDRs: [String]

    public init(meta: ObjectMeta, port: Int, bind: String? = nil, allowedPrivateCIDRs: [String] = []) {
        self.meta = meta
        self.port = port
        self.bind = bind
        self.allowedPrivateCIDRs = allowedPrivateCIDRs
    }
}

/// Decodes and validates a `ForwardProxy` spec: `port` in range, `bind` an IP literal, each allowed range an IP
/// or CIDR (the same syntax rules as ServiceEntry `addresses`, ISTIO-SEMANTICS §4.1).
struct ForwardProxyDecoder {
    let ctx: DecodeContext

    func decode(_ spec: Fields) -> ForwardProxy? {
        let port = spec.require("port").flatMap { self.ctx.int($0, spec.child("port")) }
        if let port, port < 1 || port > 65535 {
            self.ctx.error(spec.child("port"), "port \(port) must be in the range 1..65535")
        }
        let bind = spec.string("bind")
        if let bind, !NameSyntax.isIPAddress(bind) {
            self.ctx.error(spec.child("bind"), "bind \"\(bind)\" must be an IP address")
        }
        let ranges = spec.strings("allowedPrivateCIDRs")
        for (i, range) in ranges.enumerated() where !NameSyntax.isCIDR(range) && !NameSyntax.isIPAddress(range) {
            self.ctx.error(
                "\(spec.child("allowedPrivateCIDRs"))[\(i)]", "\"\(range)\" must be an IP address or CIDR range")
        }
        spec.finish()
        guard let port else { return nil }
        return ForwardProxy(
            meta: ObjectMeta(name: "", namespace: ""), port: port, bind: bind, allowedPrivateCIDRs: ranges)
    }
}

extension ConfigLoader {
    /// The `ObjectDecoder` of `portcullis.dev/v1alpha1` `ForwardProxy` (dispatched from `decoder(apiVersion:kind:)`).
    static func decodeForwardProxy(
        _ top: Fields, _ ctx: DecodeContext, _ state: inout LoadState, _ meta: () -> ObjectMeta
    ) {
        let spec: Fields
        if let node = top.take("spec"), let fields = Fields(node, path: "spec", ctx: ctx) {
            spec = fields
        } else {
            spec = Fields(.mapping(Node.Mapping([])), path: "spec", ctx: ctx)!
        }
        let value = ForwardProxyDecoder(ctx: ctx).decode(spec)
        if ctx.errorCount == 0, var value {
            value.meta = meta()
            state.config.forwardProxies.append(value)
        }
    }
}
