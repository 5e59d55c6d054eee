internal import CPortcullisZlib

/// Facts about the linked zlib.
public enum CompressionLibrary {
    /// The runtime zlib version string, e.g. `1.2.13`.
    public static var version: String {
        String(cString: CPortcullisZlib_version())
    }
}
