import CClamAV
import Foundation

/// One libclamav engine (`struct cl_engine`). Freed with `cl_engine_free` in `deinit`.
/// Loading and compiling block for a long time: call them from a thread of
/// your own or a child process, never from the Swift concurrency pool.
public final class ClamEngine {
    let pointer: OpaquePointer
    public private(set) var signatures: UInt32 = 0
    /// Warnings libclamav printed during loads and compiles since the last `takeWarnings()`.
    private var warnings: [String] = []

    /// `cl_engine_new()`.
    public init() throws {
        try ClamAV.initialise()
        guard let engine = cl_engine_new() else {
            throw ClamAVError(function: "cl_engine_new", code: Int32(CL_EMEM.rawValue),
                              reason: "cannot allocate an engine", messages: [])
        }
        self.pointer = engine
    }

    deinit { cl_engine_free(pointer) }

    /// `cl_load(path, engine, &signo, flags)`: loads a file or every database in a directory.
    /// Returns the number of signatures this call added.
    @discardableResult
    public func load(_ path: String, options: LoadOptions, extraFlags: UInt32 = 0) throws -> UInt32 {
        _ = ClamAV.drainMessages()
        var count: UInt32 = 0
        let rc = cl_load(path, pointer, &count, options.clFlags | extraFlags)
        warnings += try ClamAV.check(rc, "cl_load").prefix(max(0, 500 - warnings.count))
        signatures += count
        return count
    }

    /// `cl_engine_compile(pointer)`: builds the matchers. PCRE and bytecode
    /// errors surface only here, never in `cl_load`.
    public func compile() throws {
        _ = ClamAV.drainMessages()
        warnings += try ClamAV.check(cl_engine_compile(pointer), "cl_engine_compile")
    }

    /// Warnings libclamav printed during the loads and compiles since the last call.
    public func takeWarnings() -> [String] {
        defer { warnings.removeAll() }
        return warnings
    }

    /// `cl_scanfile` with every parser on: returns the first signature name that matched, or nil.
    public func scanFile(_ path: String) throws -> String? {
        var options = cl_scan_options()
        options.parse = ~UInt32(0)
        var virname: UnsafePointer<CChar>? = nil
        var scanned: UInt = 0
        let rc = cl_scanfile(path, &virname, &scanned, pointer, &options)
        if rc == CL_VIRUS { return virname.map { String(cString: $0) } }
        try ClamAV.check(rc, "cl_scanfile")
        return nil
    }
}

/// Collects the layers and matches of one scan. libclamav calls the engine's
/// callbacks with this object as their context, from the scanning thread.
final class ScanRecorder {
    struct Layer {
        var path: String
        var type: String
        var filename: String?
        var children = 0
    }
    var stack: [Layer] = []
    var matches: [MatchReport] = []
    private var seen: Set<MatchReport> = []

    func enter(level: Int, type: String, name: String?, normalized: Bool) {
        if stack.count > level { stack.removeLast(stack.count - level) }
        guard let parent = stack.last else {
            stack.append(Layer(path: "1", type: type, filename: name))
            return
        }
        // A file libclamav made by normalising its parent (HTML without tags, script
        // text) is not a part of the message: its matches belong to the parent.
        if normalized {
            stack.append(parent)
            return
        }
        stack[stack.count - 1].children += 1
        let internalName = name.map { $0.hasPrefix("clamav-") && $0.hasSuffix(".tmp") } ?? true
        stack.append(Layer(path: parent.path + "/\(parent.children + 1)", type: type,
                           filename: internalName || name == "unknown" ? nil : name))
    }

    func leave() {
        if !stack.isEmpty { stack.removeLast() }
    }

    func found(_ signature: String) {
        let layer = stack.last ?? Layer(path: "1", type: "CL_TYPE_ANY")
        let match = MatchReport(signature: signature, feed: nil, file: nil, part: layer.path, type: layer.type, filename: layer.filename)
        if seen.insert(match).inserted { matches.append(match) }
    }
}

extension ClamEngine {
    /// Turns the engine into a test scanner: no result cache (every part is scanned and
    /// reported) and the layer callbacks that place each match in its MIME part.
    /// Call after `compile()`.
    public func enablePartReports() {
        cl_engine_set_num(pointer, CL_ENGINE_DISABLE_CACHE, 1)
        cl_engine_set_clcb_file_inspection(pointer, ClamEngine.inspectionCallback)
        cl_engine_set_clcb_post_scan(pointer, ClamEngine.postScanCallback)
        cl_engine_set_clcb_virus_found(pointer, ClamEngine.virusFoundCallback)
    }

    /// `cl_fmap_open_memory` + `cl_scanmap_callback`: scans bytes held in memory.
    /// Thread-safe on a compiled engine: each call has its own recorder.
    /// The matches carry no feed or file: the caller knows which file defines what.
    public func scan(_ data: Data, name: String, allMatches: Bool) throws -> [MatchReport] {
        let recorder = ScanRecorder()
        let context = Unmanaged.passRetained(recorder)
        defer { context.release() }
        var options = cl_scan_options()
        options.general = UInt32(CL_SCAN_GENERAL_HEURISTICS) | (allMatches ? UInt32(CL_SCAN_GENERAL_ALLMATCHES) : 0)
        options.parse = ~UInt32(0)
        var virname: UnsafePointer<CChar>? = nil
        var scanned: UInt = 0
        let rc: cl_error_t = try data.withUnsafeBytes { raw in
            guard let map = cl_fmap_open_memory(raw.baseAddress, raw.count) else {
                throw ClamAVError(function: "cl_fmap_open_memory", code: Int32(CL_EMEM.rawValue), reason: "cannot map the message", messages: [])
            }
            defer { cl_fmap_close(map) }
            return cl_scanmap_callback(map, name, &virname, &scanned, pointer, &options, context.toOpaque())
        }
        if rc == CL_VIRUS || rc == CL_CLEAN {
            if rc == CL_VIRUS, recorder.matches.isEmpty, let virname {
                recorder.found(String(cString: virname))
            }
            return recorder.matches
        }
        try ClamAV.check(rc, "cl_scanmap_callback")
        return recorder.matches
    }

    static let inspectionCallback: clcb_file_inspection = { _, type, _, _, name, _, _, level, attributes, context in
        guard let context else { return CL_CLEAN }
        let recorder = Unmanaged<ScanRecorder>.fromOpaque(context).takeUnretainedValue()
        recorder.enter(level: Int(level), type: type.map { String(cString: $0) } ?? "CL_TYPE_ANY",
                       name: name.map { String(cString: $0) },
                       normalized: attributes & UInt32(LAYER_ATTRIBUTES_NORMALIZED) != 0)
        return CL_CLEAN
    }

    static let postScanCallback: clcb_post_scan = { _, _, _, context in
        guard let context else { return CL_CLEAN }
        Unmanaged<ScanRecorder>.fromOpaque(context).takeUnretainedValue().leave()
        return CL_CLEAN
    }

    static let virusFoundCallback: clcb_virus_found = { _, name, context in
        guard let context, let name else { return }
        Unmanaged<ScanRecorder>.fromOpaque(context).takeUnretainedValue().found(String(cString: name))
    }
}
