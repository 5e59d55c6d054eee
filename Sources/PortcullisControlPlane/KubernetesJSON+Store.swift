import PortcullisModel

/// What the reflectors need of an object: its resource version and its store key.
extension KubernetesJSON {
    /// `metadata.resourceVersion`, or nil.
    public var resourceVersion: String? { self["metadata"]?["resourceVersion"]?.stringValue }

    /// The store key of an object: `namespace/name`, or `name` for cluster-scoped objects (client-go's
    /// `MetaNamespaceKeyFunc`).
    public var storeKey: String {
        let namespace = self.namespace
        return namespace.isEmpty ? self.name : namespace + "/" + self.name
    }
}
