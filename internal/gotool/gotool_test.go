package gotool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ideserver/ideserver/internal/gotool"
)

// TestPinsMatchToolsModule keeps the versions here and in tools/go.mod in
// step.
func TestPinsMatchToolsModule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "tools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := string(data)
	for _, tool := range []gotool.Tool{gotool.Gopls(), gotool.Dlv()} {
		module := tool.Package
		if tool.Name == "dlv" {
			module = "github.com/go-delve/delve"
		}
		if !strings.Contains(mod, "\t"+module+" "+tool.Version) {
			t.Errorf("tools/go.mod does not pin %s %s", module, tool.Version)
		}
		if !strings.Contains(mod, tool.Package) {
			t.Errorf("tools/go.mod has no tool %s", tool.Package)
		}
	}
}

func TestConfiguredPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mygopls")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := gotool.New(gotool.Options{Dir: filepath.Join(dir, "tools"), Paths: map[string]string{"gopls": bin}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := in.Path(context.Background(), gotool.Gopls())
	if err != nil || p != bin {
		t.Fatalf("Path = %q, %v; want %q", p, err, bin)
	}
	if err := in.Status(gotool.Gopls()); err != nil {
		t.Fatalf("Status = %v", err)
	}
}

func TestAlreadyBuiltIsReused(t *testing.T) {
	dir := t.TempDir()
	tool := gotool.Dlv()
	target := filepath.Join(dir, tool.Name+"-"+tool.Version)
	if err := os.WriteFile(target, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// GoBinary that cannot run proves no build is attempted.
	in, _ := gotool.New(gotool.Options{Dir: dir, GoBinary: "/nonexistent/go"})
	if p, err := in.Path(context.Background(), tool); err != nil || p != target {
		t.Fatalf("Path = %q, %v; want %q", p, err, target)
	}
}

func TestBuildFailureIsReported(t *testing.T) {
	in, _ := gotool.New(gotool.Options{Dir: t.TempDir(), GoBinary: "/nonexistent/go"})
	if _, err := in.Path(context.Background(), gotool.Gopls()); err == nil {
		t.Fatal("a build with a missing go command succeeded")
	}
	if err := in.Status(gotool.Gopls()); err == nil {
		t.Fatal("Status reports ready after a failed build")
	}
}

// TestStatusHidesHostPaths: Status feeds the public /readyz answer, so a
// failure names the tool, not the paths it was looked for or built at.
func TestStatusHidesHostPaths(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "configured", "gopls")
	tests := []struct {
		name string
		opts gotool.Options
	}{
		{"build fails", gotool.Options{Dir: filepath.Join(dir, "tools"), GoBinary: "/nonexistent/go"}},
		{"configured path missing", gotool.Options{Dir: filepath.Join(dir, "tools"), Paths: map[string]string{"gopls": missing}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := gotool.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if _, err := in.Path(context.Background(), gotool.Gopls()); err == nil {
				t.Fatal("Path succeeded")
			}
			err = in.Status(gotool.Gopls())
			if !errors.Is(err, gotool.ErrUnavailable) {
				t.Fatalf("Status = %v, want ErrUnavailable", err)
			}
			if msg := err.Error(); strings.Contains(msg, "/") {
				t.Errorf("Status = %q, names a path", msg)
			}
		})
	}
}
