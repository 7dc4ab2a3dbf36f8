package exampletest

import (
	"os/exec"
	"syscall"
)

// dieWithTests makes the kernel kill cmd if the test process dies first
// (a panic or a -timeout), so that no example server outlives the run.
func dieWithTests(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
