import Foundation

extension Outcome {
    /// The report with every URL's secrets redacted: it goes to --json, cron mail and state.json.
    static func redacted(_ report: UpdateReport) -> UpdateReport {
        var report = report
        func clean(_ text: String?) -> String? { text.map(Redact.text) }
        for feed in report.feeds.indices {
            report.feeds[feed].message = clean(report.feeds[feed].message)
            for file in report.feeds[feed].files.indices {
                report.feeds[feed].files[file].message = clean(report.feeds[feed].files[file].message)
                report.feeds[feed].files[file].mirror = clean(report.feeds[feed].files[file].mirror)
            }
            for problem in report.feeds[feed].problems.indices {
                report.feeds[feed].problems[problem].message = Redact.text(report.feeds[feed].problems[problem].message)
            }
        }
        report.reload.message = clean(report.reload.message)
        report.notes = report.notes.map(Redact.text)
        report.warnings = report.warnings.map(Redact.text)
        report.errors = report.errors.map(Redact.text)
        report.configWarnings = report.configWarnings.map(Redact.text)
        return report
    }
}
