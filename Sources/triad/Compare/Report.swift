/// Renders a lab report as text for a terminal: the rows, the experiments, the verdicts and the advice, with colour
/// unless it is turned off.
struct TableRenderer {
    var colour: Bool

    func render(_ report: LabReport) -> String {
        var sections = [header(report), table(report.rows)]
        if !report.experiments.isEmpty {
            sections.append(
                "Experiments\n"
                    + report.experiments.map { "  claim \($0.claim), \($0.runtime): \($0.observed)" }
                    .joined(separator: "\n")
            )
        }
        if !report.sweeps.isEmpty { sections.append(sweepTable(report.sweeps)) }
        sections.append(verdicts(report))
        let advice = report.runtimes.compactMap { runtime -> String? in
            let lines = Advice.lines(rows: report.rows, runtime: runtime.id)
            return lines.isEmpty ? nil : "  \(runtime.id): " + lines.joined(separator: "\n    ")
        }
        if !advice.isEmpty { sections.append("Advice on this machine\n" + advice.joined(separator: "\n")) }
        if report.interrupted {
            sections.append(
                paint(
                    "INTERRUPTED by \(report.interruption ?? "a signal"): the rows above are those "
                        + "finished before it.", 31))
        }
        return sections.joined(separator: "\n\n")
    }

    private func header(_ report: LabReport) -> String {
        let machine = report.machine
        var lines = [
            "triad \(report.triad.version) (commit \(report.triad.commit)), Swift \(report.triad.swiftVersion)",
            "\(machine.cores) cores, \(machine.cpuModel), \(formatBytes(machine.memoryBytes)), load average "
                + "\(format2(machine.loadAverage1m)) at start, \(machine.kernel)",
            "each row: median of \(runs(report.settings.repeatCount)) after \(report.settings.warmUps) warm-up, with "
                + "the range; Swift and Python runs alternate",
        ]
        if let warning = busyWarning(report.machine) { lines.append(warning) }
        for workload in report.settings.workloads {
            let sizes = report.runtimes.compactMap { runtime in
                report.rows.first { $0.workload == workload && $0.runtime == runtime.id }.map { (runtime.id, $0.size) }
            }
            if Set(sizes.map(\.1)).count > 1 {
                lines.append("\(workload) sizes differ: " + sizes.map { "\($0.0) \($0.1)" }.joined(separator: "; "))
            }
        }
        for runtime in report.runtimes.dropFirst() {
            var line = "\(runtime.id): \(runtime.executable ?? "")"
            if runtime.freeThreaded == true {
                line += ", free-threaded, GIL \(runtime.gilEnabled == true ? "on" : "off")"
            }
            if let problem = runtime.problem { line += " — left out: \(problem)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private func table(_ rows: [LabRow]) -> String {
        let header = [
            "workload", "model", "runtime", "workers", "jobs", "wall", "range", "cpu", "speedup", "peak RSS",
            "overhead/job", "check",
        ]
        var cells: [[String]] = [header]
        for row in rows {
            cells.append([
                row.workload, row.model, row.runtime, String(row.workers), String(row.jobs),
                formatSeconds(row.wallSeconds.median),
                "\(formatSeconds(row.wallSeconds.min))–\(formatSeconds(row.wallSeconds.max))",
                formatSeconds(row.cpuSeconds.median),
                row.speedup.map { format2($0.median) + "×" + (Self.tooClose(row, rows) ? "≈" : "") } ?? "-",
                formatBytes(Int(row.peakRSSBytes.median)),
                formatMicroseconds(row.overheadPerJobSeconds.median * 1e6),
                row.agrees ? "ok" : "MISMATCH",
            ])
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        var lines: [String] = []
        for (index, line) in cells.enumerated() {
            var text = ""
            for (column, cell) in line.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                let numeric = column >= 3 && column <= 10
                var shown = numeric ? padding + cell : cell + padding
                if index > 0 { shown = paintCell(shown, column: column, row: rows[index - 1]) }
                text += (column == 0 ? "" : "  ") + shown
            }
            lines.append(index == 0 && colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text)
            if index == 0 { lines.append(String(repeating: "─", count: text.count)) }
        }
        if rows.contains(where: { Self.tooClose($0, rows) }) {
            lines.append(
                "≈: the row's range overlaps its sequential row's, so this run shows no difference between them")
        }
        return lines.joined(separator: "\n")
    }

    /// Whether a row's range of wall times overlaps that of its sequential row: then its speedup is no difference.
    static func tooClose(_ row: LabRow, _ rows: [LabRow]) -> Bool {
        guard row.model != "sequential",
            let baseline = rows.first(where: {
                $0.runtime == row.runtime && $0.workload == row.workload && $0.model == "sequential"
            })
        else { return false }
        return row.wallSeconds.overlaps(baseline.wallSeconds)
    }

    private func sweepTable(_ points: [SweepPoint]) -> String {
        var lines = ["Sweeps (median wall time, and per job)"]
        for point in points {
            let what = point.sweep == "cpu-workers" ? "\(point.x) workers" : "\(point.x) jobs"
            lines.append(
                "  \(point.sweep)  \(point.runtime)  \(point.model)  \(what): \(formatSeconds(point.wallSeconds.median)), "
                    + "\(formatMicroseconds(point.perJobSeconds.median * 1e6)) per job"
            )
        }
        return lines.joined(separator: "\n")
    }

    private func verdicts(_ report: LabReport) -> String {
        var lines = ["Verdicts (thresholds: see --json, or --html; rules below each claim)"]
        for (number, text) in Claims.statements {
            lines.append("\(number). \(text)")
            let verdicts = report.verdicts.filter { $0.claim == number }
            for verdict in verdicts {
                lines.append("   \(verdict.runtime): \(paintOutcome(verdict.outcome)) — \(verdict.evidence)")
            }
            if let rule = verdicts.first(where: { !$0.rule.isEmpty })?.rule { lines.append("   rule: \(rule)") }
        }
        return lines.joined(separator: "\n")
    }

    private func paintOutcome(_ outcome: Verdict.Outcome) -> String {
        switch outcome {
        case .holds: paint(outcome.rawValue, 32)
        case .doesNotHold: paint(outcome.rawValue, 33)
        case .unclear, .notMeasured: paint(outcome.rawValue, 2)
        }
    }

    private func paint(_ text: String, _ code: Int) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func paintCell(_ text: String, column: Int, row: LabRow) -> String {
        guard colour else { return text }
        if column == 8, let speedup = row.speedup, row.model != "sequential" {
            return speedup.median >= 1.5 ? paint(text, 32) : speedup.median < 0.9 ? paint(text, 31) : text
        }
        if column == 11 && !row.agrees { return paint(text, 31) }
        return text
    }
}

/// A warning when the machine was already busy as the run started: parallel speedups then understate.
func busyWarning(_ machine: Machine) -> String? {
    guard machine.loadAverage1m >= Double(machine.cores) / 2 else { return nil }
    return "warning: the load average was \(format2(machine.loadAverage1m)) on \(machine.cores) cores as the run "
        + "started; other work shares the cores, so parallel speedups read low"
}

/// "1 run", "3 runs".
func runs(_ count: Int) -> String { count == 1 ? "1 run" : "\(count) runs" }

func format2(_ value: Double) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : value < 0 ? "-inf" : "inf" }
    let hundredths = Int((value * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let magnitude = abs(hundredths)
    let fraction = String(magnitude % 100)
    return "\(sign)\(magnitude / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
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
