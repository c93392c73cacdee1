// Build tool: writes a Swift source holding every template under a directory, so that zkctl carries
// its templates inside its own executable and works from any directory once installed.
//
//   EmbedTemplates TEMPLATES_DIR OUTPUT.swift
//
// Keys are paths relative to TEMPLATES_DIR without the ".mustache" suffix ("server/zoo.cfg"), as
// TemplateSource names them.
import Foundation

/// A Swift string literal of `text`: its UTF-8 bytes in base64, which needs no escaping.
func base64Literal(_ text: String) -> String { "\"" + Data(text.utf8).base64EncodedString() + "\"" }

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: EmbedTemplates TEMPLATES_DIR OUTPUT.swift\n".utf8))
    exit(2)
}
let root = URL(fileURLWithPath: arguments[1]).standardizedFileURL
let output = URL(fileURLWithPath: arguments[2])
var entries: [(String, String)] = []
let keys: [URLResourceKey] = [.isRegularFileKey]
guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys) else {
    FileHandle.standardError.write(Data("EmbedTemplates: cannot read \(root.path)\n".utf8))
    exit(1)
}
for case let url as URL in walker where url.pathExtension == "mustache" {
    guard (try? url.resourceValues(forKeys: Set(keys)).isRegularFile) == true else { continue }
    let relative = url.standardizedFileURL.path.dropFirst(root.path.count + 1)
    let name = String(relative.dropLast(".mustache".count))
    do {
        entries.append((name, try String(contentsOf: url, encoding: .utf8)))
    } catch {
        FileHandle.standardError.write(Data("EmbedTemplates: \(url.path) is not UTF-8 text: \(error)\n".utf8))
        exit(1)
    }
}
entries.sort { $0.0 < $1.0 }
let rows = entries.map { "        (\(base64Literal($0.0)), \(base64Literal($0.1))),\n" }.joined()
let source = """
    // Generated at build time from the package's templates/ directory. Do not edit.

    import Foundation

    /// zkctl's templates, by name (a path under templates/ without ".mustache").
    public enum BundledTemplates {
        public static let files: [String: String] = Dictionary(uniqueKeysWithValues: encoded.map { (decode($0.0), decode($0.1)) })

        static func decode(_ base64: String) -> String { String(decoding: Data(base64Encoded: base64) ?? Data(), as: UTF8.self) }

        /// Name and text of each template, in base64.
        static let encoded: [(String, String)] = [

    """ + rows + "    ]\n}\n"
do {
    // Rewrite only on change, so an unchanged template set does not recompile the library.
    if (try? String(contentsOf: output, encoding: .utf8)) != source {
        try source.write(to: output, atomically: true, encoding: .utf8)
    }
} catch {
    FileHandle.standardError.write(Data("EmbedTemplates: cannot write \(output.path): \(error)\n".utf8))
    exit(1)
}
