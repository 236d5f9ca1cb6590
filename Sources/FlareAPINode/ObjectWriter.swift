import FlareCore
import FlareHTTP
import FlareIO
import FlareMetadata

/// Why an upload failed, with the status to answer.
enum ObjectWriteError: Error, CustomStringConvertible {
    /// The client's body failed: gone, too slow, malformed.
    case body(HTTPError)
    /// No data node could take a chunk.
    case storage(Error)
    /// The manifest could not be committed.
    case metadata(Error)

    var status: Int {
        switch self {
        case .body(let error): return error.status
        case .storage: return 503
        case .metadata: return 500
        }
    }

    var description: String {
        switch self {
        case .body(let error): return "request body: \(error)"
        case .storage(let error): return "\(error)"
        case .metadata(let error): return "metadata commit failed: \(error)"
        }
    }
}

/// The PUT pipeline: the body streams into chunk buffers; each full chunk gets its CRC32C
/// and a placement and is sent to its data node while the next one is still arriving, up
/// to `window` chunks in flight. The manifest is committed after every chunk is stored;
/// on any failure nothing is committed and every chunk copy sent is deleted.
struct ObjectWriter {
    let context: LoopContext
    let placement: Placement
    let metadata: MetadataStore
    let chunkSize: Int
    let window: Int

    /// Stores the body as `key`; returns the committed manifest.
    func write(key: String, body: HTTPBodyReader) async throws(ObjectWriteError) -> ObjectManifest {
        let attempted = AttemptedCopies()
        let upload = "\(ChunkID.random())"
        let metadata = self.metadata
        var records: [ChunkRecord] = []
        var total = CRC32C()
        var size = 0
        var failure: ObjectWriteError?
        let context = self.context, placement = self.placement, chunkSize = self.chunkSize
        // Children never throw: a failed upload still waits for every chunk in flight, so
        // the cleanup below knows every copy that may have landed.
        await withTaskGroup(of: Result<ChunkRecord, Error>.self) { group in
            var inFlight = 0
            var index = 0
            func collect(_ result: Result<ChunkRecord, Error>) {
                inFlight -= 1
                switch result {
                case .success(let record): records.append(record)
                case .failure(let error): if failure == nil { failure = .storage(error) }
                }
            }
            while failure == nil {
                let buffer = await context.pool.acquire()
                let count: Int
                do throws(HTTPError) {
                    count = try await body.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer.space[0..<chunkSize]))
                } catch {
                    failure = .body(error)
                    break
                }
                if count == 0 { break }
                buffer.count = count
                let crc = CRC32C.checksum(buffer.bytes)
                total.update(buffer.bytes)
                size += count
                let id = ChunkID.random()
                let chunkIndex = index
                let candidates = placement.rank(id).map { placement.nodes[$0] }
                group.addTask {
                    do {
                        let node = try await context.dataNodes.put(id, buffer.bytes, crc32c: crc, candidates: candidates) { node in
                            // Recorded before the copy exists, so a crash from here on cannot leak it.
                            try await metadata.recordIntent(upload: upload, chunk: id, node: node)
                            attempted.add(id, node)
                        }
                        return .success(ChunkRecord(index: chunkIndex, id: id, length: count, crc32c: crc, replicas: [node]))
                    } catch {
                        return .failure(error)
                    }
                }
                inFlight += 1
                index += 1
                if inFlight >= window, let result = await group.next() { collect(result) }
                if count < chunkSize { break }
            }
            while let result = await group.next() { collect(result) }
        }
        if let failure {
            await cleanUp(attempted, upload: upload)
            throw failure
        }
        records.sort { $0.index < $1.index }
        let manifest = ObjectManifest(key: key, size: size, chunkSize: chunkSize, crc32c: total.value,
                                      createdNanoseconds: wallClockNanoseconds(), chunks: records)
        do {
            _ = try await metadata.commit(manifest, upload: upload)
        } catch {
            await cleanUp(attempted, upload: upload)
            throw .metadata(error)
        }
        return manifest
    }

    /// Deletes every copy an unfinished upload sent; what cannot be deleted now goes to
    /// the persisted deletion queue, and the upload's intents end. (If even that fails, the
    /// intents stay, and the next start of the api queues them.)
    private func cleanUp(_ attempted: AttemptedCopies, upload: String) async {
        var left: [(chunk: ChunkID, node: String)] = []
        for copy in attempted.copies where !(await context.dataNodes.delete(copy.chunk, on: copy.node)) {
            left.append(copy)
        }
        do {
            try await metadata.abandonUpload(upload, leftovers: left)
        } catch {
            context.dataNodes.metrics.increment("flare_api_cleanup_deferred_total", by: Double(left.count))
        }
    }
}
