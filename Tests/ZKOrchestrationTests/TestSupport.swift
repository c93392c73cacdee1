import Foundation
import Testing
@testable import ZKOrchestration

enum Paths {
    /// The package root, found from this file's location.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var templates: String { packageRoot + "/templates" }
    static var inventories: String { packageRoot + "/inventory" }
    static var golden: String { packageRoot + "/Tests/ZKOrchestrationTests/Golden" }
}

/// Compares `actual` with the golden file at `relativePath` under Golden/.
/// With RECORD_GOLDEN=1 the file is rewritten and the check fails, so a new baseline is always reviewed.
func assertGolden(_ actual: String, _ relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let path = Paths.golden + "/" + relativePath
    if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
        try? FileSystem.write(actual, to: path)
        Issue.record("recorded golden file \(relativePath); run again without RECORD_GOLDEN", sourceLocation: sourceLocation)
        return
    }
    guard let expected = try? FileSystem.readString(path) else {
        Issue.record("missing golden file \(relativePath); run with RECORD_GOLDEN=1 to create it", sourceLocation: sourceLocation)
        return
    }
    if expected != actual {
        Issue.record("golden mismatch for \(relativePath):\n\(lineDiff(expected, actual))", sourceLocation: sourceLocation)
    }
}

/// A small line diff: lines only in the golden file start with '-', lines only in the output with '+'.
func lineDiff(_ expected: String, _ actual: String) -> String {
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var out: [String] = []
    let n = max(e.count, a.count)
    for i in 0..<n {
        let l = i < e.count ? e[i] : nil
        let r = i < a.count ? a[i] : nil
        if l == r { continue }
        if let l { out.append("-\(i + 1): \(l)") }
        if let r { out.append("+\(i + 1): \(r)") }
    }
    return out.joined(separator: "\n")
}
