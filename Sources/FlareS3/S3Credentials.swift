/// Why a credentials file was refused: the line (1-based) and what is wrong with it.
public struct S3CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line the problem is on; nil for a problem of the whole file (no keys at all).
    public let line: Int?
    /// What is wrong.
    public let reason: String

    public var description: String {
        if let line { return "credentials line \(line): \(reason)" }
        return "credentials: \(reason)"
    }
}

/// The access keys the S3 API accepts and their secrets, read from `--s3-credentials FILE`.
public struct S3Credentials: Sendable {
    private let secrets: [String: String]

    /// Reads one `ACCESS_KEY SECRET_KEY` pair per line, separated by spaces or tabs. Blank lines
    /// and lines starting with `#` are skipped. A line with another number of fields, or an
    /// access key given twice, is an error naming the line: a typo must not silently leave a key
    /// out (its user would only see `InvalidAccessKeyId`). A file with no key at all is an error
    /// too, since every signed request would be refused.
    public init(parsing text: String) throws(S3CredentialsError) {
        var secrets: [String: String] = [:]
        var number = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            guard fields.count == 2 else {
                throw S3CredentialsError(line: number, reason: "expected ACCESS_KEY SECRET_KEY, found \(fields.count) field(s)")
            }
            let key = String(fields[0])
            // The access key is the first part of a SigV4 credential scope, split on "/".
            guard !key.contains("/") else {
                throw S3CredentialsError(line: number, reason: "access key \(key) contains '/'")
            }
            guard secrets[key] == nil else {
                throw S3CredentialsError(line: number, reason: "access key \(key) is given twice")
            }
            secrets[key] = String(fields[1])
        }
        guard !secrets.isEmpty else { throw S3CredentialsError(line: nil, reason: "no access keys") }
        self.secrets = secrets
    }

    /// The secret of `accessKey`, or nil if the key is unknown.
    public func secret(for accessKey: String) -> String? { secrets[accessKey] }

    /// How many access keys there are.
    public var count: Int { secrets.count }
}
