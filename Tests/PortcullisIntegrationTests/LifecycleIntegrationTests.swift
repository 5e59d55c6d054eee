import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Large bodies in bounded memory, hot reload under load, rejected reloads, drain on SIGTERM.
@Suite(.serialized)
struct LifecycleIntegrationTests {
    private static func routes(prefix: String, host: String = "app.default.svc.cluster.local") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: app, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [istio-system/gw]
          http:
          - name: \(prefix)
            route: [{destination: {host: \(host)}}]
        """
    }

    private func start(backend: TestBackend, drainSeconds: Int = 5) async throws -> (GatewayProcess, Int) {
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(
            files: [
                "gw.yaml": Configs.gateway(port: port),
                "se.yaml": Configs.serviceEntry(
                    name: "app", host: "app.default.svc.cluster.local", endpoints: [(backend.port, [:])]),
                "vs.yaml": Self.routes(prefix: "first"),
            ], drainSeconds: drainSeconds)
        try await gateway.waitUntilReady()
        return (gateway, port)
    }

    private func peakRSSMiB(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return -1 }
        let kb = Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return kb / 1024
    }

    @Test func largeBodiesStreamInBoundedMemory() async throws {
        let backend = try await TestBackend.start(name: "big")
        let (gateway, port) = try await self.start(backend: backend)
        defer { _ = gateway.stop() }
        let size = 512 * 1024 * 1024
        // Download: 512 MiB streamed from the backend through the gateway.
        let (code, out, _) = try Command.run(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "http://127.0.0.1:\(port)/bytes/\(size)"])
        #expect(code == 0)
        #expect(out == "200 \(size)")
        // Upload: 512 MiB of zeros from a sparse file, chunked (curl -T - would need stdin; -T FILE streams it).
        let file = gateway.configDirectory.appendingPathComponent("upload.bin").path
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        #expect(truncate(file, off_t(size)) == 0)
        let upload = try Curl.request(["-X", "POST", "-T", file, "-H", "Expect:", "http://127.0.0.1:\(port)/upload"])
        #expect(upload.status == 200)
        #expect(upload.body == "received \(size) bytes\n")
        // 1 GiB passed through; the gateway's peak RSS must stay far below that.
        let peak = self.peakRSSMiB(gateway.process.processIdentifier)
        #expect(peak > 0 && peak < 128, "peak RSS \(peak) MiB")
    }

    @Test func expectContinueAndHead() async throws {
        let backend = try await TestBackend.start(name: "b")
        let (gateway, port) = try await self.start(backend: backend)
        defer { _ = gateway.stop() }
        let body = String(repeating: "y", count: 2000)
        let post = try Curl.request(["-H", "Expect: 100-continue", "--data-binary", body, "http://127.0.0.1:\(port)/p"])
        #expect(post.status == 200)
        #expect(post.body == "received 2000 bytes\n")
        let head = try Curl.request(["-I", "http://127.0.0.1:\(port)/anything"])
        #expect(head.status == 200)
        #expect(head.header("content-length") != nil)
    }

    @Test func reloadUnderLoadFailsNothingAndBrokenConfigIsRejected() async throws {
        let backend = try await TestBackend.start(name: "r")
        let (gateway, port) = try await self.start(backend: backend)
        defer { _ = gateway.stop() }
        // Load: curl keeps one keep-alive connection busy with 3000 sequential requests while we reload.
        let urls = (0..<3000).flatMap { _ in ["-o", "/dev/null", "http://127.0.0.1:\(port)/x"] }
        let load = Task.detached {
            try Command.run("/usr/bin/curl", ["-s", "-w", "%{http_code}\\n"] + urls)
        }
        for i in 0..<5 {
            try gateway.write("vs.yaml", Self.routes(prefix: "reload\(i)"))
            try await gateway.waitForConfig { $0.contains("\"reload\(i)\"") }
        }
        let (_, out, _) = try await load.value
        let codes = out.split(separator: "\n")
        #expect(codes.count == 3000)
        #expect(codes.allSatisfy { $0 == "200" }, "non-200: \(codes.filter { $0 != "200" }.prefix(5))")

        // A broken file is rejected and the previous config keeps serving.
        try gateway.write("vs.yaml", Self.routes(prefix: "bad") + "\n    timeout: 1x\n")
        let deadline = ContinuousClock.now + .seconds(10)
        var rejected = false
        while ContinuousClock.now < deadline && !rejected {
            rejected = try await gateway.metrics().contains("portcullis_config_reloads_total{result=\"rejected\"} 1")
            if !rejected { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(rejected)
        let dump = try await HTTP.get(port: gateway.adminPort, path: "/config_dump").1
        #expect(dump.contains("\"reload4\""))
        #expect(dump.contains("vs.yaml"))
        #expect(try Curl.get("http://127.0.0.1:\(port)/x").status == 200)
    }

    @Test func drainLetsInFlightRequestsFinishThenExitsZero() async throws {
        let backend = try await TestBackend.start(name: "d")
        let (gateway, port) = try await self.start(backend: backend, drainSeconds: 10)
        let inFlight = Task.detached { try Curl.get("http://127.0.0.1:\(port)/delay/1500") }
        // Wait until the backend has the request, then ask the gateway to stop.
        let deadline = ContinuousClock.now + .seconds(10)
        while backend.seen.isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        // The delayed request is still open at the backend (it answers after 1.5 s).
        gateway.terminate()
        let result = try await inFlight.value
        #expect(result.status == 200)
        #expect(result.body == "delayed 1500ms\n")
        gateway.process.waitUntilExit()
        #expect(gateway.process.terminationStatus == 0)
    }
}
