import Foundation
import PortcullisModel
import Testing

/// `discovery.k8s.io` EndpointSlices (`v1` and `v1beta1`) from the API server's JSON.
struct KubernetesEndpointSliceDecodeTests {
    typealias Slice = KubernetesEndpointSlice

    static let v1 = #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","#
        + #""metadata":{"name":"reviews-abc","namespace":"bookinfo","resourceVersion":"42","#
        + #""labels":{"kubernetes.io/service-name":"reviews","endpointslice.kubernetes.io/managed-by":"x"}},"#
        + #""addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP","appProtocol":"http2"},"#
        + #"{"name":"dns","port":53,"protocol":"UDP"},{"port":9000}],"endpoints":["#
        + #"{"addresses":["10.0.0.1","10.0.0.9"],"conditions":{"ready":true,"serving":true,"terminating":false},"#
        + #""nodeName":"n1","zone":"z","targetRef":{"kind":"Pod","name":"r1","namespace":"bookinfo","uid":"u"}},"#
        + #"{"addresses":["10.0.0.2"],"conditions":{"ready":false,"serving":true,"terminating":true},"#
        + #""targetRef":{"kind":"Pod","name":"r2"}},"#
        + #"{"addresses":["10.0.0.3"]}]}"#

    static let v1beta1 = #"{"apiVersion":"discovery.k8s.io/v1beta1","kind":"EndpointSlice","#
        + #""metadata":{"name":"reviews-abc","namespace":"bookinfo","labels":{"kubernetes.io/service-name":"reviews"}},"#
        + #""addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP","appProtocol":"http2"},"#
        + #"{"name":"dns","port":53,"protocol":"UDP"},{"port":9000}],"endpoints":["#
        + #"{"addresses":["10.0.0.1","10.0.0.9"],"conditions":{"ready":true,"serving":true,"terminating":false},"#
        + #""topology":{"kubernetes.io/hostname":"n1"},"targetRef":{"kind":"Pod","name":"r1","namespace":"bookinfo"}},"#
        + #"{"addresses":["10.0.0.2"],"conditions":{"ready":false,"serving":true,"terminating":true},"#
        + #""targetRef":{"kind":"Pod","name":"r2"}},"#
        + #"{"addresses":["10.0.0.3"]}]}"#

    static let expected = Slice(
        name: "reviews-abc", namespace: "bookinfo", serviceName: "reviews", addressType: "IPv4",
        ports: [
            Slice.Port(name: "http", number: 8080, protocol: "TCP", appProtocol: "http2"),
            Slice.Port(name: "dns", number: 53, protocol: "UDP"), Slice.Port(number: 9000),
        ],
        endpoints: [
            Slice.Endpoint(
                addresses: ["10.0.0.1", "10.0.0.9"],
                conditions: Slice.Conditions(ready: true, serving: true, terminating: false),
                targetRef: Slice.ObjectReference(kind: "Pod", name: "r1", namespace: "bookinfo")),
            Slice.Endpoint(
                addresses: ["10.0.0.2"], conditions: Slice.Conditions(ready: false, serving: true, terminating: true),
                targetRef: Slice.ObjectReference(kind: "Pod", name: "r2")),
            Slice.Endpoint(addresses: ["10.0.0.3"]),
        ])

    @Test(arguments: [Self.v1, Self.v1beta1])
    func v1AndV1beta1DecodeAlike(_ text: String) throws {
        let slice = try Slice.decode(kubernetesJSON(text), file: "k8s")
        #expect(slice == Self.expected)
        #expect(slice.key == "bookinfo/reviews-abc")
        #expect(slice.endpoints.map(\.address) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        #expect(slice.endpoints.map(\.conditions.isReady) == [true, false, true])
    }

    @Test func namedAndUnnamedTCPPortsByName() throws {
        #expect(Self.expected.tcpPorts == ["http": 8080, "": 9000])
        let noNumber = Slice(
            name: "s", namespace: "n", serviceName: "s", addressType: "IPv6",
            ports: [Slice.Port(name: "all", number: nil), Slice.Port(name: "sctp", number: 7, protocol: "SCTP")],
            endpoints: [])
        #expect(noNumber.tcpPorts.isEmpty)
    }

    @Test func readyIsTrueOrAbsentWhateverServingAndTerminatingSay() {
        typealias C = Slice.Conditions
        #expect(C().isReady)
        #expect(C(ready: true).isReady)
        #expect(C(ready: true, serving: true, terminating: false).isReady)
        #expect(C(serving: false).isReady)
        #expect(!C(ready: false).isReady)
        #expect(!C(ready: false, serving: true, terminating: true).isReady)
        #expect(!C(ready: false, serving: false, terminating: true).isReady)
    }

    @Test func firstAddressOnly() {
        #expect(Slice.Endpoint(addresses: ["10.0.0.1", "10.0.0.2"]).address == "10.0.0.1")
        #expect(Slice.Endpoint(addresses: []).address == nil)
        #expect(Slice.Endpoint(addresses: [""]).address == nil)
    }

    @Test func trimmingKeepsReadyPortsAndTargetsAndDropsChurn() throws {
        let json = try kubernetesJSON(Self.v1)
        let trimmed = Slice.trimmed(json)
        var expected = Self.expected
        for index in expected.endpoints.indices {
            expected.endpoints[index].conditions.serving = nil
            expected.endpoints[index].conditions.terminating = nil
        }
        #expect(try Slice.decode(trimmed, file: "k8s") == expected)
        #expect(trimmed["metadata"]?["resourceVersion"] == nil)
        #expect(trimmed["endpoints"]?.arrayValue?.first?["nodeName"] == nil)
        // A change in serving/terminating, node or resource version alone leaves the stored slice equal.
        let moved = try kubernetesJSON(
            Self.v1.replacingOccurrences(of: #""resourceVersion":"42""#, with: #""resourceVersion":"43""#)
                .replacingOccurrences(of: #""nodeName":"n1""#, with: #""nodeName":"n2""#)
                .replacingOccurrences(of: #""serving":true,"terminating":true"#, with: #""serving":false,"terminating":true"#))
        #expect(moved != json)
        #expect(Slice.trimmed(moved) == trimmed)
    }

    @Test func aFieldOfTheWrongTypeNamesTheSliceAndField() throws {
        let ready = try kubernetesJSON(
            #"{"metadata":{"name":"s","namespace":"n"},"endpoints":[{"addresses":["a"]},"#
                + #"{"addresses":["b"],"conditions":{"ready":"true"}}]}"#)
        let error = #expect(throws: ConfigDiagnostic.self) { try Slice.decode(ready, file: "k8s") }
        #expect(error?.description
            == "k8s:0: EndpointSlice n/s: endpoints[1].conditions.ready: warning: expected a boolean, found a string; EndpointSlice skipped")
        let label = try kubernetesJSON(#"{"metadata":{"name":"s","namespace":"n","labels":{"kubernetes.io/service-name":3}}}"#)
        let labelError = #expect(throws: ConfigDiagnostic.self) { try Slice.decode(label, file: "k8s") }
        #expect(labelError?.fieldPath == "metadata.labels.kubernetes.io/service-name")
        let ports = try kubernetesJSON(#"{"metadata":{"name":"s","namespace":"n"},"ports":{"name":"http"}}"#)
        let portsError = #expect(throws: ConfigDiagnostic.self) { try Slice.decode(ports, file: "k8s") }
        #expect(portsError?.fieldPath == "ports")
        #expect(portsError?.message == "expected an array, found an object; EndpointSlice skipped")
    }
}
