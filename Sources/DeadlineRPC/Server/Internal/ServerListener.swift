import NIOCore

/// What a server listens with: a TCP socket, or an in-process listener.
enum ServerListener: Sendable {
    case tcp(any Channel)
    case inProcess(InProcessListener)

    func close() {
        switch self {
        case .tcp(let channel): channel.close(promise: nil)
        case .inProcess(let listener): listener.close()
        }
    }
}
