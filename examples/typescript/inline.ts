// Run index.ts as a Pulumi Automation API inline program: for machines without
// pulumi-language-nodejs (this repository's tests build the CLI from the Go module proxy, which
// does not serve that host). With a full Pulumi install, use `pulumi up` in this folder instead.
//
// Usage: node bin/inline.js <up|preview|refresh|destroy> --stack NAME --work-dir DIR
//            [--plugin-dir DIR] [--config key=value]... [--secret key=value]...
//
// --work-dir holds the project file and the stack's config (Pulumi.<stack>.yaml), so the CLI
// can be pointed at it too (`pulumi stack output --cwd DIR`). --plugin-dir is a folder holding
// the `pulumi-resource-marketplace` executable; without it the engine looks on PATH.
// The CLI's own output is streamed to stdout; the exit status is the command's.
import * as fs from "fs";
import * as path from "path";
import * as auto from "@pulumi/pulumi/automation";

interface Args {
    command: string;
    stack: string;
    workDir: string;
    pluginDir?: string;
    config: Record<string, auto.ConfigValue>;
}

function parse(argv: string[]): Args {
    const usage = "usage: inline.js <up|preview|refresh|destroy> --stack NAME --work-dir DIR " +
        "[--plugin-dir DIR] [--config key=value]... [--secret key=value]...";
    const [command, ...rest] = argv;
    if (!["up", "preview", "refresh", "destroy"].includes(command ?? "")) {
        throw new Error(usage);
    }
    const args: Args = { command, stack: "", workDir: "", config: {} };
    for (let i = 0; i < rest.length; i += 2) {
        const [flag, value] = [rest[i], rest[i + 1]];
        if (value === undefined) {
            throw new Error(`${flag} needs a value; ${usage}`);
        }
        if (flag === "--stack") {
            args.stack = value;
        } else if (flag === "--work-dir") {
            args.workDir = path.resolve(value);
        } else if (flag === "--plugin-dir") {
            args.pluginDir = path.resolve(value);
        } else if (flag === "--config" || flag === "--secret") {
            const at = value.indexOf("=");
            if (at < 1) {
                throw new Error(`${flag} takes key=value, got '${value}'`);
            }
            args.config[value.slice(0, at)] = { value: value.slice(at + 1), secret: flag === "--secret" };
        } else {
            throw new Error(`unknown option ${flag}; ${usage}`);
        }
    }
    if (!args.stack || !args.workDir) {
        throw new Error(usage);
    }
    return args;
}

async function main(): Promise<number> {
    const args = parse(process.argv.slice(2));
    fs.mkdirSync(args.workDir, { recursive: true });
    const projectSettings: auto.ProjectSettings = {
        name: "marketplace-golive-typescript",
        runtime: "nodejs",
        ...(args.pluginDir ? { plugins: { providers: [{ name: "marketplace", path: args.pluginDir }] } } : {}),
    };
    const stack = await auto.LocalWorkspace.createOrSelectStack(
        // The program is index.ts itself: its exports become the stack's outputs.
        { stackName: args.stack, projectName: projectSettings.name, program: async () => require("./index") },
        { workDir: args.workDir, projectSettings },
    );
    if (Object.keys(args.config).length > 0) {
        await stack.setAllConfig(args.config);
    }
    const onOutput = (out: string) => process.stdout.write(out);
    if (args.command === "up") {
        await stack.up({ onOutput });
    } else if (args.command === "preview") {
        await stack.preview({ onOutput });
    } else if (args.command === "refresh") {
        await stack.refresh({ onOutput });
    } else {
        await stack.destroy({ onOutput });
    }
    return 0;
}

main().then(
    (code) => process.exit(code),
    (err: unknown) => {
        // A failed command's CLI output has been streamed already; say what failed, briefly.
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`inline.js: ${message.split("\n").slice(0, 3).join("\n")}\n`);
        process.exit(1);
    },
);
