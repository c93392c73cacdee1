import Foundation
import Testing
@testable import ZKOrchestration

/// zkctl carries templates/ inside its executable (EmbedTemplatesPlugin): the built-in set is exactly
/// the package's templates directory, byte for byte, and renders what the directory renders.
@Suite struct BundledTemplatesTests {
    @Test func builtInTemplatesAreTheTemplatesDirectory() throws {
        var onDisk: [String: String] = [:]
        let root = URL(fileURLWithPath: Paths.templates).standardizedFileURL
        let walker = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        for case let url as URL in walker where url.pathExtension == "mustache" {
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
            onDisk[String(relative.dropLast(".mustache".count))] = try FileSystem.readString(url.path)
        }
        #expect(onDisk.count > 20)
        #expect(Set(BundledTemplates.files.keys) == Set(onDisk.keys))
        for (name, text) in onDisk { #expect(BundledTemplates.files[name] == text, "template \(name) differs from the built-in copy") }
        #expect(BundledTemplates.files["server/zoo.cfg"] != nil)
    }

    @Test func builtInTemplatesRenderLikeTheDirectory() throws {
        let inventory = try InventoryLoader.load(path: Paths.inventories + "/production-3.yaml")
        let fromDisk = try Renderer(source: DirectoryTemplateSource(directory: Paths.templates)).renderKubernetes(inventory, options: .init())
        let builtIn = try Renderer(source: InMemoryTemplateSource(BundledTemplates.files)).renderKubernetes(inventory, options: .init())
        #expect(fromDisk.map(\.path) == builtIn.map(\.path))
        #expect(fromDisk.map(\.contents) == builtIn.map(\.contents))
    }
}
