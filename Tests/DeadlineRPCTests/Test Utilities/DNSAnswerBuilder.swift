/// Builds DNS answers byte by byte for the resolver's tests: a header, the question, and records whose owner
/// names are written out or compressed to the question's name (offset 12).
struct DNSAnswerBuilder {
    /// A record to write.
    struct Record {
        /// The owner; nil = a compression pointer to the question's name.
        var name: String?
        var type: UInt16
        var data: [UInt8]
        var recordClass: UInt16 = 1
        var ttl: UInt32 = 300
    }

    var id: UInt16
    /// The header's flags: a response, recursion desired and available, NOERROR.
    var flags: UInt16 = 0x8180
    var questionName: String
    var questionType: UInt16
    var records: [Record] = []

    static func a(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, name: String? = nil) -> Record {
        Record(name: name, type: 1, data: [a, b, c, d])
    }

    static func aaaa(_ bytes: [UInt8], name: String? = nil) -> Record {
        Record(name: name, type: 28, data: bytes)
    }

    static func cname(_ target: String, name: String? = nil) -> Record {
        Record(name: name, type: 5, data: Self.encode(target))
    }

    /// `name` as uncompressed labels.
    static func encode(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes.append(contentsOf: label.utf8)
        }
        bytes.append(0)
        return bytes
    }

    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        u16(self.id)
        u16(self.flags)
        u16(1)
        u16(UInt16(self.records.count))
        u16(0)
        u16(0)
        bytes += Self.encode(self.questionName)
        u16(self.questionType)
        u16(1)
        for record in self.records {
            if let name = record.name { bytes += Self.encode(name) } else { bytes += [0xC0, 0x0C] }
            u16(record.type)
            u16(record.recordClass)
            u16(UInt16(record.ttl >> 16))
            u16(UInt16(record.ttl & 0xFFFF))
            u16(UInt16(record.data.count))
            bytes += record.data
        }
        return bytes
    }
}
