package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
)

// xconnectSetting is the GODEBUG setting with which net/http's HTTP/2
// server offers RFC 8441 extended CONNECT (WebSockets over HTTP/2).
const xconnectSetting = "http2xconnect=1"

// RerunWithExtendedConnect makes a test binary serve WebSockets over
// HTTP/2: net/http reads GODEBUG once, when the program starts, so a
// TestMain cannot turn the setting on for itself. Called first in
// TestMain, it runs the same binary with the same arguments again, with
// http2xconnect=1 added to GODEBUG, and returns its exit status and true;
// in that child (or any process started with the setting) it returns
// false, and TestMain runs the tests.
func RerunWithExtendedConnect() (code int, rerun bool) {
	godebug := os.Getenv("GODEBUG")
	if strings.Contains(godebug, xconnectSetting) {
		return 0, false
	}
	if godebug != "" {
		godebug += ","
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug+xconnectSetting)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &exit):
		return exit.ExitCode(), true
	default:
		os.Stderr.WriteString("testenv: running the tests with " + xconnectSetting + ": " + err.Error() + "\n")
		return 2, true
	}
}
