import ArgumentParser
import FlareAuth
import Logging

/// `--cluster-secret-file`, which `api` and `datanode` both take: the secrets api nodes sign
/// their requests to data nodes with (the first of them) and data nodes verify (all of them).
public struct ClusterSecretOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("cluster-secret-file"),
            help: ArgumentHelp("File of cluster secrets, one per line (# comments), each at least 32 characters: requests from api nodes to data nodes are signed with the first and accepted with any. May be given twice (new, then old) while a secret is rotated; the files are read again on SIGHUP.",
                               valueName: "file"))
    public var clusterSecretFiles: [String] = []

    public init() {}

    /// Reads the files into a keyring; `nil` when no file was given.
    /// - Throws: ``CredentialFileError`` naming the file (and line) at fault.
    public func keyring(logger: Logger) throws(CredentialFileError) -> ClusterKeyring? {
        guard !clusterSecretFiles.isEmpty else { return nil }
        var files: [(source: String, text: String)] = []
        for path in clusterSecretFiles { files.append((path, try CredentialFile.read(path, logger: logger))) }
        return try ClusterKeyring(files: files)
    }
}
