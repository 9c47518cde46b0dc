extension Router {
    /// Registers the reflection service (``ReflectionService``): `ListMethods` and `DescribeMethod`. They report the
    /// methods of the router a server is built from — also those registered after this call — and the statuses of
    /// its health services at the time of the call.
    public mutating func addReflectionService() {
        self.servesReflection = true
        // Registered now so `methodNames` shows them; a server re-registers them with its final method list.
        self.registerReflection()
    }

    /// (Re-)registers the reflection methods over the router's current methods and health services.
    mutating func registerReflection() {
        // Their own descriptors first, so the snapshot lists them.
        self.registerReflection(methods: [], health: [])
        let methods = self.methods
        self.registerReflection(methods: methods, health: self.healthServices)
    }

    private mutating func registerReflection(methods: [MethodDescriptor], health: [HealthService]) {
        let byName = Dictionary(methods.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let list = Method<ReflectionService.ListMethodsRequest, ReflectionListing>(
            ReflectionService.listMethodsName,
            kind: .unary,
            requestCodec: StrictJSONCodec(),
            responseCodec: StrictJSONCodec(),
            isIdempotent: true
        )
        let describe = Method<ReflectionService.DescribeMethodRequest, MethodDescriptor>(
            ReflectionService.describeMethodName,
            kind: .unary,
            requestCodec: StrictJSONCodec(),
            responseCodec: StrictJSONCodec(),
            isIdempotent: true
        )
        self.unary(list) { _, _ in
            var statuses: [ReflectionListing.HealthStatus] = []
            for service in health {
                for (name, status) in service.allStatuses() {
                    statuses.append(ReflectionListing.HealthStatus(service: name, status: status))
                }
            }
            statuses.sort { ($0.service, $0.status.rawValue) < ($1.service, $1.status.rawValue) }
            return ReflectionListing(methods: methods, health: statuses)
        }
        self.unary(describe) { request, _ in
            guard let descriptor = byName[request.method] else {
                throw RPCError(code: .notFound, message: "This server does not serve '\(request.method)'.")
            }
            return descriptor
        }
    }
}
