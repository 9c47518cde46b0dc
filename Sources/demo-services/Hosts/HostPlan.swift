import DemoTopology
import HostBed

/// Where `launch --hosts` puts everything: each service (each replica) on a test-bed host of its own, per topology
/// (propagation on, off); which services run two replicas behind one DNS name; which host's clock runs days ahead;
/// and which replicas are killed and drained mid-run, before which scenario. Pure: no process, no namespace.
struct HostPlan: Sendable {
    /// One service replica on its host.
    struct Placement: Sendable, Hashable {
        /// The topology's column (0: the first propagation setting).
        var topology: Int
        /// `on` or `off`.
        var propagation: String
        /// The service.
        var service: ServiceName
        /// Which replica (1-based).
        var replica: Int
        /// How many replicas the service runs.
        var replicas: Int
        /// The bed's host number (1-based).
        var host: Int
        /// How far the host's monotonic clock reads ahead.
        var clockOffset: Duration

        /// `pricing r2` for a replicated service, `gateway` otherwise.
        var label: String { self.replicas > 1 ? "\(self.service.rawValue) r\(self.replica)" : self.service.rawValue }
    }

    /// A replica killed or drained mid-run.
    struct Event: Sendable, Hashable {
        /// What happens to the replica.
        enum Kind: String, Sendable, Hashable {
            /// SIGKILL: gone at once, its connections reset, its calls in flight lost.
            case kill
            /// SIGTERM: graceful shutdown — health NOT_SERVING, GOAWAY, calls in flight finish, exit 0.
            case drain
        }

        /// Kill or drain.
        var kind: Kind
        /// The service.
        var service: ServiceName
        /// Which replica.
        var replica: Int
    }

    /// Services that run more than one replica, and how many.
    static let replicated: [ServiceName: Int] = [.pricing: 2, .inventory: 2]
    /// The service whose host's clock reads ahead: the gateway, which every checkout passes.
    static let offsetService = ServiceName.gateway
    /// How far ahead.
    static let clockOffset: Duration = .days(3)
    /// The RPC port of every service (each replica on its own host, so all on the same port).
    static let rpcPort = 7000
    /// The port of every service's `/metrics` and `/stats`.
    static let httpPort = 9000
    /// The front door's HTTP port.
    static let frontPort = 8080
    /// The DNS zone of the services' names (dnsmasq is authoritative for `.test`).
    static let zone = "demo.test"
    /// The replica killed mid-run, then the one drained.
    static let events = [Event(kind: .kill, service: .pricing, replica: 2), Event(kind: .drain, service: .inventory, replica: 1)]

    /// The topologies' settings, in column order.
    let settings: [TopologySettings]
    /// Every replica of every topology, topology by topology, in start order (leaves first).
    let placements: [Placement]

    /// Plans a host for every replica of every topology of `settings`.
    init(settings: [TopologySettings]) {
        self.settings = settings
        var placements: [Placement] = []
        for (topology, settings) in settings.enumerated() {
            for service in ServiceName.startOrder {
                let replicas = Self.replicated[service] ?? 1
                for replica in 1...replicas {
                    placements.append(
                        Placement(
                            topology: topology,
                            propagation: settings.propagationLabel,
                            service: service,
                            replica: replica,
                            replicas: replicas,
                            host: placements.count + 1,
                            clockOffset: service == Self.offsetService ? Self.clockOffset : .zero
                        )
                    )
                }
            }
        }
        self.placements = placements
    }

    /// How many hosts the bed needs: one per replica.
    var hostCount: Int { self.placements.count }

    /// Each host's clock offset, host 1 first.
    var clockOffsets: [Duration] { self.placements.map(\.clockOffset) }

    /// The DNS name of `service` in topology `topology`: `pricing.on.demo.test`, one record per replica.
    func dnsName(_ service: ServiceName, topology: Int) -> String {
        "\(service.rawValue).\(self.settings[topology].propagationLabel).\(Self.zone)"
    }

    /// The replicas of `service` in topology `topology`.
    func replicas(of service: ServiceName, topology: Int) -> [Placement] {
        self.placements.filter { $0.topology == topology && $0.service == service }
    }

    /// The `serve` arguments of `placement` on a host at `address`: its own address and the fixed ports, each
    /// downstream by its DNS name, the topology's settings, and a stop by itself after `selfStop`.
    func arguments(_ placement: Placement, address: String, selfStop: Duration) -> [String] {
        let port = placement.service == .frontdoor ? Self.frontPort : Self.rpcPort
        var arguments = [
            "serve", placement.service.rawValue, "--host", address, "--port", "\(port)",
            "--metrics-port", "\(Self.httpPort)", "--duration", "\(selfStop.components.seconds)",
        ]
        for downstream in placement.service.downstreams {
            let name = self.dnsName(downstream, topology: placement.topology)
            arguments += ["--downstream", NamedTarget.dns(downstream, name: name, port: Self.rpcPort).argument]
        }
        return arguments + self.settings[placement.topology].arguments
    }

    /// Which events happen before the scenario at each index, for `count` scenarios: the kill after the first
    /// scenario and the drain after the second, so that at least one scenario runs before them and one after; with
    /// two scenarios both come after the first, with one both before it.
    static func schedule(scenarios count: Int) -> [Int: [Event]] {
        let kill = count >= 2 ? 1 : 0
        let drain = count >= 3 ? 2 : kill
        var schedule: [Int: [Event]] = [:]
        schedule[kill, default: []].append(Self.events[0])
        schedule[drain, default: []].append(Self.events[1])
        return schedule
    }
}
