import FlareCore
import Testing

@Suite("Hex")
struct HexTests {
    @Test("encodes lowercase; decodes either case, or lowercase only and of one length when asked")
    func roundTrips() {
        #expect(Hex.encode([0x00, 0x0f, 0xab, 0xff]) == "000fabff")
        #expect(Hex.decode("000FabFF") == [0x00, 0x0f, 0xab, 0xff])
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decodeLowercase("000fabff", count: 4) == [0x00, 0x0f, 0xab, 0xff])
        #expect(Hex.decodeLowercase("000FABFF", count: 4) == nil, "upper case accepted where one spelling is wanted")
        #expect(Hex.decodeLowercase("000fab", count: 4) == nil)
        #expect(Hex.value(UInt8(ascii: "F")) == 15 && Hex.value(UInt8(ascii: "g")) == nil)
    }
}
