import Foundation
import ThrowawayPKI

/// A topology whose services run as separate `demo-services serve` processes on 127.0.0.1: started leaves first,
/// each wired to the ports its downstreams printed, and stopped with SIGTERM (SIGKILL if one does not exit).
package final class ProcessTopology: Sendable {
    /// One running child.
    package struct Child: Sendable {
        /// The service it runs.
        package let name: ServiceName
        /// The process.
        package let process: Process
        /// Its RPC endpoint (nil for the front door).
        package let rpc: ServiceAddress?
        /// Its HTTP endpoint.
        package let http: ServiceAddress
    }

    /// How a child ended.
    package struct Exit: Sendable, Hashable, CustomStringConvertible {
        /// The service.
        package var name: ServiceName
        /// Whether it exited by itself (rather than being killed by a signal).
        package var exited: Bool
        /// The exit status, or the signal number.
        package var status: Int32
        /// Whether it had to be killed with SIGKILL after not exiting on SIGTERM in time.
        package var killed: Bool

        /// Exited with status 0 on SIGTERM.
        package var isClean: Bool { self.exited && self.status == 0 && !self.killed }

        /// `gateway: exit 0`, `fraud: signal 9 (killed after the timeout)`.
        package var description: String {
            "\(self.name.rawValue): \(self.exited ? "exit" : "signal") \(self.status)\(self.killed ? " (killed after the timeout)" : "")"
        }
    }

    /// The children, in start order.
    package let children: [Child]
    /// Where the topology is reached.
    package let endpoints: TopologyEndpoints

    private init(children: [Child], endpoints: TopologyEndpoints) {
        self.children = children
        self.endpoints = endpoints
    }

    /// The `demo-services` executable of this process.
    package static var currentExecutable: URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }

    /// Starts every service of `settings` as a process of `executable`. Each child also stops by itself after
    /// `selfStop`, so none outlives a launcher that dies. Children that started are stopped if a later one fails.
    /// With `tls`, each child reads its certificate, key and the CA from these files (`serve --tls-…`).
    package static func launch(
        executable: URL,
        settings: TopologySettings,
        tls: [ServiceName: ThrowawayFiles]? = nil,
        selfStop: Duration = .seconds(600),
        readyTimeout: Duration = .seconds(60)
    ) async throws -> ProcessTopology {
        var children: [Child] = []
        do {
            var rpc: [ServiceName: ServiceAddress] = [:]
            for name in ServiceName.startOrder {
                var arguments = ["serve", name.rawValue, "--port", "0", "--duration", "\(selfStop.components.seconds)"]
                for downstream in name.downstreams {
                    if let endpoint = rpc[downstream] {
                        arguments += ["--downstream", NamedEndpoint(service: downstream, endpoint: endpoint).argument]
                    }
                }
                arguments += settings.arguments
                if let files = tls?[name] { arguments += ServiceTLS.arguments(files) }
                let child = try await Self.start(name, executable: executable, arguments: arguments, readyTimeout: readyTimeout)
                children.append(child)
                rpc[name] = child.rpc
            }
            let http = Dictionary(uniqueKeysWithValues: children.map { ($0.name, $0.http) })
            return ProcessTopology(
                children: children,
                endpoints: TopologyEndpoints(propagation: settings.propagationLabel, front: http[.frontdoor]!, http: http, rpc: rpc)
            )
        } catch {
            _ = await Self.terminate(children, timeout: .seconds(20))
            throw error
        }
    }

    /// Sends SIGTERM to every child (front door first), waits up to `timeout` for all to exit, SIGKILLs the rest,
    /// and reports how each ended.
    package func terminate(timeout: Duration = .seconds(20)) async -> [Exit] {
        await Self.terminate(self.children, timeout: timeout)
    }

    private static func terminate(_ children: [Child], timeout: Duration) async -> [Exit] {
        for child in children.reversed() where child.process.isRunning {
            child.process.terminate()
        }
        let giveUp = ContinuousClock.now + timeout
        while children.contains(where: { $0.process.isRunning }) && ContinuousClock.now < giveUp {
            try? await Task.sleep(for: .milliseconds(20))
        }
        var killed: Set<ServiceName> = []
        for child in children where child.process.isRunning {
            kill(child.process.processIdentifier, SIGKILL)
            killed.insert(child.name)
        }
        for child in children {
            while child.process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return children.map { child in
            Exit(
                name: child.name,
                exited: child.process.terminationReason == .exit,
                status: child.process.terminationStatus,
                killed: killed.contains(child.name)
            )
        }
    }

    /// Starts one `serve` process and reads its `ready` line.
    private static func start(_ name: ServiceName, executable: URL, arguments: [String], readyTimeout: Duration) async throws -> Child {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let line = try await Self.readLine(output.fileHandleForReading, of: process, timeout: readyTimeout)
        // ready NAME rpc=PORT http=PORT
        var ports: [String: Int] = [:]
        for field in line.split(separator: " ") {
            let pair = field.split(separator: "=")
            if pair.count == 2, let port = Int(pair[1]) { ports[String(pair[0])] = port }
        }
        guard line.hasPrefix("ready \(name.rawValue) "), let http = ports["http"], let rpc = ports["rpc"] else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw SettingsError("\(name.rawValue) did not start: it printed '\(line)' instead of 'ready \(name.rawValue) rpc=PORT http=PORT'.")
        }
        return Child(
            name: name,
            process: process,
            rpc: name == .frontdoor ? nil : ServiceAddress(host: "127.0.0.1", port: rpc),
            http: ServiceAddress(host: "127.0.0.1", port: http)
        )
    }

    /// Reads one line from `handle` on a blocking thread; kills `process` if none comes within `timeout` (which
    /// ends the read with end of file).
    private static func readLine(_ handle: FileHandle, of process: Process, timeout: Duration) async throws -> String {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        var bytes = Data()
                        while true {
                            let byte = handle.readData(ofLength: 1)
                            if byte.isEmpty || byte == Data([0x0A]) { break }
                            bytes.append(byte)
                        }
                        continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
                    }
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                } catch {}
                return nil
            }
            var line = ""
            for await result in group {
                if let result {
                    line = result
                    group.cancelAll()
                }
            }
            return line
        }
    }
}
