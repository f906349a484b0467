package phalcon

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// The precompiler is a PHP script run by the build image's php, with its
// files mounted at PrecompilerDir.
const (
	PrecompilerDir = "/phpbuild"
	precompiler    = "volt.php"
	precompileCfg  = "volt.json"
	extensionsFile = "extensions.php"
	// errorMarker starts the one line the precompiler writes for a
	// template it cannot compile: MARKER TAB template TAB line TAB message.
	errorMarker = "PHPBUILD-VOLT-ERROR"
)

// precompileTemplate compiles each template given in its config as the
// app's Volt engine would at run time: with the app's options and a DI
// container that answers has() for the app's service names, since Volt
// compiles a.b to $this->a->b only for a service a.
//
//go:embed precompile.php
var precompileTemplate string

var precompileScript = func() []byte {
	var b bytes.Buffer
	err := template.Must(template.New(precompiler).Parse(precompileTemplate)).Execute(&b, map[string]string{
		"Dir": PrecompilerDir, "Config": precompileCfg, "Extensions": extensionsFile, "ErrorMarker": errorMarker,
	})
	if err != nil {
		panic(err)
	}
	return b.Bytes()
}()

// Precompile is one run of Phalcon's own compiler over an app's templates,
// set up as the app sets its Volt engine up.
type Precompile struct {
	Options VoltOptions
	// FactoryDefault and Services are the compiler's DI container.
	FactoryDefault bool
	Services       []string
	// Extensions are the functions and filters the app adds.
	Extensions []Extension
	// AppPath is where the app runs from: compiled names embed it, so the
	// templates are compiled there.
	AppPath string
	// Templates are the app-relative *.volt files.
	Templates []string
}

// File is one file of the precompiler, named relative to PrecompilerDir.
type File struct {
	Name string
	Data []byte
}

// Files are what the precompiler needs in PrecompilerDir: the script, its
// config and the app's extensions.
func (p *Precompile) Files() ([]File, error) {
	cfg := struct {
		VoltOptions
		FactoryDefault bool     `json:"factoryDefault"`
		Services       []string `json:"services"`
		Templates      []string `json:"templates"`
		ViewsDirs      []string `json:"viewsDirs"`
	}{VoltOptions: p.Options, FactoryDefault: p.FactoryDefault, Services: p.Services, ViewsDirs: p.viewsDirs()}
	if cfg.Services == nil {
		cfg.Services = []string{}
	}
	if cfg.Bootstrap != "" {
		cfg.Bootstrap = path.Join(p.AppPath, cfg.Bootstrap)
	}
	for _, t := range p.Templates {
		cfg.Templates = append(cfg.Templates, path.Join(p.AppPath, t))
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	exts := "<?php\n"
	for _, e := range p.Extensions {
		exts += e.Code
	}
	return []File{{precompiler, precompileScript}, {precompileCfg, b}, {extensionsFile, []byte(exts)}}, nil
}

// Command runs the precompiler; its working dir is AppPath.
func (p *Precompile) Command() []string {
	return []string{"php", path.Join(PrecompilerDir, precompiler)}
}

// viewsDirs are the dirs {% extends %} paths may be relative to: every dir
// holding templates and each of its parents inside the app, deepest first.
func (p *Precompile) viewsDirs() []string {
	seen := map[string]bool{}
	var dirs []string
	for _, f := range p.Templates {
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	slices.SortFunc(dirs, func(a, b string) int {
		if n := strings.Count(b, "/") - strings.Count(a, "/"); n != 0 {
			return n
		}
		return strings.Compare(a, b)
	})
	out := make([]string, 0, len(dirs)+1)
	for _, d := range dirs {
		out = append(out, path.Join(p.AppPath, d)+"/")
	}
	return append(out, p.AppPath+"/")
}

// CompileError is a template the precompiler could not compile.
type CompileError struct {
	// Template is the absolute path of the template at run time.
	Template string
	Line     int // 0 when the compiler named none
	Message  string
}

// ParseCompileError reads the line of the precompiler's output that
// reports a template it could not compile.
func ParseCompileError(line string) (*CompileError, bool) {
	rest, ok := strings.CutPrefix(line, errorMarker+"\t")
	if !ok {
		return nil, false
	}
	parts := strings.SplitN(rest, "\t", 3)
	if len(parts) != 3 {
		return nil, false
	}
	n, _ := strconv.Atoi(parts[1])
	return &CompileError{Template: parts[0], Line: n, Message: parts[2]}, true
}
