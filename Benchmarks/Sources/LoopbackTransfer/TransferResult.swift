import Glibc

/// What one transfer moved and how long it took.
public struct TransferResult: Sendable, CustomStringConvertible {
    /// Bytes the receiver counted (checked against what was sent).
    public let bytes: Int
    /// From just before the connection is made until the receiver has seen end of stream.
    public let elapsedNanoseconds: UInt64

    /// Throughput in decimal megabytes (10^6 bytes) per second.
    public var megabytesPerSecond: Double {
        Double(bytes) * 1_000 / Double(max(elapsedNanoseconds, 1))
    }

    public var description: String {
        let milliseconds = elapsedNanoseconds / 1_000_000
        return "\(bytes) bytes in \(milliseconds) ms = \(Int(megabytesPerSecond.rounded())) MB/s"
    }

    /// Checks that the receiver got exactly what the sender sent.
    /// - Throws: ``TransferError`` naming both counts when they differ.
    static func verified(received: Int, expected: Int, elapsedNanoseconds: UInt64, label: String) throws(TransferError) -> TransferResult {
        guard received == expected else {
            throw TransferError("\(label): receiver got \(received) bytes, sender sent \(expected)")
        }
        return TransferResult(bytes: received, elapsedNanoseconds: elapsedNanoseconds)
    }
}

/// A transfer that did not complete, or completed with the wrong byte count.
public struct TransferError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// A failed system call, with its errno spelled out.
    static func system(_ call: String, errno: Int32) -> TransferError {
        TransferError("\(call): \(String(cString: strerror(errno))) (errno \(errno))")
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Writes one line to standard error (Glibc's `stderr` is shared mutable state to Swift 6).
public func printToStandardError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { utf8 in
        var offset = 0
        while offset < utf8.count {
            let written = Glibc.write(2, utf8.baseAddress! + offset, utf8.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
