import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisUpstream

/// Builds the DNS cache at start-up: the stub resolver over resolv.conf (or `--dns-server`) and /etc/hosts, or
/// `getaddrinfo` on `threadPool` when no nameserver is known.
enum DNSSetup {
    /// Whether `text` is a valid `--dns-server` value (`IP`, `IP:PORT`, `[IPv6]:PORT`).
    static func isValidServer(_ text: String) -> Bool {
        DNSResolverConfiguration.serverAddress(text) != nil
    }

    static func makeCache(
        options: GatewayOptions, group: any EventLoopGroup, threadPool: NIOThreadPool, logger: Logger
    ) -> DNSCache {
        let resolvConf = (try? String(contentsOfFile: options.resolvConfPath, encoding: .utf8)) ?? ""
        let hostsText = (try? String(contentsOfFile: options.hostsPath, encoding: .utf8)) ?? ""
        let servers = options.dnsServers.compactMap(DNSResolverConfiguration.serverAddress)
        let configuration = DNSResolverConfiguration.parse(resolvConf).overridingServers(servers)
        let resolver = DNSStubResolver(
            configuration: configuration, hosts: DNSHostsFile.parse(hostsText), group: group)
        if configuration.nameservers.isEmpty {
            logger.warning(
                "no nameserver in resolv.conf: resolving with getaddrinfo, without TTLs",
                metadata: ["path": "\(options.resolvConfPath)"])
        } else {
            logger.debug(
                "dns resolver",
                metadata: ["nameservers": "\(configuration.nameservers)", "search": "\(configuration.search)"])
        }
        return DNSCache(resolver: resolver, threadPool: threadPool)
    }
}
