package imkittest

import (
	"context"

	"github.com/imkit/imkit"
)

// SetPolicy changes the test app's login policy and per-platform limits (nil
// keeps 1 everywhere), and makes the change apply to the very next login,
// as the admin API does.
func (s *Server) SetPolicy(p imkit.LoginPolicy, limits map[imkit.Platform]int) {
	s.t.Helper()
	ctx := context.Background()
	a, err := s.Store.App(ctx, SDKAppID)
	if err != nil {
		s.t.Fatalf("load test app: %v", err)
	}
	a.Policy, a.MaxInstances = p, limits
	if err := s.Store.UpdateApp(ctx, a); err != nil {
		s.t.Fatalf("update test app: %v", err)
	}
	s.Sessions.ForgetApp(SDKAppID)
}

// ActiveInstances returns the instance IDs (sdk.Config.InstanceID) of the
// user's active sessions on the server, oldest first.
func (s *Server) ActiveInstances(user string) []string {
	s.t.Helper()
	ss, err := s.Store.ActiveSessions(context.Background(), SDKAppID, []string{user})
	if err != nil {
		s.t.Fatalf("active sessions of %s: %v", user, err)
	}
	ids := make([]string, len(ss))
	for i, x := range ss {
		ids[i] = x.InstanceID
	}
	return ids
}

// OnlineInstances returns the instance IDs of the user's connections on the
// server, in no order.
func (s *Server) OnlineInstances(user string) []string {
	var ids []string
	for _, c := range s.Hub.Conns(SDKAppID, user) {
		ids = append(ids, c.Session().InstanceID)
	}
	return ids
}
