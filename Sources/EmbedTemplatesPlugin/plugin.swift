// Embeds the package's templates/ into ZKOrchestration (BundledTemplates), so an installed zkctl needs
// no templates directory beside it. Every template is an input: changing, adding or removing one
// regenerates the source on the next build.
import Foundation
import PackagePlugin

@main
struct EmbedTemplatesPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let templates = context.package.directoryURL.appending(path: "templates")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: templates, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "mustache" { inputs.append(url) }
        }
        guard !inputs.isEmpty else {
            throw PluginError("no templates under \(templates.path): zkctl cannot be built without them")
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "BundledTemplates.swift")
        return [.buildCommand(
            displayName: "Embedding \(inputs.count) templates from templates/",
            executable: try context.tool(named: "EmbedTemplates").url,
            arguments: [templates.path, output.path],
            inputFiles: inputs.sorted { $0.path < $1.path },
            outputFiles: [output])]
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
