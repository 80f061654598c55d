// Package usersig signs and verifies UserSig tickets in Tencent Cloud Chat's
// TLSSigAPIv2 format, the tickets an app's business server gives its users so
// that they can log in. Tickets made by Tencent's official generators (Go,
// Java, Python, PHP, Node.js, C#, C++) verify here, and tickets made here
// verify with Tencent's verifiers. It imports only the standard library and
// the root package imkit, for the error codes.
//
// # Format
//
// A ticket is a JSON object, zlib-compressed, then base64-encoded with the
// standard alphabet and '+', '/', '=' replaced by '*', '-', '_':
//
//	{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,
//	 "TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"<base64>"}
//
// TLS.time is the Unix time of signing, TLS.expire the lifetime in seconds,
// and the optional TLS.userbuf carries opaque bytes (Base64, standard
// alphabet). TLS.sig is the standard Base64 of HMAC-SHA256, keyed with the
// app's secret key as text (the bytes of the string, not hex-decoded), over
//
//	TLS.identifier:<identifier>\n
//	TLS.sdkappid:<sdkappid>\n
//	TLS.time:<time>\n
//	TLS.expire:<expire>\n
//	TLS.userbuf:<TLS.userbuf as in the ticket>\n   (only when TLS.userbuf is present)
//
// Tickets are always decoded and checked, never compared as strings: the
// same fields give different tickets at different zlib levels.
//
// # What is accepted
//
// Decoding is as tolerant as Tencent's verifiers: '+', '/' and '=' are
// accepted besides '*', '-' and '_', white space is skipped and padding may be
// missing; any zlib level, stored blocks included; any valid JSON encoding of
// the object (field order, white space, escapes such as PHP's "\/"; field
// names matched as encoding/json matches them, like Tencent's Go verifier;
// unknown fields ignored). TLS.sdkappid, TLS.time and TLS.expire are JSON
// integers, also accepted inside a JSON string ("1400000000") as PHP's
// verifier does. TLS.userbuf is signed over exactly as it appears in the
// ticket (old Java generators wrap it in lines). TLS.ver must be "2.0".
// Tickets longer than MaxTicketLen bytes, or that inflate to more than 16 KiB,
// are refused before they can use memory.
//
// # Verification order
//
// Verify returns the first failure, in this order, as an *imkit.Error:
//
//  1. 70002 (ErrEmpty): the ticket is empty.
//  2. 70003 (ErrInvalid): the ticket cannot be decoded: too long, bad base64,
//     bad zlib or too large when inflated, bad JSON, a field missing or of the
//     wrong type, TLS.ver other than "2.0", TLS.sig not 32 bytes of Base64.
//  3. 70014 (ErrSDKAppID): TLS.sdkappid is not the app's SDKAppID.
//  4. 70013 (ErrIdentifier): TLS.identifier is not the user logging in.
//  5. 70001 (ErrExpired): now is after TLS.time + TLS.expire. A ticket is
//     valid up to and including that second. TLS.time is not compared with
//     now: a ticket signed "in the future" is valid, as with Tencent's
//     verifiers.
//  6. 70009 (ErrSignature): TLS.sig is not the HMAC of the fields with the
//     app's key (compared in constant time), or the key is empty.
//
// Steps 3 to 6 follow the order of Tencent's Go verifier
// (tencentyun/tls-sig-api-v2-golang, userSig.verify: SDKAppID, identifier,
// expiry, signature); its PHP verifier compares the identifier before the
// SDKAppID, which only matters for a ticket wrong in both. The plain-text
// checks come first because they are cheap and say most precisely what is
// wrong; none of them tells a caller anything about the key, and the HMAC is
// computed only for tickets that passed them.
//
// A userbuf is signed but not interpreted: Verify returns it in
// Ticket.UserBuf for the caller to check (Tencent's Go verifier compares it
// with one the caller passes in, and refuses a ticket with a userbuf when it
// is given none).
//
// Errors never contain the key or the ticket; they may quote the identifier.
// Compare them with errors.Is against the sentinels (ErrExpired, ...), which
// match any *imkit.Error of the same code, or read the code with
// imkit.ErrorCode.
package usersig
