import FlareCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Weighted rendezvous hashing: the key of a node for a chunk, lowest first.
///
/// The hash of (chunk id, node id) — FlareCore's `Placement.score` — is turned into
/// u ∈ (0, 1), and the key is −ln(u) / weight: an exponential variable with rate `weight`.
/// The smallest of independent exponentials is node i with probability wᵢ / Σw, so a node's
/// share of first copies is proportional to its weight; and because each node's key depends
/// only on the chunk and that node, adding a node moves only chunks that now rank it first.
/// (This is the usual score w / −ln(u), highest first, without the division by a logarithm.)
enum WeightedRendezvous {
    /// The key of a node (given its hash, `Placement.nodeHash(id)`) for a chunk; lower ranks first.
    static func key(_ chunk: ChunkID, nodeHash: UInt64, weight: Int) -> Double {
        -log(unitInterval(Placement.score(chunk, nodeHash))) / Double(weight)
    }

    /// The top 53 bits of a hash as a double strictly inside (0, 1): the +0.5 keeps u off 0,
    /// where −ln(u) is infinite, and off 1, where it is 0 for every weight.
    static func unitInterval(_ hash: UInt64) -> Double {
        (Double(hash >> 11) + 0.5) * 0x1p-53
    }
}
