import NIOSSL

/// Makes swift-nio-ssl handlers that keep BoringSSL's own verification and let ``TLSVerificationNotes`` watch it
/// (why a certificate was rejected, the chain it built). Only swift-nio-ssl's deprecated initializers take such an
/// observing callback; their replacements take over verification entirely. Calling them through this protocol keeps
/// the deprecation warning out of every build while the choice stays documented here.
protocol ObservingSSLHandlerMaking {
    static func client(context: NIOSSLContext, serverHostname: String?, notes: TLSVerificationNotes) throws -> NIOSSLClientHandler
    static func server(context: NIOSSLContext, notes: TLSVerificationNotes) throws -> NIOSSLServerHandler
}

enum ObservingSSLHandlers: ObservingSSLHandlerMaking {
    @available(*, deprecated, message: "Uses swift-nio-ssl's observing verification callback (see ObservingSSLHandlerMaking).")
    static func client(context: NIOSSLContext, serverHostname: String?, notes: TLSVerificationNotes) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverHostname, verificationCallback: { notes.observe($0, $1) })
    }

    @available(*, deprecated, message: "Uses swift-nio-ssl's observing verification callback (see ObservingSSLHandlerMaking).")
    static func server(context: NIOSSLContext, notes: TLSVerificationNotes) throws -> NIOSSLServerHandler {
        try NIOSSLServerHandler(context: context, verificationCallback: { notes.observe($0, $1) })
    }

    /// The factory, seen through the protocol.
    static var maker: any ObservingSSLHandlerMaking.Type { ObservingSSLHandlers.self }
}
