/// S3's rules for bucket names ("general purpose bucket naming rules").
public enum S3BucketName {
    /// True if `name` is 3–63 characters of lowercase letters, digits, `.` and `-`, starts and
    /// ends with a letter or digit, has no `..`, and is not an IPv4 address (a name that looks
    /// like one would make a virtual-host name that is an address).
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool { (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte) }
        guard bytes.allSatisfy({ isAlphanumeric($0) || $0 == 0x2e || $0 == 0x2d }),
              isAlphanumeric(bytes[0]), isAlphanumeric(bytes[bytes.count - 1]),
              !name.contains("..")
        else { return false }
        return !looksLikeIPv4(name)
    }

    private static func looksLikeIPv4(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
        }
    }
}
