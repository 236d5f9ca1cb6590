import ArgumentParser
import FlareAdmin
import FlareIO
import Foundation

@main
struct FlareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flare",
        abstract: "Operate a Flare cluster through its api node's admin endpoints.",
        discussion: """
        Every command talks to one api node (--api, else $FLARE_API, else \(APIEndpoint.defaultURL)) over plain \
        HTTP: GET /health, GET /admin/nodes, GET /admin/repair and the POST /admin/nodes… endpoints. Tables by \
        default; --json prints the api's JSON. A node ID may be any unique start of its 32 hex digits, as \
        `flare nodes` shows it. The admin endpoints need the api's admin token: --token-file FILE, else \
        $FLARE_ADMIN_TOKEN_FILE, names a file whose first line (not blank, not a # comment) is sent as \
        Authorization: Bearer <token> (make run writes one to ./data/admin-token). \
        Errors go to stderr as one line; the exit status is 1 (2 for a malformed command line).
        Examples: flare status; flare node add 127.0.0.1:9004 --zone b; flare node drain 3f2a.
        """,
        subcommands: [Status.self, Nodes.self, Node.self, Repair.self])

    // Declared on every command of the path, so `flare --json nodes` and `flare nodes --json`
    // are the same command: each command decodes the options wherever they stand.
    @OptionGroup var options: APIOptions

    /// ArgumentParser's own `main`, except that a malformed command line exits 2, as
    /// scripts expect of a Unix tool (ArgumentParser's EX_USAGE is 64), leaving 1 for what
    /// the api or the network refused.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// The options every command takes, and the one way a command runs: connect, act, print,
/// or print the error in a line and exit 1.
struct APIOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The api node's URL, http://host:port (default: $FLARE_API, else \(APIEndpoint.defaultURL)).",
                               valueName: "url"))
    var api: String?

    @Flag(help: "Print the api's JSON answer instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Seconds connecting, and each wait for the answer, may take.", valueName: "seconds"))
    var timeout = 10

    @Option(name: .customLong("token-file"),
            help: ArgumentHelp("File holding the api's admin token (its first line that is not blank or a # comment); default: $FLARE_ADMIN_TOKEN_FILE.",
                               valueName: "file"))
    var tokenFile: String?

    func validate() throws {
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1…600 seconds") }
    }

    func perform(_ action: (AdminActions) async throws -> String) async throws {
        let url = api ?? ProcessInfo.processInfo.environment["FLARE_API"].flatMap { $0.isEmpty ? nil : $0 } ?? APIEndpoint.defaultURL
        let tokenPath = tokenFile ?? ProcessInfo.processInfo.environment["FLARE_ADMIN_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        var transport: HTTPAdminTransport?
        do {
            let endpoint = try APIEndpoint(parsing: url)
            let engine: IOEngineKind
            do { engine = try IOEngineKind.fromEnvironment() } catch { throw AdminError.runtime("FLARE_IO: \(error)") }
            let token = try tokenPath.map(Self.readToken)
            let opened = try await HTTPAdminTransport(endpoint: endpoint, timeoutSeconds: timeout, engine: engine, token: token)
            transport = opened
            let output = try await action(AdminActions(api: AdminAPI(transport: opened), apiText: endpoint.text, json: json))
            await opened.close()
            print(output)
        } catch {
            await transport?.close()
            var line = "flare: \(error)"
            if case AdminError.api(401, _) = error, tokenPath == nil {
                line += "; give the admin token with --token-file FILE or FLARE_ADMIN_TOKEN_FILE"
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            throw ExitCode(1)
        }
    }

    static func readToken(_ path: String) throws(AdminError) -> AdminToken {
        guard let data = FileManager.default.contents(atPath: path) else { throw .tokenFile(path, why: "it cannot be read") }
        return try AdminToken(parsing: String(decoding: data, as: UTF8.self), source: path)
    }
}

/// A node ID argument: a start of the 32 hex digits, checked before anything is sent.
struct NodeArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The node's id, or a unique start of it (as `flare nodes` shows it).", valueName: "id"))
    var id: String

    func validate() throws {
        guard NodeIDPrefix(id) != nil else { throw ValidationError("'\(id)' is not a node id: give 1…32 hex digits") }
    }

    var prefix: NodeIDPrefix { NodeIDPrefix(id)! }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The api's health, the nodes in a few lines and the repair in one.",
        discussion: "Needs GET /health, GET /admin/nodes and GET /admin/repair. --json prints {\"health\",\"layout\",\"repair\"}, each the api's answer.")

    @OptionGroup var options: APIOptions

    func run() async throws { try await options.perform { try await $0.status() } }
}

struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every data node in the layout: state, health, weight, copies, space.",
        discussion: "Needs GET /admin/nodes. STATE is what the layout wants (active, draining, removed); HEALTH is what the api's probes see (up, suspect, down, gone).")

    @OptionGroup var options: APIOptions

    func run() async throws { try await options.perform { try await $0.nodes() } }
}

struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change the layout: add, drain, activate, remove or reweight a data node.",
        subcommands: [Add.self, Drain.self, Activate.self, Remove.self, Weight.self])

    @OptionGroup var options: APIOptions

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the data node answering at ADDRESS to the layout.",
            discussion: "Needs POST /admin/nodes?address=&zone=. The api asks the node for its id and zone first: it refuses an address where no data node answers, one already in the layout, and a --zone the node does not report.")

        @Argument(help: ArgumentHelp("The data node's host:port, as the api reaches it.", valueName: "address"))
        var address: String

        @Option(help: "The zone the node must be in (default: the one it reports).")
        var zone: String?

        @OptionGroup var options: APIOptions

        func run() async throws { try await options.perform { try await $0.addNode(address: address, zone: zone) } }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain a node: it gets no new chunks, and its copies are made on the other nodes.",
            discussion: "Needs POST /admin/nodes/{id}/drain. `flare node activate` undoes it; `flare repair status` shows the copying.")

        @OptionGroup var node: NodeArgument
        @OptionGroup var options: APIOptions

        func run() async throws { try await options.perform { try await $0.drain(node.prefix) } }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a draining node active again.",
            discussion: "Needs POST /admin/nodes/{id}/activate.")

        @OptionGroup var node: NodeArgument
        @OptionGroup var options: APIOptions

        func run() async throws { try await options.perform { try await $0.activate(node.prefix) } }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a node from the layout.",
            discussion: "Needs POST /admin/nodes/{id}/remove. The api refuses (409) while manifests name copies on the node: drain it first and wait for `flare nodes` to show 0 copies, or --force.")

        @OptionGroup var node: NodeArgument

        @Flag(help: "Remove it even though it holds copies (they are made again from the other replicas).")
        var force = false

        @OptionGroup var options: APIOptions

        func run() async throws { try await options.perform { try await $0.remove(node.prefix, force: force) } }
    }

    struct Weight: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a node's weight: its share of chunks, relative to the other nodes' weights.",
            discussion: "Needs POST /admin/nodes/{id}/weight?value=N (or value=capacity).")

        @OptionGroup var node: NodeArgument

        @Argument(help: ArgumentHelp("The new weight: a whole number, or capacity (the node's capacity in GiB, the default).",
                                     valueName: "weight"))
        var weight: String

        @OptionGroup var options: APIOptions

        func validate() throws {
            guard NodeWeight(weight) != nil else { throw ValidationError("the weight is a whole number ≥ 1 or capacity, not '\(weight)'") }
        }

        func run() async throws { try await options.perform { try await $0.setWeight(node.prefix, NodeWeight(weight)!) } }
    }
}

struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What the repair of lost, missing and misplaced copies is doing.",
        subcommands: [Show.self])

    @OptionGroup var options: APIOptions

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "The repair's state, its current or last pass (progress, rate, ETA) and its totals.",
            discussion: "Needs GET /admin/repair.")

        @OptionGroup var options: APIOptions

        func run() async throws { try await options.perform { try await $0.repairStatus() } }
    }
}
