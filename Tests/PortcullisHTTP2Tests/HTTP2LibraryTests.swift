import PortcullisHTTP2
import Testing

/// Checks that the system libnghttp2 is linked and reports a version.
@Suite struct HTTP2LibraryTests {
    @Test func reportsLinkedVersion() {
        #expect(HTTP2Library.version.split(separator: ".").count == 3)
    }
}
