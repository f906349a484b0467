package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/phpbuild/phpbuild"

// layering is DESIGN.md's data flow: a package may import only packages
// before it. transient, badinput and project are read by every stage, so they lead.
var layering = []string{"transient", "badinput", "project", "processes", "git", "constraint", "detect", "attest", "runtimes", "phalcon", "layers", "build", "release", "ui"}

// TestLibrariesDoNotImportCmd keeps the CLI thin and the libraries usable
// without it, and keeps each package to the stages on its left.
func TestLibrariesDoNotImportCmd(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	rank := map[string]int{}
	for i, p := range layering {
		rank[module+"/"+p] = i
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if strings.HasPrefix(pkg, module+"/cmd/") {
			continue
		}
		seen++
		for _, imp := range imports {
			if strings.HasPrefix(imp, module+"/cmd/") || imp == module+"/cmd" {
				t.Errorf("library package %s imports %s", pkg, imp)
			}
			r, own := rank[pkg]
			ri, lib := rank[imp]
			if own && lib && ri >= r {
				t.Errorf("%s imports %s, which comes after it in the data flow %v", pkg, imp, layering)
			}
		}
	}
	if seen < len(layering) {
		t.Errorf("checked %d library packages, want at least %d", seen, len(layering))
	}
}
