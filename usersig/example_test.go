package usersig_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/usersig"
)

// An app backend signs a ticket; the server verifies it at login.
func Example() {
	const (
		sdkAppID = 1400000000
		key      = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	)
	signedAt := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	ticket, err := usersig.SignTicket(key, usersig.Ticket{
		Identifier: "xiaojun",
		SDKAppID:   sdkAppID,
		Time:       signedAt.Unix(),
		Expire:     int64(usersig.DefaultExpire / time.Second),
	})
	if err != nil {
		panic(err)
	}

	t, err := usersig.Verify(ticket, sdkAppID, key, "xiaojun", signedAt.Add(time.Hour))
	if err != nil {
		panic(err)
	}
	fmt.Println("ok", t.Identifier, "expires", t.ExpiresAt().UTC().Format(time.RFC3339))

	_, err = usersig.Verify(ticket, sdkAppID, "another key", "xiaojun", signedAt.Add(time.Hour))
	fmt.Println(imkit.ErrorCode(err), errors.Is(err, usersig.ErrSignature))

	_, err = usersig.Verify(ticket, sdkAppID, key, "xiaojun", t.ExpiresAt().Add(time.Second))
	fmt.Println(imkit.ErrorCode(err), errors.Is(err, usersig.ErrExpired))
	// Output:
	// ok xiaojun expires 2024-05-12T22:13:20Z
	// 70009 true
	// 70001 true
}
