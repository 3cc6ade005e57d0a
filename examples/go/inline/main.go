// Command inline runs the golive program as a Pulumi Automation API inline program: for machines
// without pulumi-language-go (this repository's tests build the CLI from the Go module proxy,
// which does not serve that host). With a full Pulumi install, use `pulumi up` in examples/go.
//
// Usage: go run ./inline <up|preview|refresh|destroy> -stack NAME -work-dir DIR
//
//	[-plugin-dir DIR] [-config key=value]... [-secret key=value]...
//
// -work-dir holds the project file and the stack's config (Pulumi.<stack>.yaml), so the CLI can
// be pointed at it too (`pulumi stack output --cwd DIR`). -plugin-dir is a folder holding the
// `pulumi-resource-marketplace` executable; without it the engine looks on PATH. The CLI's own
// output is streamed to stdout; the exit status is 0 when the command succeeded.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi-marketplace/pulumi-marketplace/examples/go/golive"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// configFlag collects repeated key=value flags.
type configFlag struct {
	values auto.ConfigMap
	secret bool
}

func (c *configFlag) String() string { return "" }

func (c *configFlag) Set(text string) error {
	key, value, ok := strings.Cut(text, "=")
	if !ok || key == "" {
		return fmt.Errorf("want key=value, got %q", text)
	}
	c.values[key] = auto.ConfigValue{Value: value, Secret: c.secret}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "inline: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	values := auto.ConfigMap{}
	flags := flag.NewFlagSet("inline", flag.ContinueOnError)
	stackName := flags.String("stack", "", "the stack's name (required)")
	workDir := flags.String("work-dir", "", "the folder for the project file and stack config (required)")
	pluginDir := flags.String("plugin-dir", "", "a folder holding pulumi-resource-marketplace (default: PATH)")
	flags.Var(&configFlag{values: values}, "config", "a config value key=value (repeatable)")
	flags.Var(&configFlag{values: values, secret: true}, "secret", "a secret config value key=value (repeatable)")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: inline <up|preview|refresh|destroy> -stack NAME -work-dir DIR [options]")
		flags.PrintDefaults()
	}
	if len(os.Args) < 2 {
		flags.Usage()
		return fmt.Errorf("no command")
	}
	command := os.Args[1]
	if err := flags.Parse(os.Args[2:]); err != nil {
		return err
	}
	if *stackName == "" || *workDir == "" {
		flags.Usage()
		return fmt.Errorf("-stack and -work-dir are required")
	}
	dir, err := filepath.Abs(*workDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	project := workspace.Project{Name: tokens.PackageName("marketplace-golive-go"), Runtime: workspace.NewProjectRuntimeInfo("go", nil)}
	if *pluginDir != "" {
		abs, err := filepath.Abs(*pluginDir)
		if err != nil {
			return err
		}
		project.Plugins = &workspace.Plugins{Providers: []workspace.PluginOptions{{Name: "marketplace", Path: abs}}}
	}
	ctx := context.Background()
	stack, err := auto.UpsertStackInlineSource(ctx, *stackName, string(project.Name), golive.Program,
		auto.WorkDir(dir), auto.Project(project))
	if err != nil {
		return err
	}
	if len(values) > 0 {
		if err := stack.SetAllConfig(ctx, values); err != nil {
			return err
		}
	}
	switch command {
	case "up":
		_, err = stack.Up(ctx, optup.ProgressStreams(os.Stdout))
	case "preview":
		_, err = stack.Preview(ctx, optpreview.ProgressStreams(os.Stdout))
	case "refresh":
		_, err = stack.Refresh(ctx, optrefresh.ProgressStreams(os.Stdout))
	case "destroy":
		_, err = stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout))
	default:
		flags.Usage()
		return fmt.Errorf("unknown command %q", command)
	}
	if err != nil {
		// The CLI's output has been streamed already; keep the error short.
		first, _, _ := strings.Cut(err.Error(), "\n")
		return fmt.Errorf("%s failed: %s", command, first)
	}
	return nil
}
