/// One measured row of `triad compare`: a workload under a model.
struct Row: Codable, Sendable {
    var workload: String
    var model: String
    var workers: Int
    var jobs: Int
    var wallSeconds: Double
    var cpuSeconds: Double
    /// Sequential wall time divided by this row's; `nil` when the workload has no sequential row.
    var speedup: Double?
    /// This process's peak resident set during the row.
    var peakRSSBytes: Int
    /// The largest resident set of a worker process, for models with workers in other processes.
    var workerPeakRSSBytes: Int?
    /// The wall time the executor added per job: wall time minus the jobs' own time spread over the workers,
    /// divided by the jobs. It covers start-up, hand-off, waiting and shutdown.
    var overheadPerJobMicroseconds: Double
    /// The value every model must agree on.
    var checksum: Int
    /// Whether the checksum matches the sequential row's.
    var agrees: Bool
}

/// The whole report, as `--json` prints it.
struct Report: Codable, Sendable {
    var cores: Int
    var scale: Double
    var rows: [Row]
}

/// Renders rows as an aligned text table, with colour unless it is turned off.
struct TableRenderer {
    var colour: Bool

    func render(_ report: Report) -> String {
        let header = ["workload", "model", "workers", "jobs", "wall", "cpu", "speedup", "peak RSS", "overhead/job", "check"]
        var cells: [[String]] = [header]
        for row in report.rows {
            let rss = formatBytes(row.peakRSSBytes)
            cells.append([
                row.workload,
                row.model,
                String(row.workers),
                String(row.jobs),
                formatSeconds(row.wallSeconds),
                formatSeconds(row.cpuSeconds),
                row.speedup.map { String(format2($0)) + "×" } ?? "-",
                rss,
                formatMicroseconds(row.overheadPerJobMicroseconds),
                row.agrees ? "ok" : "MISMATCH",
            ])
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        var lines: [String] = []
        for (index, line) in cells.enumerated() {
            var text = ""
            for (column, cell) in line.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                let numeric = column >= 2 && column <= 8
                var shown = numeric ? padding + cell : cell + padding
                if index > 0 { shown = paint(shown, column: column, row: report.rows[index - 1]) }
                text += (column == 0 ? "" : "  ") + shown
            }
            lines.append(index == 0 && colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text)
            if index == 0 { lines.append(String(repeating: "─", count: text.count)) }
        }
        return lines.joined(separator: "\n")
    }

    private func paint(_ text: String, column: Int, row: Row) -> String {
        guard colour else { return text }
        if column == 6, let speedup = row.speedup, row.model != "sequential" {
            return speedup >= 1.5 ? "\u{1B}[32m\(text)\u{1B}[0m" : speedup < 0.9 ? "\u{1B}[31m\(text)\u{1B}[0m" : text
        }
        if column == 9 && !row.agrees { return "\u{1B}[31m\(text)\u{1B}[0m" }
        return text
    }
}

func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = String(hundredths % 100)
    return "\(hundredths / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
}

func formatSeconds(_ seconds: Double) -> String {
    seconds >= 1 ? format2(seconds) + " s" : format2(seconds * 1000) + " ms"
}

func formatMicroseconds(_ micros: Double) -> String {
    micros >= 1000 ? format2(micros / 1000) + " ms" : format2(micros) + " µs"
}

func formatBytes(_ bytes: Int) -> String {
    let mebibytes = Double(bytes) / 1_048_576
    return mebibytes >= 1024 ? format2(mebibytes / 1024) + " GiB" : format2(mebibytes) + " MiB"
}
