package classindex

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSame: on every commit of TestDigest's, Same carries the index only
// when the Digest is indeed unchanged (never a wrong key), and does for
// every change that keeps it, but a composer.json change.
func TestSame(t *testing.T) {
	old := read(t, digestBase).Summary()
	for _, tc := range digestCases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.files()
			dir, list := writeApp(t, now)
			var changed []Changed
			for p := range tc.changes {
				c := Changed{Path: p}
				if before, ok := digestBase[p]; ok {
					c.Before = []byte(before)
				}
				changed = append(changed, c)
			}
			err := Same(dir, old, changed)
			if err != nil && !errors.Is(err, ErrNotSame) {
				t.Fatal(err)
			}
			ix, rerr := Read(context.Background(), dir, list)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if err == nil && ix.Digest() != old.Digest {
				t.Fatal("Same carried an index whose Digest changed")
			}
			if (err == nil) != tc.carried {
				t.Errorf("Same = %v, want carried %v", err, tc.carried)
			}
		})
	}
	// Counts are the index's.
	if old.Classes != 2 || old.Files != 2 || old.Links {
		t.Errorf("Summary = %+v, want 2 classes in 2 files, no links", old)
	}
}

// TestSameSymlinks: an index holding a symlink, or a changed symlink, is
// never carried: the files under a link's target are not in the changes.
func TestSameSymlinks(t *testing.T) {
	dir, _ := writeApp(t, map[string]string{
		"composer.json":    `{"autoload": {"psr-4": {"App\\": "src/"}}}`,
		"shared/Money.php": class(`App\Shared`, "Money"),
		"src/A.php":        class("App", "A"),
	})
	if err := os.Symlink("../shared", filepath.Join(dir, "src", "Shared")); err != nil {
		t.Fatal(err)
	}
	ix, err := Read(context.Background(), dir, []string{"composer.json", "shared/Money.php", "src/A.php", "src/Shared"})
	if err != nil {
		t.Fatal(err)
	}
	s := ix.Summary()
	if !s.Links {
		t.Fatalf("Summary = %+v, want Links", s)
	}
	if err := Same(dir, s, []Changed{{Path: "src/A.php", Before: []byte(class("App", "A"))}}); !errors.Is(err, ErrNotSame) {
		t.Errorf("an index with a link: Same = %v, want ErrNotSame", err)
	}
	s.Links = false
	if err := Same(dir, s, []Changed{{Path: "src/Shared", Special: true}}); !errors.Is(err, ErrNotSame) {
		t.Errorf("a changed link: Same = %v, want ErrNotSame", err)
	}
	if err := Same(dir, s, []Changed{{Path: "src/Shared", Before: []byte("../elsewhere")}}); !errors.Is(err, ErrNotSame) {
		t.Errorf("a file that is a link now: Same = %v, want ErrNotSame", err)
	}
}
