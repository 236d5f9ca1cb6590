import Foundation

/// One key as etcd stores it: value and revisions (`mvccpb.KeyValue`).
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    /// Revision of the put that created the key (0 for none).
    public var createRevision: Int64
    /// Revision of its last change: what a compare-and-set compares.
    public var modRevision: Int64
    /// Puts since it was created.
    public var version: Int64
    /// Lease it is attached to (0: none).
    public var lease: Int64

    init(json: [String: Any], call: String) throws(EtcdError) {
        guard let key = (json["key"] as? String).flatMap(EtcdJSON.decode) else { throw .malformed(call: call, why: "a key without base64 key") }
        self.key = String(decoding: key, as: UTF8.self)
        value = (json["value"] as? String).flatMap(EtcdJSON.decode) ?? []
        createRevision = EtcdJSON.int(json["create_revision"])
        modRevision = EtcdJSON.int(json["mod_revision"])
        version = EtcdJSON.int(json["version"])
        lease = EtcdJSON.int(json["lease"])
    }
}

/// The gateway's JSON conventions: bytes as base64, 64-bit integers as decimal strings.
enum EtcdJSON {
    static func encode(_ bytes: some Sequence<UInt8>) -> String { Data(bytes).base64EncodedString() }
    static func encode(_ text: String) -> String { encode(Array(text.utf8)) }
    static func decode(_ text: String) -> [UInt8]? { Data(base64Encoded: text).map { Array($0) } }

    /// An int64 field: a string ("42") in the gateway's JSON, absent when zero.
    static func int(_ value: Any?) -> Int64 {
        switch value {
        case let text as String: Int64(text) ?? 0
        case let number as NSNumber: number.int64Value
        default: 0
        }
    }

    /// The key just after every key starting with `prefix`: etcd's `range_end` for a prefix.
    static func prefixEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]  // every key
    }
}
