import Testing

@testable import PortcullisProxy

/// ISTIO-SEMANTICS §5.6 `BASE` normalization, one case per row.
struct PathNormalizerTests {
    @Test(arguments: [
        ("/productpage", "/productpage"),
        ("/a/./b/../c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/a\\b", "/a/b"),
        ("/%61%62c", "/abc"),
        ("/%7euser", "/~user"),
        ("/a%2fb", "/a%2Fb"),
        ("/a%5Cb", "/a%5Cb"),
        ("/%2e%2e/admin", "/admin"),
        ("//double//slash", "//double//slash"),
        ("/", "/"),
    ])
    func normalizes(input: String, expected: String) {
        #expect(PathNormalizer.normalize(Substring(input)) == expected)
    }

    @Test(arguments: ["/a%00b", "/a%zz", "/a%4"])
    func rejects(input: String) {
        #expect(PathNormalizer.normalize(Substring(input)) == nil)
    }
}
