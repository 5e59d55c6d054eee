import Foundation
import PortcullisXDSProto
import SwiftProtobuf
import Testing

@Suite struct WireFormatTests {
    static func sampleVirtualService() -> Istio_Networking_V1alpha3_VirtualService {
        var vs = Istio_Networking_V1alpha3_VirtualService()
        vs.hosts = ["reviews.example.com"]
        vs.gateways = ["istio-system/gw"]
        var route = Istio_Networking_V1alpha3_HTTPRoute()
        route.name = "r1"
        var match = Istio_Networking_V1alpha3_HTTPMatchRequest()
        match.uri.prefix = "/api"
        route.match = [match]
        var destination = Istio_Networking_V1alpha3_HTTPRouteDestination()
        destination.destination.host = "reviews.default.svc.cluster.local"
        destination.destination.port.number = 9080
        destination.weight = 100
        route.route = [destination]
        route.timeout = Google_Protobuf_Duration(seconds: 5)
        vs.http = [route]
        return vs
    }

    @Test func mcpResourceCarriesAVirtualServiceInAnAny() throws {
        let vs = Self.sampleVirtualService()
        var resource = Istio_Mcp_V1alpha1_Resource()
        resource.metadata.name = "default/reviews"
        resource.metadata.version = "12345"
        resource.metadata.labels = ["app": "reviews"]
        resource.body = try Google_Protobuf_Any(message: vs)
        #expect(resource.body.typeURL == "type.googleapis.com/istio.networking.v1alpha3.VirtualService")

        // As istiod sends it: each DiscoveryResponse resource is an Any of the MCP envelope.
        var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
        response.typeURL = "networking.istio.io/v1/VirtualService"
        response.versionInfo = "2026-01-01T00:00:00Z/1"
        response.nonce = "n1"
        response.resources = [try Google_Protobuf_Any(message: resource)]
        let bytes: Data = try response.serializedData()

        let decoded = try Envoy_Service_Discovery_V3_DiscoveryResponse(serializedBytes: bytes)
        #expect(decoded.resources.count == 1)
        #expect(decoded.resources[0].typeURL == "type.googleapis.com/istio.mcp.v1alpha1.Resource")
        let envelope = try Istio_Mcp_V1alpha1_Resource(unpackingAny: decoded.resources[0])
        #expect(envelope.metadata.name == "default/reviews")
        #expect(envelope.metadata.labels == ["app": "reviews"])
        #expect(envelope.body.isA(Istio_Networking_V1alpha3_VirtualService.self))
        let body = try Istio_Networking_V1alpha3_VirtualService(unpackingAny: envelope.body)
        #expect(body == vs)
        #expect(body.http[0].route[0].destination.port.number == 9080)
    }

    static func sampleRequest() -> Envoy_Service_Discovery_V3_DiscoveryRequest {
        var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
        request.versionInfo = "v1"
        request.node.id = "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local"
        request.node.cluster = "portcullis"
        request.node.metadata.fields["GENERATOR"] = Google_Protobuf_Value(stringValue: "api")
        request.node.locality.region = "eu"
        request.node.locality.zone = "eu-1a"
        request.node.userAgentName = "portcullis"
        request.node.userAgentVersion = "0.1"
        request.node.clientFeatures = ["envoy.lb.does_not_support_overprovisioning"]
        request.resourceNames = ["a", "b"]
        request.typeURL = "networking.istio.io/v1/VirtualService"
        request.responseNonce = "nonce-1"
        request.errorDetail.code = 3
        request.errorDetail.message = "bad"
        return request
    }

    /// Field numbers and wire types of DiscoveryRequest, checked on the bytes themselves.
    @Test func discoveryRequestUsesUpstreamFieldNumbers() throws {
        var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
        request.typeURL = "t"
        request.responseNonce = "n"
        request.resourceNames = ["r"]
        request.versionInfo = "v"
        // version_info = 1, resource_names = 3, type_url = 4, response_nonce = 5 (all length-delimited).
        let expected: [UInt8] = [0x0A, 1, 0x76, 0x1A, 1, 0x72, 0x22, 1, 0x74, 0x2A, 1, 0x6E]
        #expect([UInt8](try request.serializedData()) == expected)

        var node = Envoy_Config_Core_V3_Node()
        node.id = "i"
        node.userAgentVersion = "u"
        node.clientFeatures = ["c"]
        // id = 1, user_agent_version = 7, client_features = 10.
        #expect([UInt8](try node.serializedData()) == [0x0A, 1, 0x69, 0x3A, 1, 0x75, 0x52, 1, 0x63])
    }

    /// When python3 has the upstream Envoy schema (PyPI `xds-protos`), the same request serialised by the upstream
    /// generated code must give identical bytes. Skipped (with a note) when it is not installed.
    @Test func discoveryRequestMatchesUpstreamSchemaBytes() throws {
        let request = Self.sampleRequest()
        let script = """
            import sys
            from google.protobuf import text_format
            from envoy.service.discovery.v3 import discovery_pb2
            m = text_format.Parse(sys.stdin.read(), discovery_pb2.DiscoveryRequest())
            sys.stdout.buffer.write(m.SerializeToString())
            """
        guard let golden = Self.runPython(script, input: request.textFormatString()) else {
            print("skipped: python3 with the xds-protos package is not available")
            return
        }
        #expect([UInt8](golden) == [UInt8](try request.serializedData()))
        #expect(try Envoy_Service_Discovery_V3_DiscoveryRequest(serializedBytes: golden) == request)
    }

    static func runPython(_ script: String, input: String) -> Data? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? out : nil
    }
}
