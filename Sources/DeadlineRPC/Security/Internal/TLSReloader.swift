import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Holds the TLS context new connections use, and replaces it when the certificate chain, key and trust roots are
/// read again: on the settings' interval (the owner's timer) or when asked (`reloadTLS()`). Open connections keep the
/// context they were made with. A reload that fails keeps the current context, logs a warning naming the cause and
/// the file, and is counted; one that succeeds is counted and logged.
///
/// Files are read on a `NIOThreadPool` thread, never on an event loop or the cooperative pool. Loads run one at a
/// time (``loading``, held only on the pool's threads), so material read later is installed later.
final class TLSReloader: Sendable {
    enum Settings: Sendable {
        case server(ServerTransportSecurity)
        case client(ClientTransportSecurity)
    }

    let settings: Settings
    /// How often the owner's timer reloads; nil: only when asked.
    let interval: Duration?
    private let current = Mutex<NIOSSLContext?>(nil)
    private let loading = Mutex<Void>(())
    private let recorder: any TLSReloadRecording
    private let logger: Logger
    private let threadPool: NIOThreadPool

    init(_ settings: Settings, recorder: any TLSReloadRecording, logger: Logger, threadPool: NIOThreadPool = .singleton) {
        self.settings = settings
        switch settings {
        case .server(let security): self.interval = security.reloadInterval.flatMap { $0 > .zero ? $0 : nil }
        case .client(let security): self.interval = security.reloadInterval.flatMap { $0 > .zero ? $0 : nil }
        }
        self.recorder = recorder
        self.logger = logger
        self.threadPool = threadPool
    }

    /// The context for a new connection; nil before the first load.
    var context: NIOSSLContext? { self.current.withLock { $0 } }

    private var role: String {
        if case .server = self.settings { return "server" }
        return "client"
    }

    // MARK: Loading

    /// The first load (the server starts, the client connects first): certificates outside their validity are only
    /// warned about (peers will refuse them, naming the cause); other failures are returned, not counted.
    func loadInitial(on eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext> {
        self.threadPool.runIfActive(eventLoop: eventLoop) { try self.loadInitialBlocking() }
    }

    /// ``loadInitial(on:)`` for an async caller; failures become `invalidArgument` naming the cause and the file.
    func loadInitial() async throws -> NIOSSLContext {
        do {
            return try await self.threadPool.runIfActive { try self.loadInitialBlocking() }
        } catch let error as TLSReloadError {
            throw RPCError(code: .invalidArgument, message: error.message, cause: error)
        }
    }

    private func loadInitialBlocking() throws(TLSReloadError) -> NIOSSLContext {
        try self.loading.withLock { _ throws(TLSReloadError) -> NIOSSLContext in
            let validity = TLSMaterialLoader.Validity.warn(now: Date()) { problem in
                self.logger.warning(
                    "TLS \(self.role) certificate in use is outside its validity: \(problem.message)",
                    metadata: self.metadata(problem)
                )
            }
            let loaded = try self.load(validity)
            self.current.withLock { $0 = loaded.context }
            return loaded.context
        }
    }

    /// Reads the material again and, when it is sound, makes it the material of new connections. Throws the cause
    /// when it is not (the current material stays). Logged and counted either way.
    func reload() async throws(TLSReloadError) {
        let result: Result<Void, TLSReloadError>
        do {
            result = try await self.threadPool.runIfActive { self.reloadBlocking() }
        } catch {
            // Only a thread pool that is shutting down fails here (the singleton never does).
            result = .failure(TLSReloadError(cause: .unusable, file: nil, message: "The reload could not run (\(error))."))
        }
        try result.get()
    }

    /// ``reload()`` for an event-loop caller (the client's timer); the future never fails.
    func reload(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        self.threadPool.runIfActive(eventLoop: eventLoop) { _ = self.reloadBlocking() }.recover { _ in }
    }

    private func reloadBlocking() -> Result<Void, TLSReloadError> {
        self.loading.withLock { _ -> Result<Void, TLSReloadError> in
            let loaded: TLSMaterialLoader.Loaded
            do throws(TLSReloadError) {
                loaded = try self.load(.enforce(now: Date()))
            } catch {
                self.logger.warning(
                    "TLS \(self.role) reload failed; new connections keep using the current certificate, key and trust roots: \(error.message)",
                    metadata: self.metadata(error)
                )
                self.recorder.tlsReloadFailed(error.cause)
                return .failure(error)
            }
            self.current.withLock { $0 = loaded.context }
            var metadata: Logger.Metadata = [:]
            if let leaf = loaded.leaf {
                metadata["drpc.tls_serial"] = "\(leaf.serialNumber)"
                metadata["drpc.tls_not_after"] = "\(leaf.notValidAfter.ISO8601Format())"
            }
            self.logger.info("TLS \(self.role) material reloaded; new connections use it", metadata: metadata)
            self.recorder.tlsReloadSucceeded()
            return .success(())
        }
    }

    private func load(_ validity: TLSMaterialLoader.Validity) throws(TLSReloadError) -> TLSMaterialLoader.Loaded {
        switch self.settings {
        case .server(let security): return try TLSMaterialLoader.server(security, validity: validity)
        case .client(let security): return try TLSMaterialLoader.client(security, validity: validity)
        }
    }

    private func metadata(_ error: TLSReloadError) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["drpc.tls_reload_failure": "\(error.cause.rawValue)"]
        if let file = error.file { metadata["drpc.file"] = "\(file)" }
        return metadata
    }

    // MARK: The interval

    /// Reloads every ``interval`` until the task is cancelled (the server's `run()` owns and cancels it). Failures
    /// are logged and counted by ``reload()``; nothing a reload does ends the loop.
    func reloadPeriodically() async {
        guard let interval = self.interval else { return }
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return  // Cancelled: the server is stopping.
            }
            try? await self.reload()
        }
    }
}
