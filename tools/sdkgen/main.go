// Command sdkgen writes this provider's SDKs from its schema with Pulumi's own code generators.
//
// `pulumi package gen-sdk` hands SDK generation to each language's host (pulumi-language-nodejs,
// -go, -python), and those hosts cannot be had from the Go module proxy (tools/pulumi-cli/README.md).
// The generators they call live in github.com/pulumi/pulumi/pkg/v3/codegen, which can: this command
// binds the schema exactly as gen-sdk does and calls the same GeneratePackage functions.
//
// Usage: sdkgen -schema <schema.json> -out <sdk dir> [-languages nodejs,go,python]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// tool is the generator name written into each generated file's header.
const tool = "pulumi-marketplace sdkgen (Pulumi codegen)"

// outDirs maps a language to its folder under -out.
var outDirs = map[string]string{"nodejs": "nodejs", "go": "go", "python": "python-plugin"}

// noPackages refuses references to other packages: this schema uses only Pulumi's builtins.
type noPackages struct{}

var errNoPackages = errors.New("the schema refers to another package; sdkgen resolves none")

func (noPackages) LoadPackage(string, *semver.Version) (*schema.Package, error) {
	return nil, errNoPackages
}

func (noPackages) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNoPackages
}

func (noPackages) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errNoPackages
}

func (noPackages) LoadPackageReferenceV2(
	context.Context, *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, errNoPackages
}

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON), e.g. from `pulumi package get-schema`")
	out := flag.String("out", "sdk", "the folder that holds one folder per language")
	languages := flag.String("languages", "nodejs,go,python", "comma-separated: nodejs, go, python")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"Usage: sdkgen -schema <schema.json> [-out sdk] [-languages nodejs,go,python]\n\n"+
				"Writes <out>/nodejs, <out>/go and <out>/python-plugin from the schema with Pulumi's code\n"+
				"generators, replacing what those folders held.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *schemaPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*schemaPath, *out, strings.Split(*languages, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen: %v\n", err)
		os.Exit(1)
	}
}

func run(schemaPath, out string, languages []string) error {
	pkg, err := bind(schemaPath)
	if err != nil {
		return err
	}
	for _, language := range languages {
		files, err := generate(language, pkg)
		if err != nil {
			return fmt.Errorf("%s: %w", language, err)
		}
		if err := write(filepath.Join(out, outDirs[language]), files); err != nil {
			return fmt.Errorf("%s: %w", language, err)
		}
		fmt.Printf("sdkgen: %s: %d files in %s\n", language, len(files), filepath.Join(out, outDirs[language]))
	}
	return nil
}

// bind reads and validates the schema the way `pulumi package gen-sdk` does.
func bind(schemaPath string) (*schema.Package, error) {
	text, err := os.ReadFile(schemaPath)
	if err != nil {
		return nil, err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(text, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", schemaPath, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noPackages{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", schemaPath, err)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %s", schemaPath, diags.Error())
	}
	return pkg, nil
}

func generate(language string, pkg *schema.Package) (map[string][]byte, error) {
	switch language {
	case "nodejs":
		return nodejs.GeneratePackage(tool, pkg, nil, nil, false, noPackages{})
	case "go":
		return gogen.GeneratePackage(tool, pkg, nil)
	case "python":
		files, err := python.GeneratePackage(tool, pkg, nil, noPackages{})
		if err != nil {
			return nil, err
		}
		// pyproject.toml names README.md at the project root, but the generator writes it only
		// inside the package; without the copy, building the SDK warns that it is missing.
		for name, text := range files {
			if path.Base(name) == "README.md" && path.Dir(name) != "." && files["README.md"] == nil {
				files["README.md"] = text
			}
		}
		return files, nil
	}
	return nil, fmt.Errorf("unknown language (want nodejs, go or python)")
}

// keep says which entries a regeneration leaves in place: build outputs that each SDK's
// .gitignore names (npm's and tsc's, and the metadata of an editable pip install).
func keep(name string) bool {
	return name == "node_modules" || name == "bin" || strings.HasSuffix(name, ".egg-info")
}

// write replaces dir's contents with files, so that a removed resource leaves no stale file.
func write(dir string, files map[string][]byte) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, entry := range entries {
		if !keep(entry.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, entry.Name())); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
