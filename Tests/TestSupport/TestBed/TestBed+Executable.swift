import Foundation
import HostBed

extension TestBed {
    /// The built executable `name` of this package (`demo-services`), from `.build` or beside the test bundle.
    package static func executable(_ name: String) throws -> URL {
        // This file is Tests/TestSupport/TestBed/…: the package root is four levels up.
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for configuration in ["debug", "release"] {
            for triple in ["", "x86_64-unknown-linux-gnu/", "aarch64-unknown-linux-gnu/"] {
                let url = root.appendingPathComponent(".build/\(triple)\(configuration)/\(name)")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
        }
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
        throw TestBedError("\(name) was not built; run `swift build` first")
    }
}
