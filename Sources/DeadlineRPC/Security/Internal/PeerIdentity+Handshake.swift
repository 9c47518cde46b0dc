import NIOSSL

extension PeerIdentity {
    /// The identity of a peer whose handshake just completed: its leaf as swift-nio-ssl reports it, then the rest of
    /// the chain the verifier built (``TLSVerificationNotes``); nil when the peer presented no certificate.
    init?(handshakeLeaf leaf: NIOSSLCertificate?, notes: TLSVerificationNotes) {
        guard let leaf, let leafDER = try? leaf.toDERBytes() else { return nil }
        var chain = [leafDER]
        for certificate in notes.chainLeafFirst where certificate != leaf {
            if let der = try? certificate.toDERBytes() { chain.append(der) }
        }
        self.init(derChain: chain)
    }
}
