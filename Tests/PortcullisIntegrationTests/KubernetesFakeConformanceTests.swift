import Foundation
import PortcullisModel
import PortcullisTestKubernetes
import Testing

/// The fault-injecting fake API server (`PortcullisTestKubernetes`) that the control-plane unit tests use must
/// speak the real wire format: the same requests against it and against a real kube-apiserver must give documents
/// of the same shape. Checked here for LIST (custom and built-in kinds) and WATCH (MODIFIED and DELETED events, a
/// clean end at `timeoutSeconds`). Every field the fake sends must exist in the real answer with the same JSON
/// type, and the constants (`kind`, `apiVersion`, event `type`) must be equal; the real server may send more
/// (`managedFields`, ...).
@Suite(.serialized, .enabled(if: KubeTestCluster.available))
struct KubernetesFakeConformanceTests {
    /// One server's answers to the scripted requests.
    struct Transcript {
        var customList: KubernetesJSON
        var builtInList: KubernetesJSON
        var serviceList: KubernetesJSON
        var sliceList: KubernetesJSON
        var events: [KubernetesJSON]
    }

    @Test func listsAndWatchEventsHaveTheRealServersShape() async throws {
        let cluster = try await KubernetesIntegrationTests.startCluster()
        defer { cluster.stop() }
        let namespace = try cluster.freshNamespace("conform")
        let fake = try await FakeKubernetesAPIServer.start()

        let real = try await Self.transcript(
            namespace: namespace,
            curl: ["--cacert", cluster.caFile, "-H", "Authorization: Bearer \(cluster.token)"], base: cluster.server,
            create: {
                try cluster.create(
                    "/apis/networking.istio.io/v1/namespaces/\(namespace)/virtualservices",
                    "{apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: probe}, spec: {hosts: [a.example.com]}}")
                try cluster.create(
                    "/api/v1/namespaces/\(namespace)/secrets",
                    "{apiVersion: v1, kind: Secret, metadata: {name: cert}, type: Opaque, data: {key: dmFsdWU=}}")
                try cluster.create(
                    "/api/v1/namespaces/\(namespace)/services",
                    "{apiVersion: v1, kind: Service, metadata: {name: app}, spec: {ports: [{name: http, port: 80}]}}")
                try cluster.create(
                    "/apis/discovery.k8s.io/v1beta1/namespaces/\(namespace)/endpointslices",
                    KubernetesIntegrationTests.slice("app-1", service: "app", port: 8080, pod: nil))
            },
            change: {
                try cluster.patch(
                    "/apis/networking.istio.io/v1/namespaces/\(namespace)/virtualservices/probe",
                    #"{"spec": {"hosts": ["b.example.com"]}}"#)
                try cluster.delete("/apis/networking.istio.io/v1/namespaces/\(namespace)/virtualservices/probe")
            })
        let emulated = try await Self.transcript(
            namespace: namespace, curl: [], base: "http://127.0.0.1:\(fake.port)",
            create: {
                fake.put("virtualservices", namespace: namespace, name: "probe",
                         spec: .object(["hosts": .array([.string("a.example.com")])]))
                fake.put("secrets", namespace: namespace, name: "cert", spec: .null,
                         extra: ["type": .string("Opaque"), "data": .object(["key": .string("dmFsdWU=")])])
                fake.put("services", namespace: namespace, name: "app",
                         spec: .object(["ports": .array([.object(["name": .string("http"), "port": .integer(80)])])]))
                fake.put("endpointslices", namespace: namespace, name: "app-1", spec: .null, extra: [
                    "addressType": .string("IPv4"),
                    "ports": .array([.object(["name": .string("http"), "port": .integer(8080), "protocol": .string("TCP")])]),
                    "endpoints": .array([.object([
                        "addresses": .array([.string("127.0.0.1")]), "conditions": .object(["ready": .bool(true)]),
                    ])]),
                ], labels: ["kubernetes.io/service-name": "app"])
            },
            change: {
                fake.put("virtualservices", namespace: namespace, name: "probe",
                         spec: .object(["hosts": .array([.string("b.example.com")])]))
                fake.delete("virtualservices", namespace: namespace, name: "probe")
            })
        await fake.stop()

        var problems: [String] = []
        Self.compare(emulated.customList, real.customList, path: "VirtualServiceList", into: &problems)
        Self.compare(emulated.builtInList, real.builtInList, path: "SecretList", into: &problems)
        Self.compare(emulated.serviceList, real.serviceList, path: "ServiceList", into: &problems)
        Self.compare(emulated.sliceList, real.sliceList, path: "EndpointSliceList", into: &problems)
        #expect(real.events.map { $0["type"]?.stringValue } == ["MODIFIED", "DELETED"])
        #expect(emulated.events.map { $0["type"]?.stringValue } == ["MODIFIED", "DELETED"])
        for (index, (fakeEvent, realEvent)) in zip(emulated.events, real.events).enumerated() {
            Self.compare(fakeEvent, realEvent, path: "event[\(index)]", into: &problems)
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// Creates the objects, lists both collections, watches the VirtualServices from the list's version while
    /// `change` runs, and returns what came back.
    static func transcript(
        namespace: String, curl: [String], base: String, create: () throws -> Void, change: () throws -> Void
    ) async throws -> Transcript {
        try create()
        let vsPath = "/apis/networking.istio.io/v1/namespaces/\(namespace)/virtualservices"
        let customList = try Self.get(curl, base + vsPath)
        let builtInList = try Self.get(curl, base + "/api/v1/namespaces/\(namespace)/secrets")
        let serviceList = try Self.get(curl, base + "/api/v1/namespaces/\(namespace)/services")
        let sliceList = try Self.get(curl, base + "/apis/discovery.k8s.io/v1beta1/namespaces/\(namespace)/endpointslices")
        let version = customList["metadata"]?["resourceVersion"]?.stringValue ?? ""
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        watch.arguments = ["-s", "-N", "--max-time", "20", "-o", output.path] + curl + [
            base + vsPath + "?watch=1&resourceVersion=\(version)&allowWatchBookmarks=true&timeoutSeconds=3",
        ]
        try watch.run()
        try change()
        // The watch ends by itself at timeoutSeconds, on both servers.
        while watch.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let lines = (try String(contentsOf: output, encoding: .utf8)).split(separator: "\n")
        let events = try lines.map { try KubernetesJSON.parse(String($0)) }.filter { $0["type"]?.stringValue != "BOOKMARK" }
        return Transcript(
            customList: customList, builtInList: builtInList, serviceList: serviceList, sliceList: sliceList,
            events: events)
    }

    static func get(_ curl: [String], _ url: String) throws -> KubernetesJSON {
        let (code, out, err) = try Command.run("/usr/bin/curl", ["-s", "--max-time", "20"] + curl + [url])
        guard code == 0 else { throw TestFailure("GET \(url): curl \(code) \(err)") }
        return try KubernetesJSON.parse(out)
    }

    /// Every member of `fake` must be in `real` with the same JSON type; constants must be equal.
    static func compare(_ fake: KubernetesJSON, _ real: KubernetesJSON, path: String, into problems: inout [String]) {
        switch (fake, real) {
        case (.object(let fakeMembers), .object(let realMembers)):
            for (key, value) in fakeMembers {
                guard let other = realMembers[key] else {
                    problems.append("\(path).\(key): sent by the fake, absent from the real server")
                    continue
                }
                if ["kind", "apiVersion", "type"].contains(key), value != other {
                    problems.append("\(path).\(key): fake \(value), real \(other)")
                }
                Self.compare(value, other, path: "\(path).\(key)", into: &problems)
            }
            for key in ["kind", "apiVersion"] where realMembers[key] != nil && fakeMembers[key] == nil {
                problems.append("\(path).\(key): sent by the real server, missing from the fake")
            }
        case (.array(let fakeItems), .array(let realItems)):
            guard fakeItems.count == realItems.count else {
                problems.append("\(path): \(fakeItems.count) items from the fake, \(realItems.count) from the real server")
                return
            }
            for (index, (a, b)) in zip(fakeItems, realItems).enumerated() {
                Self.compare(a, b, path: "\(path)[\(index)]", into: &problems)
            }
        case (.string, .string), (.bool, .bool), (.null, .null), (.integer, .integer), (.double, .double),
            (.integer, .double), (.double, .integer):
            break
        default:
            problems.append("\(path): fake \(fake), real \(real) (different JSON types)")
        }
    }
}
