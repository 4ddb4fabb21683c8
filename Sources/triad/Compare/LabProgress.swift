import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where the lab says how far it has got: a bar on a terminal, one line per finished row otherwise (so that a log
/// or a script can follow it), nothing with `--no-progress`. Warnings go to standard error in every case.
struct LabProgress: Sendable {
    var enabled: Bool
    var terminal: Bool

    init(enabled: Bool) {
        self.enabled = enabled
        self.terminal = ProgressBar.isTerminal
    }

    /// A bar for one Swift sample, drawn only on a terminal.
    func bar(_ label: String) -> ProgressBar {
        ProgressBar(label: label, enabled: enabled && terminal)
    }

    /// Says that a row finished, with its median wall time in each runtime.
    func rowFinished(_ rows: [LabRow]) {
        guard let first = rows.first else { return }
        let times = rows.map { "\($0.runtime) \(formatSeconds($0.wallSeconds.median))" }.joined(separator: ", ")
        note("measured \(first.workload) · \(first.model): \(times)")
    }

    /// A progress line, off a terminal only.
    func note(_ text: String) {
        guard enabled && !terminal else { return }
        standardError(text)
    }

    /// A line the user must see whatever the settings.
    func warn(_ text: String) {
        standardError("triad compare: \(text)")
    }
}

/// Writes a line to standard error at once.
func standardError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
