import Foundation

/// The Python test control plane (`Tests/Fixtures/xds_control_plane.py`): serves Istio objects over ADS the way
/// istiod's `api` generator does, encoded by Python protobuf from the project's `.proto` definitions, and records
/// every DiscoveryRequest (subscribe / ack / nack / stale) for the tests to inspect through its HTTP control API.
final class XDSControlPlane: @unchecked Sendable {
    let peer: PythonPeer
    let controlPort: Int
    var xdsPort: Int { self.peer.port }

    static let available = PythonPeer.hasModules(["grpc", "grpc_tools"]) || ProcessInfo.processInfo.environment["CI"] != nil

    init(arguments: [String] = []) async throws {
        self.peer = try await PythonPeer(script: "xds_control_plane.py", arguments: arguments, timeout: .seconds(60))
        let line = self.peer.output.split(separator: "\n").first { $0.hasPrefix("{") } ?? ""
        let fields = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        guard let control = fields?["control_port"] as? Int else { throw TestFailure("no control_port in \(line)") }
        self.controlPort = control
    }

    func stop() { self.peer.stop() }

    /// Replaces every object of `typeURL` and pushes them; returns the new version.
    @discardableResult
    func put(_ typeURL: String, _ objects: [[String: Any]]) throws -> String {
        let body = try JSONSerialization.data(withJSONObject: objects)
        let result = try self.call("PUT", "/resources?type=\(typeURL)", body: body)
        return result["version"] as? String ?? ""
    }

    /// Pushes a response whose resource cannot be decoded.
    func pushGarbage(_ typeURL: String) throws {
        _ = try self.call("POST", "/garbage?type=\(typeURL)")
    }

    /// Ends every open stream with UNAVAILABLE.
    func disconnect() throws {
        _ = try self.call("POST", "/disconnect")
    }

    func requests() throws -> [[String: Any]] {
        let (_, out, _) = try Command.run(
            "/usr/bin/curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(self.controlPort)/requests"])
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    func state() throws -> [String: Any] {
        let (_, out, _) = try Command.run(
            "/usr/bin/curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(self.controlPort)/state"])
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:]
    }

    /// Polls the recorded requests until one matches (bounded).
    func waitForRequest(
        timeout: Duration = .seconds(30), _ predicate: ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = try self.requests().first(where: predicate) { return match }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("no matching xDS request in time; recorded: \(try self.requests())")
    }

    private func call(_ method: String, _ path: String, body: Data? = nil) throws -> [String: Any] {
        var arguments = ["-s", "--max-time", "10", "-X", method, "-w", "\n%{http_code}"]
        if body != nil { arguments += ["-H", "content-type: application/json", "--data-binary", "@-"] }
        let (_, out, _) = try Command.run(
            "/usr/bin/curl", arguments + ["http://127.0.0.1:\(self.controlPort)\(path)"], stdin: body)
        let lines = out.split(separator: "\n")
        guard let status = lines.last, status == "200" else { throw TestFailure("\(method) \(path): \(out)") }
        let text = lines.dropLast().joined(separator: "\n")
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    // MARK: Objects

    static let gatewayType = "networking.istio.io/v1/Gateway"
    static let virtualServiceType = "networking.istio.io/v1/VirtualService"
    static let serviceEntryType = "networking.istio.io/v1/ServiceEntry"
    static let destinationRuleType = "networking.istio.io/v1/DestinationRule"
    static let meshConfigType = "core/v1alpha1/MeshConfig"

    static func object(_ kind: String, _ namespace: String, _ name: String, spec: [String: Any]) -> [String: Any] {
        ["apiVersion": "networking.istio.io/v1", "kind": kind, "metadata": ["name": name, "namespace": namespace],
         "spec": spec]
    }

    static func gateway(port: Int) -> [String: Any] {
        self.object("Gateway", "istio-system", "gw", spec: [
            "selector": ["istio": "ingressgateway"],
            "servers": [["port": ["number": port, "name": "http", "protocol": "HTTP"], "hosts": ["*"]]],
        ])
    }

    static func serviceEntry(_ name: String, host: String, backendPort: Int) -> [String: Any] {
        self.object("ServiceEntry", "default", name, spec: [
            "hosts": [host], "location": "MESH_INTERNAL", "resolution": "STATIC",
            "ports": [["number": 80, "name": "http", "protocol": "HTTP"]],
            "endpoints": [["address": "127.0.0.1", "ports": ["http": backendPort]]],
        ])
    }

    /// A VirtualService bound to `istio-system/gw` sending `prefix` to `host`.
    static func virtualService(_ name: String, hosts: [String], prefix: String = "/", to host: String) -> [String: Any] {
        self.object("VirtualService", "default", name, spec: [
            "hosts": hosts, "gateways": ["istio-system/gw"],
            "http": [["match": [["uri": ["prefix": prefix]]], "route": [["destination": ["host": host]]]]],
        ])
    }
}
