import COpenSSL
import FlareIO
import Glibc

/// The api's TLS settings: its certificate chain and private key, TLS 1.2 and 1.3, OpenSSL's
/// default cipher suites. Each accepted connection becomes a ``TLSConnection``.
///
/// Why OpenSSL here and not swift-nio-ssl: Flare's loops are its own (io_uring or epoll), not
/// NIO's; OpenSSL driven through memory BIOs does only the cryptography, and every byte still
/// moves through FlareIO. Kernel TLS (the `tls` ULP) would take the record layer off the CPU's
/// copy path where the kernel has it; this VM's kernel does not, so this is the path.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads a PEM certificate chain (leaf first) and its PEM private key.
    /// - Throws: ``TLSError`` naming the file and OpenSSL's reason.
    public init(certificateChainFile: String, privateKeyFile: String) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("cannot create a TLS context: \(TLSError.queue())") }
        self.context = context
        guard flare_ssl_ctx_set_min_tls12(context) == 1 else { throw TLSError("cannot require TLS 1.2: \(TLSError.queue())") }
        // Idle keep-alive connections give their record buffers back.
        _ = flare_ssl_ctx_set_mode_release_buffers(context)
        flare_ssl_ctx_no_renegotiation(context)
        guard SSL_CTX_use_certificate_chain_file(context, certificateChainFile) == 1 else {
            throw TLSError("--tls-cert \(certificateChainFile): \(TLSError.queue())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError("--tls-key \(privateKeyFile): \(TLSError.queue())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError("--tls-key \(privateKeyFile) is not the key of --tls-cert \(certificateChainFile): \(TLSError.queue())")
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Runs the server side of the handshake on `connection`.
    /// - Throws: ``IOError`` (`EPROTO` with OpenSSL's reason when the handshake fails,
    ///   `.timedOut` when it is not done within `timeout`).
    public func accept(_ connection: TCPConnection, timeout: Duration) async throws(IOError) -> TLSConnection {
        let tls = try TLSConnection(context: self, tcp: connection)
        try await tls.handshake(timeout: timeout)
        return tls
    }
}

/// A TLS setting or certificate that cannot be used, with OpenSSL's reason.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) { self.description = description }

    /// OpenSSL's error queue as text (and emptied), oldest first.
    static func queue() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
    }
}
