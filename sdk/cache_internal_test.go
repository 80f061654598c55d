package sdk

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imkit/imkit/protocol"
)

// Pushes, syncs and calls use a user's cache from several goroutines at
// once; none of their messages is lost (on one connection, two
// transactions at once failed: "cannot start a transaction within a
// transaction").
func TestCacheConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	c, err := openCache(ctx, "", 1, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	const writers, each = 8, 50
	var (
		wg        sync.WaitGroup
		announced atomic.Int64
	)
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq := uint64(w*each + i + 1)
				m := &Message{MsgID: fmt.Sprint("m", seq), ClientMsgID: fmt.Sprint("c", seq), From: "bob", To: "alice",
					Seq: seq, ConvSeq: seq, Time: time.UnixMilli(int64(seq)), Elems: []Elem{{Type: protocol.ElemText, Text: "hi"}}}
				tk, err := c.take(ctx, []*Message{m}, nil, 0, 0)
				if err != nil {
					errs <- fmt.Errorf("take seq %d: %v", seq, err)
					continue
				}
				announced.Add(int64(len(tk.news)))
				if _, err := c.conversations(ctx, 0, 10); err != nil {
					errs <- fmt.Errorf("conversations: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, _, err := c.cursor(ctx); err != nil || got != writers*each {
		t.Fatalf("cursor = %d (%v), want %d", got, err, writers*each)
	}
	if n := announced.Load(); n != writers*each {
		t.Fatalf("%d messages announced, want %d", n, writers*each)
	}
}
