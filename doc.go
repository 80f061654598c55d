// Package imkit holds the vocabulary shared by the imkit server, its Go SDK and
// the app backends that talk to either: Tencent Cloud Chat's numeric error codes
// and the Error type that carries them, client platforms, login statuses,
// multi-client login policies and kick reasons.
//
// It imports only the standard library, so an app backend can depend on it (and
// on package usersig) without pulling in the server.
//
// The server lives in cmd/imkit and internal/; the Go SDK in package sdk; the
// wire protocol in package protocol. See README.md and docs/ for the whole
// picture.
package imkit
