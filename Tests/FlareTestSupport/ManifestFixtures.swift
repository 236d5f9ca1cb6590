import FlareCore

/// Valid manifests without a writer, for the manifest's own tests (FlareCoreTests) and the
/// metadata store's (FlareMetadataTests).
public enum ManifestFixtures {
    /// A valid manifest of `size` bytes in chunks of `chunkSize`, with random ids.
    public static func manifest(key: String = "k", size: Int, chunkSize: Int = 65536, seed: UInt64 = 1,
                                replicas: [String] = ["127.0.0.1:9001"]) -> ObjectManifest {
        var generator = SeededGenerator(seed: seed)
        let count = (size + chunkSize - 1) / chunkSize
        let chunks = (0..<count).map { index in
            ChunkRecord(index: index, id: ChunkID(high: generator.next(), low: generator.next()),
                        length: min(chunkSize, size - index * chunkSize), crc32c: UInt32(truncatingIfNeeded: generator.next()),
                        replicas: replicas)
        }
        return ObjectManifest(key: key, size: size, chunkSize: chunkSize, crc32c: 0xDEAD_BEEF,
                              createdNanoseconds: 1_700_000_000_123_456_789, chunks: chunks)
    }
}
