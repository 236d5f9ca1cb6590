import FlareCore
import Testing

/// `Range: bytes=…` resolved against a length, RFC 9110 §14: one range is served with 206,
/// anything the server does not understand (or several ranges) gets the whole body.
@Suite("ByteRange")
struct ByteRangeTests {
    @Test("resolution table for a 10-byte object", arguments: [
        (nil, ByteRange.full),
        ("bytes=0-0", .partial(0..<1)),
        ("bytes=0-9", .partial(0..<10)),
        ("bytes=2-4", .partial(2..<5)),
        ("bytes=5-", .partial(5..<10)),
        ("bytes=9-", .partial(9..<10)),
        ("bytes=-3", .partial(7..<10)),
        ("bytes=-10", .partial(0..<10)),
        ("bytes=-11", .partial(0..<10)),
        ("bytes=5-100", .partial(5..<10)),
        ("bytes=0-99999999999999999", .partial(0..<10)),
        ("Bytes=1-2", .partial(1..<3)),
        (" bytes=1-2 ", .partial(1..<3)),
        ("bytes=10-", .unsatisfiable),
        ("bytes=10-20", .unsatisfiable),
        ("bytes=100-200", .unsatisfiable),
        ("bytes=-0", .unsatisfiable),
        ("bytes=0-1,3-4", .full),
        ("bytes=0-1, 5-", .full),
        ("", .full),
        ("bytes=", .full),
        ("bytes=-", .full),
        ("bytes=abc", .full),
        ("bytes=a-b", .full),
        ("bytes=1-a", .full),
        ("bytes=+1-2", .full),
        ("bytes=5-2", .full),
        ("items=0-1", .full),
        ("0-1", .full),
        ("bytes=99999999999999999999-", .full),
    ] as [(String?, ByteRange)])
    func table(header: String?, expected: ByteRange) {
        #expect(ByteRange.resolve(header, length: 10) == expected, "\(header ?? "nil")")
    }

    @Test("an empty object satisfies no range")
    func emptyObject() {
        #expect(ByteRange.resolve(nil, length: 0) == .full)
        #expect(ByteRange.resolve("bytes=0-0", length: 0) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=0-", length: 0) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-1", length: 0) == .unsatisfiable)
        #expect(ByteRange.resolve("garbage", length: 0) == .full)
    }

    @Test("ranges at 64 KiB chunk boundaries")
    func chunkBoundaries() {
        let length = 3 * 65536 + 17
        #expect(ByteRange.resolve("bytes=65535-65536", length: length) == .partial(65535..<65537))
        #expect(ByteRange.resolve("bytes=65536-", length: length) == .partial(65536..<length))
        #expect(ByteRange.resolve("bytes=-1", length: length) == .partial((length - 1)..<length))
        #expect(ByteRange.resolve("bytes=\(length - 1)-\(length - 1)", length: length) == .partial((length - 1)..<length))
        #expect(ByteRange.resolve("bytes=\(length)-", length: length) == .unsatisfiable)
    }
}
