import FlareCore
import Testing

@Suite("Byte sizes")
struct ByteSizeTests {
    @Test("format: the largest binary unit, one decimal at most, none when it rounds to a whole number", arguments: [
        (512, "512 B"), (4096, "4 KiB"), (12345, "12.1 KiB"), (3 << 19, "1.5 MiB"), (270_582_939_648, "252 GiB"),
        ((1 << 30) - 1, "1024 MiB"), (5 << 40, "5 TiB"),
    ])
    func format(bytes: Int, text: String) {
        #expect(ByteSize.format(bytes) == text)
    }

    @Test("parse: numbers with binary units, nil for the malformed")
    func parse() {
        #expect(ByteSize.parse("4MiB") == 4 << 20 && ByteSize.parse("64k") == 64 << 10 && ByteSize.parse("1 GB") == nil)
        #expect(ByteSize.parse("1GB") == 1 << 30 && ByteSize.parse("-1") == nil && ByteSize.parse("MiB") == nil)
    }
}
