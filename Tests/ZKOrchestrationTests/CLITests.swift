import Foundation
import Testing
@testable import ZKOrchestration

let zkctlBinary = Paths.packageRoot + "/.build/debug/zkctl"

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built zkctl with a private ZKCTL_HOME; bounded by `timeout`. Output goes to files
/// (not pipes) and the child is reaped with waitpid, so nodes it leaves running cannot block us.
func runZkctl(_ args: [String], home: String, timeout: Duration = .seconds(120)) throws -> CommandResult {
    var env = ProcessInfo.processInfo.environment
    env["ZKCTL_HOME"] = home
    return try runProcess([zkctlBinary] + args + ["--home", home, "--templates", Paths.templates],
                          environment: env, scratch: home, timeout: timeout)
}

func runProcess(_ argv: [String], environment env: [String: String] = ProcessInfo.processInfo.environment,
                scratch home: String, timeout: Duration) throws -> CommandResult {
    let outFile = home + "/.cli-\(UUID().uuidString.prefix(6)).out"
    let errFile = outFile + ".err"
    try FileSystem.makeDirectory(home)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let envp = env.map { "\($0.key)=\($0.value)" }
    var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    var cenv: [UnsafeMutablePointer<CChar>?] = envp.map { strdup($0) } + [nil]
    defer { for p in cargv + cenv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargv, &cenv)
    guard rc == 0 else { throw ZKCtlError("cannot run \(argv[0]): \(rc)") }
    let deadline = ContinuousClock.now + timeout
    var status: Int32 = 0
    while waitpid(pid, &status, WNOHANG) == 0 {
        if ContinuousClock.now > deadline { kill(pid, SIGKILL); waitpid(pid, &status, 0); break }
        usleep(20_000)
    }
    let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    defer { try? FileSystem.remove(outFile); try? FileSystem.remove(errFile) }
    return CommandResult(status: code, stdout: (try? FileSystem.readString(outFile)) ?? "",
                         stderr: (try? FileSystem.readString(errFile)) ?? "")
}

let python3 = FileSystem.which("python3")
let kazooInstalled: Bool = {
    guard let python3, let r = try? runProcess([python3, "-c", "import kazoo"], scratch: FileManager.default.temporaryDirectory.path,
                                               timeout: .seconds(30)) else { return false }
    return r.status == 0
}()

@Suite(.serialized, .enabled(if: FileSystem.isExecutable(zkctlBinary))) struct CLITests {
    @Test func usageErrorsExitTwo() throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let r = try runZkctl(["up", "-n", "4"], home: home)
        #expect(r.status == 2)
        #expect(r.stderr.contains("even number of voters"))
        let both = try runZkctl(["up", "-n", "3", "-i", "inventory/local.yaml"], home: home)
        #expect(both.status == 2)
    }

    @Test func unknownClusterIsAnErrorButDownIsIdempotent() throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let status = try runZkctl(["status"], home: home)
        #expect(status.status == 1)
        #expect(status.stderr.contains("no cluster named 'local'"))
        let down = try runZkctl(["down", "--purge"], home: home)
        #expect(down.status == 0)
        let list = try runZkctl(["list"], home: home)
        #expect(list.stdout.contains("no clusters"))
    }

    /// The shipped inventories are Ansible inventories too: ansible-inventory reads the same hosts and ids.
    @Test(.enabled(if: FileSystem.which("ansible-inventory") != nil), .timeLimit(.minutes(2)),
          arguments: ["local", "local-5-observer", "production-3"])
    func shippedInventoryIsAValidAnsibleInventory(_ name: String) throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let path = "\(Paths.inventories)/\(name).yaml"
        let r = try runProcess([FileSystem.which("ansible-inventory")!, "-i", path, "--list"], scratch: home, timeout: .seconds(90))
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let group = try #require(json["zookeeper"] as? [String: Any])
        let hosts = try #require(group["hosts"] as? [String])
        let inv = try InventoryLoader.load(path: path)
        #expect(hosts.sorted() == inv.nodes.map(\.name).sorted())
        let hostvars = try #require((json["_meta"] as? [String: Any])?["hostvars"] as? [String: [String: Any]])
        for node in inv.nodes {
            #expect(hostvars[node.name]?["zk_id"] as? Int == node.id)
            #expect(hostvars[node.name]?["zk_engine"] as? String == inv.cluster.engine.rawValue)
        }
    }

    @Test func helpTeachesExitCodes() throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let r = try runZkctl(["status", "--help"], home: home)
        #expect(r.status == 0)
        #expect(r.stdout.contains("3  degraded"))
        #expect(r.stdout.contains("4  down"))
    }

    @Test func brokenInventoryListsEveryProblem() throws {
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let file = home + "/bad.yaml"
        try FileSystem.write("zookeeper:\n  vars: {zk_engin: apache}\n  hosts:\n    a: {zk_id: 1}\n    b: {zk_id: 1}\n", to: file)
        let r = try runZkctl(["up", "-i", file], home: home)
        #expect(r.status == 1)
        #expect(r.stderr.contains("4 problems"))
        #expect(r.stderr.contains("line 2: zookeeper.vars.zk_engin: unknown key (did you mean zk_engine?)"))
        #expect(!FileSystem.exists(home + "/clusters"))
    }

    @Test(.timeLimit(.minutes(3)), arguments: [Engine.bundled, .apache])
    func upStatusJSONKazooDrillDown(_ engine: Engine) throws {
        if engine == .apache && !apacheInstalled { return }
        if engine == .bundled && !FileSystem.isExecutable(zkserverBinary) { return }
        let home = try temporaryHome()
        defer { try? FileSystem.remove(home) }
        let base = freeBasePort(count: 3)
        let up = try runZkctl(["up", "--engine", engine.rawValue, "--base-port", "\(base)", "--timeout", "90"], home: home)
        defer { _ = try? runZkctl(["down", "--purge"], home: home) }
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout.contains("connect: 127.0.0.1:\(base),127.0.0.1:\(base + 1),127.0.0.1:\(base + 2)"))
        #expect(up.stderr.contains("healthy after"))

        let status = try runZkctl(["status", "--output", "json"], home: home)
        #expect(status.status == 0)
        let json = try JSONDecoder().decode(Report.ClusterJSON.self, from: Data(status.stdout.utf8))
        #expect(json.roles == ["leader": 1, "follower": 2])
        #expect(json.state == "healthy")

        // A real client writes through the printed connect string.
        if kazooInstalled {
            let connect = json.connectString
            let script = """
                from kazoo.client import KazooClient
                zk = KazooClient(hosts="\(connect)"); zk.start(timeout=15)
                zk.create("/cli-test", b"written"); print(zk.get("/cli-test")[0].decode()); zk.stop()
                """
            let kazoo = try runProcess([python3!, "-c", script], scratch: home, timeout: .seconds(60))
            #expect(kazoo.status == 0, "\(kazoo.stderr)")
            #expect(kazoo.stdout == "written\n")
        }

        let again = try runZkctl(["up"], home: home)
        #expect(again.status == 0)
        #expect(again.stderr.contains("already running; nothing changed"))

        let follower = try #require(json.nodes.first { $0.role == "follower" }).id
        #expect(try runZkctl(["node", "\(follower)", "stop"], home: home).status == 0)
        #expect(try runZkctl(["status"], home: home).status == 3)
        #expect(try runZkctl(["health", "--timeout", "0", "--quiet"], home: home).status == 3)
        #expect(try runZkctl(["node", "\(follower)", "start"], home: home).status == 0)
        #expect(try runZkctl(["health", "--timeout", "60"], home: home).status == 0)

        let down = try runZkctl(["down"], home: home)
        #expect(down.status == 0)
        #expect(down.stdout.contains("3 nodes stopped"))
        #expect((0..<3).allSatisfy { PortCheck.isFree(host: "127.0.0.1", port: base + $0) })
        #expect(try runZkctl(["status"], home: home).status == 4)
        #expect(try runZkctl(["down"], home: home).status == 0)
    }
}
