import Crypto
import FlareCore

/// The signature an api node puts on every request to a data node, as one header:
///
///     Authorization: Flare-HMAC-SHA256 Key=<key id>, Time=<unix seconds>, Nonce=<32 hex>, Signature=<64 hex>
///
/// `Signature` is the lowercase hex of HMAC-SHA256(cluster secret, ``stringToSign``): the
/// scheme, key id, time and nonce, the method and the target as sent, and the value of each
/// of ``signedHeaders`` (empty when absent). What the signature does not cover is the body:
/// a chunk's body is covered by its `X-Flare-Checksum`, which is signed, and checked by the
/// data node before the chunk is acknowledged.
public struct RequestSignature: Sendable, Equatable {
    /// The `Authorization` scheme.
    public static let scheme = "Flare-HMAC-SHA256"
    /// The headers whose values are signed, lower-cased, in signing order: those that change
    /// what a request does to a chunk (its length, the bytes' checksum, the node meant, the
    /// bytes read).
    public static let signedHeaders = ["content-length", "range", "x-flare-checksum", "x-flare-node-id"]

    public var keyID: String
    /// Seconds since the Unix epoch, by the signer's clock.
    public var time: Int64
    public var nonce: RequestNonce
    /// The HMAC, 32 bytes.
    public var mac: [UInt8]

    public init(keyID: String, time: Int64, nonce: RequestNonce, mac: [UInt8]) {
        self.keyID = keyID
        self.time = time
        self.nonce = nonce
        self.mac = mac
    }

    /// The `Authorization` header's value.
    public var headerValue: String {
        "\(Self.scheme) Key=\(keyID), Time=\(time), Nonce=\(nonce), Signature=\(Hex.encode(mac))"
    }

    /// Parses an `Authorization` value of this scheme: exactly the four fields, each once, in
    /// any order. `nil` for anything else.
    public init?(headerValue value: String) {
        guard value.hasPrefix(Self.scheme + " ") else { return nil }
        var keyID: String?, time: Int64?, nonce: RequestNonce?, mac: [UInt8]?
        for field in value.dropFirst(Self.scheme.count + 1).split(separator: ",", omittingEmptySubsequences: false) {
            let parts = field.trimmingWhitespace().split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let text = parts[1]
            switch parts[0] {
            case "Key" where keyID == nil && Hex.decodeLowercase(text, count: 4) != nil: keyID = String(text)
            case "Time" where time == nil && !text.isEmpty && text.allSatisfy(\.isASCIIDigit) && text.count <= 12: time = Int64(text)
            case "Nonce" where nonce == nil: nonce = RequestNonce(text)
            case "Signature" where mac == nil: mac = Hex.decodeLowercase(text, count: 32)
            default: return nil
            }
        }
        guard let keyID, let time, let nonce, let mac else { return nil }
        self.init(keyID: keyID, time: time, nonce: nonce, mac: mac)
    }

    /// What is signed, one field a line; no field can hold a line break (an HTTP head cannot),
    /// so no two requests share a string to sign.
    /// - Parameter header: the value of a signed header as sent, `nil` when absent.
    public static func stringToSign(keyID: String, time: Int64, nonce: RequestNonce, method: String, target: String,
                                    header: (String) -> String?) -> String {
        var text = "\(scheme)\nkey:\(keyID)\ntime:\(time)\nnonce:\(nonce)\nmethod:\(method)\ntarget:\(target)"
        for name in signedHeaders { text += "\n\(name):\(header(name) ?? "")" }
        return text
    }

    /// HMAC-SHA256 of `text` under `secret`.
    static func mac(_ text: String, _ secret: ClusterSecret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: secret.key))
    }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { (0x30...0x39).contains($0) } ?? false }
}
