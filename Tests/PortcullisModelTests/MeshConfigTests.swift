import PortcullisModel
import Testing

/// `ConfigMap/istio` `data.mesh` → `outboundTrafficPolicy.mode` (ISTIO-SEMANTICS §4.2).
struct MeshConfigTests {
    private func load(_ mode: String, name: String = "istio") -> ConfigLoadResult {
        ConfigLoader().load(
            yaml: """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: \(name), namespace: istio-system}
                data:
                  mesh: |
                    outboundTrafficPolicy:
                      mode: \(mode)
                """, file: "mesh.yaml")
    }

    @Test func registryOnlyIsRead() {
        let result = self.load("REGISTRY_ONLY")
        #expect(result.errors.isEmpty)
        #expect(result.config.mesh?.outboundTrafficPolicy == .registryOnly)
    }

    @Test func allowAnyIsReadWithAWarningThatItDoesNotApplyAtAGateway() {
        let result = self.load("ALLOW_ANY")
        #expect(result.config.mesh?.outboundTrafficPolicy == .allowAny)
        #expect(result.diagnostics.contains { $0.severity == .warning && $0.message.contains("does not apply") })
    }

    @Test func unknownModeIsAnErrorNamingTheField() {
        let result = self.load("BLOCK_EVERYTHING")
        #expect(result.config.mesh == nil)
        #expect(result.errors.contains { $0.fieldPath == "data.mesh" && $0.kind == "ConfigMap" })
    }

    @Test func otherConfigMapsAreSkipped() {
        let result = self.load("REGISTRY_ONLY", name: "app-settings")
        #expect(result.config.mesh == nil)
        #expect(result.errors.isEmpty)
    }
}
