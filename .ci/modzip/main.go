// Command modzip writes a module zip, the archive a Go module proxy serves
// as <module>/@v/<version>.zip, from a directory holding the module's files
// (an extracted `git archive`, so only committed files). It applies the go
// command's rules for what a module contains: every regular file under the
// directory except those in a subdirectory with its own go.mod (a nested
// module, zipped on its own), in vendor/ or in a VCS directory, each stored
// under "<module>@<version>/".
//
//	go run .ci/modzip/main.go -dir DIR -module PATH -version vX.Y.Z -out FILE
//
// .ci/goproxy-check uses it to serve the repository's modules from a
// file-system GOPROXY. golang.org/x/mod/zip does the same, and more checks;
// this stays within the standard library so that CI needs no download.
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "", "the module's root directory")
	module := flag.String("module", "", "the module path")
	version := flag.String("version", "", "the version, e.g. v0.1.0")
	out := flag.String("out", "", "the zip file to write")
	flag.Parse()
	if *dir == "" || *module == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*dir, *module+"@"+*version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "modzip:", err)
		os.Exit(1)
	}
}

// write zips the module files under dir into out, each under prefix.
func write(dir, prefix, out string) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	zw := zip.NewWriter(f)
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return skipDir(p, rel, d.Name())
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and the like are not module content
		}
		return add(zw, path.Join(prefix, rel), p)
	})
	return errors.Join(walkErr, zw.Close())
}

// skipDir says whether the walk leaves the directory p (rel to the module
// root, base name name) out of the module.
func skipDir(p, rel, name string) error {
	if rel == "." {
		return nil
	}
	switch name {
	case ".git", ".hg", ".svn", ".bzr", "vendor":
		return filepath.SkipDir
	}
	if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
		return filepath.SkipDir // a nested module
	}
	return nil
}

// add stores the file src as name.
func add(zw *zip.Writer, name, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := zw.Create(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, in)
	return err
}
