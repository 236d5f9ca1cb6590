/// Signs requests with the first secret of a keyring (see ``RequestSignature``): what an api
/// node does to every request it sends a data node.
public struct RequestSigner: Sendable {
    public let keyring: Reloadable<ClusterKeyring>

    public init(keyring: Reloadable<ClusterKeyring>) { self.keyring = keyring }

    /// The `Authorization` value for a request, with a fresh nonce unless one is given (tests
    /// give one to make a replay).
    /// - Parameters:
    ///   - header: the value of a header as it will be sent, `nil` when it will not be.
    ///   - time: seconds since the Unix epoch.
    public func authorization(method: String, target: String, header: (String) -> String?, time: Int64,
                              nonce: RequestNonce = .random()) -> String {
        let secret = keyring.current.signing
        let text = RequestSignature.stringToSign(keyID: secret.keyID, time: time, nonce: nonce, method: method, target: target,
                                                 header: header)
        return RequestSignature(keyID: secret.keyID, time: time, nonce: nonce, mac: RequestSignature.mac(text, secret)).headerValue
    }
}
