import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The platform's resolver (`getaddrinfo`: `/etc/hosts`, then the servers of `/etc/resolv.conf`), run on a thread
/// pool so that its blocking never reaches an event loop.
public struct SystemResolver: NameResolver {
    private let threadPool: NIOThreadPool

    /// A resolver on `threadPool` (the process-wide pool by default).
    public init(threadPool: NIOThreadPool = .singleton) {
        self.threadPool = threadPool
    }

    /// Every IPv4 and IPv6 address of `host`, in the order the platform gives, without duplicates.
    public func resolve(host: String, port: Int) async throws -> [Endpoint] {
        try await self.threadPool.runIfActive {
            try Self.lookUp(host: host, port: port)
        }
    }

    /// The blocking lookup itself (thread pool only).
    private static func lookUp(host: String, port: Int) throws -> [Endpoint] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0 else {
            throw ResolutionError(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(result) }
        var endpoints: [Endpoint] = []
        var next = result
        while let info = next {
            next = info.pointee.ai_next
            guard let address = info.pointee.ai_addr else { continue }
            let socketAddress: SocketAddress
            switch Int32(info.pointee.ai_family) {
            case AF_INET:
                socketAddress = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            case AF_INET6:
                socketAddress = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            default:
                continue
            }
            guard let ip = socketAddress.ipAddress else { continue }
            let endpoint = Endpoint(host: ip, port: port)
            if !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        }
        guard !endpoints.isEmpty else { throw ResolutionError(host: host, reason: "no IPv4 or IPv6 address") }
        return endpoints
    }
}

/// A name that could not be resolved: the name and the resolver's reason.
public struct ResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name asked for.
    public var host: String
    /// What the resolver said (e.g. "Name or service not known", "timed out", "NXDOMAIN").
    public var reason: String

    /// An error for `host`.
    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    /// "Cannot resolve NAME: REASON".
    public var description: String { "Cannot resolve \(self.host): \(self.reason)" }
}
