import Testing
@testable import ZKOrchestration

@Suite struct RenderTests {
    static let shipped = ["local", "local-5-observer", "production-3"]

    /// Every shipped inventory renders to the golden tree under Golden/<inventory>/<host>/...
    @Test(arguments: shipped)
    func shippedInventoryMatchesGolden(_ name: String) throws {
        let inv = try InventoryLoader.load(path: "\(Paths.inventories)/\(name).yaml")
        let renderer = Renderer(source: DirectoryTemplateSource(directory: Paths.templates))
        for (node, _, files) in try renderer.renderCluster(inv, layout: RenderModel.layout(for: inv, root: "/zkctl-home")) {
            for file in files {
                assertGolden(file.contents, "\(name)/\(node.name)/\(file.path)")
            }
        }
    }

    @Test func zooCfgStructure() throws {
        let inv = try InventoryLoader.load(path: Paths.inventories + "/local-5-observer.yaml")
        let renderer = Renderer(source: DirectoryTemplateSource(directory: Paths.templates))
        let layout = ClusterLayout(home: "/h", cluster: inv.cluster.name)
        let rendered = try renderer.renderCluster(inv, layout: { layout.node($0.id) })
        let observer = rendered[3]
        let cfg = try #require(observer.2.first { $0.path == "conf/zoo.cfg" }).contents
        let keys = Dictionary(cfg.split(separator: "\n").filter { !$0.hasPrefix("#") }.map {
            let kv = $0.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), String(kv[1]))
        }, uniquingKeysWith: { a, _ in a })
        #expect(keys["peerType"] == "observer")
        #expect(keys["dynamicConfigFile"] == "/h/clusters/local5/nodes/4/conf/zoo.cfg.dynamic")
        #expect(keys["4lw.commands.whitelist"] == "ruok,srvr,stat,mntr,conf")
        #expect(keys["admin.enableServer"] == "false")
        #expect(keys["clientPort"] == nil)
        let dynamic = try #require(observer.2.first { $0.path == "conf/zoo.cfg.dynamic" }).contents
        #expect(dynamic.split(separator: "\n") == [
            "server.1=127.0.0.1:2988:3988:participant;127.0.0.1:2281",
            "server.2=127.0.0.1:2989:3989:participant;127.0.0.1:2282",
            "server.3=127.0.0.1:2990:3990:participant;127.0.0.1:2283",
            "server.4=127.0.0.1:2991:3991:observer;127.0.0.1:2284",
            "server.5=127.0.0.1:2992:3992:observer;127.0.0.1:2285",
        ])
        #expect(observer.2.first { $0.path == "data/myid" }?.contents == "4\n")
    }

    @Test func standaloneHasClientPortAndNoServerLines() throws {
        let inv = Inventory.local(engine: .bundled, count: 1, clientPort: 4000)
        let renderer = Renderer(source: DirectoryTemplateSource(directory: Paths.templates))
        let files = try renderer.renderNode(RenderModel.derive(inventory: inv, node: inv.nodes[0], layout: NodeLayout(root: "/n")))
        #expect(files.map(\.path) == ["conf/zoo.cfg", "data/myid", "conf/node.env"])
        let cfg = files[0].contents
        #expect(cfg.contains("clientPort=4000\n"))
        #expect(cfg.contains("clientPortAddress=127.0.0.1\n"))
        #expect(!cfg.contains("server."))
        #expect(!cfg.contains("initLimit"))
    }

    @Test func bothEnginesKeepMembershipInTheDynamicFile() throws {
        for engine in Engine.allCases {
            let inv = Inventory.local(engine: engine, count: 3)
            let renderer = Renderer(source: DirectoryTemplateSource(directory: Paths.templates))
            let files = try renderer.renderNode(RenderModel.derive(inventory: inv, node: inv.nodes[0], layout: NodeLayout(root: "/n")))
            #expect(files.map(\.path).prefix(3) == ["conf/zoo.cfg", "conf/zoo.cfg.dynamic", "data/myid"])
            #expect(files[0].contents.contains("dynamicConfigFile=/n/conf/zoo.cfg.dynamic\n"))
            #expect(!files[0].contents.contains("server."))
            #expect(files[1].contents.contains("server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n"))
        }
    }

    @Test func userTemplatesAreUsed() throws {
        let source = InMemoryTemplateSource([
            "server/zoo.cfg": "custom {{id}} {{clientPort}}\n",
            "server/zoo.cfg.dynamic": "{{#servers}}{{line}}\n{{/servers}}",
            "server/myid": "{{id}}\n",
            "server/node.env": "",
        ])
        let inv = Inventory.local(engine: .bundled, count: 3)
        let files = try Renderer(source: source).renderNode(RenderModel.derive(inventory: inv, node: inv.nodes[1], layout: NodeLayout(root: "/n")))
        #expect(files[0].contents == "custom 2 2182\n")
    }

    @Test func missingTemplateSaysWhatToDo() {
        let renderer = Renderer(source: DirectoryTemplateSource(directory: "/nonexistent"))
        let inv = Inventory.local(count: 1)
        #expect(throws: ZKCtlError.self) {
            try renderer.renderNode(RenderModel.derive(inventory: inv, node: inv.nodes[0], layout: NodeLayout(root: "/n")))
        }
    }
}
