package exampletest

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as an example command: it prints
// its address, waits for SIGTERM and exits with the status the variable
// holds.
const helperEnv = "EXAMPLETEST_HELPER_EXIT"

func TestMain(m *testing.M) {
	if code := os.Getenv(helperEnv); code != "" {
		n, _ := strconv.Atoi(code)
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("listening on 127.0.0.1:1")
		<-term
		os.Exit(n)
	}
	goleak.VerifyTestMain(m)
}

// recordingTB records the errors reported to it instead of failing.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestStopChecksExitStatus: a command that exits with an error status
// when told to stop fails the test; one that exits cleanly does not, and
// a second Stop (Start's cleanup) reports nothing more.
func TestStopChecksExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		exit string
		want []string
	}{
		{"0", nil},
		{"3", []string{"exit status 3"}},
	} {
		t.Run("exit "+tc.exit, func(t *testing.T) {
			t.Parallel()
			p := Start(t, os.Args[0], []string{helperEnv + "=" + tc.exit})
			rec := &recordingTB{TB: t}
			p.Stop(rec)
			p.Stop(rec)
			assert.Len(t, rec.errors, len(tc.want), "%q", rec.errors)
			for i, w := range tc.want {
				if i < len(rec.errors) {
					assert.True(t, strings.Contains(rec.errors[i], w), "%q does not say %q", rec.errors[i], w)
				}
			}
		})
	}
}
