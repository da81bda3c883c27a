import Foundation

/// `sigctl verify`: the pre-libclamav checks and the child load + compile, for any path.
public struct PathVerifier {
    let verifier: SetVerifier
    let scratch: String

    public struct Result: Sendable {
        public var signatures: Int
        public var loadSeconds: Double
        public var compileSeconds: Double
        public var error: String?
    }

    /// Uses clamd.conf's load options when the configuration could be read, else clamd's defaults.
    public init(context: SigctlContext, config: Configuration?) throws {
        let settings = config?.settings
        verifier = SetVerifier(context: context, memoryLimit: settings?.verifyMemoryLimit ?? 4 << 30,
                               timeout: settings?.verifyTimeout ?? 600, options: config?.clamd.loadOptions ?? LoadOptions())
        scratch = try Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-verify-")
    }

    public func verify(_ path: String) -> Result {
        var result = Result(signatures: 0, loadSeconds: 0, compileSeconds: 0)
        guard Files.exists(path) else {
            result.error = "no such file or directory"
            return result
        }
        let files = Files.isDirectory(path) ? Files.list(path).filter(isDatabaseFile).map { path + "/" + $0 } : [path]
        if !Files.isDirectory(path) && !isDatabaseFile((path as NSString).lastPathComponent) {
            result.error = "libclamav does not load files with this extension; use .ndb, .hdb, .ldb and the like"
            return result
        }
        for file in files {
            do {
                _ = try ContentChecks.check(path: file, name: (file as NSString).lastPathComponent, contentType: nil)
            } catch let rejection as Rejection {
                result.error = "\(file): \(rejection.reason)"
                return result
            } catch {
                result.error = "\(file): \(error)"
                return result
            }
        }
        defer { Files.remove(scratch) }
        let report = verifier.verify(directory: path, scratch: scratch)
        result.signatures = report.signatures
        result.loadSeconds = report.loadSeconds
        result.compileSeconds = report.compileSeconds
        if !report.ok { result.error = report.summary }
        return result
    }
}
