import DeadlineRPC
import Foundation
import Synchronization

/// N `rpcbench serve` replicas on 127.0.0.1, each killed and restarted on its own port on demand.
///
/// Made only by ``with(count:executable:extraArguments:startTimeout:_:)``, which kills every child it started on
/// every way out of its body.
final class ReplicaSet: Sendable {
    private struct State {
        var running: [ReplicaProcess?]
        var everStarted: [Int32] = []
        /// Stats calls ``callsStarted(_:)`` made to each replica's current process (they count as started calls).
        var readings: [Int]
    }
    private let state: Mutex<State>
    private let executable: URL
    private let extraArguments: [String]
    private let startTimeout: Duration
    /// Each replica's port, fixed for the set's life (a restarted replica listens on its old port).
    let ports: [Int]

    private init(executable: URL, extraArguments: [String], startTimeout: Duration, replicas: [ReplicaProcess]) {
        self.executable = executable
        self.extraArguments = extraArguments
        self.startTimeout = startTimeout
        self.ports = replicas.map(\.port)
        self.state = Mutex(State(running: replicas, readings: replicas.map { _ in 0 }))
    }

    /// How many replicas the set has.
    var count: Int { self.ports.count }

    /// Every child process id the set has started (killed ones included).
    var everStarted: [Int32] { self.state.withLock { $0.everStarted } }

    /// Starts `count` replicas on free ports, runs `body`, then kills them all — also when starting or `body`
    /// throws or is cancelled. The second element is every child pid started, for checks that none is left.
    static func with<Result: Sendable>(
        count: Int,
        executable: URL,
        extraArguments: [String] = [],
        startTimeout: Duration,
        _ body: (ReplicaSet) async throws -> Result
    ) async throws -> (Result, [Int32]) {
        let started = Mutex<[Int32]>([])
        var replicas: [ReplicaProcess] = []
        do {
            // One after another: a start that fails leaves nothing half-registered, and the set is small.
            for _ in 0..<count {
                replicas.append(
                    try await ReplicaProcess.start(
                        executable: executable,
                        port: 0,
                        extraArguments: extraArguments,
                        timeout: startTimeout,
                        started: { pid in started.withLock { $0.append(pid) } }
                    )
                )
            }
        } catch {
            for replica in replicas { await replica.kill() }
            throw error
        }
        let set = ReplicaSet(executable: executable, extraArguments: extraArguments, startTimeout: startTimeout, replicas: replicas)
        set.state.withLock { $0.everStarted = started.withLock { $0 } }
        do {
            let result = try await body(set)
            await set.stopAll()
            return (result, set.everStarted)
        } catch {
            await set.stopAll()
            throw error
        }
    }

    /// SIGKILLs replica `index` and waits until it has exited; false when it was not running.
    @discardableResult
    func kill(_ index: Int) async -> Bool {
        let replica = self.state.withLock { state -> ReplicaProcess? in
            defer { state.running[index] = nil }
            return state.running[index]
        }
        guard let replica else { return false }
        await replica.kill()
        return true
    }

    /// Starts replica `index` again on its port; tries up to `attempts` times, `pause` apart (a port just freed
    /// can be refused for a moment), then throws the last failure.
    func restart(_ index: Int, attempts: Int = 5, pause: Duration = .milliseconds(100)) async throws {
        precondition(self.state.withLock { $0.running[index] == nil }, "replica \(index) is running")
        var lastError: any Error = RPCError(code: .internal, message: "no attempt")
        for attempt in 1...max(1, attempts) {
            do {
                let replica = try await ReplicaProcess.start(
                    executable: self.executable,
                    port: self.ports[index],
                    extraArguments: self.extraArguments,
                    timeout: self.startTimeout,
                    started: { pid in self.state.withLock { $0.everStarted.append(pid) } }
                )
                self.state.withLock {
                    $0.running[index] = replica
                    $0.readings[index] = 0
                }
                return
            } catch {
                lastError = error
                if attempt < attempts { try await Task.sleep(for: pause) }
            }
        }
        throw lastError
    }

    /// Calls replica `index`'s current process has started, less the stats calls of these readings (each counts
    /// itself); nil when it does not answer. Read on a control client of its own, made for the reading.
    func callsStarted(_ index: Int) async -> Int? {
        let control = RemoteTarget(host: "127.0.0.1", port: self.ports[index])
        let snapshot = try? await control.snapshot()
        await control.close()
        guard let started = snapshot?.hops.first?.callsStarted else { return nil }
        let readings = self.state.withLock { state -> Int in
            state.readings[index] += 1
            return state.readings[index]
        }
        return max(0, started - readings)
    }

    /// Kills every running replica and waits for each to exit.
    func stopAll() async {
        let replicas = self.state.withLock { state -> [ReplicaProcess] in
            defer { state.running = state.running.map { _ in nil } }
            return state.running.compactMap { $0 }
        }
        for replica in replicas { await replica.kill() }
    }
}
