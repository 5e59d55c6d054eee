import PortcullisModel
import Testing

/// EndpointSlices and Pods into the Services' ready endpoints (CONTROL-PLANE §4.5).
struct ServiceEndpointsTests {
    func slice(_ text: String) throws -> KubernetesEndpointSlice {
        try KubernetesEndpointSlice.decode(KubernetesEndpointSlice.trimmed(kubernetesJSON(text)), file: "k8s")
    }

    func pod(_ text: String) throws -> KubernetesPod {
        try KubernetesPod.decode(KubernetesPod.trimmed(kubernetesJSON(text)), file: "k8s")
    }

    @Test func readyFirstAddressesWithSlicePortsAndPodLabels() throws {
        let slice = try self.slice(
            #"{"metadata":{"name":"reviews-abc","namespace":"bookinfo","labels":{"kubernetes.io/service-name":"reviews"}},"#
                + #""addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":["#
                + #"{"addresses":["10.0.0.1","10.0.0.9"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"r1","namespace":"bookinfo"}},"#
                + #"{"addresses":["10.0.0.2"],"conditions":{"ready":false},"targetRef":{"kind":"Pod","name":"r2","namespace":"bookinfo"}},"#
                + #"{"addresses":["10.0.0.3"],"targetRef":{"kind":"Pod","name":"r3","namespace":"bookinfo"}}]}"#)
        let second = try self.slice(
            #"{"metadata":{"name":"reviews-def","namespace":"bookinfo","labels":{"kubernetes.io/service-name":"reviews"}},"#
                + #""addressType":"IPv4","ports":[{"name":"http","port":8080}],"endpoints":[{"addresses":["10.0.0.1"]}]}"#)
        let fqdn = try self.slice(
            #"{"metadata":{"name":"f","namespace":"bookinfo","labels":{"kubernetes.io/service-name":"reviews"}},"#
                + #""addressType":"FQDN","ports":[{"name":"http","port":80}],"endpoints":[{"addresses":["a.example.com"]}]}"#)
        let pod = try self.pod(
            #"{"metadata":{"name":"r1","namespace":"bookinfo","labels":{"app":"reviews","version":"v1"}},"status":{"phase":"Running"}}"#)
        let endpoints = ServiceEndpoints(slices: [second, fqdn, slice], pods: [pod])
        #expect(endpoints[service: "bookinfo/reviews"] == [
            WorkloadEntry(address: "10.0.0.1", ports: ["http": 8080], labels: ["app": "reviews", "version": "v1"]),
            WorkloadEntry(address: "10.0.0.3", ports: ["http": 8080]),
        ])
        #expect(endpoints.byService.count == 1)
    }

    @Test func terminatingEndpointsAreLeftOutEvenWhileServing() throws {
        let slice = try KubernetesEndpointSlice.decode(
            kubernetesJSON(
                #"{"metadata":{"name":"s","namespace":"n","labels":{"kubernetes.io/service-name":"web"}},"#
                    + #""addressType":"IPv4","ports":[{"port":80}],"endpoints":["#
                    + #"{"addresses":["10.0.0.1"],"conditions":{"ready":false,"serving":true,"terminating":true}},"#
                    + #"{"addresses":["10.0.0.2"],"conditions":{"ready":true,"serving":true,"terminating":false}},"#
                    + #"{"addresses":["10.0.0.3"],"conditions":{"serving":false}},"#
                    + #"{"addresses":[],"conditions":{"ready":true}}]}"#),
            file: "k8s")
        let endpoints = ServiceEndpoints(slices: [slice], pods: [])
        #expect(endpoints[service: "n/web"] == [
            WorkloadEntry(address: "10.0.0.2", ports: ["": 80]), WorkloadEntry(address: "10.0.0.3", ports: ["": 80]),
        ])
    }

    @Test func udpPortsAreDroppedAndUnnamedPortsKeyedByEmptyName() throws {
        let slice = try self.slice(
            #"{"metadata":{"name":"s","namespace":"n","labels":{"kubernetes.io/service-name":"dns"}},"#
                + #""addressType":"IPv6","ports":[{"name":"udp","port":53,"protocol":"UDP"},{"name":"tcp","port":53},"#
                + #"{"port":8053,"appProtocol":"dns"}],"endpoints":[{"addresses":["fd00::1"]}]}"#)
        #expect(ServiceEndpoints(slices: [slice], pods: [])[service: "n/dns"] == [
            WorkloadEntry(address: "fd00::1", ports: ["tcp": 53, "": 8053]),
        ])
    }

    @Test func podsAreFoundThroughTargetRefInTheSliceNamespaceByDefault() throws {
        let slice = try self.slice(
            #"{"metadata":{"name":"s","namespace":"shop","labels":{"kubernetes.io/service-name":"cart"}},"#
                + #""addressType":"IPv4","ports":[{"name":"http","port":80}],"endpoints":["#
                + #"{"addresses":["10.0.0.1"],"targetRef":{"kind":"Pod","name":"a"}},"#
                + #"{"addresses":["10.0.0.2"],"targetRef":{"kind":"Pod","name":"b","namespace":"other"}},"#
                + #"{"addresses":["10.0.0.3"],"targetRef":{"kind":"Node","name":"a"}}]}"#)
        let pods = try [
            self.pod(#"{"metadata":{"name":"a","namespace":"shop","labels":{"version":"v1"}}}"#),
            self.pod(#"{"metadata":{"name":"b","namespace":"other","labels":{"version":"v2"}}}"#),
        ]
        #expect(ServiceEndpoints(slices: [slice], pods: pods)[service: "shop/cart"].map(\.labels) == [
            ["version": "v1"], ["version": "v2"], [:],
        ])
    }

    @Test func slicesWithoutAServiceAreIgnored() throws {
        let slice = try self.slice(
            #"{"metadata":{"name":"s","namespace":"n"},"addressType":"IPv4","ports":[{"port":80}],"#
                + #""endpoints":[{"addresses":["10.0.0.1"]}]}"#)
        #expect(slice.serviceName == nil)
        #expect(ServiceEndpoints(slices: [slice], pods: []).byService.isEmpty)
    }

    @Test func podsKeepLabelsAndIgnoreStatusChurn() throws {
        let a = try kubernetesJSON(
            #"{"metadata":{"name":"p","namespace":"n","resourceVersion":"1","labels":{"a":"b"}},"status":{"phase":"Pending"}}"#)
        let b = try kubernetesJSON(
            #"{"metadata":{"name":"p","namespace":"n","resourceVersion":"2","labels":{"a":"b"}},"status":{"phase":"Running"}}"#)
        #expect(KubernetesPod.trimmed(a) == KubernetesPod.trimmed(b))
        #expect(try KubernetesPod.decode(KubernetesPod.trimmed(a), file: "k8s")
            == KubernetesPod(name: "p", namespace: "n", labels: ["a": "b"]))
        let bad = try kubernetesJSON(#"{"metadata":{"name":"p","namespace":"n","labels":{"a":true}}}"#)
        let error = #expect(throws: ConfigDiagnostic.self) { try KubernetesPod.decode(bad, file: "k8s") }
        #expect(error?.kind == "Pod" && error?.fieldPath == "metadata.labels.a")
    }
}
