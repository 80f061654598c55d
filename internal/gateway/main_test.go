package gateway_test

import (
	"os"
	"testing"

	"github.com/imkit/imkit/internal/imkittest"
)

func TestMain(m *testing.M) {
	imkittest.ServeChild() // when this process is a RunServerProcess child
	os.Exit(m.Run())
}
