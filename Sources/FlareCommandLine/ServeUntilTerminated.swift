import ArgumentParser
import FlareIO
import Logging

/// What `api` and `datanode` do once their flags are parsed: start the service (a start
/// that fails is logged and exits 1, not a crash with a stack), serve until SIGINT or
/// SIGTERM, then stop it in order. SIGHUP calls `reload` (the credentials files read again)
/// and the node serves on.
public func serveUntilTerminated<Service: Sendable>(logger: Logger, start: () async throws -> Service,
                                                    reload: (@Sendable (Service) -> Void)? = nil,
                                                    stop: (Service) async -> Void) async throws {
    let service: Service
    do {
        service = try await start()
    } catch {
        logger.critical("cannot start: \(error)")
        throw ExitCode(1)
    }
    if let reload {
        ProcessSignals.onHangup {
            logger.notice("SIGHUP: reading the credentials files again")
            reload(service)
        }
    }
    let signal = await ProcessSignals.waitForTermination()
    logger.info("signal \(signal): stopping")
    await stop(service)
}
