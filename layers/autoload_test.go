package layers

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAutoloadKey: the autoload layer changes with the classes the app
// declares under its autoload paths, not with what their methods do; the
// app layer changes with every code change.
func TestAutoloadKey(t *testing.T) {
	base := maps.Clone(baseApp)
	base["composer.json"] = strings.Replace(baseApp["composer.json"], `"repositories"`, `"autoload": {"psr-4": {"App\\": "src/"}, "classmap": ["lib/"]}, "repositories"`, 1)
	maps.Copy(base, map[string]string{
		"src/Page.php":        "<?php\nnamespace App;\nclass Page { function title() { return 'one'; } }\n",
		"lib/Legacy.php":      "<?php\nclass Legacy_Report { function title() { return 'one'; } }\n",
		"bin/tool.php":        "<?php echo 'one';\n",
		"src/Template.php":    "<?php\nnamespace App;\n$s = 'class Fake {}'; /* class Fake2 {} */ ?>\n<p>class Fake3 {}</p>\n",
		"src/Conditional.php": "<?php\nif (!class_exists('Compat')) { class Compat {} }\n",
	})
	for _, tc := range []struct {
		name string
		edit map[string]string
		want []string // sorted
	}{
		{name: "method body under psr-4", edit: map[string]string{"src/Page.php": strings.Replace(base["src/Page.php"], "'one'", "'two'", 1)}, want: []string{"app"}},
		{name: "method body in a classmap dir", edit: map[string]string{"lib/Legacy.php": strings.Replace(base["lib/Legacy.php"], "'one'", "'two'", 1)}, want: []string{"app"}},
		{name: "outside any autoload path", edit: map[string]string{"bin/tool.php": "<?php\nclass Tool {}\n"}, want: []string{"app"}},
		{name: "a declaration in a string, a comment or HTML", edit: map[string]string{"src/Template.php": strings.ReplaceAll(base["src/Template.php"], "Fake", "Other")}, want: []string{"app"}},
		{name: "class added", edit: map[string]string{"src/Invoice.php": "<?php\nnamespace App;\nclass Invoice {}\n"}, want: []string{"app", "autoload"}},
		{name: "class renamed", edit: map[string]string{"src/Page.php": strings.Replace(base["src/Page.php"], "class Page", "class Home", 1)}, want: []string{"app", "autoload"}},
		{name: "conditional class renamed", edit: map[string]string{"src/Conditional.php": strings.ReplaceAll(base["src/Conditional.php"], "Compat", "Shim")}, want: []string{"app", "autoload"}},
		{name: "classmap class removed", edit: map[string]string{"lib/Legacy.php": ""}, want: []string{"app", "autoload"}},
		{name: "autoload settings", edit: map[string]string{"composer.json": strings.Replace(base["composer.json"], `["lib/"]`, `["lib/", "bin/"]`, 1)}, want: []string{"autoload", "vendor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := keysOf(t, base, "", nil)
			files := maps.Clone(base)
			for k, v := range tc.edit {
				if v == "" {
					delete(files, k)
				} else {
					files[k] = v
				}
			}
			after := keysOf(t, files, "", nil)
			var changed []string
			for name, key := range after {
				if before[name] != key {
					changed = append(changed, name)
				}
			}
			slices.Sort(changed)
			if d := cmp.Diff(tc.want, changed); d != "" {
				t.Errorf("changed layer keys (-want +got):\n%s", d)
			}
		})
	}
}
