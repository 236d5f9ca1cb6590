import FlareCore

extension RepairStatus {
    /// `flare repair status`: the state, the current or last pass, and the totals.
    /// - Parameter nowNanoseconds: wall clock, to say how long ago the pass started.
    public func renderReport(nowNanoseconds: Int64) -> String {
        let bandwidth = bandwidthBytesPerSecond > 0 ? "\(ByteSize.format(Int(bandwidthBytesPerSecond)))/s" : "unlimited"
        var lines = ["repair: \(state) (\(replicas) replica\(replicas == 1 ? "" : "s") per chunk, bandwidth \(bandwidth))"]
        if !lostNodes.isEmpty {
            lines.append("lost nodes: " + lostNodes.map { String($0.prefix(NodeLayout.shownIDLength)) }.joined(separator: ", "))
        }
        if let pass {
            let ago = CompactDuration.format(seconds: Double(nowNanoseconds - pass.startedNanoseconds) / 1e9)
            let running = state != "idle"
            lines.append("\(running ? "pass" : "last pass"), started \(ago) ago: \(pass.progress(running: running))")
            lines.append("  chunks found: \(pass.lost) lost, \(pass.few) few, \(pass.misplaced) misplaced, \(pass.bad) bad")
        } else {
            lines.append("no pass has run yet")
        }
        lines.append("since the api started: \(totals.copies) cop\(totals.copies == 1 ? "y" : "ies") made (\(ByteSize.format(totals.bytes))), \(totals.failed) failed")
        return lines.joined(separator: "\n")
    }

    /// One line for `flare status`: `repair: copying, 120/1000 chunks, …`.
    public func renderSummary() -> String {
        var line = "repair: \(state)"
        if !lostNodes.isEmpty { line += ", \(lostNodes.count) lost node\(lostNodes.count == 1 ? "" : "s")" }
        if let pass, state != "idle" { line += ", " + pass.progress(running: true) }
        return line
    }
}

extension RepairStatus.Pass {
    /// `120/1000 chunks, 480 MiB of 4 GiB (12%), 25 MiB/s, ETA 3m20s`; the rate and ETA only
    /// while it is `running` (a finished pass's are the api's last estimate, not news).
    func progress(running: Bool) -> String {
        var text = "\(chunksDone)/\(chunksTotal) chunks, \(ByteSize.format(bytesDone)) of \(ByteSize.format(bytesTotal))"
        if bytesTotal > 0 { text += " (\(Int((Double(bytesDone) / Double(bytesTotal) * 100).rounded(.down)))%)" }
        guard running else { return text }
        if let rateBytesPerSecond, rateBytesPerSecond > 0, rateBytesPerSecond < 1e15 { text += ", \(ByteSize.format(Int(rateBytesPerSecond)))/s" }
        if let etaSeconds { text += ", ETA \(CompactDuration.format(seconds: etaSeconds))" }
        return text
    }
}
