/// `ListMethods`'s answer: every method the server serves (sorted by name, the reflection service's own included)
/// and the statuses of the health services registered on it (empty when it has none).
public struct ReflectionListing: Sendable, Hashable, Codable {
    /// One service name's status in a health service registered on the server.
    public struct HealthStatus: Sendable, Hashable, Codable {
        /// The service name (`""`: the server as a whole).
        public var service: String
        /// Its status, by its protobuf name (`SERVING`, `NOT_SERVING`, …) on the wire.
        public var status: ServingStatus

        /// Creates an entry.
        public init(service: String, status: ServingStatus) {
            self.service = service
            self.status = status
        }

        private enum CodingKeys: String, CodingKey { case service, status }

        /// Decodes `{"service": …, "status": "SERVING"}`; a status name this version does not know is `UNKNOWN`.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.service = try container.decode(String.self, forKey: .service)
            let name = try container.decode(String.self, forKey: .status)
            self.status = ServingStatus.allCases.first { $0.description == name } ?? .unknown
        }

        /// Encodes `{"service": …, "status": "SERVING"}`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.service, forKey: .service)
            try container.encode(self.status.description, forKey: .status)
        }
    }

    /// The methods, sorted by name.
    public var methods: [MethodDescriptor]
    /// The health statuses, sorted by service name.
    public var health: [HealthStatus]

    /// Creates a listing.
    public init(methods: [MethodDescriptor], health: [HealthStatus]) {
        self.methods = methods
        self.health = health
    }
}
