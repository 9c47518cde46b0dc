/// Why a ``TestNetwork`` could not do what was asked.
public enum TestNetworkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A client dialled a name no server of the network serves.
    case noSuchServer(String)
    /// Two servers were given one name.
    case duplicateName(String)

    /// A sentence naming the culprit.
    public var description: String {
        switch self {
        case .noSuchServer(let name):
            return "No in-process server is named '\(name)'; serve one with network.serve(router, as: \"\(name)\")."
        case .duplicateName(let name):
            return "An in-process server is already named '\(name)'."
        }
    }
}
