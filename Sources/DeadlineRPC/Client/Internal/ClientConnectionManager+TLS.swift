import NIOCore
import NIOSSL

/// The client's TLS work under way (event loop only): the first load, and the reload timer.
struct ClientTLSState {
    /// The first load, while it runs (files are read on the thread pool; the loop waits for nothing).
    var initialLoad: EventLoopFuture<NIOSSLContext>?
    /// Endpoints whose connection waits for the first load.
    var waiting: [EndpointConnection] = []
    /// The next reload on the interval.
    var timer: Scheduled<Void>?
    /// The interval's reload, while it runs.
    var reloading: EventLoopFuture<Void>?
    /// Whether the interval's timer runs (it starts with the first successful load).
    var timerStarted = false
}

// Loading the TLS material off the loop, and reloading it on the interval (on the event loop). The timer is the
// manager's own: started by the first successful load, stopped by `close()`, which also awaits the load or reload
// under way. Nothing a caller does stops it short of closing the client.
extension ClientConnectionManager {
    /// Opens `endpoint`'s connection with the current TLS context: at once when it is loaded, else after the first
    /// load (off the loop); a first load that fails fails the attempt with its reason (the next attempt reads the
    /// files again).
    func openWithTLS(_ endpoint: EndpointConnection) {
        guard let tls = self.tls else { return }
        if let context = tls.context {
            // Loaded already, perhaps by a caller's reloadTLS() before the first connection: the timer starts here then.
            self.startTLSReloadTimer()
            self.open(endpoint, tlsContext: context)
            return
        }
        self.tlsState.waiting.append(endpoint)
        guard self.tlsState.initialLoad == nil else { return }
        let load = tls.loadInitial(on: self.eventLoop)
        self.tlsState.initialLoad = load
        load.whenComplete { [self] result in
            self.tlsState.initialLoad = nil
            let waiting = self.tlsState.waiting
            self.tlsState.waiting = []
            switch result {
            case .success(let context):
                self.startTLSReloadTimer()
                for endpoint in waiting where !self.isClosed && endpoint.lifecycle.isConnecting {
                    self.open(endpoint, tlsContext: context)
                }
            case .failure(let error):
                let message = (error as? TLSReloadError)?.message ?? "the TLS material could not be loaded (\(error))"
                for endpoint in waiting { self.connectFailed(endpoint, Self.sentence(message)) }
            }
        }
    }

    /// `connectFailed` messages are wrapped in "Cannot reach …: <message>."; drop the message's own final period.
    private static func sentence(_ message: String) -> String {
        message.hasSuffix(".") ? String(message.dropLast()) : message
    }

    /// Starts the interval's reloads (once; a client without an interval has none).
    private func startTLSReloadTimer() {
        guard !self.tlsState.timerStarted, !self.isClosed else { return }
        self.tlsState.timerStarted = true
        self.scheduleTLSReload()
    }

    private func scheduleTLSReload() {
        guard let tls = self.tls, let interval = tls.interval, !self.isClosed else { return }
        self.tlsState.timer = self.eventLoop.scheduleTask(in: .nanoseconds(interval.nanoseconds)) { [weak self] in
            guard let self, !self.isClosed else { return }
            self.tlsState.timer = nil
            let reload = tls.reload(on: self.eventLoop)
            self.tlsState.reloading = reload
            reload.whenComplete { [self] _ in
                self.tlsState.reloading = nil
                self.scheduleTLSReload()  // After the reload ends: two never overlap.
            }
        }
    }

    /// `close()`: no further reload.
    func stopTLSReloads() {
        self.tlsState.timer?.cancel()
        self.tlsState.timer = nil
    }

    /// `close()`: waits for a load or reload under way (each reads a few files on the thread pool).
    func awaitTLSWork() async {
        let work: [EventLoopFuture<Void>] = await withCheckedContinuation { continuation in
            self.onLoop {
                var work: [EventLoopFuture<Void>] = []
                if let load = self.tlsState.initialLoad { work.append(load.map { _ in }) }
                if let reload = self.tlsState.reloading { work.append(reload) }
                continuation.resume(returning: work)
            }
        }
        for future in work { _ = try? await future.get() }
    }

    /// The caller's reload (`RPCClient.reloadTLS()`): owned by the caller's task, which awaits it.
    func reloadTLS() async throws {
        guard let tls = self.tls else {
            throw RPCError(code: .failedPrecondition, message: "This client has no TLS settings to reload (its transportSecurity is plaintext).")
        }
        try await tls.reload()
    }
}
