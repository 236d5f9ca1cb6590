import FlareAuth
import Foundation
import Glibc
import Logging

/// Reading a file of secrets or tokens named by a flag: small, read whole, and warned about
/// when others than its owner may read it.
public enum CredentialFile {
    /// A credentials file larger than this is not one (a flag pointing at the wrong file).
    public static let bytesMax = 64 * 1024

    /// The file's text. Logs a warning through `logger` when its mode lets the group or
    /// others read it (`chmod 600` keeps a secret a secret).
    /// - Throws: ``CredentialFileError`` naming `path` when it cannot be read, is too large or
    ///   is not UTF-8.
    public static func read(_ path: String, logger: Logger) throws(CredentialFileError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CredentialFileError(source: path, line: nil, reason: "cannot read it: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CredentialFileError(source: path, line: nil, reason: "not a regular file") }
        guard info.st_size <= bytesMax else {
            throw CredentialFileError(source: path, line: nil, reason: "\(info.st_size) bytes: larger than a credentials file (\(bytesMax) at most)")
        }
        if info.st_mode & 0o077 != 0 {
            logger.warning("\(path) may be read by others than its owner (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CredentialFileError(source: path, line: nil, reason: "cannot read it")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CredentialFileError(source: path, line: nil, reason: "not UTF-8 text") }
        return text
    }
}
