import ArgumentParser
import PortcullisControlPlane
import PortcullisServer

/// `portcullis run` options that take config from a Kubernetes API server.
struct KubernetesCLIOptions: ParsableArguments {
    @Flag(
        help: """
            Read config from the Kubernetes API server of the pod this runs in: KUBERNETES_SERVICE_HOST/PORT, the \\
            service-account token (re-read when it rotates) and CA.
            """)
    var kubernetes = false

    @Option(help: "Read config from the API server of this kubeconfig's current context.")
    var kubeconfig: String?

    @Option(
        help: """
            Watch Istio objects (networking, AuthorizationPolicies), Services, EndpointSlices and Pods in this \
            namespace only (default: all).
            """)
    var watchNamespace: String?

    @Option(
        help: """
            The mesh root namespace: read the mesh config from ConfigMap `istio` (key `mesh`) there, as Istio does; \
            "" does not read it.
            """)
    var meshNamespace: String = "istio-system"

    @Option(help: ArgumentHelp("Shortest Kubernetes watch timeout in seconds (tests).", visibility: .hidden))
    var kubeWatchTimeoutSeconds: Int = 300

    @Option(help: ArgumentHelp("Longest Kubernetes retry delay in milliseconds (tests).", visibility: .hidden))
    var kubeBackoffMaxMilliseconds: Int = 30_000

    @Option(help: ArgumentHelp("The service-account directory for --kubernetes (tests).", visibility: .hidden))
    var serviceAccountDirectory: String = KubernetesClusterConfig.serviceAccountDirectory

    /// The source options, or nil when config comes from files. Reads the kubeconfig or the in-cluster files.
    func sourceOptions() throws -> KubernetesSourceOptions? {
        let cluster: KubernetesClusterConfig
        if self.kubernetes {
            cluster = try KubernetesClusterConfig.inCluster(serviceAccountDirectory: self.serviceAccountDirectory)
        } else if let kubeconfig {
            cluster = try KubernetesKubeconfig.load(path: kubeconfig)
        } else {
            return nil
        }
        var options = KubernetesSourceOptions(cluster: cluster, watchNamespace: self.watchNamespace)
        options.meshNamespace = self.meshNamespace.isEmpty ? nil : self.meshNamespace
        options.minimumWatchTimeoutSeconds = max(1, self.kubeWatchTimeoutSeconds)
        let maximum = Duration.milliseconds(max(10, self.kubeBackoffMaxMilliseconds))
        options.backoff = KubernetesBackoff(initial: min(.milliseconds(500), maximum), maximum: maximum)
        return options
    }
}
