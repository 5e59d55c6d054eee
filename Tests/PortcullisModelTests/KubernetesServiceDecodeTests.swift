import PortcullisModel
import Testing

/// A JSON value from literal text (test data).
func kubernetesJSON(_ text: String) throws -> KubernetesJSON {
    try KubernetesJSON.parse(text)
}

/// Core `v1` Services from the API server's JSON (CONTROL-PLANE §4.5).
struct KubernetesServiceDecodeTests {
    let service = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"reviews","namespace":"bookinfo","#
        + #""resourceVersion":"7","creationTimestamp":"2024-01-02T03:04:05Z","labels":{"app":"reviews"},"#
        + #""annotations":{"networking.istio.io/exportTo":"., istio-system"}},"#
        + #""spec":{"clusterIP":"10.96.0.9","ports":[{"name":"http","port":9080,"targetPort":"web"},"#
        + #"{"name":"grpc-x","port":9443,"targetPort":7443,"appProtocol":"http2"},"#
        + #"{"name":"dns","port":53,"protocol":"UDP"},{"name":"s","port":99,"protocol":"SCTP"}]},"#
        + #""status":{"loadBalancer":{}}}"#

    @Test func portsProtocolsTargetPortsAndExportTo() throws {
        let reviews = try #require(try KubernetesService.decode(kubernetesJSON(self.service), file: "k8s"))
        #expect(reviews.key == "bookinfo/reviews")
        #expect(reviews.hostname() == "reviews.bookinfo.svc.cluster.local")
        #expect(reviews.ports == [
            Port(number: 9080, name: "http", protocol: .http, targetPort: nil),
            Port(number: 9443, name: "grpc-x", protocol: .http2, targetPort: 7443),
        ])
        #expect(reviews.exportTo == [".", "istio-system"])
        #expect(reviews.meta.labels == ["app": "reviews"])
        #expect(reviews.meta.creationTimestamp == "2024-01-02T03:04:05Z")
        #expect(reviews.meta.position == SourcePosition(file: "k8s", line: 0))
    }

    @Test func portNamesAndAppProtocolSelectTheProtocol() throws {
        let json = try kubernetesJSON(
            #"{"metadata":{"name":"a","namespace":"n"},"spec":{"ports":[{"port":80},"#
                + #"{"name":"tcp-db","port":5432,"protocol":"TCP"},{"name":"grpc-web-x","port":81},"#
                + #"{"name":"web","port":82,"appProtocol":"grpc"},{"name":"http","port":83,"appProtocol":"kubernetes.io/h2c"},"#
                + #"{"name":"noport"}]}}"#)
        let service = try #require(try KubernetesService.decode(json, file: "k8s"))
        #expect(service.ports.map(\.name) == ["", "tcp-db", "grpc-web-x", "web", "http"])
        #expect(service.ports.map(\.protocol) == [.http, .tcp, .grpcWeb, .grpc, .http])
        #expect(service.exportTo.isEmpty)
    }

    @Test func externalNameAndPortlessServicesAreLeftOut() throws {
        let external = try kubernetesJSON(
            #"{"metadata":{"name":"ext","namespace":"n"},"spec":{"type":"ExternalName","externalName":"x.example.com","#
                + #""ports":[{"port":80}]}}"#)
        let udpOnly = try kubernetesJSON(
            #"{"metadata":{"name":"dns","namespace":"n"},"spec":{"ports":[{"port":53,"protocol":"UDP"}]}}"#)
        let headless = try kubernetesJSON(#"{"metadata":{"name":"h","namespace":"n"},"spec":{"clusterIP":"None"}}"#)
        for json in [external, udpOnly, headless] {
            #expect(try KubernetesService.decode(json, file: "k8s") == nil)
        }
    }

    @Test func trimmingKeepsWhatIsDecodedAndDropsChurn() throws {
        let json = try kubernetesJSON(self.service)
        let trimmed = KubernetesService.trimmed(json)
        #expect(try KubernetesService.decode(trimmed, file: "k8s") == KubernetesService.decode(json, file: "k8s"))
        #expect(trimmed["status"] == nil && trimmed["spec"]?["clusterIP"] == nil)
        #expect(trimmed["metadata"]?["resourceVersion"] == nil)
        let external = try kubernetesJSON(#"{"metadata":{"name":"e","namespace":"n"},"spec":{"type":"ExternalName"}}"#)
        #expect(try KubernetesService.decode(KubernetesService.trimmed(external), file: "k8s") == nil)
    }

    @Test func aFieldOfTheWrongTypeNamesTheServiceAndField() throws {
        let json = try kubernetesJSON(
            #"{"metadata":{"name":"reviews","namespace":"bookinfo"},"spec":{"ports":[{"port":80},{"port":"81"}]}}"#)
        let error = #expect(throws: ConfigDiagnostic.self) { try KubernetesService.decode(json, file: "k8s") }
        #expect(error?.kind == "Service" && error?.namespace == "bookinfo" && error?.name == "reviews")
        #expect(error?.fieldPath == "spec.ports[1].port")
        #expect(error?.severity == .warning)
        #expect(error?.description
            == "k8s:0: Service bookinfo/reviews: spec.ports[1].port: warning: expected an integer, found a string; Service skipped")

        let annotations = try kubernetesJSON(
            #"{"metadata":{"name":"r","namespace":"b","annotations":{"a":1}},"spec":{"ports":[{"port":80}]}}"#)
        let annotationError = #expect(throws: ConfigDiagnostic.self) {
            try KubernetesService.decode(annotations, file: "k8s")
        }
        #expect(annotationError?.fieldPath == "metadata.annotations.a")
        let spec = try kubernetesJSON(#"{"metadata":{"name":"r","namespace":"b"},"spec":[]}"#)
        let specError = #expect(throws: ConfigDiagnostic.self) { try KubernetesService.decode(spec, file: "k8s") }
        #expect(specError?.fieldPath == "spec")
        #expect(specError?.message == "expected an object, found an array; Service skipped")
    }
}
