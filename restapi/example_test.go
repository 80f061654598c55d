package restapi_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/restapi"
)

func Example() {
	ctx := context.Background()
	c := restapi.NewClient("http://127.0.0.1:8080", 1400000001, "administrator", "the app's secret key")
	if err := c.ImportAccount(ctx, restapi.Account{UserID: "alice", Nick: "Alice"}); err != nil {
		var e *imkit.Error
		if errors.As(err, &e) {
			fmt.Println("REST error", e.Code, e.Message)
		}
		return
	}
	st, err := c.QueryOnlineStatus(ctx, []string{"alice"}, true)
	if err == nil {
		fmt.Println(st.QueryResult[0].State)
	}
}
