package sdk

import (
	"context"
	"fmt"
	"sync"
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
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq := uint64(w*each + i + 1)
				m := &Message{MsgID: fmt.Sprint("m", seq), ClientMsgID: fmt.Sprint("c", seq), From: "bob", To: "alice",
					Seq: seq, ConvSeq: seq, Time: time.UnixMilli(int64(seq)), Elems: []Elem{{Type: protocol.ElemText, Text: "hi"}}}
				if _, isNew, err := c.add(ctx, m); err != nil || !isNew {
					errs <- fmt.Errorf("add seq %d: new %v, %v", seq, isNew, err)
					continue
				}
				if _, err := c.advance(ctx); err != nil {
					errs <- fmt.Errorf("advance after %d: %v", seq, err)
				}
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
	if got, err := c.advance(ctx); err != nil || got != writers*each {
		t.Fatalf("synced seq = %d (%v), want %d", got, err, writers*each)
	}
}
