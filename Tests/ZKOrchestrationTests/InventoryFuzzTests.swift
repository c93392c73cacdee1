import Foundation
import Testing
@testable import ZKOrchestration

/// Seeded mutations of the shipped inventories: the loader must answer with an inventory or an error,
/// never crash or hang.
@Test func inventoryLoaderSurvivesMutatedYAML() throws {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("inventory")
    let seeds = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        .map { try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }
    #expect(!seeds.isEmpty)
    var state: UInt64 = 424242
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    let tokens = [":", " ", "\n", "-", "{", "}", "[", "]", "'", "\"", "#", "&a", "*a", "!!int", "zk_id: 0", "zk_id: -1",
                  "zk_engine: none", "  hosts:", "vars:", "9999999999999", "zk_client_port: 70000", "\t", "~", "? "]
    var accepted = 0, rejected = 0
    for i in 0..<1500 {
        var chars = Array(seeds[i % seeds.count])
        for _ in 0..<(1 + Int(next() % 4)) {
            let at = chars.isEmpty ? 0 : Int(next() % UInt64(chars.count))
            switch next() % 3 {
            case 0: chars.insert(contentsOf: tokens[Int(next() % UInt64(tokens.count))], at: at)
            case 1: if !chars.isEmpty { chars.removeSubrange(at..<min(chars.count, at + Int(next() % 12) + 1)) }
            default: if !chars.isEmpty { chars[at] = Character(UnicodeScalar(UInt8(32 + next() % 90))) }
            }
        }
        do {
            _ = try InventoryLoader.parse(yaml: String(chars), source: "fuzz-\(i).yaml")
            accepted += 1
        } catch {
            rejected += 1
        }
    }
    #expect(accepted + rejected == 1500)
    #expect(rejected > 0)
}
