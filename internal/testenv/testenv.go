// Package testenv lets tests that need an outside program (Python, Node,
// Chromium, Redis, nginx) skip on a developer machine that lacks it, and fail
// in CI, where .ci/run sets TORNAGO_REQUIRE_EXTERNAL=1 so that a green run can
// never come from skipped tests.
package testenv

import (
	"os"
	"os/exec"
	"runtime/debug"
	"testing"
)

// RequireEnv is the environment variable that turns a missing-program skip
// into a test failure.
const RequireEnv = "TORNAGO_REQUIRE_EXTERNAL"

// Required reports whether missing outside programs must fail tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Missing skips t because what is unavailable, or fails it when
// Required reports true.
func Missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (%s=1) but unavailable", what, RequireEnv)
	}
	t.Skipf("%s unavailable; set up as .ci/run does to run this test", what)
}

// LookPath returns the path of program, or skips/fails t via Missing.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(t, program)
	}
	return p
}

// Python returns a python3 interpreter that can import every module in
// modules (Debian's /usr/bin/python3 is preferred, since the apt packages
// install there), or skips/fails t via Missing.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, py := range candidates {
		args := []string{"-c", "import sys"}
		for _, m := range modules {
			args[1] += "; import " + m
		}
		if err := exec.Command(py, args...).Run(); err == nil {
			return py
		}
	}
	Missing(t, "python3 with "+joinModules(modules))
	return ""
}

func joinModules(ms []string) string {
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += ", "
		}
		s += m
	}
	return s
}

// RaceEnabled reports whether the running test binary was built with
// -race.
func RaceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
