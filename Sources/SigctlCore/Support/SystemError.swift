import Foundation

/// A failed system call, with the path it was about.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let path: String
    public let code: Int32

    public static func errno(_ call: String, path: String) -> SystemError {
        SystemError(call: call, path: path, code: Glibc.errno)
    }

    public var description: String {
        "\(call) \(path): \(String(cString: strerror(code)))"
    }
}
