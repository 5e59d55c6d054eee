import Testing

@testable import PortcullisModel

@Suite struct GoDurationTests {
    @Test(arguments: [
        ("1.5s", Duration.milliseconds(1500)), ("30ms", .milliseconds(30)), ("1h30m", .seconds(5400)),
        ("180.000s", .seconds(180)), ("0", .zero), ("5m", .seconds(300)), ("24h", .seconds(86400)),
        ("100us", .microseconds(100)), ("2µs", .microseconds(2)), ("7ns", .nanoseconds(7)), ("-1s", .seconds(-1)),
        (".5s", .milliseconds(500)), ("1.s", .seconds(1)), ("1m0.25s", .milliseconds(60250)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "5", "s", "1.5", "1x", "1 s", "--1s", ".s", "1s5", "9999999999999h", "1.2.3s", "ms"])
    func rejects(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }
}

@Suite struct RE2SyntaxTests {
    @Test(arguments: ["/api/v[0-9]+/.*", "(?i)foo", "a{2,3}", #"\d+$"#, "[\\]a]", "(a|b)*c"])
    func accepts(pattern: String) {
        #expect(RE2Syntax.validate(pattern) == nil)
    }

    @Test(arguments: [
        ("(a)\\1", "back-references"), ("foo(?=bar)", "look-ahead"), ("(?!x)", "look-ahead"),
        ("(?<=a)b", "look-behind"), ("(?<!a)b", "look-behind"), ("(?>a)", "atomic"), ("a*+", "possessive"),
        ("a++", "possessive"), ("[invalid", "invalid regex"), ("*", "invalid regex"), ("", "empty"),
        (String(repeating: "a", count: 1025), "limit is 1024"),
    ])
    func rejects(pattern: String, fragment: String) {
        let message = RE2Syntax.validate(pattern)
        #expect(message?.contains(fragment) == true, "\(String(describing: message))")
    }
}

@Suite struct HostNameTests {
    @Test(arguments: [
        ("reviews", "bookinfo", "reviews.bookinfo.svc.cluster.local"), ("reviews.prod", "bookinfo", "reviews.prod"),
        ("*", "ns", "*"), ("*.example.com", "ns", "*.example.com"), ("10.0.0.1", "ns", "10.0.0.1"),
        ("::1", "ns", "::1"), ("httpbin", "default", "httpbin.default.svc.cluster.local"),
    ])
    func expands(host: String, namespace: String, expected: String) {
        #expect(HostName.expand(host, namespace: namespace) == expected)
    }

    @Test func customDomain() {
        #expect(HostName.expand("a", namespace: "b", domain: "corp") == "a.b.svc.corp")
    }

    @Test func wildcardMatching() {
        #expect(HostName.matches("*.foo.com", "a.foo.com"))
        #expect(HostName.matches("*.com", "*.foo.com"))
        #expect(!HostName.matches("*.foo.com", "foo.com"))
        #expect(HostName.matches("*", "anything"))
        #expect(!HostName.matches("a.com", "b.com"))
    }
}
