package workspace_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/workspace"
)

var benchSizes = []struct {
	name string
	size int
}{
	{"4KiB", 4 << 10},
	{"1MiB", 1 << 20},
}

// BenchmarkWriteFile measures an atomic, durable write (temp file, fsync,
// rename, directory fsync) through the os.Root.
func BenchmarkWriteFile(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			f, _ := openFiles(b, workspace.FilesOptions{})
			data := bytes.Repeat([]byte("x"), bs.size)
			b.SetBytes(int64(bs.size))
			for b.Loop() {
				if _, err := f.WriteFile("dir/file.go", bytes.NewReader(data), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadFile(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			f, _ := openFiles(b, workspace.FilesOptions{})
			if _, err := f.WriteFile("dir/file.go", bytes.NewReader(bytes.Repeat([]byte("x"), bs.size)), ""); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(bs.size))
			for b.Loop() {
				if _, _, err := f.ReadFile("dir/file.go"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSearch searches 500 Go-like files of 60 lines in 25 directories.
func BenchmarkSearch(b *testing.B) {
	f, dir := openFiles(b, workspace.FilesOptions{})
	var src strings.Builder
	for i := range 60 {
		fmt.Fprintf(&src, "\tvalue%d := compute(ctx, %d) // some ordinary line of Go code\n", i, i)
	}
	for i := range 500 {
		content := src.String()
		if i%10 == 0 {
			content += "\treturn needleFunc(value1)\n"
		}
		writeHost(b, dir, fmt.Sprintf("pkg%02d/file%03d.go", i%25, i), content)
	}
	queries := []struct {
		name string
		q    workspace.SearchQuery
	}{
		{"literal", workspace.SearchQuery{Text: "needleFunc", CaseSensitive: true}},
		{"literal-nocase", workspace.SearchQuery{Text: "NEEDLEFUNC"}},
		{"regexp", workspace.SearchQuery{Text: `needle\w+\(`, Regex: true, CaseSensitive: true}},
	}
	for _, bq := range queries {
		b.Run(bq.name, func(b *testing.B) {
			var matches int
			for b.Loop() {
				res, err := f.Search(context.Background(), bq.q)
				if err != nil {
					b.Fatal(err)
				}
				matches = len(res.Matches)
			}
			if matches != 50 {
				b.Fatalf("%d matches, want 50", matches)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/500, "µs/file")
		})
	}
}
