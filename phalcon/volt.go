package phalcon

import (
	"path"

	"github.com/phpbuild/phpbuild/project"
)

// VoltOptions are the options an app gives Volt's compiler; they decide the
// compiled files' names and content.
type VoltOptions struct {
	Path      string `json:"path"`      // compiled dir, app-relative; "" compiles next to each template
	Separator string `json:"separator"` // replaces "/" in compiled names when Path is set
	Extension string `json:"extension"` // appended to compiled names
	Prefix    string `json:"prefix"`
	Bootstrap string `json:"bootstrap"` // app-relative PHP file that registers functions and filters
}

// Phalcon's own defaults (Phalcon\Mvc\View\Engine\Volt\Compiler).
const (
	DefaultSeparator = "%%"
	DefaultExtension = ".php"
)

// VoltOptionsFrom fills project.toml's [volt] with Phalcon's defaults, so an
// app that states a default builds the same layer as one that does not.
func VoltOptionsFrom(v project.Volt) VoltOptions {
	o := VoltOptions{Path: v.Path, Separator: v.Separator, Extension: v.Extension, Prefix: v.Prefix, Bootstrap: v.Bootstrap}
	if o.Path != "" {
		o.Path = path.Clean(o.Path)
	}
	if o.Bootstrap != "" {
		o.Bootstrap = path.Clean(o.Bootstrap)
	}
	if o.Separator == "" {
		o.Separator = DefaultSeparator
	}
	if o.Extension == "" {
		o.Extension = DefaultExtension
	}
	return o
}
