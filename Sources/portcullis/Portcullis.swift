import ArgumentParser
import Foundation
import Logging
import PortcullisCompression
import PortcullisControlPlane
import PortcullisHTTP2
import PortcullisModel
import PortcullisObservability
import PortcullisRouting
import PortcullisServer
import PortcullisTLS

@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "An Istio-compatible edge gateway driven by Istio YAML.",
        subcommands: [Run.self, Validate.self, Explain.self, Version.self])
}

/// Options shared by the commands that read configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "A YAML/JSON file or a directory (read recursively). Repeatable.")
    var paths: [String] = []

    @Option(help: "This gateway's workload labels (k=v,...), matched against Gateway.spec.selector.")
    var labels: String?

    @Option(
        help: """
            The gateway's own namespace (default: istio-system; with --kubernetes, the pod's namespace from its \
            service account).
            """)
    var namespace: String?

    /// `--namespace`, else `fallback`, else `istio-system`.
    func resolvedNamespace(fallback: String? = nil) -> String {
        self.namespace ?? fallback ?? "istio-system"
    }

    /// `validate` and `explain` read files only.
    func requirePaths() throws {
        if self.paths.isEmpty { throw ValidationError("at least one --config PATH is required") }
    }

    func parsedLabels() throws -> [String: String]? {
        guard let labels, !labels.isEmpty else { return nil }
        var result: [String: String] = [:]
        for pair in labels.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--labels: '\(pair)' is not k=v")
            }
            result[String(parts[0]).trimmed] = String(parts[1]).trimmed
        }
        return result
    }

    func routingOptions() throws -> RoutingOptions {
        RoutingOptions(gatewayLabels: try self.parsedLabels(), gatewayNamespace: self.resolvedNamespace())
    }
}

extension String {
    var trimmed: String { self.trimmingCharacters(in: .whitespaces) }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the linked C libraries.")
    func run() {
        print("portcullis \(PortcullisVersion.string)")
        print("openssl \(TLSLibrary.version)")
        print("nghttp2 \(HTTP2Library.version)")
        print("zlib \(CompressionLibrary.version)")
    }
}

enum PortcullisVersion {
    static let string = "0.1.0"
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration; prints FILE:LINE: KIND NAMESPACE/NAME: FIELD.PATH: message per problem.")

    @OptionGroup var config: ConfigOptions

    func validate() throws { try self.config.requirePaths() }

    func run() throws {
        let loaded = ConfigLoader().load(paths: self.config.paths)
        let outcome = SnapshotBuilder(options: try self.config.routingOptions()).build(loaded)
        for diagnostic in outcome.diagnostics {
            FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
        }
        if !outcome.errors.isEmpty { throw ExitCode(1) }
        let c = loaded.config
        print(
            "ok: \(loaded.files.count) file(s), \(c.gateways.count) Gateway(s), \(c.virtualServices.count) "
                + "VirtualService(s), \(c.destinationRules.count) DestinationRule(s), "
                + "\(c.serviceEntries.count) ServiceEntry(s), \(c.secrets.count) Secret(s)")
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which listener, server, virtual host, VirtualService and route a request would hit.")

    @OptionGroup var config: ConfigOptions

    @Option(help: "The gateway port the request arrives on (default: the first HTTP listener).")
    var port: Int?

    @Option(name: .customShort("H"), help: "A request header, 'Name: value'. Repeatable.")
    var header: [String] = []

    @Argument(help: "The request method, e.g. GET.")
    var method: String

    @Argument(help: "The request URL, e.g. http://bookinfo.example.com/productpage.")
    var url: String

    func validate() throws { try self.config.requirePaths() }

    func run() throws {
        let loaded = ConfigLoader().load(paths: self.config.paths)
        let outcome = SnapshotBuilder(options: try self.config.routingOptions()).build(loaded)
        for diagnostic in outcome.diagnostics {
            FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
        }
        guard let snapshot = outcome.snapshot else {
            FileHandle.standardError.write(Data("configuration rejected; nothing to explain\n".utf8))
            throw ExitCode(1)
        }
        var headers: [(String, String)] = []
        for h in self.header {
            guard let colon = h.firstIndex(of: ":") else { throw ValidationError("-H '\(h)' is not 'Name: value'") }
            headers.append((String(h[..<colon]).trimmed, String(h[h.index(after: colon)...]).trimmed))
        }
        // Without --port, a port in the URL names the listener (http://host:8080/...), as a client would reach it.
        var port = self.port
        if port == nil, let authority = self.url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first,
            let colon = authority.lastIndex(of: ":"), let urlPort = Int(authority[authority.index(after: colon)...]),
            snapshot.routing.listener(port: urlPort) != nil
        {
            port = urlPort
        }
        var text = Explainer.explain(
            table: snapshot.routing, port: port, method: self.method, url: self.url, headers: headers)
        text += ClusterExplainer.describe(snapshot: snapshot, text: text)
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @OptionGroup var config: ConfigOptions

    @Option(help: "Admin listener HOST:PORT.")
    var admin: String = "127.0.0.1:15000"

    @Option(help: "Event-loop threads (default: the CPU count).")
    var concurrency: Int?

    @Option(help: "Seconds to let in-flight requests finish after SIGTERM.")
    var drainSeconds: Int = 5

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Access log destination: a file path, '-' for stdout, or 'off'.")
    var accessLog: String = "-"

    @Option(help: "Access log format: text (Envoy/Istio default) or json.")
    var accessLogFormat: String = "text"

    @Option(help: "Address for Gateway servers that have no bind (default 0.0.0.0, as Istio).")
    var listenAddress: String = "0.0.0.0"

    @Option(help: "Downstream HTTP/2: concurrent streams per connection a client may open.")
    var http2MaxConcurrentStreams: Int = 100

    @Option(
        help: """
            Downstream HTTP/2: new requests started per read cycle of a connection; the rest wait a tick, so a \
            reset arriving meanwhile cancels them before they go upstream (Envoy's http.max_requests_per_io_cycle).
            """)
    var http2MaxRequestsPerIoCycle: Int = 100

    @Option(help: "Downstream HTTP/2: initial receive window per stream, in bytes (65535...2147483647).")
    var http2StreamWindow: Int = 65_535

    @Option(help: "Downstream HTTP/2: receive window per connection, in bytes (65535...2147483647).")
    var http2ConnectionWindow: Int = 1_048_576

    @Option(
        name: .customLong("dns-server"),
        help: "DNS server IP[:PORT] to ask instead of resolv.conf's nameservers (repeatable; tests, split-horizon).")
    var dnsServers: [String] = []

    @Option(help: "Seconds an HTTP/2 response may wait for the client's flow-control window without progress.")
    var streamFlushTimeout: Double = 300

    @OptionGroup(title: "Kubernetes") var kube: KubernetesCLIOptions

    @OptionGroup(title: "istiod (xDS)") var xds: XDSCLIOptions

    func validate() throws {
        let sources = [
            !self.config.paths.isEmpty, self.kube.kubernetes, self.kube.kubeconfig != nil, self.xds.xdsAddress != nil,
        ].filter { $0 }
        if sources.count != 1 {
            throw ValidationError(
                "give exactly one config source: --config PATH, --kubernetes, --kubeconfig PATH or --xds-address ADDRESS")
        }
        if self.kube.watchNamespace != nil, sources.count == 1, !self.config.paths.isEmpty {
            throw ValidationError("--watch-namespace applies to --kubernetes and --kubeconfig only")
        }
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: self.logLevel) else {
            throw ValidationError("--log-level: unknown level '\(self.logLevel)'")
        }
        guard let format = AccessLogFormat(rawValue: self.accessLogFormat) else {
            throw ValidationError("--access-log-format must be text or json")
        }
        guard let colon = self.admin.lastIndex(of: ":"), let adminPort = Int(self.admin[self.admin.index(after: colon)...])
        else { throw ValidationError("--admin must be HOST:PORT") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        guard (1...Int(UInt32.max)).contains(self.http2MaxConcurrentStreams) else {
            throw ValidationError("--http2-max-concurrent-streams must be at least 1")
        }
        guard (65_535...Int(Int32.max)).contains(self.http2StreamWindow),
            (65_535...Int(Int32.max)).contains(self.http2ConnectionWindow)
        else { throw ValidationError("--http2-stream-window and --http2-connection-window: 65535...2147483647") }
        guard self.http2MaxRequestsPerIoCycle >= 1 else {
            throw ValidationError("--http2-max-requests-per-io-cycle must be at least 1")
        }
        var options = GatewayOptions(configPaths: self.config.paths)
        options.limits.http2.maxConcurrentStreams = self.http2MaxConcurrentStreams
        options.limits.http2MaxRequestsPerIOCycle = self.http2MaxRequestsPerIoCycle
        options.limits.http2.initialWindowSize = self.http2StreamWindow
        options.limits.http2.connectionWindowSize = self.http2ConnectionWindow

        options.kubernetes = try self.kube.sourceOptions()
        options.adminHost = String(self.admin[..<colon])
        options.adminPort = adminPort
        if let concurrency { options.concurrency = concurrency }
        options.labels = try self.config.parsedLabels()
        options.namespace = self.config.resolvedNamespace(
            fallback: self.kube.kubernetes
                ? KubernetesClusterConfig.podNamespace(serviceAccountDirectory: self.kube.serviceAccountDirectory)
                : nil)
        options.xds = try self.xds.sourceOptions(namespace: options.namespace, labels: options.labels)
        options.drainSeconds = self.drainSeconds
        options.listenAddress = self.listenAddress
        for server in self.dnsServers where !GatewayOptions.isValidDNSServer(server) {
            throw ValidationError("--dns-server must be IP, IP:PORT or [IPv6]:PORT, not '\(server)'")
        }
        options.dnsServers = self.dnsServers

        guard self.streamFlushTimeout > 0 else { throw ValidationError("--stream-flush-timeout must be positive") }
        options.limits.streamFlushTimeout = .nanoseconds(Int64(self.streamFlushTimeout * 1_000_000_000))
        options.accessLogFormat = format
        switch self.accessLog {
        case "off": options.accessLog = .off
        case "-": options.accessLog = .stdout
        default: options.accessLog = .file(self.accessLog)
        }
        let server = GatewayServer(options: options, logger: Logger(label: "portcullis"))
        let code = try await server.run()
        if code != 0 { throw ExitCode(code) }
    }
}
