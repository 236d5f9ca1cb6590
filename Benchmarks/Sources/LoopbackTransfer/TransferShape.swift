/// The shape of every loopback transfer measured here: one TCP stream, 4 GiB, moved in
/// 4 MiB send and receive calls, the same for the blocking baseline and for FlareIO.
public enum TransferShape {
    /// Bytes one transfer carries.
    public static let totalBytes = 4 << 30
    /// Bytes handed to one send or receive call; also the size of each side's buffer.
    public static let blockBytes = 4 << 20
}
