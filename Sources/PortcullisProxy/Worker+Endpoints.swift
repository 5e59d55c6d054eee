import NIOCore
import PortcullisUpstream

extension Worker {
    /// The address of one new connection to endpoint `index` of `runtime`'s cluster (ISTIO-SEMANTICS §4.1).
    ///
    /// IP literals need no lookup; names go through the DNS cache (never blocking this loop) and the cluster's
    /// `DNSAddressPicker`: `DNS` rotates through every address of the answer, `DNS_ROUND_ROBIN` takes the first.
    /// `done` runs on this loop, at once when the answer is cached.
    func resolveEndpoint(
        _ index: Int, runtime: ClusterRuntime, _ done: @escaping (Result<SocketAddress, any Error>) -> Void
    ) {
        let endpoint = runtime.cluster.endpoints[index]
        if let address = self.socketAddress(ip: endpoint.address, port: endpoint.port) {
            done(.success(address))
            return
        }
        self.services.dns.resolve(host: endpoint.address, port: endpoint.port, on: self.eventLoop)
            .assumeIsolated().whenComplete { result in
                switch result {
                case .success(let addresses):
                    if let address = runtime.addressPicker.pick(
                        addresses, endpoint: index, resolution: runtime.cluster.resolution)
                    {
                        done(.success(address))
                    } else {
                        done(.failure(DNSError(host: endpoint.address, reason: "no addresses")))
                    }
                case .failure(let error):
                    done(.failure(error))
                }
            }
    }

    /// Whether endpoint `index` is a name whose resolved addresses are endpoints of their own, pooled apart
    /// (`resolution: DNS`); then the address is chosen before an idle connection is looked for.
    func poolsPerAddress(_ index: Int, runtime: ClusterRuntime) -> Bool {
        let endpoint = runtime.cluster.endpoints[index]
        return DNSAddressPicker.poolsPerAddress(runtime.cluster.resolution)
            && self.socketAddress(ip: endpoint.address, port: endpoint.port) == nil && !endpoint.isUnixSocket
    }
}
