/// Blocking calls kept off the loop thread.
extension EventLoop {
    /// Threads of the pool that ``runBlocking(_:)`` uses, shared by every loop of the process.
    /// Few: the calls that need it (directory listings, `statvfs`) are rare and short.
    static let blockingThreads = 2

    /// The pool behind ``runBlocking(_:)``, started on first use.
    private static let blockingPool = BlockingPool(threadCount: blockingThreads, name: "flare-blocking") { _ in
        preconditionFailure("the shared blocking pool runs calls only")
    }

    /// Runs `work` on a pool thread and resumes the caller on this loop with its result.
    ///
    /// For system calls that neither engine can submit (reading a directory, `statvfs`): on
    /// the loop thread they would stall every connection of the loop while the disk answers.
    /// `work` must not touch loop-confined state.
    public func runBlocking<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        assertInLoop()
        let result = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<T, E>, Never>) in
            Self.blockingPool.run {
                do throws(E) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
