import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pauses accepting while the process is out of file descriptors, instead of spinning on `accept`.
///
/// When `accept` fails with `EMFILE` or `ENFILE`, the connection stays in the listen backlog, so the listening socket
/// stays readable. NIO's `ServerBootstrap` adds an `AcceptBackoffHandler`, which delays the *next* read request by a
/// second, but the server channel keeps its read interest registered until an accept succeeds (only a successful
/// accept clears its pending read), so the event loop wakes at once, fails `accept` again, and spins a core for as
/// long as descriptors are short (seen with `strace`: `epoll_wait` → `accept4` = `EMFILE`, 20–45 µs apart, the
/// whole time). This handler turns `autoRead` off on such an error — which removes the read interest — and back on
/// after ``pause``, so the loop tries one accept per pause; connections wait in the backlog meanwhile and are accepted
/// once descriptors are free. Sits first in the server channel's pipeline (added by its initializer).
final class AcceptPauseHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel

    /// Between accept attempts while descriptors are short: a wake-up this rare costs nothing, and a freed
    /// descriptor is used at most this long later.
    static let pause = TimeAmount.milliseconds(100)

    private let logger: Logger
    private var resume: Scheduled<Void>?
    /// Pauses since accepting last worked.
    private(set) var pauses = 0

    init(logger: Logger) {
        self.logger = logger
    }

    /// Errors `accept` recovers from once resources free: the ones NIO's server channel does not close on.
    static func isResourceShortage(_ error: any Error) -> Bool {
        guard let error = error as? IOError else { return false }
        return [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if Self.isResourceShortage(error) && self.resume == nil {
            self.pauseAccepting(context: context, error: error)
        }
        context.fireErrorCaught(error)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.pauses > 0 {
            self.logger.notice("Accepting connections again after \(self.pauses) pauses for lack of file descriptors")
            self.pauses = 0
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.resume?.cancel()
        self.resume = nil
        context.fireChannelInactive()
    }

    private func pauseAccepting(context: ChannelHandlerContext, error: any Error) {
        guard let options = context.channel.syncOptions, (try? options.setOption(.autoRead, value: false)) != nil else {
            return
        }
        self.pauses += 1
        if self.pauses == 1 {
            self.logger.warning("Cannot accept connections (\(error)); retrying every \(Self.pause) until descriptors free")
        }
        self.resume = context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) { [self] in
            self.resume = nil
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }
}
