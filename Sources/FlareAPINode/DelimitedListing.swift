import FlareMetadata

/// One page of a bucket's keys as S3's ListObjects gives it: the keys under `prefix` after a
/// point, those sharing `delimiter` after the prefix rolled up into common prefixes (each
/// counted once against the page's size). Served to S3 clients as XML and to the console as
/// JSON.
struct DelimitedListing {
    /// Objects of the page, keys relative to the bucket.
    var contents: [ObjectListing.Entry] = []
    var prefixes: [String] = []
    /// Whether more follow; then ``last`` is where the next page starts after.
    var truncated = false
    var last: String?

    /// Reads the page of at most `maxKeys` items of `bucket` after `after` (a key, or a
    /// common prefix a previous page ended on).
    static func scan(_ metadata: MetadataStore, bucket: String, prefix: String, delimiter: String?, after: String?,
                     maxKeys: Int) async throws -> DelimitedListing {
        let root = "\(bucket)/"
        var listing = DelimitedListing()
        var cursor = after.map { resumePoint(root + $0, root: root, prefix: prefix, delimiter: delimiter) }
        // A page that ended on a common prefix: the next does not list it again.
        let resumed = after.flatMap { after in cursor != root + after ? after : nil }
        scan: while maxKeys > 0 {
            let page = try await metadata.list(prefix: root + prefix, startAfter: cursor, limit: maxKeys + 1)
            for entry in page.entries {
                let key = String(decoding: entry.key.utf8.dropFirst(root.utf8.count), as: UTF8.self)
                let rest = key.dropFirst(prefix.count)
                let common = delimiter.flatMap { delimiter in rest.range(of: delimiter).map { String(key[..<$0.upperBound]) } }
                // One more item than the page holds: the listing goes on after this page.
                if listing.contents.count + listing.prefixes.count == maxKeys, common == nil || common != listing.prefixes.last {
                    listing.truncated = true
                    break scan
                }
                if let common, common == resumed {
                    cursor = later(root + common + "\u{10FFFF}", entry.key)
                    continue scan
                }
                if let common {
                    if listing.prefixes.last != common { listing.prefixes.append(common) }
                    listing.last = common
                    // On past every key under this common prefix, and never back.
                    cursor = later(root + common + "\u{10FFFF}", entry.key)
                    continue scan
                }
                var relative = entry
                relative.key = key
                listing.contents.append(relative)
                listing.last = key
                cursor = entry.key
            }
            if page.nextStartAfter == nil { break }
        }
        if !listing.truncated { listing.last = nil }
        return listing
    }

    /// Where a listing resumes after `after` (a store key: a key, or a common prefix a
    /// previous page ended on, as NextMarker and the continuation token carry): past every key
    /// under that common prefix, so it is not listed twice.
    static func resumePoint(_ after: String, root: String, prefix: String, delimiter: String?) -> String {
        guard let delimiter, after.hasPrefix(root + prefix) else { return after }
        let rest = after.dropFirst(root.count + prefix.count)
        guard let first = rest.range(of: delimiter), first.upperBound == rest.endIndex else { return after }
        return after + "\u{10FFFF}"
    }

    /// The later of two store keys in the store's order (bytes of UTF-8).
    static func later(_ a: String, _ b: String) -> String {
        a.utf8.lexicographicallyPrecedes(b.utf8) ? b : a
    }
}
