import Foundation
import NIOConcurrencyHelpers
import PortcullisModel
import PortcullisTestKubernetes
import Testing

@testable import PortcullisControlPlane

/// The reflector against the fake API server: list, watch, bookmarks, 410, truncation, errors, no-op relists.
@Suite(.timeLimit(.minutes(1)))
struct KubernetesReflectorTests {
    let gateways = KubernetesResource(group: "networking.istio.io", version: "v1", plural: "gateways")

    /// Runs a reflector of `resource` against `server` while `body` runs, recording what it publishes.
    func withReflector(
        _ server: FakeKubernetesAPIServer, resource: KubernetesResource? = nil, tokenFile: String? = nil,
        _ body: (KubernetesReflector, Recorder<KubernetesStoreSnapshot>) async throws -> Void
    ) async throws {
        let client = try KubernetesAPIClient(config: server.clientConfig(tokenFile: tokenFile))
        let reflector = KubernetesReflector(
            client: client, resource: resource ?? self.gateways, backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let recorder = Recorder<KubernetesStoreSnapshot>()
        let task = Task { await reflector.run { recorder.append($0) } }
        do {
            try await body(reflector, recorder)
        } catch {
            task.cancel()
            await task.value
            throw error
        }
        task.cancel()
        await task.value
    }

    @Test func listThenWatchAppliesAddModifyDelete() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        let listVersion = server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            #expect(recorder.last?.objects.keys.sorted() == ["istio-system/gw"])
            #expect(recorder.last?.resourceVersion == listVersion)
            #expect(reflector.status.synced)
            let watch = try #require(server.watches.first)
            #expect(watch.path == "/apis/networking.istio.io/v1/gateways")
            #expect(watch.query["resourceVersion"] == listVersion)
            #expect(watch.query["allowWatchBookmarks"] == "true")
            #expect(Int(watch.query["timeoutSeconds"] ?? "").map { (60...120).contains($0) } == true)
            #expect(server.lists.first?.query["limit"] == "500")

            let added = server.put("gateways", namespace: "default", name: "second", spec: gatewaySpec)
            #expect(await eventually { recorder.count == 2 })
            #expect(recorder.last?.objects.keys.sorted() == ["default/second", "istio-system/gw"])
            #expect(recorder.last?.resourceVersion == added)

            let changedSpec = json(#"{"selector":{"app":"other"},"servers":[]}"#)
            let modified = server.put("gateways", namespace: "default", name: "second", spec: changedSpec)
            #expect(await eventually { recorder.count == 3 })
            #expect(recorder.last?.objects["default/second"]?["spec"] == changedSpec)
            #expect(recorder.last?.resourceVersion == modified)

            let deleted = server.delete("gateways", namespace: "default", name: "second")
            #expect(await eventually { recorder.count == 4 })
            #expect(recorder.last?.objects.keys.sorted() == ["istio-system/gw"])
            #expect(reflector.status.resourceVersion == deleted)
            #expect(server.lists.count == 1)
            #expect(server.watches.count == 1)
        }
        await server.stop()
    }

    @Test func bookmarkAdvancesResourceVersionWithoutPublishing() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            let bookmark = server.bookmark("gateways")
            #expect(await eventually { reflector.status.resourceVersion == bookmark })
            #expect(recorder.count == 1)
            // The server's watch timeout: the next watch starts from the bookmark, without a list.
            server.endOpenWatches()
            #expect(await eventually { server.watches.count == 2 && server.openWatches == 1 })
            #expect(server.watches.last?.query["resourceVersion"] == bookmark)
            #expect(server.lists.count == 1)
            #expect(recorder.count == 1)
        }
        await server.stop()
    }

    @Test func goneEventCausesExactlyOneRelist() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            // Events lost while the watch cache restarted: only a list can find them.
            server.expireHistory()
            server.put("gateways", namespace: "default", name: "missed", spec: gatewaySpec, notify: false)
            server.delete("gateways", namespace: "istio-system", name: "gw", notify: false)
            server.sendGoneToOpenWatches()
            #expect(await eventually { server.lists.count == 2 && server.openWatches == 1 })
            try await Task.sleep(for: .milliseconds(300))
            #expect(server.lists.count == 2)
            #expect(server.watches.count == 2)
            #expect(server.watches.last?.query["resourceVersion"] == server.resourceVersion)
            #expect(recorder.count == 2)
            #expect(recorder.last?.objects.keys.sorted() == ["default/missed"])
            #expect(reflector.status.lists == 2)
        }
        await server.stop()
    }

    @Test func goneStatusOnWatchRequestRelists() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server) { _, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            server.bookmark("gateways")
            server.failNext(1, .watch, code: 410)
            server.endOpenWatches()
            #expect(await eventually { server.lists.count == 2 && server.openWatches == 1 })
            try await Task.sleep(for: .milliseconds(200))
            #expect(server.lists.count == 2)
            #expect(server.watches.count == 3)
        }
        await server.stop()
    }

    @Test func watchFromExpiredVersionRelists() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server) { _, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            // The watch drops; meanwhile history is compacted, so resuming gets an ERROR 410 line.
            server.bookmark("gateways")
            server.put("virtualservices", namespace: "default", name: "elsewhere", spec: virtualServiceSpec())
            server.expireHistory()
            server.truncateOpenWatches()
            #expect(await eventually { server.lists.count == 2 && server.openWatches == 1 })
            try await Task.sleep(for: .milliseconds(200))
            #expect(server.lists.count == 2)
            #expect(recorder.count == 1)
        }
        await server.stop()
    }

    @Test func truncatedWatchResumesFromLastResourceVersion() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            let last = server.put("gateways", namespace: "default", name: "a", spec: gatewaySpec)
            #expect(await eventually { recorder.count == 2 })
            server.truncateOpenWatches()
            #expect(await eventually { server.watches.count == 2 && server.openWatches == 1 })
            #expect(server.watches.last?.query["resourceVersion"] == last)
            #expect(server.lists.count == 1)
            server.put("gateways", namespace: "default", name: "b", spec: gatewaySpec)
            #expect(await eventually { recorder.count == 3 })
            #expect(recorder.last?.objects.count == 3)
            #expect(reflector.status.lastError == nil)
            #expect(reflector.status.consecutiveFailures == 0)
        }
        await server.stop()
    }

    @Test func serverErrorsBackOffAndRecover() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        server.failNext(3, .list, code: 500)
        let started = ContinuousClock.now
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            // 20 + 40 + 80 ms of backoff (no jitter in tests) before the fourth list.
            #expect(ContinuousClock.now - started >= .milliseconds(135))
            #expect(server.lists.count == 4)
            #expect(reflector.status.consecutiveFailures == 0)
            #expect(reflector.status.lastError == nil)

            // Watch errors back off too, then resume from the same version without a list.
            let version = server.bookmark("gateways")
            #expect(await eventually { reflector.status.resourceVersion == version })
            server.failNext(2, .watch, code: 503, retryAfter: 0)
            server.endOpenWatches()
            #expect(await eventually { server.watches.count == 4 && server.openWatches == 1 })
            #expect(server.watches.last?.query["resourceVersion"] == version)
            #expect(server.lists.count == 4)
            #expect(recorder.count == 1)
        }
        await server.stop()
    }

    @Test func refusedConnectionsBackOffUntilTheServerAppears() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        let port = server.port
        await server.stop()
        let client = try KubernetesAPIClient(config: KubernetesClusterConfig(host: "127.0.0.1", port: port))
        let reflector = KubernetesReflector(client: client, resource: self.gateways, backoff: testBackoff)
        let task = Task { await reflector.run { _ in } }
        #expect(await eventually { reflector.status.consecutiveFailures >= 3 })
        #expect(reflector.status.lastError?.contains("cannot connect") == true)
        #expect(!reflector.status.synced)
        task.cancel()
        await task.value
    }

    @Test func unchangedRelistPublishesNothing() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        server.put("gateways", namespace: "default", name: "other", spec: gatewaySpec)
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            server.sendGoneToOpenWatches()
            #expect(await eventually { server.lists.count == 2 && server.openWatches == 1 })
            try await Task.sleep(for: .milliseconds(200))
            #expect(recorder.count == 1)
            #expect(reflector.status.publishes == 1)
            #expect(reflector.status.lists == 2)
        }
        await server.stop()
    }

    @Test func emptyCollectionIsPublishedOnceSynced() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        try await self.withReflector(server) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 })
            #expect(recorder.last?.objects.isEmpty == true)
            #expect(reflector.status.synced)
        }
        await server.stop()
    }

    @Test func namespacedReflectorSeesOnlyItsNamespace() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        server.put("gateways", namespace: "default", name: "ignored", spec: gatewaySpec)
        var resource = self.gateways
        resource.namespace = "istio-system"
        try await self.withReflector(server, resource: resource) { _, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            #expect(server.lists.first?.path == "/apis/networking.istio.io/v1/namespaces/istio-system/gateways")
            #expect(recorder.last?.objects.keys.sorted() == ["istio-system/gw"])
            server.put("gateways", namespace: "default", name: "ignored-too", spec: gatewaySpec)
            server.put("gateways", namespace: "istio-system", name: "seen", spec: gatewaySpec)
            #expect(await eventually { recorder.count == 2 })
            #expect(recorder.last?.objects.keys.sorted() == ["istio-system/gw", "istio-system/seen"])
        }
        await server.stop()
    }

    @Test func bearerTokenIsReadFromItsFileForEveryRequest() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-token-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token").path
        try "first\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        server.requiredToken = "first"
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        try await self.withReflector(server, tokenFile: tokenFile) { reflector, recorder in
            #expect(await eventually { recorder.count == 1 && server.openWatches == 1 })
            #expect(server.lists.first?.authorization == "Bearer first")
            // The server moves to a new token before the file is rotated: 401s, retried with backoff...
            server.requiredToken = "second"
            server.endOpenWatches()
            #expect(await eventually { reflector.status.lastError?.contains("401") == true })
            // ...until the kubelet writes the new token.
            try "second\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(await eventually { server.openWatches == 1 })
            #expect(server.watches.last?.authorization == "Bearer second")
            #expect(server.lists.count == 1)
        }
        await server.stop()
    }
}
