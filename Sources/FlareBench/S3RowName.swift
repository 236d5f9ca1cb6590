/// The name of an S3 workload, `s3-<put|get>-<client>-<shape>`: `s3-put-boto3-1GiB` (one
/// object, as the native `put-curl-1GiB` moves it) or `s3-get-boto3-16x64MiB` (objects at
/// once, as the native `get-16x64MiB`). The shape names the native workload it is judged
/// against, measured in the same run.
public struct S3RowName: Sendable, Equatable {
    public var operation: String
    public var client: S3Client
    /// `1GiB`, or `16x64MiB` for several objects at once.
    public var shape: String

    /// The goal issue 15 sets: S3 PUT ≥ 0.85× native PUT, S3 GET ≥ 0.95× native GET.
    public var goal: Double { operation == "put" ? 0.85 : 0.95 }

    public init(operation: String, client: S3Client, shape: String) {
        self.operation = operation
        self.client = client
        self.shape = shape
    }

    /// `nil` for a name that is not an S3 row's.
    public init?(parsing name: String) {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "s3", ["put", "get"].contains(parts[1]),
              let client = S3Client(rawValue: parts[2]), !parts[3].isEmpty else { return nil }
        self.init(operation: parts[1], client: client, shape: parts[3])
    }

    public var name: String { "s3-\(operation)-\(client.rawValue)-\(shape)" }

    /// Several objects at once (`16x64MiB`), not one.
    public var isMany: Bool {
        guard let x = shape.firstIndex(of: "x") else { return false }
        return !shape[..<x].isEmpty && shape[..<x].allSatisfy(\.isNumber)
    }

    /// The native workload moving the same shape: `put-curl-1GiB`, `get-16x64MiB`.
    public var nativeName: String { isMany ? "\(operation)-\(shape)" : "\(operation)-curl-\(shape)" }

    /// The same client moving the same shape from nginx (the client's own ceiling, a server
    /// that costs next to nothing): `nginx-s3-get-boto3-1GiB`.
    public var nginxName: String { "nginx-\(name)" }
}
