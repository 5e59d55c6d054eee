import Foundation
import PortcullisModel
import PortcullisProxy
import PortcullisRouting
import PortcullisUpstream

/// `/config_dump`: the active resources and what they compiled to, as JSON, with the snapshot version.
enum ConfigDump {
    static func json(snapshot: GatewaySnapshot?, loadedAt: String?, rejected: [ConfigDiagnostic]) -> String {
        var root: [String: Any] = [:]
        root["version"] = snapshot?.version ?? NSNull()
        root["loaded_at"] = loadedAt ?? NSNull()
        root["last_rejected"] = rejected.map { $0.description }
        if let snapshot {
            let config = snapshot.config
            func meta(_ m: ObjectMeta) -> [String: Any] {
                ["name": m.name, "namespace": m.namespace, "source": m.position.description]
            }
            let resources: [String: Any] = [
                "gateways": config.gateways.map { g -> [String: Any] in
                    var d = meta(g.meta)
                    d["selector"] = g.selector
                    d["servers"] = g.servers.map { s -> [String: Any] in
                        ["port": s.port.number, "name": s.port.name, "protocol": s.port.protocol.rawValue,
                         "hosts": s.hosts, "bind": s.bind ?? ""]
                    }
                    return d
                },
                "virtual_services": config.virtualServices.map { v -> [String: Any] in
                    var d = meta(v.meta)
                    d["hosts"] = v.hosts
                    d["gateways"] = v.gateways
                    d["http_routes"] = v.http.count
                    return d
                },
                "destination_rules": config.destinationRules.map { r -> [String: Any] in
                    var d = meta(r.meta)
                    d["host"] = r.host
                    d["subsets"] = r.subsets.map(\.name)
                    return d
                },
                "service_entries": config.serviceEntries.map { e -> [String: Any] in
                    var d = meta(e.meta)
                    d["hosts"] = e.hosts
                    d["resolution"] = e.resolution.rawValue
                    d["endpoints"] = e.endpoints.count
                    return d
                },
                "secrets": config.secrets.map { meta($0.meta) },
                "services": config.services.map { service -> [String: Any] in
                    var d = meta(service.meta)
                    d["ports"] = service.ports.map { "\($0.name)/\($0.number)" }
                    d["ready_endpoints"] = snapshot.endpoints[service: service.key].map(\.address)
                    return d
                },
            ]
            root["resources"] = resources.merging(Self.meshAndSecurity(config)) { first, _ in first }
            root["listeners"] = snapshot.routing.listeners.map { listener -> [String: Any] in
                var d: [String: Any] = ["bind": listener.bind, "port": listener.port, "kind": "\(listener.kind)"]
                d["servers"] = listener.servers.map { "\($0.gateway)#\($0.index) \($0.portName)" }
                if let table = listener.httpRoutes {
                    d["route_config"] = table.name
                    d["virtual_hosts"] = table.virtualHosts.map { vhost -> [String: Any] in
                        [
                            "name": vhost.name, "domains": vhost.domains, "require_tls": vhost.requireTLS,
                            "routes": vhost.routes.map { route -> [String: Any] in
                                ["name": route.name, "virtual_service": route.virtualService, "index": route.index,
                                 "action": Self.describe(route.action)]
                            },
                        ]
                    }
                }
                return d
            }
            root["clusters"] = snapshot.clusters.clusters.values.sorted { $0.name < $1.name }.map { c -> [String: Any] in
                [
                    "name": c.name, "service_entry": c.serviceEntry, "resolution": c.resolution.rawValue,
                    "lb_policy": "\(c.loadBalancer)", "endpoints": c.endpoints.map(\.description),
                ]
            }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The mesh config and the AuthorizationPolicies (carried, not enforced: issue 6 reads them, the authorization
    /// issue will evaluate them).
    static func meshAndSecurity(_ config: ConfigSet) -> [String: Any] {
        func meta(_ m: ObjectMeta) -> [String: Any] {
            ["name": m.name, "namespace": m.namespace, "source": m.position.description]
        }
        let policies: [[String: Any]] = config.authorizationPolicies.map { p in
            var d = meta(p.meta)
            d["action"] = p.action.rawValue
            d["selector"] = p.selector ?? NSNull()
            d["provider"] = p.provider ?? NSNull()
            d["rules"] = p.rules.map(\.foundationValue)
            if !p.targetRefs.isEmpty { d["target_refs"] = p.targetRefs.map(\.foundationValue) }
            return d
        }
        var mesh: Any = NSNull()
        if let settings = config.mesh {
            var d = meta(settings.meta)
            d["outbound_traffic_policy"] = settings.outboundTrafficPolicy.rawValue
            mesh = d
        }
        return ["authorization_policies": policies, "mesh": mesh]
    }

    static func describe(_ action: RouteAction) -> String {
        switch action {
        case .forward(let forward):
            return "forward " + forward.destinations.map { "\($0.cluster) (weight \($0.weight))" }.joined(separator: ", ")
        case .redirect(let redirect):
            return "redirect \(redirect.code)"
        case .directResponse(let status, let body):
            return "direct response \(status) (\(body?.count ?? 0) bytes)"
        }
    }
}
