import FlareHTTP

/// A `multipart/form-data` request body read as a form upload: the text fields before the
/// file are collected (small, bounded), the file field's content is handed out buffer by
/// buffer to the PUT pipeline (``fill(_:)``), and ``finish()`` reads the rest of the body to
/// its closing boundary, so a malformed or cut-off body fails the upload before the commit.
///
/// The body passes through one staging buffer of ``stagingBytes``: the decoder names the
/// content's ranges in it and they are copied into the chunk buffers, so no part is ever
/// held whole.
final class FormUpload {
    /// The field whose content is the object.
    static let fileField = "file"
    static let stagingBytes = 64 * 1024
    /// Longest text field, and all of them together.
    static let fieldBytesMax = 64 * 1024
    static let fieldsBytesMax = 256 * 1024
    /// Epilogue read (and dropped) after the closing boundary at most.
    static let epilogueBytesMax = 64 * 1024

    /// The text fields read so far, by name (the first of a name is kept).
    private(set) var fields: [String: String] = [:]

    private let body: HTTPBodyReader
    private var decoder: MultipartFormDecoder
    private let staging: UnsafeMutableRawBufferPointer
    /// Bytes of `staging` read but not yet consumed by the decoder: `staging[consumedEnd..<end]`.
    private var consumedEnd = 0
    private var end = 0
    private var events: [MultipartFormDecoder.Event] = []
    private var nextEvent = 0
    /// Where the current data event is, as copying goes (a range of `staging`).
    private var pendingData: Range<Int>?
    private var bodyEnded = false
    private var fieldsBytes = 0

    private enum Position { case beforeFile, inFile, afterFile, done }
    private var position = Position.beforeFile
    private var currentField: (name: String, bytes: [UInt8])?

    init(body: HTTPBodyReader, boundary: String) throws(HTTPParseError) {
        self.body = body
        decoder = try MultipartFormDecoder(boundary: boundary)
        staging = .allocate(byteCount: Self.stagingBytes, alignment: 64)
    }

    deinit { staging.deallocate() }

    /// Reads up to the file field's head and returns it, or nil when the body ends without one.
    func nextFile() async throws(HTTPError) -> MultipartPartHead? {
        precondition(position == .beforeFile, "the file field is looked for once")
        while let event = try await nextEventSkippingData() {
            switch event {
            case .part(let head) where head.name == Self.fileField:
                position = .inFile
                return head
            case .part(let head):
                currentField = (head.name, [])
            case .partEnd:
                try closeField()
            case .end:
                position = .done
                return nil
            case .data:
                preconditionFailure("data is taken by nextEventSkippingData")
            }
        }
        return nil
    }

    /// Fills `buffer` with the file's content; fewer bytes only where the file ends.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) async throws(HTTPError) -> Int {
        var filled = 0
        while filled < buffer.count && position == .inFile {
            if let data = pendingData {
                let count = min(data.count, buffer.count - filled)
                (buffer.baseAddress! + filled).copyMemory(from: staging.baseAddress! + data.lowerBound, byteCount: count)
                filled += count
                pendingData = count == data.count ? nil : (data.lowerBound + count)..<data.upperBound
                continue
            }
            guard let event = try await nextRawEvent() else { break }
            switch event {
            case .data(let range): pendingData = range
            case .partEnd: position = .afterFile
            case .part, .end: preconditionFailure("the decoder ends a part before anything else")
            }
        }
        return filled
    }

    /// Reads the rest of the body: later fields (collected) up to the closing boundary, then
    /// the epilogue. Throws for a second file, a malformed body or one cut off.
    func finish() async throws(HTTPError) {
        guard position == .afterFile || position == .done else { throw Self.refused("the file field did not end") }
        while position != .done, let event = try await nextEventSkippingData() {
            switch event {
            case .part(let head) where head.name == Self.fileField:
                throw Self.refused("only one \(Self.fileField) field per upload")
            case .part(let head):
                currentField = (head.name, [])
            case .partEnd:
                try closeField()
            case .end:
                position = .done
            case .data:
                preconditionFailure("data is taken by nextEventSkippingData")
            }
        }
        guard position == .done else { throw Self.refused("the body ends before its closing boundary") }
        // The epilogue: read and dropped, bounded.
        if !(try await body.discard(bytesMax: Self.epilogueBytesMax)) {
            throw Self.refused("more than \(Self.epilogueBytesMax) bytes after the closing boundary")
        }
    }

    /// The next event, a text field's data taken into ``currentField`` on the way.
    private func nextEventSkippingData() async throws(HTTPError) -> MultipartFormDecoder.Event? {
        while let event = try await nextRawEvent() {
            guard case .data(let range) = event else { return event }
            guard currentField != nil else { continue }
            fieldsBytes += range.count
            currentField!.bytes += UnsafeRawBufferPointer(rebasing: staging[range])
            if currentField!.bytes.count > Self.fieldBytesMax { throw Self.refused("field \(currentField!.name) is longer than \(Self.fieldBytesMax) bytes") }
            if fieldsBytes > Self.fieldsBytesMax { throw Self.refused("the form's fields are longer than \(Self.fieldsBytesMax) bytes together") }
        }
        return nil
    }

    private func closeField() throws(HTTPError) {
        guard let field = currentField else { return }
        currentField = nil
        if fields[field.name] == nil { fields[field.name] = String(decoding: field.bytes, as: UTF8.self) }
    }

    /// The next event of the decoder, reading more of the body when it has none left.
    private func nextRawEvent() async throws(HTTPError) -> MultipartFormDecoder.Event? {
        while nextEvent == events.count {
            guard !decoder.isComplete || consumedEnd < end else { return nil }
            if bodyEnded && consumedEnd == end && decoder.isComplete { return nil }
            try await decodeMore()
        }
        defer { nextEvent += 1 }
        return events[nextEvent]
    }

    /// Moves what the decoder left to the front of the staging buffer, reads more after it,
    /// and decodes.
    private func decodeMore() async throws(HTTPError) {
        precondition(pendingData == nil && nextEvent == events.count, "staging is reused only when its events are done")
        let left = end - consumedEnd
        if left > 0 && consumedEnd > 0 {
            staging.baseAddress!.copyMemory(from: staging.baseAddress! + consumedEnd, byteCount: left)
        }
        consumedEnd = 0
        end = left
        if !bodyEnded {
            // The decoder leaves at most a part head (16 KiB) or a delimiter's prefix unconsumed,
            // so a full staging buffer cannot happen; were it to, the body is refused, not read on.
            guard end < staging.count else { throw Self.refused("a part head longer than the \(Self.stagingBytes)-byte staging buffer") }
            let got = try await body.read(into: UnsafeMutableRawBufferPointer(rebasing: staging[end...]))
            if got == 0 { bodyEnded = true }
            end += got
        }
        events.removeAll(keepingCapacity: true)
        nextEvent = 0
        do {
            consumedEnd = try decoder.decode(UnsafeRawBufferPointer(rebasing: staging[0..<end]), isFinal: bodyEnded, into: &events)
        } catch {
            throw .malformed(error)
        }
        if decoder.isComplete { consumedEnd = end }
    }

    private static func refused(_ what: String) -> HTTPError {
        .malformed(HTTPParseError(status: 400, "form upload: \(what)"))
    }
}
