import Foundation

/// `sigctl allow` changes, applied to the state under the lock before planning.
enum AllowChanges {
    static func apply(_ options: UpdateOptions, to state: State) throws -> State {
        guard !options.allow.isEmpty || !options.disallow.isEmpty else { return state }
        var state = state
        var allowed = state.allowed ?? [:]
        for name in options.disallow where allowed.removeValue(forKey: name) == nil {
            throw CommandError("\(name) is not on sigctl's allow list", hint: "`sigctl status` lists the allowed signatures", exit: .usage)
        }
        for (name, entry) in options.allow { allowed[name] = entry }
        state.allowed = allowed
        return state
    }
}
