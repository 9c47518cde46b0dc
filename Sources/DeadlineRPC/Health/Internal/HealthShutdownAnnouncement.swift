import NIOCore
import Synchronization

/// The first step of a server's graceful shutdown: its health services turn `NOT_SERVING`, and the GOAWAYs (`then`)
/// wait until every watcher has been written that, or until `timeout` (a watcher whose client grants no credit
/// cannot hold the shutdown longer) — exactly once, whichever comes first.
///
/// Nothing here is a task: the last watcher's write runs `then` from its own handler, or the timer does on the loop.
final class HealthShutdownAnnouncement: Sendable {
    private struct State {
        var remaining: Int
        var action: (@Sendable () -> Void)?
        var timer: Scheduled<Void>?
    }

    private let state: Mutex<State>

    private init(remaining: Int, action: @escaping @Sendable () -> Void) {
        self.state = Mutex(State(remaining: remaining, action: action))
    }

    /// Shuts `services` down and runs `then` once all of them are announced or `timeout` passed; with no services,
    /// runs `then` at once.
    static func start(
        _ services: [HealthService],
        timeout: Duration,
        on eventLoop: any EventLoop,
        then action: @escaping @Sendable () -> Void
    ) {
        guard !services.isEmpty else { return action() }
        let announcement = HealthShutdownAnnouncement(remaining: services.count, action: action)
        let timer = eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { announcement.fire() }
        let fired = announcement.state.withLock { state in
            state.timer = timer
            return state.action == nil
        }
        if fired { timer.cancel() }
        for service in services {
            service.enterShutdown(whenAnnounced: { announcement.serviceAnnounced() })
        }
    }

    private func serviceAnnounced() {
        let done = self.state.withLock { state in
            state.remaining -= 1
            return state.remaining == 0
        }
        if done { self.fire() }
    }

    private func fire() {
        let (action, timer) = self.state.withLock { state in
            defer { (state.action, state.timer) = (nil, nil) }
            return (state.action, state.timer)
        }
        timer?.cancel()
        action?()
    }
}
