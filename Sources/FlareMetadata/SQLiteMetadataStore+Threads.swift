import Glibc

extension SQLiteMetadataStore {
    /// Runs `body` on the writer thread (`write`) or the reader thread and returns its
    /// result. A non-durable write commits without an fsync of its own.
    func perform<T: Sendable>(write: Bool, durable: Bool = true,
                              _ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let box = ResultBox<T>()
            let job = Job(write: write, durable: durable,
                          execute: { database in
                              do {
                                  box.result = .success(try body(database))
                                  return true
                              } catch {
                                  box.result = .failure(error)
                                  return false
                              }
                          },
                          fail: { error in box.result = .failure(error) },
                          deliver: { continuation.resume(with: box.result!) })
            if !(write ? queue : readQueue).push(job) {
                continuation.resume(throwing: MetadataBusy(queuedMax: Self.queuedJobsMax))
            }
        }
    }

    /// A thread that runs `body` with the store, which it keeps alive until `body` returns.
    static func startThread(_ store: SQLiteMetadataStore, _ body: @escaping (SQLiteMetadataStore) -> Void) -> pthread_t {
        final class Start {
            let store: SQLiteMetadataStore
            let body: (SQLiteMetadataStore) -> Void
            init(_ store: SQLiteMetadataStore, _ body: @escaping (SQLiteMetadataStore) -> Void) {
                self.store = store
                self.body = body
            }
        }
        var thread = pthread_t()
        let start = Unmanaged.passRetained(Start(store, body))
        let result = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body(start.store)
            return nil
        }, start.toOpaque())
        precondition(result == 0, "cannot start a metadata thread")
        return thread
    }

    /// The reader thread: each read is one statement, which sees the last commit finished
    /// when it started, provided no earlier statement still holds an older snapshot: every
    /// statement is reset after each read.
    func read() {
        while let jobs = readQueue.takeAll() {
            for job in jobs {
                _ = job.execute(reader)
                reader.resetStatements()
                job.deliver()
            }
        }
    }

    /// The writer thread.
    func work() {
        while let jobs = queue.takeAll() {
            var index = 0
            while index < jobs.count {
                precondition(jobs[index].write, "a read on the writer's queue")
                var group: [Job] = []
                let durable = jobs[index].durable
                while index < jobs.count && jobs[index].write && jobs[index].durable == durable && group.count < Self.groupWritesMax {
                    group.append(jobs[index])
                    index += 1
                }
                runGroup(group, durable: durable)
            }
        }
    }

    /// One transaction for a group of writes; each in its own savepoint. A non-durable
    /// group commits without fsync (it reaches the OS, so it survives a process crash);
    /// the next durable commit makes it durable too.
    private func runGroup(_ group: [Job], durable: Bool) {
        do {
            try database.execute(durable ? "PRAGMA synchronous=FULL; BEGIN IMMEDIATE" : "PRAGMA synchronous=OFF; BEGIN IMMEDIATE")
        } catch {
            group.forEach { $0.fail(error); $0.deliver() }
            return
        }
        for job in group {
            do {
                try database.execute("SAVEPOINT job")
                if !job.execute(database) {
                    try database.execute("ROLLBACK TO job; RELEASE job")
                } else {
                    try database.execute("RELEASE job")
                }
            } catch {
                job.fail(error)
            }
        }
        do {
            try database.execute("COMMIT")
        } catch {
            // Nothing of the group is durable: every caller hears the failure.
            do { try database.execute("ROLLBACK") } catch {}
            group.forEach { $0.fail(error) }
        }
        database.resetStatements()
        group.forEach { $0.deliver() }
    }
}
