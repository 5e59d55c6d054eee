import Testing

@testable import PortcullisRouting

/// Virtual-host lookup strips the port from Host (ISTIO-SEMANTICS §0 step 5), IPv6-aware.
struct StripPortTests {
    @Test(arguments: [
        ("shop.example.com:8080", "shop.example.com"),
        ("shop.example.com", "shop.example.com"),
        ("shop.example.com:", "shop.example.com"),
        ("[::1]:8443", "[::1]"),
        ("[::1]", "[::1]"),
        ("::1", "::1"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("host:abc", "host:abc"),
    ])
    func strips(input: String, expected: String) {
        #expect(HTTPRouteTable.stripPort(Substring(input)) == Substring(expected))
    }
}
