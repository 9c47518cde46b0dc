import DeadlineRPC
import TestSupport
import Testing

/// ``DNSResolver`` against the bed's real dnsmasq, with records changed while the test runs.
@Suite("DNSResolver against the test bed's dnsmasq", .testBed, .heavyweight, .serialized, .timeLimit(.minutes(5)))
struct BedDNSTests {
    @Test("Both records of a name; the new set once the records change; NXDOMAIN for an unknown or removed name")
    func recordsChange() async throws {
        try await withTestBed(hosts: 3) { bed in
            let resolver = bed.resolver
            let (one, two, three) = (bed.host(1).address, bed.host(2).address, bed.host(3).address)

            try await bed.setRecords("orders.test", to: [one, two])
            let first = try await resolver.resolve(host: "orders.test", port: 7000)
            #expect(first.count == 2)
            #expect(Set(first) == [Endpoint(host: one, port: 7000), Endpoint(host: two, port: 7000)])

            try await bed.setRecords("orders.test", to: [two, three])
            #expect(Set(try await resolver.resolve(host: "orders.test", port: 7000).map(\.host)) == [two, three])

            // Another name changes without touching this one; AAAA records come after A records.
            try await bed.setRecords("mixed.test", to: ["fd00::7", one])
            #expect(try await resolver.resolve(host: "mixed.test", port: 1).map(\.host) == [one, "fd00::7"])
            #expect(Set(try await resolver.resolve(host: "orders.test", port: 7000).map(\.host)) == [two, three])

            let unknown = await #expect(throws: ResolutionError.self) { try await resolver.resolve(host: "unknown.test", port: 1) }
            #expect(unknown == ResolutionError(host: "unknown.test", reason: "no such name"))

            try await bed.setRecords("orders.test", to: [])
            let removed = await #expect(throws: ResolutionError.self) { try await resolver.resolve(host: "orders.test", port: 1) }
            #expect(removed?.reason == "no such name")
        }
    }
}
