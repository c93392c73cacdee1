import Mustache

/// Where templates come from: a directory (`templates/` or `--templates DIR`) or memory (tests).
public protocol TemplateSource: Sendable {
    /// Template text for a name such as `server/zoo.cfg` (file `server/zoo.cfg.mustache`).
    func template(named name: String) throws -> String
    var description: String { get }
}

public struct DirectoryTemplateSource: TemplateSource {
    public var directory: String
    public init(directory: String) { self.directory = directory }

    public func template(named name: String) throws -> String {
        let path = "\(directory)/\(name).mustache"
        guard FileSystem.exists(path) else {
            throw ZKCtlError("template \(path) not found; point --templates at a directory holding server/*.mustache (copy zkctl's templates/)")
        }
        return try FileSystem.readString(path)
    }

    public var description: String { directory }
}

public struct InMemoryTemplateSource: TemplateSource {
    public var templates: [String: String]
    public var description: String
    public init(_ templates: [String: String], description: String = "memory") {
        self.templates = templates
        self.description = description
    }

    public func template(named name: String) throws -> String {
        guard let t = templates[name] else { throw ZKCtlError("template \(name) not found in \(description)") }
        return t
    }
}

/// Renders typed models through logic-less Mustache templates.
public struct Renderer: Sendable {
    public var source: any TemplateSource

    public init(source: any TemplateSource) { self.source = source }

    public func render(template name: String, model: Any) throws -> String {
        let text = try source.template(named: name)
        let template: MustacheTemplate
        do {
            template = try MustacheTemplate(string: text)
        } catch {
            throw ZKCtlError("template \(name) in \(source.description) does not parse: \(error)")
        }
        return template.render(model)
    }

    /// All server files of one node.
    public func renderNode(_ model: NodeRenderModel) throws -> [RenderedFile] {
        try RenderModel.files(for: model).map { file in
            RenderedFile(path: file.path, template: file.template, contents: try render(template: file.template, model: model))
        }
    }

    /// All server files of every node of an inventory, paths prefixed with the node's name.
    public func renderCluster(_ inventory: Inventory, layout: (NodeSpec) -> NodeLayout) throws -> [(NodeSpec, NodeLayout, [RenderedFile])] {
        try inventory.nodes.map { node in
            let l = layout(node)
            return (node, l, try renderNode(RenderModel.derive(inventory: inventory, node: node, layout: l)))
        }
    }
}
