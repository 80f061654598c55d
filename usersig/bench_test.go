package usersig

import (
	"testing"
	"time"
)

func benchTicket(b *testing.B) string {
	b.Helper()
	ticket, err := SignTicket(testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp})
	if err != nil {
		b.Fatal(err)
	}
	return ticket
}

// BenchmarkVerify is the cost of one login's ticket check.
func BenchmarkVerify(b *testing.B) {
	ticket := benchTicket(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(ticket, testAppID, testKey, testUser, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParallel checks that the pools scale across cores.
func BenchmarkVerifyParallel(b *testing.B) {
	ticket := benchTicket(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Verify(ticket, testAppID, testKey, testUser, testNow); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyInvalid is the cost of refusing garbage that decodes as
// base64: what a flood of bad tickets costs.
func BenchmarkVerifyInvalid(b *testing.B) {
	ticket := benchTicket(b)
	bad := ticket[:len(ticket)-8] + "AAAAAAA_"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(bad, testAppID, testKey, testUser, testNow); err == nil {
			b.Fatal("verified")
		}
	}
}

func BenchmarkSign(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(testAppID, testKey, testUser, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
