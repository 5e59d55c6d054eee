internal import CPortcullisNghttp2

/// Facts about the linked libnghttp2. The HTTP/2 codecs arrive with the HTTP/2 issue.
public enum HTTP2Library {
    /// The runtime nghttp2 version string, e.g. `1.52.0`.
    public static var version: String {
        String(cString: CPortcullisNghttp2_version_string())
    }
}
